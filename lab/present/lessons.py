"""Which lessons the lab owes: one per tab, and one per registered entry of every registry.

A registry is named by import path, so one that has not landed yet (a tab built in parallel) is
skipped, not an error: REGISTRIES lists (module, attribute, lesson file prefix), where the attribute
is a function returning names or a dict keyed by name. The lesson of entry NAME of a registry with
prefix P is assets/lessons/<lang>/P<NAME>.md. tests/test_lessons.py checks that every one exists
in both languages and holds a "Predict, then run" question.

Adding a registry is one line here.
"""
import importlib
from dataclasses import dataclass

from lab.present.i18n import ASSETS, LANGUAGES
from lab.present.tabs import TABS  # the tabs owe a lesson each


@dataclass(frozen=True)
class Registry:
    module: str
    attribute: str
    prefix: str


REGISTRIES = (
    Registry("lab.finetune.methods", "method_names", "method_"),
    Registry("lab.prompting.strategies", "STRATEGIES", "strategy_"),
    Registry("lab.quantize.schemes", "scheme_names", "scheme_"),
    Registry("lab.prune.methods", "method_names", "prune_"),
    Registry("lab.evaluate.judges", "judge_names", "judge_"),
    Registry("lab.evaluate.metrics", "METRICS", "metric_"),
)


def entries(registry: Registry) -> list[str] | None:
    """The registry's entry names, or None when its module is not there (yet)."""
    try:
        module = importlib.import_module(registry.module)
    except ModuleNotFoundError as exc:
        if exc.name and registry.module.startswith(exc.name):
            return None
        raise
    value = getattr(module, registry.attribute)
    names = value() if callable(value) else value
    return sorted(names)


def owed() -> list[str]:
    """Every lesson name the lab needs (without language or .md): the tabs', then each entry's."""
    names = list(TABS)
    for registry in REGISTRIES:
        names += [f"{registry.prefix}{name}" for name in entries(registry) or []]
    return names


def missing() -> list[str]:
    return [f"{lang}/{name}.md" for name in owed() for lang in LANGUAGES
            if not (ASSETS / "lessons" / lang / f"{name}.md").is_file()]
