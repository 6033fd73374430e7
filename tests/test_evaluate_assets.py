"""Shipped data of the Evaluate tab: every preset is a valid spec, every judge has its lesson in both languages."""
import json

import pytest

from lab import config
from lab.evaluate.judges import JUDGES
from lab.present.i18n import LANGUAGES
from lab.specs import spec_from_dict

PRESETS = sorted((config.REPO / "assets" / "presets" / "evaluate").glob("*.json"))


def test_there_are_presets():
    assert len(PRESETS) >= 2


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_preset_is_a_valid_spec_with_texts_in_both_languages(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in ("title", "description"):
        assert all(data[key].get(lang, "").strip() for lang in LANGUAGES), f"{path.name}: {key}"
    spec = spec_from_dict(data["spec"])
    assert spec.kind in ("judge", "evaluate")


@pytest.mark.parametrize("judge", sorted(JUDGES.names()))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_judge_has_a_lesson(judge, lang):
    path = config.REPO / "assets" / "lessons" / lang / f"judge_{judge}.md"
    assert path.is_file(), path
    text = path.read_text(encoding="utf-8")
    assert len(text) > 400 and ("Predict, then run" in text if lang == "en" else "先预测,再运行" in text)


@pytest.mark.parametrize("metric", sorted(__import__("lab.evaluate.metrics", fromlist=["METRICS"]).METRICS.names()))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_metric_has_a_lesson(metric, lang):
    path = config.REPO / "assets" / "lessons" / lang / f"metric_{metric}.md"
    assert path.is_file() and ("Predict, then run" in path.read_text() if lang == "en" else "先预测,再运行" in path.read_text())
