"""Reward "format": 1 when the completion ends with the sentence "The answer is N." holding a number
(right or wrong), 0.5 when that sentence is there but more text follows it, else 0.

It rewards the shape of the answer, not its truth: the usual companion of "correct" in reasoning RL
(DeepSeek-R1's format reward), and alone a demonstration that a policy learns whatever is rewarded.
"""
import re

from lab.align.rewards import REWARDS, RuleReward
from lab.modeling.filters import apply_filter, canonical_number

FINAL = re.compile(r"the answer is\s+-?\d[\d,]*(?:\.\d+)?\.?\s*$", re.IGNORECASE)


def score(completion: str, answer=None, spec=None) -> float:
    found = apply_filter("the_answer_is", completion)
    if found is None or canonical_number(found) is None:
        return 0.0
    return 1.0 if FINAL.search(completion.strip()) else 0.5


REWARDS.register("format", RuleReward(score, needs_answers=False))
