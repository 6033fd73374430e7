"""Preset chains: several class presets run one after another, each step's run feeding the next.

A chain is a YAML file under assets/presets/<tab>/chains/:

    title: {en: ..., zh: ...}
    steps:
      - {name: sft, preset: align/lifecycle_1_sft}
      - {name: grpo, preset: align/lifecycle_3_grpo, feeds: {start_from: sft}, set: {reward: model}}

`feeds` fills a spec field with the run id of an earlier step; `set` fixes other fields of that step.
    chain = load("align/lifecycle")
    chain.next_step({"sft": "<run id>"})            -> the next step's name and its spec (validated)
    submit_next("align/lifecycle", done, owner=...)  -> (step name, run id), or None when finished
Loading validates every step with stand-in run ids (the runs do not exist yet).

Running a chain: start(chain_id, owner, overrides) submits the first step and returns the chain run's
group ("chain:<chain id>:<hex>", the group_id of every run it submits, each with its step's preset id, so
the class board and the Home path's check marks see them). The dispatcher calls after_run(run_id) when any
run ends: when a chain run succeeded, the chain's next step is submitted with its output (the run id
fed in), checked by the run API like any submission; a failed or cancelled step stops the chain there.
The chain's own record (which step ran as which run, the owner and the overrides every step takes, e.g.
the model chosen in the Align tab) is one JSON file per chain run under <lab home>/chains/.
progress(group) and board_frame(chain_id, viewer, lang) show where each chain (each student) is.
"""
import dataclasses
import secrets
from dataclasses import dataclass

import yaml

from lab.classroom import presets
from lab.errors import LabError
from lab.specs import Spec, spec_from_dict

STAND_IN_RUN = "20000101-000000-chain-000000"  # a well-formed run id for validating steps to come


@dataclass
class Step:
    name: str
    preset: str
    feeds: dict  # field -> name of an earlier step whose run id fills it
    fixed: dict  # field -> value, applied with the feeds


@dataclass
class Chain:
    id: str
    title: dict
    steps: list

    def spec(self, step: Step, done: dict, overrides: dict | None = None) -> Spec:
        """The step's spec with the run ids of the earlier steps it names (LabError if one is missing).
        `overrides` (field -> value) apply to every step whose kind has that field; feeds and `set` win."""
        from lab.specs import spec_class

        data = dict(presets.load(step.preset).specs[0])
        own = {f.name for f in dataclasses.fields(spec_class(data["kind"]))}
        data.update({k: v for k, v in (overrides or {}).items() if k in own})
        for field, source in step.feeds.items():
            if source not in done:
                raise LabError("chain_step_missing", chain=self.id, step=step.name, needs=source)
            data[field] = done[source]
        return spec_from_dict({**data, **step.fixed})

    def next_step(self, done: dict, overrides: dict | None = None):
        """(name, spec) of the first step not yet done, or None when the chain is finished."""
        for step in self.steps:
            if step.name not in done:
                return step.name, self.spec(step, done, overrides)
        return None

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


def load(chain_id: str) -> Chain:
    tab, _, name = chain_id.partition("/")
    path = presets.ASSETS / tab / "chains" / f"{name}.yaml"
    if not presets.PRESET_ID.match(chain_id) or ".." in chain_id or not path.is_file():
        raise LabError("no_such_preset", preset=chain_id, presets="-")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    steps, names = [], set()
    for raw in data.get("steps") or []:
        feeds, fixed = dict(raw.get("feeds") or {}), dict(raw.get("set") or {})
        unknown = sorted(set(feeds.values()) - names)
        if unknown:
            raise LabError("preset_invalid", preset=chain_id, detail=f"step {raw.get('name')} feeds from {unknown[0]}, not an earlier step")
        steps.append(Step(str(raw["name"]), str(raw["preset"]), feeds, fixed))
        names.add(steps[-1].name)
    if not steps:
        raise LabError("preset_invalid", preset=chain_id, detail="no steps")
    chain = Chain(chain_id, presets._bilingual(data.get("title"), chain_id), steps)
    stand_ins = {step.name: STAND_IN_RUN for step in steps}
    for step in steps:
        chain.spec(step, stand_ins)  # every step builds (validates) once its runs are there
    return chain


def submit_next(chain_id: str, done: dict, owner: str = ""):
    """Submit the chain's next step (a class-preset run); (step name, run id), or None when finished."""
    from lab.runs import runner

    found = load(chain_id).next_step(done)
    if found is None:
        return None
    name, spec = found
    return name, runner.submit(spec, owner=owner)


