"""Tasks: questions with gold answers, shared by the Prompting and Evaluate tabs.

    from lab.tasks import TASKS, get_task, load_jsonl, task_names
    task = get_task("arithmetic_2digit")        # a built-in name, or the path of an uploaded .jsonl
    task.type                                   # "numeric" | "multiple_choice" | "classification"
    task.filter                                 # key of lab.modeling.filters.FILTERS that extracts the answer
    task.exemplars, task.questions              # the few-shot pool and the evaluation questions (disjoint)
    item = task.questions[0]
    item.question, item.answer, item.choices, item.solution, item.answer_index, item.answer_text
    task.prompt_text(item)                      # the question, with "A. ..." option lines for multiple choice

Built-in tasks are data: one line of assets/tasks/tasks.json each (name, type, filter, description key,
data file, source, licence) plus the data file, one item a line: {"id", "question", "answer",
"choices"?, "solution"?, "split": "exemplar" | "test"}. Adding a task is adding those two things.

Answers: numeric tasks hold a number ("-60"); multiple-choice tasks hold the option letter ("B"),
choices the options' text; classification tasks hold a label, and choices are the task's labels
(so the Evaluate tab can score each label by log-likelihood). `solution` is a worked answer ending
"The answer is X." (few-shot chain-of-thought exemplars use it).

Uploads (`load_jsonl`) take {"question", "answer"} or {"question", "choices", "answer"} per line; a
multiple-choice answer may be the letter, the 0-based index or the option's text. Optional "solution",
"split" and "id". Without any "split", the first 20% of the lines (at most 16) are the exemplar pool.
The type is read off the rows: choices -> multiple_choice; every answer a number -> numeric; otherwise
classification over the distinct answers. A bad line is refused with a LabError naming file and line.
`save_upload` copies an upload under LAB_HOME/uploads/<visitor>/tasks/ with a cleaned name.
lm-evaluation-harness task YAMLs (a path ending .yaml/.yml) load through lab/tasks/lm_eval_yaml.py; the
Evaluate tab takes one as a YAML uploaded together with its data files, or as a .zip of them (save_upload
puts them in a fresh folder of their own, lab.classroom.uploads.save_folder_upload, and returns the YAML's path;
a YAML reads data files only inside its own folder).
Nothing here imports torch.
"""
import json
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Optional

from lab import config
from lab.errors import LabError
from lab.modeling.filters import FILTERS, canonical_number

ASSETS = config.REPO / "assets" / "tasks"
TYPES = ("numeric", "multiple_choice", "classification")
LETTERS = "ABCDEFGHIJ"
MAX_LABELS = 20  # more distinct answers than this is free text, not a classification
MAX_UPLOAD_MB = 20
MAX_UPLOAD_EXEMPLARS = 16
YAML_SUFFIXES = (".yaml", ".yml")  # lm-evaluation-harness task files (lab/tasks/lm_eval_yaml.py)
DEFAULT_FILTER = {"numeric": "last_number", "multiple_choice": "choice_letter", "classification": "match_label"}


@dataclass(frozen=True)
class TaskItem:
    id: str
    question: str
    answer: str  # the gold answer: a number, an option letter, or a label
    choices: tuple[str, ...] = ()  # option texts (multiple_choice) or the labels (classification)
    solution: str = ""  # worked answer ending "The answer is X." (empty if none)
    split: str = "test"  # "exemplar" (few-shot pool) or "test" (evaluated)

    answer_index: Optional[int] = None  # position of the gold answer in choices (None for numeric items)

    @property
    def answer_text(self) -> str:
        """The gold answer as text: for multiple choice the option's text, else the answer itself."""
        return self.choices[self.answer_index] if self.answer_index is not None else self.answer


@dataclass(frozen=True)
class TaskEntry:
    """A built-in task's line in assets/tasks/tasks.json."""

    name: str
    type: str
    filter: str
    description_key: str  # i18n key, e.g. "tasks.arithmetic_2digit.description"
    data_file: str  # relative to assets/tasks/
    source: str = ""
    licence: str = ""


@dataclass
class Task:
    name: str
    type: str
    filter: str
    exemplars: list[TaskItem]
    questions: list[TaskItem]
    labels: tuple[str, ...] = ()  # classification only
    description_key: str = ""
    source: str = ""  # "builtin" or the uploaded file's name
    filter_params: dict = field(default_factory=dict)  # e.g. {"labels": [...]} for the label filter
    template: str = "lab"  # "lm_eval": item.question is the rendered doc_to_text, scored as lm-eval scores it
    lm_eval: dict = field(default_factory=dict)  # delimiters, filters, metrics, until (lab/tasks/lm_eval_yaml.py)

    @property
    def items(self) -> list[TaskItem]:
        return self.exemplars + self.questions

    def prompt_text(self, item: TaskItem) -> str:
        """The question as a model reads it: multiple choice adds one "A. option" line per option."""
        if self.type == "multiple_choice":
            options = "\n".join(f"{LETTERS[i]}. {choice}" for i, choice in enumerate(item.choices))
            return f"{item.question}\n{options}"
        return item.question

    def gold(self, item: TaskItem) -> str:
        """The gold answer normalised the way the task's filter normalises a prediction."""
        return FILTERS.get(self.filter).normalise(item.answer)


