"""Reward "length": 0 up to a target number of words, then -1 per target length beyond it (at most -1).

    words <= target          -> 0
    words = 1.5 * target     -> -0.5
    words >= 2 * target      -> -1

A penalty, not a goal: alone it teaches the policy to stop early; beside a task reward it keeps answers
short (the length penalties of Kimi k1.5 and DAPO's overlong shaping work the same way).
"""
from dataclasses import dataclass

from lab.align.rewards import REWARDS, RuleReward
from lab.specs import setting


@dataclass
class LengthSettings:
    length_target: int = setting(12, en="Length reward: answers up to this many words cost nothing; each target length beyond it costs 1 (at most).",
                                 zh="长度奖励:不超过这么多词的回答不扣分;每超出一个目标长度扣 1 分(最多扣 1)。", minimum=1, maximum=1000)


def score(completion: str, answer=None, spec=None) -> float:
    target = getattr(spec, "length_target", 12)
    words = len(completion.split())
    return -min(1.0, max(0, words - target) / target)


REWARDS.register("length", RuleReward(score, needs_answers=False, group=LengthSettings, low=-1.0, high=0.0))