# -- running a chain: one record per chain run, advanced by the dispatcher as its runs end ---------------
GROUP_PREFIX = "chain:"


def _records_dir():
    from lab import config

    path = config.lab_home() / "chains"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _record_path(group: str):
    token = group.rsplit(":", 1)[-1]
    if not group.startswith(GROUP_PREFIX) or not token.isalnum():
        raise LabError("no_such_chain_run", group=group)
    return _records_dir() / f"{token}.json"


def read_record(group: str) -> dict:
    from lab.runs.run_files import read_json

    record = read_json(_record_path(group))
    return record if isinstance(record, dict) and record.get("group") == group else {}


def _write_record(record: dict) -> None:
    from lab.runs.run_files import write_json

    write_json(_record_path(record["group"]), record)


def _submit_step(chain: Chain, record: dict, name: str, spec: Spec) -> str:
    from lab.runs import runner

    run_id = runner.submit(spec, owner=record["owner"], private=False, group_id=record["group"],
                           preset=chain.step(name).preset)
    record["runs"][name] = run_id
    _write_record(record)
    return run_id


def start(chain_id: str, owner: str = "", overrides: dict | None = None) -> tuple[str, str]:
    """Submit the chain's first step; (the chain run's group, the first run id). Every step is built (and
    validated) with the overrides first, so a bad model or setting is refused before anything runs."""
    from lab import config
    from lab.classroom import space_mode

    chain = load(chain_id)
    overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, "")}
    stand_ins = {step.name: STAND_IN_RUN for step in chain.steps}
    for step in chain.steps:
        spec = chain.spec(step, stand_ins, overrides)
        if config.space_mode() and space_mode.is_visitor(owner):
            space_mode.check_costs(spec)  # the step counts; the rest is checked as each step is submitted
    group = f"{GROUP_PREFIX}{chain_id}:{secrets.token_hex(4)}"
    record = {"group": group, "chain": chain_id, "owner": owner, "overrides": overrides, "runs": {}}
    name, spec = chain.next_step({}, overrides)
    return group, _submit_step(chain, record, name, spec)


def after_run(run_id: str):
    """A run ended (the dispatcher calls this): if it is a chain's step and succeeded, submit the next step
    fed with the runs so far. (step name, run id) when one was submitted, else None."""
    from lab.runs import store

    row = store.get_run(run_id) or {}
    group = row.get("group_id") or ""
    if not group.startswith(GROUP_PREFIX) or row.get("status") != "succeeded":
        return None
    record = read_record(group)
    if not record or run_id not in record["runs"].values():
        return None
    states = {name: (store.get_run(rid) or {}).get("status") for name, rid in record["runs"].items()}
    if any(status != "succeeded" for status in states.values()):
        return None  # a step still running (or one that failed: the chain stops there)
    chain = load(record["chain"])
    try:
        found = chain.next_step(dict(record["runs"]), record.get("overrides"))
        if found is None:
            return None
        return found[0], _submit_step(chain, record, *found)
    except LabError as error:  # refused (a visitor's limit, a spec that no longer validates): the chain stops
        record["error"] = {"key": error.key, "params": {k: str(v) for k, v in error.params.items()}}
        _write_record(record)
        return None


def progress(group: str) -> list[dict]:
    """Each step of a chain run: its name, preset title, run id ("" before it is submitted), status
    ("waiting" before), and the step preset's board figures once it succeeded."""
    from lab.runs import store
    from lab.runs.folder import RunFolder

    record = read_record(group)
    if not record:
        return []
    rows = []
    for step in load(record["chain"]).steps:
        run_id = record["runs"].get(step.name, "")
        row = store.get_run(run_id) if run_id else None
        preset = presets.load(step.preset)
        figures = {}
        if row and row["status"] == "succeeded":
            metrics = {**(row.get("metrics") or {}), **(RunFolder(run_id).read_result().get("metrics") or {})}
            figures = {k: metrics[k] for k in preset.board if isinstance(metrics.get(k), (int, float))}
        rows.append({"step": step.name, "preset": preset, "run_id": run_id,
                     "status": row["status"] if row else "waiting", "figures": figures})
    return rows


