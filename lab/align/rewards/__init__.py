"""Rule rewards for the RL stage (GRPO, RLOO, RAFT): one file each, registered in REWARDS.

    REWARDS.get("correct").score(completion, answer, spec) -> float

A rule reward reads the completion's text (and the prompt's gold answer, if it needs one) and returns a
number; `needs_answers` rules are refused at validation for prompts without checkable answers. A rule may
own settings (a small dataclass `group`, composed flat into the RL specs, like a fine-tune method's).
The learned reward (a reward-model run) is not a rule: lab/align/rl.py scores with it directly.
"""
from dataclasses import dataclass
from typing import Callable, Optional

from lab.registry import Registry


@dataclass(frozen=True)
class RuleReward:
    score: Callable  # score(completion: str, answer: str | None, spec) -> float
    needs_answers: bool  # a gold answer per prompt is needed (refused for data without answers)
    group: Optional[type] = None  # the rule's own settings, composed into the RL specs
    low: float = 0.0  # the range of the reward, for the plots and the lesson
    high: float = 1.0


REWARDS = Registry("reward rule", package="lab.align.rewards", order=("correct", "format", "length"),
                   label_prefix="align.reward.", error="unknown_reward")