def _read_registry() -> dict[str, TaskEntry]:
    entries = json.loads((ASSETS / "tasks.json").read_text(encoding="utf-8"))
    registry = {}
    for raw in entries:
        entry = TaskEntry(**raw)
        if entry.type not in TYPES or entry.filter not in FILTERS:
            raise ValueError(f"assets/tasks/tasks.json: task {entry.name} has type {entry.type!r}, filter {entry.filter!r}")
        registry[entry.name] = entry
    return registry


TASKS: dict[str, TaskEntry] = _read_registry()


def task_names() -> list[str]:
    return list(TASKS)


def get_task(name_or_path: str) -> Task:
    """A built-in task by name, or an uploaded JSONL file by path (LabError if neither)."""
    if name_or_path in TASKS:
        entry = TASKS[name_or_path]
        task = _load_file(str(ASSETS / entry.data_file), entry.name, entry.type)
        return replace(task, filter=entry.filter, description_key=entry.description_key, source="builtin")
    check_task_source(name_or_path)
    if Path(str(name_or_path)).suffix.lower() in YAML_SUFFIXES:
        from lab.tasks.lm_eval_yaml import load_yaml_task

        return load_yaml_task(name_or_path)
    return load_jsonl(name_or_path)


def check_task_source(name_or_path: str) -> str:
    """Spec-time check: a built-in name, the path of an existing .jsonl file, or an lm-eval task YAML (parsed)."""
    if name_or_path in TASKS:
        return name_or_path
    path = Path(str(name_or_path))
    if path.suffix.lower() in YAML_SUFFIXES and path.is_file():
        from lab.tasks.lm_eval_yaml import load_yaml_task

        load_yaml_task(path)  # refuse an unsupported feature at spec time, naming it
        return name_or_path
    if path.suffix.lower() != ".jsonl" or not path.is_file():
        raise LabError("unknown_task", task=str(name_or_path)[:200], tasks=", ".join(TASKS))
    return name_or_path


def load_jsonl(path, name: Optional[str] = None) -> Task:
    """Parse an uploaded task file (see the module docstring); LabError names the file and line."""
    path = Path(path)
    stat = path.stat() if path.is_file() else None
    if stat is None:
        raise LabError("unknown_task", task=str(path)[:200], tasks=", ".join(TASKS))
    return replace(_load_file(str(path), name or path.stem, None, stat.st_mtime_ns), source=path.name)


