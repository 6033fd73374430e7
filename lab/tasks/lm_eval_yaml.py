"""lm-evaluation-harness task YAML -> the lab's Task, so the `evaluate` kind runs it.

    from lab.tasks.lm_eval_yaml import load_yaml_task
    task = load_yaml_task("my_task.yaml")       # Task(template="lm_eval", lm_eval={...})

Supported (lm-eval 0.4 semantics, Gao et al. 2024, "The Language Model Evaluation Harness"):
output_type multiple_choice | generate_until; dataset_path: json with dataset_kwargs.data_files (local
JSON / JSONL / CSV, relative to the YAML's folder and inside it, or the lab's own assets/tasks files); test_split / validation_split (evaluated, in that order of
preference) and fewshot_split / training_split (the few-shot pool, taken in order: lm-eval's "first_n"
sampler; its default random sampler picks other exemplars, so few-shot scores may differ from lm-eval's);
doc_to_text / doc_to_target / doc_to_choice as a field name, a Jinja template (rendered in a sandbox) or a
literal (a list of choices, an int target); target_delimiter, fewshot_delimiter, description;
generation_kwargs until / max_gen_toks / do_sample false / temperature 0; filter_list with regex and
take_first (one pipeline); metric_list acc, acc_norm, exact_match (ignore_case, ignore_punctuation).
Anything else is refused with a LabError naming the feature, never ignored: a score that silently
differs from lm-eval's is worse than none.
"""
import ast
import csv
import json
from pathlib import Path

from lab.errors import LabError

KNOWN = {"task", "tag", "group", "dataset_path", "dataset_name", "dataset_kwargs", "output_type", "test_split",
         "validation_split", "training_split", "fewshot_split", "doc_to_text", "doc_to_target", "doc_to_choice",
         "target_delimiter", "fewshot_delimiter", "description", "num_fewshot", "generation_kwargs", "filter_list",
         "metric_list", "metadata", "fewshot_config", "should_decontaminate", "doc_to_decontamination_query",
         "repeats"}
OUTPUT_TYPES = ("multiple_choice", "generate_until")
METRICS = ("acc", "acc_norm", "exact_match")
FILTER_FUNCTIONS = ("regex", "take_first")
MAX_ROWS = 100000


def _refuse(path: Path, feature: str):
    raise LabError("lm_eval_unsupported", file=path.name, feature=str(feature)[:120])


def _environment():
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment  # templates come from uploads: no attribute tricks

    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)


def _read_yaml(path: Path) -> dict:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader, suffix, node):  # e.g. !function utils.process_docs: Python code from the task folder
        _refuse(path, f"!{suffix}" if not suffix.startswith("!") else suffix)

    Loader.add_multi_constructor("!", tagged)
    try:
        config = yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)
    except yaml.YAMLError as error:
        raise LabError("lm_eval_bad_yaml", file=path.name, problem=str(error).splitlines()[0][:200])
    if not isinstance(config, dict):
        raise LabError("lm_eval_bad_yaml", file=path.name, problem="not a mapping")
    return config


