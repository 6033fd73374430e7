"""Preference data: pairs of {"prompt", "chosen", "rejected"} (and, where checkable, the right "answer").

Built-in sets are registered entries built in the lab from data it already has: `arithmetic` takes the
Fine-tune tab's worked sums and pairs each correct answer (chosen) with the same worked answer ending
in a wrong number (rejected), so a rule can check every answer; `chatterbot` pairs a reply with a
reply to a different question (relevance). Uploads are JSONL (or CSV) with prompt/chosen/rejected
columns; a bad file is refused whole, naming the file and the line.

    train, held_out, checkable = load_pairs("arithmetic")
"""
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lab.errors import LabError
from lab.finetune import datasets as finetune_data
from lab.finetune import encode
from lab.modeling.rows import read_rows

WRONG_OFFSETS = (-10, -2, -1, 1, 2, 10)  # near misses: a rejected answer looks right but is not
FIELDS = ("prompt", "chosen", "rejected")


@dataclass(frozen=True)
class BuiltinPreferences:
    name: str
    load: Callable[[], list[dict]]  # rows with prompt, chosen, rejected (and answer when checkable)
    checkable: bool  # every row has the right short answer, so a rule can judge free answers


def _arithmetic(source: str = "arithmetic") -> list[dict]:
    """The Fine-tune tab's sums: "a + b = c. The answer is c." chosen over the same with a wrong c."""
    rng = random.Random(4321)
    pairs = []
    for row in finetune_data.BUILTIN[source].load():
        right = int(row["answer"])
        wrong = right + rng.choice(WRONG_OFFSETS)
        head = row["output"].split("=")[0]  # "a + b "
        pairs.append({"prompt": row["instruction"], "chosen": row["output"],
                      "rejected": f"{head}= {wrong}. The answer is {wrong}.", "answer": row["answer"]})
    return pairs


def _chatterbot() -> list[dict]:
    """A reply to the question (chosen) over a reply to a question of another topic (rejected)."""
    rows = read_rows(finetune_data.DATA / "chatterbot_en.jsonl")
    rng = random.Random(4321)
    pairs = []
    for row in rows:
        other = rng.choice(rows)
        while other["category"] == row["category"]:
            other = rng.choice(rows)
        pairs.append({"prompt": row["instruction"], "chosen": row["output"], "rejected": other["output"]})
    return pairs


BUILTIN = {entry.name: entry for entry in [
    BuiltinPreferences("arithmetic", _arithmetic, checkable=True),
    # the same 200 one-digit questions as the Fine-tune set, in the same order: with the same seed the
    # held-out split is the same 20 questions, so SFT -> reward model -> RL never trains on them
    BuiltinPreferences("arithmetic_1digit", lambda: _arithmetic("arithmetic_1digit"), checkable=True),
    BuiltinPreferences("chatterbot", _chatterbot, checkable=False),
]}


def row_to_pair(row: dict, where: str) -> dict:
    """One uploaded row -> {"prompt", "chosen", "rejected", "answer", "where"}, or LabError naming the line."""
    missing = [name for name in FIELDS if name not in row]
    if missing:
        present = ", ".join(sorted(k for k in map(str, row) if k != "_line")) or "none"
        raise LabError("pref_missing_columns", where=where, missing=", ".join(missing), columns=present)
    for name in FIELDS:
        if not isinstance(row[name], str):
            raise LabError("pref_not_text", where=where, field=name)
        if not row[name].strip():
            raise LabError("pref_empty_field", where=where, field=name)
    if row["chosen"].strip() == row["rejected"].strip():
        raise LabError("pref_same_answers", where=where)
    answer = row.get("answer")
    return {"prompt": row["prompt"].strip(), "chosen": row["chosen"].strip(), "rejected": row["rejected"].strip(),
            "answer": None if answer in (None, "") else str(answer), "where": where}


def read_pairs(dataset: str) -> tuple[list[dict], bool]:
    """(pairs, checkable) of a built-in name or an uploaded file path, in file order."""
    if dataset in BUILTIN:
        entry = BUILTIN[dataset]
        pairs = [row_to_pair(row, f"{dataset} pair {index + 1}") for index, row in enumerate(entry.load())]
        return pairs, entry.checkable
    path = Path(dataset)
    if not path.is_file():
        raise LabError("pref_not_found", dataset=dataset, builtin=", ".join(BUILTIN))
    rows = read_rows(path)  # JSONL/CSV parsing with line numbers, shared with the Fine-tune tab
    pairs = [row_to_pair(row, f"{path.name} line {row.pop('_line', index + 1)}") for index, row in enumerate(rows)]
    return pairs, all(pair["answer"] for pair in pairs)


def load_pairs(dataset: str, seed: int = 0, held_out_fraction: float = 0.1) -> tuple[list, list, bool]:
    """(train, held_out, checkable): the split is fixed by the seed, so runs on the same data share it."""
    pairs, checkable = read_pairs(dataset)
    if len(pairs) < 4:
        raise LabError("pref_too_few", dataset=Path(dataset).name, count=len(pairs))
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    n_held_out = max(2, int(len(pairs) * held_out_fraction))
    held_out = [pairs[i] for i in order[:n_held_out]]
    train = [pairs[i] for i in order[n_held_out:]]
    return train, held_out, checkable


def prompt_text(tokenizer, pair: dict) -> str:
    """The prompt as the model sees it: its chat template (or the plain template), ready for the answer."""
    return encode.prompt_for(tokenizer, pair["prompt"])


def pair_tokens(tokenizer, pair: dict) -> tuple[int, int]:
    """Tokens of prompt + chosen and prompt + rejected, each with the end-of-sequence token TRL appends
    (tokenized as TRL does, with the tokenizer's own special tokens)."""
    prompt = prompt_text(tokenizer, pair)
    eos = tokenizer.eos_token or ""
    return tuple(len(tokenizer(prompt + pair[side] + eos, add_special_tokens=True)["input_ids"])
                 for side in ("chosen", "rejected"))


def check_lengths(tokenizer, pairs: list[dict], max_length: int) -> None:
    """Refuse a pair longer than max_length, naming it (TRL would silently drop or truncate it)."""
    for pair in pairs:
        tokens = max(pair_tokens(tokenizer, pair))
        if tokens > max_length:
            raise LabError("pref_too_long", where=pair["where"], tokens=tokens, max_length=max_length)


def trl_rows(tokenizer, pairs: list[dict]) -> list[dict]:
    """Rows in TRL's standard preference format: the templated prompt, then the two answers as text."""
    return [{"prompt": prompt_text(tokenizer, pair), "chosen": pair["chosen"], "rejected": pair["rejected"]}
            for pair in pairs]


def preview(dataset: str, model: str, max_length: int = 128, rows: int = 5) -> dict:
    """What the job will train on, computed without torch: counts, the first rows, token lengths."""
    from lab.finetune.preview import LightTokenizer, model_folder

    train, held_out, checkable = load_pairs(dataset)
    tokenizer = LightTokenizer(model_folder(model))
    lengths = [max(pair_tokens(tokenizer, pair)) for pair in train + held_out]  # every pair: the job refuses any too long
    return {"train": len(train), "held_out": len(held_out), "checkable": checkable,
            "rows": [{name: pair[name] for name in FIELDS} for pair in train[:rows]],
            "longest": max(lengths) if lengths else 0, "too_long": sum(n > max_length for n in lengths)}
