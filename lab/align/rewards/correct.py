"""Reward "correct": 1 when the completion's answer equals the gold answer, else 0.

The answer is read with the lab's answer filters (lab.modeling.filters), the same way the Fine-tune
tab's task accuracy reads it: what follows "The answer is", else the last number; numbers compare by
value ("15" == "15.0"). A completion with no number gets 0, never an error.
"""
from lab.align.rewards import REWARDS, RuleReward
from lab.modeling.filters import apply_filter, exact_match


def answer_is_correct(completion: str, answer) -> bool:
    guess = apply_filter("the_answer_is", completion) or apply_filter("last_number", completion)
    return guess is not None and answer is not None and exact_match(guess, str(answer), "none")


def score(completion: str, answer, spec=None) -> float:
    return 1.0 if answer_is_correct(completion, answer) else 0.0


REWARDS.register("correct", RuleReward(score, needs_answers=True))
