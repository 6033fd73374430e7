"""Prompt sets for pairwise judging: built-in sets (registered entries) and uploaded JSONL/CSV files.

A prompt is {"prompt": str, "reference": str | None, "answer": str | None}: `reference` is a good
answer (for the reference judge), `answer` a short checkable answer (for the rule judge, compared
with the filter the set names). Upload columns: "prompt" (or "instruction" / "question"), optional
"reference" (or "output"), optional "answer". A line without the needed field is refused with its
file name and line number.

Any task of lab/tasks is a prompt set too (its test questions, checked with its own filter).
Built-in sets reuse data the lab already ships: chatterbot's questions with their corpus answers
(assets/data/finetune, BSD) and the arithmetic questions the Fine-tune tab holds out of training
(the validation split of lab/finetune/datasets.py at seed 0).
"""
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lab.errors import LabError
from lab.registry import Registry

PROMPT_FIELDS = ("prompt", "instruction", "question")
REFERENCE_FIELDS = ("reference", "output")


@dataclass(frozen=True)
class PromptSet:
    load: Callable[[], list[dict]]
    answer_filter: str  # lab.modeling.filters name used by the rule judge on this set


PROMPT_SETS = Registry("prompt set", order=("chatterbot", "arithmetic"))


def as_prompt_set(answer_filter: str = "none") -> Callable:
    """The `wrap` of PROMPT_SETS.decorator: a function () -> prompts becomes a PromptSet."""
    return lambda load: PromptSet(load, answer_filter)


@PROMPT_SETS.decorator("chatterbot", as_prompt_set())
def _chatterbot() -> list[dict]:
    from lab.finetune.datasets import DATA
    from lab.modeling.rows import read_rows

    seen, rows = set(), []
    for row in read_rows(DATA / "chatterbot_en.jsonl"):  # one prompt per distinct question, first answer kept
        question = row["instruction"].strip()
        if question.lower() not in seen and len(question) > 12:  # "Hi" / "Hello" make poor judging prompts
            seen.add(question.lower())
            rows.append({"prompt": question, "reference": row["output"], "answer": None})
    random.Random(0).shuffle(rows)  # mix the categories, fixed order
    return rows


@PROMPT_SETS.decorator("arithmetic", as_prompt_set(answer_filter="last_number"))
def _arithmetic() -> list[dict]:
    from lab.finetune.datasets import load_examples

    _, held_out, _ = load_examples("arithmetic", seed=0)  # never seen by a fine-tune run with seed 0
    return [{"prompt": e["messages"][0]["content"], "reference": e["messages"][-1]["content"], "answer": e["answer"]}
            for e in held_out]


def _first(row: dict, names) -> str | None:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return str(value)
    return None


def read_upload(path: str) -> list[dict]:
    from lab.modeling.rows import read_rows

    file = Path(path)
    if not file.is_file():
        raise LabError("prompt_set_not_found", prompt_set=path, builtin=", ".join(prompt_set_names()))
    rows = []
    for row in read_rows(file):  # bad JSON, non-objects and empty files are refused with their line there
        line = row.pop("_line")
        prompt = _first(row, PROMPT_FIELDS)
        if prompt is None or not prompt.strip():
            raise LabError("prompt_missing", file=file.name, line=line, fields=" / ".join(PROMPT_FIELDS),
                           columns=", ".join(sorted(row)) or "none")
        rows.append({"prompt": prompt.strip(), "reference": _first(row, REFERENCE_FIELDS),
                     "answer": _first(row, ("answer",)), "_line": line, "_file": file.name})
    return rows


def load_prompts(prompt_set: str, limit: int, needs: str | None = None) -> tuple[list[dict], str, dict]:
    """(the first `limit` prompts, the answer filter, its parameters) of a built-in set, a task or an upload.

    needs: "reference" or "answer" when the judge needs that field on every prompt.
    """
    from lab.tasks import TASKS, get_task

    if prompt_set in PROMPT_SETS:
        entry = PROMPT_SETS.get(prompt_set)
        rows, answer_filter, params = entry.load(), entry.answer_filter, {}
    elif prompt_set in TASKS:  # a task of lab/tasks: its test questions, checked with the task's own filter
        task = get_task(prompt_set)
        rows = [{"prompt": task.prompt_text(item), "reference": item.solution or None, "answer": item.answer}
                for item in task.questions]
        answer_filter, params = task.filter, dict(task.filter_params)
    else:
        rows, answer_filter, params = read_upload(prompt_set), "last_number", {}
    rows = rows[:limit]
    if needs:
        for index, row in enumerate(rows):
            if not row.get(needs):
                raise LabError("prompt_needs_field", field=needs, file=row.get("_file", prompt_set),
                               line=row.get("_line", index + 1))
    return rows, answer_filter, params


def check_prompt_set(prompt_set: str) -> None:
    """Syntax check when a spec is built: a built-in name, a task name or an existing file."""
    from lab.tasks import TASKS

    if prompt_set in PROMPT_SETS or prompt_set in TASKS:
        return
    if not prompt_set.strip() or not Path(prompt_set).is_file():
        raise LabError("prompt_set_not_found", prompt_set=prompt_set, builtin=", ".join(prompt_set_names()))


def prompt_set_names() -> list[str]:
    from lab.tasks import TASKS

    return [*PROMPT_SETS.names(), *TASKS]
