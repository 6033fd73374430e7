"""Prompting strategies and exemplar selections, as registered entries.

A strategy is data: what its prompt shows (k exemplars, worked solutions, the "Let's think step by
step." trigger) and how it answers (one greedy answer, or n sampled reasoning paths and a vote). The
prompt builder and the run read these fields; nothing branches on a strategy's name. Adding a strategy
is one STRATEGIES.register(...) line here plus its two lesson files (assets/lessons/{en,zh}/strategy_<name>.md)
and its two labels (`prompting.strategy.<name>` in assets/i18n/{en,zh}/prompting.json). Where each comes from:
    zero_shot         Radford et al. 2019, Language Models are Unsupervised Multitask Learners
    few_shot          Brown et al. 2020, Language Models are Few-Shot Learners (https://arxiv.org/abs/2005.14165)
    zero_shot_cot     Kojima et al. 2022, Large Language Models are Zero-Shot Reasoners (https://arxiv.org/abs/2205.11916)
    few_shot_cot      Wei et al. 2022, Chain-of-Thought Prompting Elicits Reasoning in Large Language Models
                      (https://arxiv.org/abs/2201.11903)
    self_consistency  Wang et al. 2023, Self-Consistency Improves Chain of Thought Reasoning in Language Models
                      (https://arxiv.org/abs/2203.11171)

An exemplar selection picks k exemplars from the task's pool for one question:
    first    the first k of the pool, the same for every question;
    random   k drawn at random for each question (seeded by the run's seed and the question's index);
    similar  the k whose words overlap the question's most (bag-of-words cosine), the most similar
             placed last, nearest the question (Liu et al. 2022, "What Makes Good In-Context Examples").
"""
import math
import random
import re
from collections import Counter
from dataclasses import dataclass

from lab.errors import LabError
from lab.registry import Registry

THINK_TRIGGER = "Let's think step by step."


@dataclass(frozen=True)
class Strategy:
    shots: bool  # shows k exemplars before the question
    worked: bool  # exemplars show their worked solution (chain of thought), not just the answer
    trigger: bool  # asks for reasoning with THINK_TRIGGER
    paths: bool  # samples n reasoning paths and takes a majority vote (self-consistency)

    @property
    def reasons(self) -> bool:
        """Writes reasoning before its answer, so it gets the longer answer budget."""
        return self.worked or self.trigger or self.paths


STRATEGIES = Registry("prompting strategy", order=("zero_shot", "few_shot", "zero_shot_cot", "few_shot_cot", "self_consistency"),
                      lesson_prefix="strategy_", label_prefix="prompting.strategy.", error="unknown_strategy")
STRATEGIES.register("zero_shot", Strategy(shots=False, worked=False, trigger=False, paths=False))
STRATEGIES.register("few_shot", Strategy(shots=True, worked=False, trigger=False, paths=False))
STRATEGIES.register("zero_shot_cot", Strategy(shots=False, worked=False, trigger=True, paths=False))
STRATEGIES.register("few_shot_cot", Strategy(shots=True, worked=True, trigger=False, paths=False))
STRATEGIES.register("self_consistency", Strategy(shots=True, worked=True, trigger=False, paths=True))


# Each entry is select(pool, k, question, index, seed) -> list of items.
SELECTIONS = Registry("exemplar selection", order=("first", "random", "similar"))


@SELECTIONS.decorator("first")
def select_first(pool, k, question, index, seed):
    return list(pool[:k])


@SELECTIONS.decorator("random")
def select_random(pool, k, question, index, seed):
    return random.Random(seed * 1_000_003 + index).sample(list(pool), k)


def _words(text: str) -> Counter:
    return Counter(re.findall(r"\w+", text.lower()))


def cosine(a: Counter, b: Counter) -> float:
    dot = sum(a[w] * b[w] for w in a.keys() & b.keys())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


@SELECTIONS.decorator("similar")
def select_similar(pool, k, question, index, seed):
    target = _words(question)
    ranked = sorted(range(len(pool)), key=lambda i: (-cosine(target, _words(pool[i].question)), i))[:k]
    return [pool[i] for i in reversed(ranked)]  # the most similar last, right before the question


def choose_exemplars(pool, k: int, selection: str, shuffle: bool, question: str, index: int, seed: int) -> list:
    """k exemplars for the question at `index`; shuffle=True reorders them at random (seeded per question)."""
    if k == 0:
        return []
    if k > len(pool):
        raise LabError("k_too_large", k=k, pool=len(pool))
    chosen = SELECTIONS.get(selection)(pool, k, question, index, seed)
    if shuffle:
        random.Random(seed * 7_919 + index + 1).shuffle(chosen)
    return chosen