def _check(path: Path, config: dict) -> None:
    for key in config:
        if key not in KNOWN:
            _refuse(path, key)
    if config.get("output_type", "generate_until") not in OUTPUT_TYPES:
        _refuse(path, f"output_type: {config.get('output_type')}")
    if config.get("dataset_path") != "json":
        _refuse(path, f"dataset_path: {config.get('dataset_path')} (only json with local data_files)")
    if config.get("repeats", 1) != 1:
        _refuse(path, "repeats")
    sampler = (config.get("fewshot_config") or {}).get("sampler", "first_n")
    if sampler != "first_n" or set(config.get("fewshot_config") or {}) - {"sampler"}:
        _refuse(path, f"fewshot_config: {config.get('fewshot_config')}")
    for entry in config.get("metric_list") or [{"metric": "acc" if config.get("output_type") == "multiple_choice" else "exact_match"}]:
        if entry.get("metric") not in METRICS:
            _refuse(path, f"metric: {entry.get('metric')}")
        if set(entry) - {"metric", "aggregation", "higher_is_better", "ignore_case", "ignore_punctuation"}:
            _refuse(path, f"metric option: {', '.join(sorted(set(entry) - {'metric', 'aggregation', 'higher_is_better'}))}")
        if entry.get("aggregation", "mean") != "mean":
            _refuse(path, f"aggregation: {entry['aggregation']}")
    filters = config.get("filter_list") or []
    if len(filters) > 1:
        _refuse(path, "more than one filter pipeline")
    for step in (filters[0].get("filter") or []) if filters else []:
        if step.get("function") not in FILTER_FUNCTIONS:
            _refuse(path, f"filter function: {step.get('function')}")
    kwargs = config.get("generation_kwargs") or {}
    for key, value in kwargs.items():
        if key not in ("until", "max_gen_toks", "do_sample", "temperature") or (key == "do_sample" and value) \
                or (key == "temperature" and value not in (0, 0.0)):
            _refuse(path, f"generation_kwargs.{key}: {value}")


def _data_files(path: Path, config: dict) -> dict:
    files = (config.get("dataset_kwargs") or {}).get("data_files")
    if set(config.get("dataset_kwargs") or {}) - {"data_files"}:
        _refuse(path, "dataset_kwargs other than data_files")
    if isinstance(files, (str, list)):
        files = {"train": files}
    if not isinstance(files, dict) or not files:
        _refuse(path, "dataset_path: json without dataset_kwargs.data_files")
    return {split: [files_of] if isinstance(files_of, str) else list(files_of) for split, files_of in files.items()}


def _data_path(path: Path, name: str) -> Path:
    """A data file named by the YAML: inside the YAML's own folder (an upload cannot read another file of the
    server), or one of the lab's own task files (assets/tasks); anything else is refused, naming it."""
    from lab.tasks import ASSETS

    data = (Path(name) if Path(name).is_absolute() else path.parent / name).resolve()
    roots = (path.parent.resolve(), ASSETS.resolve())
    if not any(root in data.parents for root in roots):
        raise LabError("lm_eval_data_outside", file=path.name, data=str(name)[:200])
    return data


def _read_rows(path: Path, name: str) -> list[dict]:
    data = _data_path(path, str(name))
    if not data.is_file():
        raise LabError("lm_eval_missing_data", file=path.name, data=name)
    text = data.read_text(encoding="utf-8")
    suffix = data.suffix.lower()
    if suffix == ".csv":
        rows = _typed(list(csv.DictReader(text.splitlines())))
    elif suffix == ".jsonl" or (suffix == ".json" and not text.lstrip().startswith("[")):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    elif suffix == ".json":
        rows = json.loads(text)
    else:
        _refuse(path, f"data file type {suffix or '(none)'}")
    if len(rows) > MAX_ROWS or not all(isinstance(row, dict) for row in rows):
        raise LabError("lm_eval_bad_yaml", file=path.name, problem=f"{name}: expected at most {MAX_ROWS} objects")
    return rows


def _typed(rows: list[dict]) -> list[dict]:
    """CSV columns of numbers become numbers, as the datasets library (pandas) reads them for lm-eval."""
    for column in (rows[0] if rows else {}):
        for kind in (int, float):
            try:
                values = [kind(row[column]) for row in rows]
            except (TypeError, ValueError):
                continue
            for row, value in zip(rows, values):
                row[column] = value
            break
    return rows


