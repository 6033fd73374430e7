"""Every visible text exists in English and in Chinese.

- each area file (assets/i18n/<lang>/<area>.json) has the same keys in both languages, no empty
  values, and the same {placeholders};
- every key the code names literally (t("..."), K("..."), LabError("...")) exists;
- the key families built at run time (statuses, tabs, table headers, spec field labels) exist;
- every entry of every registry with a label prefix has its label (registry.label_key) in both languages;
- every spec field has help in both languages, and every tab has its lesson in both languages.
"""
import dataclasses
import json
import re
import string

import pytest

from lab import config
from lab.present.tabs import TABS
from lab.present.i18n import LANGUAGES, lesson, messages
from lab.specs import KINDS

I18N = config.REPO / "assets" / "i18n"
LESSONS = config.REPO / "assets" / "lessons"
SOURCES = [config.REPO / "app.py", *sorted((config.REPO / "pages").glob("*.py")),
           *sorted((config.REPO / "lab").rglob("*.py"))]
AREAS = sorted({p.name for lang in LANGUAGES for p in (I18N / lang).glob("*.json")})


def load(lang, area):
    path = I18N / lang / area
    assert path.exists(), f"{path} is missing (it exists in another language)"
    return json.loads(path.read_text(encoding="utf-8"))


def placeholders(text: str) -> set:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("area", AREAS)
def test_area_files_have_the_same_keys_no_empty_values_and_matching_placeholders(area):
    en, zh = load("en", area), load("zh", area)
    assert sorted(set(en) - set(zh)) == [], f"{area}: keys missing in zh"
    assert sorted(set(zh) - set(en)) == [], f"{area}: keys missing in en"
    for lang, data in (("en", en), ("zh", zh)):
        empty = [k for k, v in data.items() if not isinstance(v, str) or not v.strip()]
        assert empty == [], f"{lang}/{area}: empty values"
    mismatched = [k for k in en if placeholders(en[k]) != placeholders(zh[k])]
    assert mismatched == [], f"{area}: placeholders differ between en and zh"


def keys_used_in_source() -> dict[str, str]:
    """Literal keys in the code: t("k"), K("k"), LabError("k") -> error.k (dynamic f-strings are checked below)."""
    used = {}
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"""\b(?:t|K)\(\s*["']([A-Za-z0-9_.]+)["']""", text):
            used[match.group(1)] = path.name
        for match in re.finditer(r"""\b(?:LabError|JobCancelled)\(\s*["']([A-Za-z0-9_]+)["']""", text):
            used[f"error.{match.group(1)}"] = path.name
    return used


def test_every_key_named_in_the_code_exists_in_both_languages():
    used = keys_used_in_source()
    assert len(used) > 60  # the scan found the pages' keys
    for lang in LANGUAGES:
        missing = sorted(f"{key} ({source})" for key, source in used.items() if key not in messages(lang))
        assert missing == [], f"keys missing in {lang}"


def test_key_families_built_at_run_time_exist():
    from lab.finetune.methods import METHODS
    from lab.present.home_view import MODEL_COLUMNS
    from lab.runs.job_view import GENERATION_COLUMNS
    from lab.runs.runs_view import STATUSES, TABLE_COLUMNS

    families = ([f"runs.status.{s}" for s in STATUSES] + [f"tab.{name}" for name in TABS]
                + [f"runs.col.{c}" for c in TABLE_COLUMNS] + [f"generate.col.{c}" for c in GENERATION_COLUMNS]
                + [f"home.models.{c}" for c in MODEL_COLUMNS] + [f"kind.{k}" for k in ("demo", "generate")]
                + [f"generate.finish.{r}" for r in ("eos", "stop", "length")]
                + [f"finetune.trains.{m}" for m in METHODS.names()])  # the methods table's "what trains"
    for lang in LANGUAGES:
        assert [k for k in families if k not in messages(lang)] == [], lang


def registry_labels() -> list:
    from lab.registry import all_registries

    return [(registry.what, name, registry.label_key(name)) for registry in all_registries()
            if registry.label_prefix is not None for name in registry.names()]


def test_registries_with_labels_are_all_found():
    """The walk below covers every labelled registry (so an empty list cannot pass it by accident)."""
    labelled = {what for what, _, _ in registry_labels()}
    assert {"job kind", "fine-tuning method", "quantization scheme", "pruning method", "prompting strategy",
            "answer filter", "judge", "metric"} <= labelled


@pytest.mark.parametrize("what, name, key", registry_labels())
def test_every_registry_entry_has_its_label_in_both_languages(what, name, key):
    for lang in LANGUAGES:
        assert key in messages(lang), f"{what} {name}: no label {key} in {lang}"


@pytest.mark.parametrize("kind", KINDS.names())
def test_every_spec_field_has_a_label_and_help_in_both_languages(kind):
    spec_class = KINDS.get(kind).spec_class
    for field in dataclasses.fields(spec_class):
        for lang in LANGUAGES:
            assert f"field.{field.name}" in messages(lang), f"{kind}.{field.name}: no label in {lang}"
            assert field.metadata.get("help", {}).get(lang, "").strip(), f"{kind}.{field.name}: no help in {lang}"


@pytest.mark.parametrize("name", TABS)
def test_every_tab_has_a_lesson_in_both_languages(name):
    for lang in LANGUAGES:
        path = LESSONS / lang / f"{name}.md"
        assert path.exists() and len(path.read_text(encoding="utf-8").strip()) > 200, path
    assert lesson(name, "zh") != lesson(name, "en")
    assert re.search(r"[\u4e00-\u9fff]", lesson(name, "zh"))
