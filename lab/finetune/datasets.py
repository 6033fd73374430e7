"""Fine-tuning data: built-in sets and uploads, as rows of {"messages": [...], "answer": ...}.

Built-in sets are registered entries (a generator, or a file shipped in assets/data/finetune).
Uploads are JSONL or CSV with instruction/input/output columns, or chat "messages" in JSONL.
A bad file is refused whole with a message that names the file, the line and what is wrong.
"""
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lab.errors import LabError
from lab.modeling.rows import read_rows

DATA = Path(__file__).resolve().parent.parent.parent / "assets" / "data" / "finetune"
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class BuiltinDataset:
    name: str
    load: Callable[[], list[dict]]  # rows with "instruction", "output" (and optional "input", "answer")
    has_answers: bool  # rows carry a short checkable "answer" (task accuracy is measured)


def _arithmetic(count: int = 600, seed: int = 1234) -> list[dict]:
    """Two-digit sums and differences with a worked answer ending in "The answer is N."."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        op = rng.choice("+-")
        result = a + b if op == "+" else a - b
        rows.append({"instruction": f"What is {a} {op} {b}?",
                     "output": f"{a} {op} {b} = {result}. The answer is {result}.", "answer": str(result)})
    return rows


def _arithmetic_1digit() -> list[dict]:
    """Every one-digit sum and difference (0-9 op 0-9: 200 questions), each once, in a fixed order: the
    task a ~100M model half-solves, so the RL stage (Align tab) has signal to learn from after an SFT run."""
    rows = []
    for a in range(10):
        for b in range(10):
            for op in "+-":
                result = a + b if op == "+" else a - b
                rows.append({"instruction": f"What is {a} {op} {b}?",
                             "output": f"{a} {op} {b} = {result}. The answer is {result}.", "answer": str(result)})
    return rows


def _chatterbot() -> list[dict]:
    return read_rows(DATA / "chatterbot_en.jsonl")


BUILTIN = {d.name: d for d in [
    BuiltinDataset("arithmetic", _arithmetic, has_answers=True),
    BuiltinDataset("arithmetic_1digit", _arithmetic_1digit, has_answers=True),
    BuiltinDataset("chatterbot", _chatterbot, has_answers=False),
]}


def _row_to_example(row: dict, where: str) -> dict:
    """One row -> {"messages": [...ending with the assistant's answer], "answer": str | None}."""
    if "messages" in row:
        messages = row["messages"]
        if not isinstance(messages, list) or not messages:
            raise LabError("data_bad_messages", where=where)
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in ROLES or not isinstance(message.get("content"), str):
                raise LabError("data_bad_messages", where=where)
        if messages[-1]["role"] != "assistant" or not messages[-1]["content"].strip():
            raise LabError("data_no_answer", where=where)
        return {"messages": messages, "answer": row.get("answer")}
    instruction = row.get("instruction", row.get("prompt", row.get("question")))
    output = row.get("output", row.get("response", row.get("completion")))
    if instruction is None or output is None:
        raise LabError("data_missing_columns", where=where, columns=", ".join(sorted(map(str, row))) or "none")
    if not str(instruction).strip():
        raise LabError("data_empty_field", where=where, field="instruction")
    if not str(output).strip():
        raise LabError("data_empty_field", where=where, field="output")
    user = str(instruction).strip()
    if str(row.get("input") or "").strip():
        user = f"{user}\n\n{str(row['input']).strip()}"
    answer = row.get("answer")
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": str(output).strip()}],
            "answer": None if answer in (None, "") else str(answer)}


def load_examples(dataset: str, validation_fraction: float = 0.1, seed: int = 0) -> tuple[list, list, bool]:
    """(train, validation, has_answers) for a built-in name or an uploaded file path."""
    if dataset in BUILTIN:
        entry = BUILTIN[dataset]
        rows, name, has_answers = entry.load(), dataset, entry.has_answers
    else:
        path = Path(dataset)
        if not path.is_file():
            raise LabError("data_not_found", dataset=dataset, builtin=", ".join(BUILTIN))
        rows, name = read_rows(path), path.name
        has_answers = None
    examples = []
    for index, row in enumerate(rows):
        where = f"{name} line {row.pop('_line', index + 1)}"
        examples.append(_row_to_example(row, where))
    if has_answers is None:
        has_answers = all(e["answer"] for e in examples)
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)  # the split is fixed by the seed, so method comparisons share it
    n_validation = max(1, int(len(examples) * validation_fraction)) if len(examples) >= 10 else 0
    validation = [examples[i] for i in order[:n_validation]]
    train = [examples[i] for i in order[n_validation:]]
    return train, validation, has_answers
