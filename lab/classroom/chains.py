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
"""
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

    def spec(self, step: Step, done: dict) -> Spec:
        """The step's spec with the run ids of the earlier steps it names (LabError if one is missing)."""
        data = dict(presets.load(step.preset).specs[0])
        for field, source in step.feeds.items():
            if source not in done:
                raise LabError("chain_step_missing", chain=self.id, step=step.name, needs=source)
            data[field] = done[source]
        return spec_from_dict({**data, **step.fixed})

    def next_step(self, done: dict):
        """(name, spec) of the first step not yet done, or None when the chain is finished."""
        for step in self.steps:
            if step.name not in done:
                return step.name, self.spec(step, done)
        return None


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
