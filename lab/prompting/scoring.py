"""Answers and accuracy: extract an answer from a model's text, vote over sampled paths, and a confidence interval.

    extract(text, "last_number")                       -> {"span": "17.", "extracted": "17"}
    majority_vote(["17", None, "12", "17"])            -> ("17", {"17": 2, "12": 1})
    wilson_interval(12, 20)  (lab/modeling/stats.py)   -> (0.387, 0.781)

Extraction is two steps, both shown in the traces: the answer span is the text after the last
"answer is" when the output has one (a chain of thought mentions other numbers and letters first),
else the whole output; then the task's filter from lab/modeling/filters.py picks the answer from the span and
normalises it (numbers by value, text lowercased; see lab.modeling.filters). No answer found counts as wrong.

Tie rule of the vote: paths without an answer do not vote; among answers with the most votes the one
reached first (the lowest path number) wins, so the result never depends on dictionary order.
"""
import re
from typing import Optional

from lab.modeling.filters import FILTERS, apply_filter

ANSWER_TRIGGER = re.compile(r"answer\s+is", re.IGNORECASE)


def answer_span(text: str) -> str:
    matches = list(ANSWER_TRIGGER.finditer(text or ""))
    return text[matches[-1].end():] if matches else (text or "")


def extract(text: str, filter_name: str, **params) -> dict:
    span = answer_span(text)
    return {"span": span.strip()[:200], "extracted": apply_filter(filter_name, span, **params)}


def gold_answer(answer: str, filter_name: str) -> str:
    return FILTERS.get(filter_name).normalise(str(answer))


def majority_vote(answers: list[Optional[str]]) -> tuple[Optional[str], dict]:
    """The winning answer (None if no path had one) and the vote counts, in order of first appearance."""
    counts: dict[str, int] = {}
    for answer in answers:
        if answer is not None:
            counts[answer] = counts.get(answer, 0) + 1
    if not counts:
        return None, {}
    best = max(counts.values())
    winner = next(a for a in counts if counts[a] == best)  # dicts keep insertion order: first reached wins
    return winner, counts
