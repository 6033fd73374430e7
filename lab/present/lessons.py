"""Which lessons the lab owes: one per tab, and one per entry of every registry with a lesson prefix.

The registries are lab.registry.all_registries() (every Registry the lab makes), so a new entry, or
a new registry with a `lesson_prefix`, is owed its lessons without a line here. The lesson of entry
NAME of a registry with prefix P is assets/lessons/<lang>/P<NAME>.md. tests/test_lessons.py checks
that every one exists in both languages and holds a "Predict, then run" question.
"""
from lab.present.i18n import ASSETS, LANGUAGES
from lab.present.tabs import TABS  # the tabs owe a lesson each
from lab.registry import all_registries


def owed() -> list[str]:
    """Every lesson name the lab needs (without language or .md): the tabs', then each entry's."""
    names = list(TABS)
    for registry in all_registries():
        if registry.lesson_prefix is not None:
            names += [registry.lesson_name(name) for name in registry.names()]
    return names


def missing() -> list[str]:
    return [f"{lang}/{name}.md" for name in owed() for lang in LANGUAGES
            if not (ASSETS / "lessons" / lang / f"{name}.md").is_file()]
