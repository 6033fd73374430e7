"""Class presets: locked settings that turn an experiment into a one-button exercise.

A preset is a YAML (or JSON) file under assets/presets/<tab>/, or a teacher's file in the data
folder (LAB_HOME/presets/, id "class/<name>"):

    title: {en: Greedy or sampling?, zh: 贪心还是采样?}
    description: {en: ..., zh: ...}
    minutes: 2                      # a teacher's own estimate (shown as theirs); shipped presets are measured
    spec: {kind: generate, prompts: [...], max_new_tokens: 32}
    variants:                       # optional: one run per variant, each merged over spec
      - {name: greedy, do_sample: false}
      - {name: hot, do_sample: true, temperature: 1.5}
    unlocked: [name]                # what a student may change; everything else is locked
    predict:                        # "Predict, then run": asked before, answered from the runs after
      question: {en: ..., zh: ...}
      metric: distinct_outputs      # a figure of the run's result
      pick: max                     # the answer is the variant with the max (or min) of it
    board: [final_loss, wall_seconds]   # the class board's columns (the first one is plotted)
    menu: false                     # optional: a guided-path step, left out of its tab's preset menu

How long a shipped preset takes is measured, not guessed: bench/preset_times.py runs it through the
runner and keeps the wall time, CPU, threads, load average and date in assets/presets/durations.json
(keyed by preset id); duration() shows it ("~40 s on a 2-core CPU ..."), or says "not measured".

The older shapes load too: a fine-tune comparison ({title, description, methods, spec}: one run per
method) and a bare spec ({"kind": ..., "name": ...}). Every shipped file is loaded and validated by
tests/test_classroom.py. Every tab's preset menu reads this module too (menu(), choices(), note()):
there is no other preset loader. Presets submit with use_cache=True, so a class running the same preset
replays the first finished run instead of queueing thirty copies of it.
"""
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lab import config
from lab.classroom import space_mode
from lab.runs import runner, store
from lab.runs.folder import write_atomic
from lab.errors import LabError
from lab.specs import Spec, spec_from_dict

ASSETS = config.REPO / "assets" / "presets"
DURATIONS = ASSETS / "durations.json"  # measured by bench/preset_times.py
SUFFIXES = (".yaml", ".yml", ".json")
PRESET_ID = re.compile(r"^[a-z0-9_]+(/[A-Za-z0-9_.-]+)+$")
MAX_PRESET_BYTES = 64 * 1024
KIND_OF_FOLDER = {"finetune": "finetune", "scaling": "scaling_sweep", "prompting": "prompt"}  # shapes without a "kind"


@dataclass
class Preset:
    id: str  # "finetune/lora_ia3_prompt_2min", "class/week3"
    tab: str
    title: dict
    description: dict
    specs: list  # one spec dict per run
    unlocked: tuple = ("name",)
    predict: dict | None = None
    board: list = field(default_factory=list)
    minutes: float | None = None
    menu: bool = True  # listed in its tab's preset menu (guided-path steps say false)

    def text(self, what: str, lang: str) -> str:
        value = getattr(self, what) or {}
        return value.get(lang) or value.get("en") or ""

    def build(self, overrides: dict | None = None) -> list[Spec]:
        """Validated specs, with a student's changes to unlocked fields; a locked field refuses a change."""
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        for name in overrides:
            if name not in self.unlocked:
                raise LabError("preset_locked", field=name, preset=self.id, unlocked=", ".join(self.unlocked) or "-")
        return [spec_from_dict({**data, **overrides}) for data in self.specs]

    @property
    def run_count(self) -> int:
        return len(self.specs)


def _bilingual(value, fallback: str) -> dict:
    if isinstance(value, dict):
        return {lang: str(value.get(lang) or value.get("en") or fallback) for lang in ("en", "zh")}
    return {"en": str(value or fallback), "zh": str(value or fallback)}


def _bare_title(preset_id: str, name) -> dict:
    """A bare-spec preset's title in both languages: i18n "preset.title.<id>", else its spec's name."""
    from lab.present.i18n import messages

    key = f"preset.title.{preset_id}"
    return {lang: messages(lang).get(key) or str(name or preset_id) for lang in ("en", "zh")}