class Renderer:
    """doc_to_text / doc_to_target / doc_to_choice as lm-eval reads them: a field, a template, or a literal."""

    def __init__(self, path: Path):
        self.path, self.env, self.cache = path, _environment(), {}

    def __call__(self, spec, doc: dict):
        if not isinstance(spec, str):
            return spec  # an int target or a literal list of choices
        if spec in doc:
            return doc[spec]
        if "{{" not in spec and "{%" not in spec:
            return spec
        if spec not in self.cache:
            self.cache[spec] = self.env.from_string(spec)
        try:
            return self.cache[spec].render(**doc)
        except Exception as error:  # noqa: BLE001 - an undefined field or a sandbox refusal, reported as data
            raise LabError("lm_eval_bad_yaml", file=self.path.name, problem=f"template {spec[:60]!r}: {error}"[:240])

    def choices(self, spec, doc: dict) -> list[str]:
        value = self(spec, doc)
        if isinstance(value, str):
            try:
                value = ast.literal_eval(value)  # lm-eval renders "['a', 'b']" and reads it as a literal
            except (ValueError, SyntaxError):
                raise LabError("lm_eval_bad_yaml", file=self.path.name, problem=f"doc_to_choice gave {value[:80]!r}")
        return [str(choice) for choice in value]


def load_yaml_task(path) -> "Task":  # noqa: F821
    from lab.tasks import LETTERS, Task, TaskItem

    path = Path(path)
    config = _read_yaml(path)
    _check(path, config)
    files = _data_files(path, config)
    output = config.get("output_type", "generate_until")
    split_of = lambda *keys: next((config[k] for k in keys if config.get(k)), None)  # noqa: E731
    test, pool = split_of("test_split", "validation_split"), split_of("fewshot_split", "training_split", "validation_split")
    if test is None or test not in files:
        raise LabError("lm_eval_bad_yaml", file=path.name, problem=f"test split {test!r} not in data_files ({', '.join(files)})")
    render = Renderer(path)

    def items(split: str, kind: str) -> list:
        out = []
        for number, doc in enumerate(row for name in files.get(split, []) for row in _read_rows(path, name)):
            text = str(render(config.get("doc_to_text", "{{text}}"), doc))
            target = render(config.get("doc_to_target", "{{target}}"), doc)
            choices = tuple(render.choices(config["doc_to_choice"], doc)) if output == "multiple_choice" else ()
            index = None
            if choices:
                index = int(target) if isinstance(target, int) or str(target).strip().isdigit() else \
                    choices.index(str(target)) if str(target) in choices else None
                if index is None or not 0 <= index < len(choices):
                    raise LabError("task_answer_not_a_choice", where=f"{path.name} {split} row {number + 1}",
                                   answer=str(target)[:80], letters=", ".join(choices)[:200])
            answer = LETTERS[index] if index is not None and index < len(LETTERS) else str(target)
            out.append(TaskItem(f"{split}-{number}", text, answer, choices, split=kind, answer_index=index))
        return out

    if output == "multiple_choice" and "doc_to_choice" not in config:
        _refuse(path, "multiple_choice without doc_to_choice")
    questions = items(test, "test")
    exemplars = items(pool, "exemplar") if pool and pool != test and pool in files else []
    if not questions:
        raise LabError("task_no_questions", file=path.name)
    steps = ((config.get("filter_list") or [{}])[0].get("filter")) or []
    kwargs = config.get("generation_kwargs") or {}
    metrics = [m["metric"] for m in config.get("metric_list") or []] or (["acc"] if output == "multiple_choice" else ["exact_match"])
    exact = next((m for m in config.get("metric_list") or [] if m["metric"] == "exact_match"), {})
    settings = {"output_type": output, "target_delimiter": config.get("target_delimiter", " "),
                "fewshot_delimiter": config.get("fewshot_delimiter", "\n\n"), "description": config.get("description", ""),
                "num_fewshot": int(config.get("num_fewshot") or 0), "filters": steps, "metrics": metrics,
                "until": list(kwargs.get("until") or ["\n\n"]), "max_gen_toks": int(kwargs.get("max_gen_toks", 256)),
                "ignore_case": bool(exact.get("ignore_case")), "ignore_punctuation": bool(exact.get("ignore_punctuation"))}
    task_type = "multiple_choice" if output == "multiple_choice" else "free_text"
    return Task(str(config.get("task") or path.stem), task_type, "none", exemplars, questions,
                source=path.name, template="lm_eval", lm_eval=settings)
