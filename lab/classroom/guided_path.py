"""The guided path on the Home tab: numbered steps through the tabs, each a class preset, checked off
when this visitor has a succeeded run of it.

The path is data (assets/presets/path.yaml): a list of {tab, preset[, chain]}, where preset is a file
under assets/presets/ ("finetune/lora_ia3_prompt_2min.json") or a folder ("quantize/": its first
preset by name). A step whose preset does not exist (yet) is left out, not an error: a tab's
presets slot in when they land. The teacher's class presets follow the path's steps. Steps are
numbered as shown. A step with `chain` runs that preset chain whole (its preset is the chain's first step):
it is checked off when every step of one of the visitor's chain runs succeeded.
"""
import json
from dataclasses import dataclass

import yaml
from lab.classroom import presets
from lab.errors import LabError
from lab.present.i18n import t

PATH_FILE = presets.ASSETS / "path.yaml"


@dataclass
class Step:
    number: int
    tab: str
    preset: presets.Preset
    chain: str = ""  # a preset chain (lab/classroom/chains.py) this step runs whole, its preset being the first step


def chain_of(preset_id: str, path_file=PATH_FILE) -> str:
    """The chain a path step runs ("" for a step that runs its preset alone); reads only the path file
    (the Home tab's timer asks on every tick)."""
    data = yaml.safe_load(path_file.read_text(encoding="utf-8")) or {}
    for entry in data.get("steps") or []:
        if isinstance(entry, dict) and entry.get("chain") and preset_id and _preset_id(entry.get("preset")) == preset_id:
            return str(entry["chain"])
    return ""


def _preset_id(entry: str) -> str | None:
    entry = str(entry or "").strip()
    if entry.endswith("/"):
        folder = presets.ASSETS / entry.strip("/")
        files = sorted(p for p in folder.glob("*") if p.suffix in presets.SUFFIXES) if folder.is_dir() else []
        return f"{folder.name}/{files[0].stem}" if files else None
    stem = entry.rsplit(".", 1)[0] if entry.endswith(presets.SUFFIXES) else entry
    return stem if presets.exists(stem) else None


def steps(path_file=PATH_FILE) -> list[Step]:
    """The steps whose preset exists and loads; numbered 1, 2, ... in path order."""
    data = yaml.safe_load(path_file.read_text(encoding="utf-8")) or {}
    shown = []
    for entry in data.get("steps") or []:
        preset_id = _preset_id(entry.get("preset")) if isinstance(entry, dict) else None
        if preset_id is None:
            continue
        try:
            preset = presets.load(preset_id)
        except LabError:
            continue  # a broken preset is reported by the preset test, not by the Home page
        shown.append(Step(len(shown) + 1, str(entry.get("tab") or preset.tab), preset, str(entry.get("chain") or "")))
    for preset_id in presets.all_ids():  # then the teacher's class presets (Runs → Classroom), in name order
        if preset_id.startswith("class/") and preset_id not in {s.preset.id for s in shown}:
            try:
                shown.append(Step(len(shown) + 1, "class", presets.load(preset_id)))
            except LabError:
                continue
    return shown


def _chain_done(chain_id: str, visitor: str) -> bool:
    from lab.classroom import chains

    try:
        return chains.done_by(chain_id, visitor)
    except LabError:
        return False


def step_choices(lang: str, path_file=PATH_FILE) -> list[tuple[str, str]]:
    return [(f"{s.number}. {t(f'tab.{s.tab}', lang)} — {s.preset.text('title', lang)}", s.preset.id)
            for s in steps(path_file)]


def path_markdown(visitor: str, lang: str, path_file=PATH_FILE) -> str:
    """The numbered steps with a check mark for those this visitor has done."""
    lines = []
    for step in steps(path_file):
        done = _chain_done(step.chain, visitor) if step.chain else presets.done_by(step.preset.id, visitor)
        mark = "✓" if done else "○"  # plain symbols: emoji fonts are missing on many lab machines
        lines.append(f"{mark} **{step.number}. {t(f'tab.{step.tab}', lang)}** — {step.preset.text('title', lang)}"
                     f" · {presets.duration(step.preset, lang, short=True)}")
    if not lines:
        return t("path.empty", lang)
    done = sum(line.startswith("✓") for line in lines)
    return "\n\n".join([t("path.progress", lang, done=done, total=len(lines)), *lines])


def settings_markdown(preset: presets.Preset, lang: str) -> str:
    """A step's description, its locked settings (those that differ between runs, per run) and run count."""
    lines = [preset.text("description", lang)]
    lines.append(f"*{presets.duration(preset, lang)} · {t('path.runs', lang, count=preset.run_count)}*")
    shared = {k: v for k, v in preset.specs[0].items() if all(s.get(k) == v for s in preset.specs)}
    shown = ", ".join(f"`{k}={_short(v)}`" for k, v in shared.items() if k not in ("prompts", "name"))
    lines.append(f"**{t('path.settings', lang)}:** {shown}")
    if preset.run_count > 1:
        for spec in preset.specs:
            own = ", ".join(f"`{k}={_short(v)}`" for k, v in spec.items() if k not in shared and k != "name")
            lines.append(f"- **{spec.get('name') or spec.get('kind')}**: {own}")
    return "\n\n".join(lines)


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def runs_markdown(run_ids: list[str], lang: str, viewer) -> str:
    """This visitor's runs of the step: status, queue position or progress, one line each."""
    from lab.runs.job_view import job_status
    from lab.runs.store import get_run

    lines = []
    for run_id in run_ids:
        row = get_run(run_id)
        status = job_status(run_id, lang, viewer)  # the ids come from the browser: checked every time
        if row is None or status["status"] == "missing":
            continue
        lines.append(f"- **{row['name'] or row['kind']}** · {status['text']}" + (f" — {status['error']}" if status["error"] else ""))
    return (f"**{t('path.your_runs', lang)}**\n\n" + "\n".join(lines)) if lines else ""
