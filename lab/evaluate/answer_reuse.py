"""Answers computed once: a judge run reuses the answers an earlier judge run generated, when they would be the same.

    key = answer_key("smollm2-135m-instruct@plain", "chatterbot", settings)   # None: sampled, never reused
    found = find_answers(key, prompts, viewer, exclude=run_id)               # {"run_id", "rows"} or None
    rows = answers_of(source_run, contestant, prompts)                        # re-judging: the spec names the run

A contestant's answer to a prompt is a function of the contestant (model, fine-tune run, variant), the
prompt's text and the decoding settings, as long as decoding is deterministic (greedy). The key is a hash
of exactly those things but the prompt (matched by its text, so a run of 8 prompts reuses the answers of a
run of 12 to the same set): the contestant's name, the prompt set's name, every generation setting
(chat template, sampling, temperature, ...), max_new_tokens, the weights' dtype and the device asked for,
and ANSWER_FORMAT (raised when the lab's generation changes what it writes). Batch size and seed are left
out: greedy answers do not depend on them (padding aside, which the lab's batched generation masks).
Sampled answers (do_sample, temperature > 0) have no key: they are drawn afresh every time.

The earlier run must be one the submitter may see (its owner's viewer, lab.classroom.access), have
succeeded, and hold the answer to every prompt this run needs for that contestant; the newest such run
is used. Each judge run writes, beside every answer, the key it was made under ("key"), so a run that
reused answers is a source in its turn. Nothing here imports torch.
"""
import hashlib
import json

from lab.errors import LabError
from lab.runs.folder import RunFolder

ANSWER_FORMAT = 1
ANSWERS = "answers.jsonl"
SEARCH_LIMIT = 200  # the newest judge runs looked at


def answer_key(contestant: str, prompt_set: str, settings: dict, max_new_tokens: int, dtype: str = "auto",
               device: str = "auto") -> str | None:
    """The reuse key of a contestant's answers, or None when they are sampled (never reused)."""
    if settings.get("do_sample") or (settings.get("temperature") or 0) > 0:
        return None
    material = {"format": ANSWER_FORMAT, "contestant": contestant.strip(), "prompt_set": prompt_set.strip(),
                "settings": {k: settings[k] for k in sorted(settings)}, "max_new_tokens": int(max_new_tokens),
                "dtype": dtype, "device": device}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:24]


def owner_viewer(run_id: str):
    """Whose eyes a run searches with: its owner's (a visitor sees shared runs and their own)."""
    from lab import config
    from lab.classroom import space_mode
    from lab.classroom.access import Viewer
    from lab.runs import store

    try:
        row = store.get_run(run_id)
    except (LabError, ValueError):
        row = None
    if row is None:
        return Viewer()  # a run outside the store (a test's folder): shared runs only
    if config.space_mode() and space_mode.is_visitor(row["owner"]):
        return Viewer(visitor=row["owner"])
    return None  # the CLI, demo runs, or a lab without Space mode: nothing is private


def _by_prompt(rows: list[dict], contestant: str, key: str | None) -> dict[str, dict]:
    return {row["prompt"]: row for row in rows
            if row.get("contestant") == contestant and (key is None or row.get("key") == key)}


def find_answers(key: str | None, contestant: str, prompts: list[str], viewer, exclude: str = "") -> dict | None:
    """The newest succeeded judge run this viewer may see that answered every prompt under this key."""
    if key is None or not prompts:
        return None
    from lab.runs import runner

    for row in runner.list_runs(viewer, limit=SEARCH_LIMIT, statuses=("succeeded",)):
        if row["kind"] != "judge" or row["id"] == exclude:
            continue
        folder = RunFolder(row["id"])
        keys = (folder.read_result().get("outputs") or {}).get("answer_keys") or {}
        if keys.get(contestant) != key or not folder.artifact_path(ANSWERS).is_file():
            continue
        found = _by_prompt(folder.read_artifact_jsonl(ANSWERS), contestant, key)
        if all(prompt in found for prompt in prompts):
            return {"run_id": row["id"], "rows": [found[prompt] for prompt in prompts]}
    return None


def answers_of(source_run: str, contestant: str, prompts: list[str]) -> list[dict]:
    """The answers a named run gave (re-judging with another judge); LabError naming what is missing."""
    folder = RunFolder(source_run)
    if not folder.artifact_path(ANSWERS).is_file():
        raise LabError("arena_no_answers", run_id=source_run)
    found = _by_prompt(folder.read_artifact_jsonl(ANSWERS), contestant, None)
    if not found:
        raise LabError("answers_missing_contestant", run_id=source_run, contestant=contestant)
    missing = [prompt for prompt in prompts if prompt not in found]
    if missing:
        raise LabError("answers_missing_prompt", run_id=source_run, contestant=contestant, prompt=missing[0][:80])
    return [found[prompt] for prompt in prompts]


def source_spec(source_run: str) -> dict:
    """The spec of the judge run whose answers are re-judged (its prompt set and contestants)."""
    folder = RunFolder(source_run)
    spec = folder.read_spec()
    if spec.get("kind") != "judge" or not folder.artifact_path(ANSWERS).is_file():
        raise LabError("arena_no_answers", run_id=source_run)
    return spec


CSV_COLUMNS = ("prompt_index", "contestant", "prompt", "text", "finish_reason", "key", "reused_from")


def answers_csv(rows: list[dict]) -> str:
    """The answers as CSV (one row per contestant and prompt), for the download."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: "" if row.get(column) is None else row.get(column) for column in CSV_COLUMNS})
    return out.getvalue()