def signature(group: str) -> str:
    """Changes when the chain run's progress would: each step's run and status, and the live step's progress."""
    from lab.runs import runner

    if not group:
        return ""
    steps = progress(group)
    live = [s["run_id"] for s in steps if s["status"] == "running"]
    return "|".join(f"{s['run_id']}:{s['status']}" for s in steps) + "".join(
        str(runner.progress(r).get("done", "")) for r in live) + str(bool(read_record(group).get("error")))


def _position(steps: list[dict]) -> tuple[int, dict]:
    """(1-based number of the step the chain is at, that step): the last one submitted."""
    started = [i for i, s in enumerate(steps) if s["run_id"]]
    index = started[-1] if started else 0
    return index + 1, steps[index]


def _figures_text(figures: dict, lang: str) -> str:
    from lab.present.formatting import format_number
    from lab.present.plots import axis_title

    return ", ".join(f"{axis_title(k, lang)} {format_number(v)}" for k, v in figures.items())


def progress_markdown(group: str, lang: str) -> str:
    """The chain run's steps, one line each: status, run id, the figures it measured."""
    from lab.present.i18n import t
    from lab.runs.runs_view import status_text

    steps = progress(group)
    if not steps:
        return ""
    number, current = _position(steps)
    error = read_record(group).get("error")
    lines = [t("chain.progress", lang, number=number, total=len(steps), step=current["preset"].text("title", lang),
               status=status_text(current["status"], lang) if current["status"] != "waiting" else t("chain.waiting", lang))]
    for index, step in enumerate(steps, 1):
        status = t("chain.waiting", lang) if step["status"] == "waiting" else status_text(step["status"], lang)
        mark = {"succeeded": "✓", "failed": "✗", "cancelled": "✗"}.get(step["status"], "○")
        line = f"{mark} **{index}. {step['preset'].text('title', lang)}** · {status}"
        if step["run_id"]:
            line += f" · `{step['run_id']}`"
        if step["figures"]:
            line += f" — {_figures_text(step['figures'], lang)}"
        lines.append(line)
    if error:
        lines.append(t("chain.stopped", lang, error=t(f"error.{error['key']}", lang, **error["params"])))
    return "\n\n".join(lines)


def groups(chain_id: str, viewer=None) -> list[dict]:
    """The chain runs of this chain that the viewer may see, oldest first: {group, owner}."""
    from lab.runs import store

    first = load(chain_id).steps[0].preset
    seen, found = set(), []
    for row in reversed(store.list_runs(limit=5000, preset=first, viewer=viewer)):
        group = row.get("group_id") or ""
        if group.startswith(f"{GROUP_PREFIX}{chain_id}:") and group not in seen:
            seen.add(group)
            found.append({"group": group, "owner": row["owner"], "row": row})
    return found


def latest_group(chain_id: str, visitor: str) -> str:
    """This visitor's newest chain run of the chain ("" if none)."""
    from lab.classroom.access import is_mine

    mine = [g for g in groups(chain_id) if visitor and is_mine(g["owner"], visitor)]
    return mine[-1]["group"] if mine else ""


def done_by(chain_id: str, visitor: str) -> bool:
    """Has this visitor a chain run whose every step succeeded (the Home path's check mark)?"""
    from lab.classroom.access import is_mine

    return any(is_mine(g["owner"], visitor) and all(s["status"] == "succeeded" for s in progress(g["group"]))
               for g in groups(chain_id) if visitor)


def board_frame(chain_id: str, viewer, lang: str):
    """The class board of a chain: one row per chain run (per student): who, the step it is at, its status,
    and the figures each step measured (the reward and accuracy after each stage)."""
    import pandas as pd

    from lab.classroom.classboard import _who
    from lab.present.i18n import t
    from lab.runs.runs_view import status_text

    chain = load(chain_id)
    numbers, records = {}, []
    for entry in groups(chain_id, viewer):
        steps = progress(entry["group"])
        if not steps:
            continue
        number, current = _position(steps)
        status = t("chain.waiting", lang) if current["status"] == "waiting" else status_text(current["status"], lang)
        records.append([_who(entry["row"], viewer, numbers, lang), f"{number}/{len(steps)} {current['step']}", status,
                        *[_figures_text(s["figures"], lang) for s in steps]])
    columns = [t("board.col.who", lang), t("chain.col.step", lang), t("board.col.status", lang),
               *[s.name for s in chain.steps]]
    return pd.DataFrame(records, columns=columns, dtype=object)
