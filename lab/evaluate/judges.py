"""The judges registry: who decides which of two answers is better.

Each judge takes a list of cases (a prompt, the answer shown first as "A", the one shown second as
"B", and the prompt's reference / checkable answer) and returns one Verdict per case: "A", "B",
"tie" or "invalid", with what it saw (`raw`). The job shows every pair in both orders and combines
the two verdicts (lab/evaluate/outcomes.py), so a judge never needs to know about order itself.

    llm        a model writes a verdict; parsed strictly (lab/evaluate/verdicts.py), else "invalid"
    logprob    a model's probability of answering "A" vs "B" (small models rarely write a parseable verdict)
    reference  closeness to the prompt's reference answer (word-overlap F1, as SQuAD scores answers)
    rule       checkable tasks: a correct answer beats an incorrect one (lab/modeling/filters.py exact match)
    human      no automatic verdict: the answers go to the Arena, where the class votes

Adding a judge is one function here with @JUDGES.decorator(name, judge(...)), plus its two lessons
(assets/lessons/<lang>/judge_<name>.md) and two labels (`evaluate.judge.<name>`); nothing else branches on judge names.
"""
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from lab.evaluate.verdicts import parse_verdict
from lab.registry import Registry

ANSWER_CHARS = 600  # each answer is cut to this in the judge prompt: a small judge's context is short
REFERENCE_TIE = 0.05  # reference judge: F1 scores closer than this are a tie


@dataclass
class Case:
    prompt: str
    first: str  # shown as answer A
    second: str  # shown as answer B
    reference: str | None = None
    answer: str | None = None


@dataclass
class Verdict:
    slot: str  # "A" | "B" | "tie" | "invalid"
    raw: str  # the judge's own output (its reply, its probabilities, the scores it compared)


@dataclass
class JudgeSetup:
    """What a judge may use: the loaded judge model (for model judges) and the job's options."""

    model: object = None
    tokenizer: object = None
    answer_filter: str = "none"
    filter_params: dict = field(default_factory=dict)  # e.g. a classification task's labels
    batch_size: int = 8
    max_new_tokens: int = 24
    progress: Callable = field(default=lambda done, total: None)


@dataclass(frozen=True)
class Judge:
    judge: Callable[[list, JudgeSetup], list]  # judge(cases, setup) -> verdicts
    needs_model: bool = False
    needs: str | None = None  # the prompt field every prompt must have ("reference", "answer")
    automatic: bool = True


JUDGES = Registry("judge", order=("llm", "logprob", "reference", "rule", "human"), lesson_prefix="judge_",
                  label_prefix="evaluate.judge.")


def as_judge(needs_model: bool = False, needs: str | None = None, automatic: bool = True) -> Callable:
    """The `wrap` of JUDGES.decorator: a function (cases, setup) -> verdicts becomes a Judge."""
    return lambda function: Judge(function, needs_model, needs, automatic)


def judge_prompt(case: Case, instruction: str) -> str:
    """The MT-Bench pairwise prompt, shortened for a small judge."""
    return (f"[Question]\n{case.prompt}\n\n[Answer A]\n{case.first[:ANSWER_CHARS]}\n\n"
            f"[Answer B]\n{case.second[:ANSWER_CHARS]}\n\nWhich answer is better? {instruction}")


LLM_INSTRUCTION = "Reply with exactly one verdict: [[A]] if answer A is better, [[B]] if answer B is better, [[C]] for a tie."
LOGPROB_INSTRUCTION = "Reply with A or B."


@JUDGES.decorator("llm", as_judge(needs_model=True))
def llm_judge(cases: list[Case], setup: JudgeSetup) -> list[Verdict]:
    from lab.modeling.generation import generate

    prompts = [judge_prompt(case, LLM_INSTRUCTION) for case in cases]
    replies = generate(setup.model, setup.tokenizer, prompts, max_new_tokens=setup.max_new_tokens,
                       batch_size=setup.batch_size, use_chat_template=True, on_batch=setup.progress)
    return [Verdict(parse_verdict(reply.text), reply.text) for reply in replies]


@JUDGES.decorator("logprob", as_judge(needs_model=True))
def logprob_judge(cases: list[Case], setup: JudgeSetup) -> list[Verdict]:
    import math

    from lab.modeling.generation import format_prompt
    from lab.modeling.scoring import score_choices

    verdicts = []
    for start in range(0, len(cases), setup.batch_size):  # in batches, so progress moves
        batch = cases[start:start + setup.batch_size]
        contexts = [format_prompt(setup.tokenizer, judge_prompt(case, LOGPROB_INSTRUCTION), True)[0] + "Answer "
                    for case in batch]
        scores = score_choices(setup.model, setup.tokenizer, contexts, [["A", "B"]] * len(batch),
                               batch_size=setup.batch_size, share_context=True)  # the prompt runs once for both letters
        for score in scores:
            log_a, log_b = score.logprob
            p_a = 1 / (1 + math.exp(log_b - log_a))  # P("A") / (P("A") + P("B"))
            slot = "tie" if log_a == log_b else ("A" if log_a > log_b else "B")
            verdicts.append(Verdict(slot, f"P(A)={p_a:.3f} P(B)={1 - p_a:.3f}"))
        setup.progress(min(start + setup.batch_size, len(cases)), len(cases))
    return verdicts


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", (text or "").lower())


def overlap_f1(candidate: str, reference: str) -> float:
    """Word-overlap F1 between an answer and the reference (SQuAD's answer score)."""
    a, b = _words(candidate), _words(reference)
    common = sum((Counter(a) & Counter(b)).values())
    if not a or not b or not common:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


@JUDGES.decorator("reference", as_judge(needs="reference"))
def reference_judge(cases: list[Case], setup: JudgeSetup) -> list[Verdict]:
    verdicts = []
    for case in cases:
        f1_a, f1_b = overlap_f1(case.first, case.reference), overlap_f1(case.second, case.reference)
        slot = "tie" if abs(f1_a - f1_b) < REFERENCE_TIE else ("A" if f1_a > f1_b else "B")
        verdicts.append(Verdict(slot, f"F1(A)={f1_a:.2f} F1(B)={f1_b:.2f}"))
    return verdicts


@JUDGES.decorator("rule", as_judge(needs="answer"))
def rule_judge(cases: list[Case], setup: JudgeSetup) -> list[Verdict]:
    from lab.modeling.filters import apply_filter, exact_match

    verdicts = []
    for case in cases:
        right_a = exact_match(case.first, case.answer, setup.answer_filter, **setup.filter_params)
        right_b = exact_match(case.second, case.answer, setup.answer_filter, **setup.filter_params)
        slot = "tie" if right_a == right_b else ("A" if right_a else "B")
        found_a = apply_filter(setup.answer_filter, case.first, **setup.filter_params)
        found_b = apply_filter(setup.answer_filter, case.second, **setup.filter_params)
        verdicts.append(Verdict(slot, f"A={found_a} B={found_b} gold={case.answer}"))
    return verdicts


@JUDGES.decorator("human", as_judge(automatic=False))
def human_judge(cases: list[Case], setup: JudgeSetup) -> list[Verdict]:
    raise NotImplementedError("human votes come from the Arena (lab/evaluate/arena.py)")