def parse(data, preset_id: str, tab: str) -> Preset:
    """A preset from loaded YAML/JSON data (any of the three shapes); LabError naming what is wrong."""
    if not isinstance(data, dict):
        raise LabError("preset_invalid", preset=preset_id, detail="not a mapping")
    if "kind" in data and "spec" not in data:  # a bare spec (the CLI runs these files as they are): its
        data = {"title": _bare_title(preset_id, data.get("name")), "spec": data}  # titles live in i18n
    spec = dict(data.get("spec") or {})
    if not spec:
        raise LabError("preset_invalid", preset=preset_id, detail="no spec")
    spec.setdefault("kind", data.get("kind") or KIND_OF_FOLDER.get(tab, ""))  # {"kind", "title", "spec"} (Align)
    variants = data.get("variants")
    if variants is None and data.get("methods"):
        variants = [{"method": m, "name": m} for m in data["methods"]]
    if variants is not None and (not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants)):
        raise LabError("preset_invalid", preset=preset_id, detail="variants must be a list of mappings")
    specs = [{**spec, **variant} for variant in (variants or [{}])]
    unlocked = data.get("unlocked", ["name"])
    if not isinstance(unlocked, list) or not all(isinstance(u, str) for u in unlocked):
        raise LabError("preset_invalid", preset=preset_id, detail="unlocked must be a list of field names")
    predict = data.get("predict")
    if predict is not None:
        if not isinstance(predict, dict) or predict.get("pick", "max") not in ("min", "max") or not predict.get("metric"):
            raise LabError("preset_invalid", preset=preset_id, detail="predict needs a metric and pick: min or max")
        predict = {"question": _bilingual(predict.get("question"), ""), "metric": str(predict["metric"]),
                   "pick": predict.get("pick", "max")}
    board = data.get("board") or ([predict["metric"]] if predict else [])
    preset = Preset(preset_id, tab, _bilingual(data.get("title"), preset_id),
                    _bilingual(data.get("description"), ""), specs, tuple(unlocked), predict,
                    [str(b) for b in board], data.get("minutes"), bool(data.get("menu", True)))
    preset.build()  # every run's spec is valid now, not when a student presses the button
    return preset


def read_file(path: Path, preset_id: str, tab: str) -> Preset:
    if path.stat().st_size > MAX_PRESET_BYTES:
        raise LabError("preset_invalid", preset=preset_id, detail=f"larger than {MAX_PRESET_BYTES // 1024} KB")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)  # safe_load: data, never code
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else f"line {getattr(exc, 'lineno', '?')}"
        raise LabError("preset_invalid", preset=preset_id, detail=f"{where}: {getattr(exc, 'problem', None) or exc}") from None
    return parse(data, preset_id, tab)


def class_dir() -> Path:
    folder = config.lab_home() / "presets"
    folder.mkdir(exist_ok=True)
    return folder


def _path_of(preset_id: str) -> Path | None:
    """The file of a preset id, or None; ids never reach outside the two preset folders."""
    if not isinstance(preset_id, str) or not PRESET_ID.match(preset_id) or ".." in preset_id:
        return None
    folder, _, stem = preset_id.partition("/")
    base = class_dir() if folder == "class" else ASSETS / folder
    for suffix in SUFFIXES:
        path = base / f"{stem}{suffix}"
        if path.is_file() and path.resolve().parent == base.resolve():
            return path
    return None


def exists(preset_id: str) -> bool:
    return _path_of(preset_id) is not None


def load(preset_id: str) -> Preset:
    path = _path_of(preset_id)
    if path is None:
        raise LabError("no_such_preset", preset=preset_id, presets=", ".join(all_ids()))
    tab = "class" if preset_id.startswith("class/") else preset_id.split("/")[0]
    return read_file(path, preset_id, tab)


def all_ids() -> list[str]:
    """Every preset: the shipped ones, then the teacher's."""
    ids = [f"{p.parent.name}/{p.stem}" for p in sorted(ASSETS.glob("*/*")) if p.suffix in SUFFIXES]
    ids += [f"class/{p.stem}" for p in sorted(class_dir().glob("*")) if p.suffix in SUFFIXES]
    return ids


def menu(tab: str, kind: str | None = None) -> list[Preset]:
    """The presets a tab's menu offers: its folder's, in file order, of one kind (Align, Evaluate and
    Quantize hold two experiments each) and not marked `menu: false`."""
    found = [_shipped(path) for path in sorted((ASSETS / tab).glob("*")) if path.suffix in SUFFIXES]
    return [p for p in found if p.menu and (kind is None or p.specs[0].get("kind") == kind)]


_SHIPPED: dict = {}  # path -> (mtime, Preset): every language redraw lists each tab's menu again