@lru_cache(maxsize=32)
def _load_file(path: str, name: str, task_type: Optional[str], mtime: int = 0) -> Task:
    file_name = Path(path).name
    from lab.modeling.rows import read_rows  # the lab's one JSONL reader: errors name the file and line

    rows = [(row.pop("_line"), row) for row in read_rows(Path(path))]
    has_choices = [("choices" in row) for _, row in rows]
    if any(has_choices) and not all(has_choices):
        number = rows[has_choices.index(False)][0]
        raise LabError("task_mixed_choices", file=file_name, line=number)
    items = [_parse_item(row, f"{file_name} line {number}", number) for number, row in rows]
    if task_type is None:
        task_type = _infer_type(items, rows, file_name)
    labels: tuple[str, ...] = ()
    if task_type == "classification":
        labels = items[0].choices or tuple(sorted({item.answer for item in items}))
        if len(labels) > MAX_LABELS:
            raise LabError("task_free_text", file=file_name, count=len(labels), limit=MAX_LABELS)
        for (number, _), item in zip(rows, items):
            if item.answer not in labels:
                raise LabError("task_answer_not_a_choice", where=f"{file_name} line {number}", answer=item.answer[:80],
                               letters=", ".join(labels))
        items = [_with(item, choices=labels, answer_index=labels.index(item.answer)) for item in items]
    elif task_type == "multiple_choice":
        items = [_letter_answer(item, f"{file_name} line {number}") for (number, _), item in zip(rows, items)]
    if not any(item.split == "exemplar" for item in items) and not any("split" in row for _, row in rows):
        pool = min(MAX_UPLOAD_EXEMPLARS, len(items) // 5)
        items = [_with(item, split="exemplar") if i < pool else item for i, item in enumerate(items)]
    exemplars = [item for item in items if item.split == "exemplar"]
    questions = [item for item in items if item.split == "test"]
    if not questions:
        raise LabError("task_no_questions", file=file_name)
    params = {"labels": list(labels)} if task_type == "classification" else {}
    return Task(name, task_type, DEFAULT_FILTER[task_type], exemplars, questions, labels, filter_params=params)


def _parse_item(row: dict, where: str, number: int) -> TaskItem:
    question, answer = row.get("question"), row.get("answer")
    if question is None or answer is None:
        missing = "question" if question is None else "answer"
        raise LabError("task_missing_field", where=where, field=missing, fields=", ".join(sorted(map(str, row))) or "none")
    if not isinstance(question, str) or not question.strip():
        raise LabError("task_empty_field", where=where, field="question")
    if isinstance(answer, bool) or not isinstance(answer, (str, int, float)) or not str(answer).strip():
        raise LabError("task_empty_field", where=where, field="answer")
    choices = row.get("choices", [])
    if "choices" in row and (not isinstance(choices, list) or len(choices) < 2 or len(choices) > len(LETTERS)
                             or not all(isinstance(c, str) and c.strip() for c in choices)):
        raise LabError("task_bad_choices", where=where, most=len(LETTERS))
    split = row.get("split", "test")
    if split not in ("exemplar", "test"):
        raise LabError("task_bad_split", where=where, value=str(split)[:40])
    solution = row.get("solution", "")
    if not isinstance(solution, str):
        raise LabError("task_empty_field", where=where, field="solution")
    answer = str(answer).strip() if not isinstance(answer, float) or not answer.is_integer() else str(int(answer))
    return TaskItem(str(row.get("id") or f"line-{number}"), question.strip(), answer,
                    tuple(c.strip() for c in choices), solution.strip(), split)


def _infer_type(items: list[TaskItem], rows, file_name: str) -> str:
    if items[0].choices:
        return "multiple_choice"
    if all(canonical_number(item.answer) is not None for item in items):
        return "numeric"
    return "classification"


def _letter_answer(item: TaskItem, where: str) -> TaskItem:
    """A multiple-choice answer given as a letter, an index or the option's text -> the letter."""
    answer, choices = item.answer, item.choices
    if len(answer) == 1 and answer.upper() in LETTERS[:len(choices)]:
        index = LETTERS.index(answer.upper())
    elif re.fullmatch(r"\d+", answer) and int(answer) < len(choices):
        index = int(answer)
    elif answer in choices:
        index = choices.index(answer)
    else:
        raise LabError("task_answer_not_a_choice", where=where, answer=answer[:80], letters=LETTERS[:len(choices)])
    return _with(item, answer=LETTERS[index], answer_index=index)


def _with(item: TaskItem, **changes) -> TaskItem:
    return replace(item, **changes)


UPLOAD_SUFFIXES = (".jsonl", ".json", ".csv", *YAML_SUFFIXES)  # what a YAML task's folder may hold


def save_upload(source, visitor: str = "") -> str:
    """Copy an uploaded task under LAB_HOME/uploads/<visitor>/tasks/, check it parses, return its path.

    source: one .jsonl (the lab's own format), or an lm-eval task YAML with its data files (several paths,
    or one .zip holding them): those go to a folder of their own and the YAML's path is returned."""
    from lab.classroom.uploads import save_folder_upload
    from lab.classroom.uploads import save_upload as save

    sources = [str(source)] if isinstance(source, (str, Path)) else [str(s) for s in source]
    if len(sources) == 1 and Path(sources[0]).suffix.lower() == ".jsonl":
        return save(sources[0], visitor, (".jsonl",), "task_bad_format", sub="tasks", check=load_jsonl,
                    limit_mb=MAX_UPLOAD_MB)
    if len(sources) == 1 and Path(sources[0]).suffix.lower() not in (".zip", *YAML_SUFFIXES):
        raise LabError("task_bad_format", file=Path(sources[0]).name, suffix=Path(sources[0]).suffix or "(none)")
    folder = save_folder_upload(sources, visitor, "tasks", UPLOAD_SUFFIXES, "task_bad_format",
                                limit_mb=MAX_UPLOAD_MB)
    yamls = sorted(p for p in folder.rglob("*") if p.suffix.lower() in YAML_SUFFIXES)
    if len(yamls) != 1:
        raise LabError("task_upload_yaml_count", count=len(yamls),
                       files=", ".join(p.name for p in yamls)[:200] or "(none)")
    from lab.tasks.lm_eval_yaml import load_yaml_task

    load_yaml_task(yamls[0])  # refuse an unsupported feature or a missing data file now, naming it
    return str(yamls[0])