def _shipped(path: Path) -> Preset:
    """A shipped preset, parsed (and validated) once per change of its file."""
    mtime = path.stat().st_mtime
    cached = _SHIPPED.get(path)
    if cached is None or cached[0] != mtime:
        cached = _SHIPPED[path] = (mtime, read_file(path, f"{path.parent.name}/{path.stem}", path.parent.name))
    return cached[1]


def choices(tab: str, lang: str, kind: str | None = None) -> list[tuple[str, str]]:
    """(title in `lang` · how long it takes, preset id) for a tab's preset dropdown."""
    return [(f"{p.text('title', lang)} · {duration(p, lang, short=True)}", p.id) for p in menu(tab, kind)]


def note(preset: Preset, lang: str) -> str:
    """The line shown under a loaded preset: its title in bold, then what it does and how long it takes."""
    description = preset.text("description", lang)
    return (f"**{preset.text('title', lang)}**" + (f" — {description}" if description else "")
            + f" · *{duration(preset, lang)}*")


_DURATIONS: list = [None, {}]  # [mtime, records] of durations.json


def measured(preset_id: str) -> dict | None:
    """The measurement of a shipped preset (seconds, cores, threads, load average, date), or None."""
    try:
        mtime = DURATIONS.stat().st_mtime
        if _DURATIONS[0] != mtime:
            _DURATIONS[:] = [mtime, json.loads(DURATIONS.read_text(encoding="utf-8"))]
    except (OSError, json.JSONDecodeError):
        return None
    record = _DURATIONS[1].get(preset_id)
    return record if isinstance(record, dict) and isinstance(record.get("seconds"), (int, float)) else None


def _about(seconds: float, lang: str) -> str:
    """"~40 s", "~3 min": a measured time as a teacher plans with it (seconds under 90 s, else minutes)."""
    from lab.present.i18n import t

    if seconds < 90:
        return t("preset.about_seconds", lang, seconds=max(5, int(round(seconds / 5.0)) * 5))
    return t("preset.about_minutes", lang, minutes=f"{seconds / 60:.1f}".rstrip("0").rstrip("."))


def duration(preset: Preset, lang: str, short: bool = False) -> str:
    """How long a preset takes: its measured time (with the CPU, threads, load and date unless short), a
    class preset's own estimate said to be the teacher's, or "not measured" -- never a guess of the lab's."""
    from lab.present.i18n import t

    record = measured(preset.id)
    if record is not None:
        about = _about(record["seconds"], lang)
        if short:
            return about
        load = (record.get("load_avg_before") or ["?"])[0]
        return t("preset.duration_measured", lang, time=about, cores=record.get("cores", "?"),
                 threads=record.get("threads", "?"), load=load, date=str(record.get("date", "?"))[:10])
    if preset.minutes and preset.tab == "class":
        return t("preset.duration_teacher", lang, minutes=f"{preset.minutes:g}")
    return t("preset.duration_not_measured", lang)


def save_class_preset(source: str | Path, viewer) -> str:
    """A teacher locks settings: an uploaded YAML becomes the class preset "class/<name>" (validated first)."""
    if viewer is None or not viewer.locks_presets:
        raise LabError("teacher_only")
    source = Path(source)
    if source.suffix.lower() not in SUFFIXES:
        raise LabError("preset_invalid", preset=source.name, detail="not a .yaml or .json file")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", source.stem).strip("._") or "preset"
    preset_id = f"class/{stem}"
    read_file(source, preset_id, "class")
    target = class_dir() / f"{stem}{source.suffix.lower()}"
    write_atomic(target, source.read_text(encoding="utf-8"))
    return preset_id


def submit(preset_id: str, owner: str = "", overrides: dict | None = None, use_cache: bool = True) -> tuple[str, list[str]]:
    """Queue (or replay) every run of a preset as one group; runs are shared (the class board shows them).
    A visitor's limits are checked once for the whole exercise: the steps and model of each run, and
    that they have no other run queued or running."""
    preset = load(preset_id)
    specs = preset.build(overrides)
    for spec in specs:
        space_mode.check_submission(spec, owner)
    group = f"preset-{secrets.token_hex(4)}"
    run_ids = [runner.submit(spec, owner=owner, private=False, use_cache=use_cache, group_id=group,
                             preset=preset.id, checked=True) for spec in specs]
    return group, run_ids


def done_by(preset_id: str, visitor: str) -> bool:
    """Has this visitor a succeeded run of this preset (the Home path's check mark)?"""
    from lab.classroom.access import is_mine

    if not visitor:
        return False
    return any(is_mine(r["owner"], visitor) and r["status"] == "succeeded"
               for r in store.list_runs(limit=1000, preset=preset_id))
