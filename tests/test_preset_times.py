"""Preset durations are measured, not guessed (issue 25 item 8): bench/preset_times.py keeps them in
assets/presets/durations.json; menus, notes and the guided path show them, or say "not measured"."""
import json
import re
import sys

import pytest

from lab import config
from lab.classroom import guided_path, presets

RECORD = {"seconds": 42.4, "status": "succeeded", "runs": 2, "run_seconds": [18.7, 12.7], "cores": 2, "threads": 1,
          "jobs_at_once": 1, "cpu": "Some CPU", "load_avg_before": [12.5, 10.0, 8.0], "load_avg_after": [13.0, 11.0, 8.0],
          "date": "2026-12-05 11:30 UTC"}


@pytest.fixture
def durations(tmp_path, monkeypatch, lab_home):
    path = tmp_path / "durations.json"
    monkeypatch.setattr(presets, "DURATIONS", path)

    def write(records):
        path.write_text(json.dumps(records), encoding="utf-8")
        presets._DURATIONS[:] = [None, {}]
    write({})
    return write


def test_a_measured_preset_shows_its_time_and_an_unmeasured_one_says_so(durations):
    durations({"generate/greedy_vs_sampling": RECORD, "scaling/path_tiny": dict(RECORD, seconds=200.0),
               "evaluate/rule_arithmetic": dict(RECORD, seconds=None, status="failed")})
    generate = presets.load("generate/greedy_vs_sampling")
    assert presets.duration(generate, "en", short=True) == "~40 s"
    note = presets.note(generate, "en")
    assert "~40 s on a 2-core CPU" in note and "2026-12-05" in note and "load average 12.5" in note
    assert "约 40 秒" in presets.note(generate, "zh") and "2 核" in presets.note(generate, "zh")
    assert presets.duration(presets.load("scaling/path_tiny"), "en", short=True) == "~3.3 min"
    for unmeasured in ("evaluate/rule_arithmetic", "prompting/shots_curve"):  # failed, or never run
        assert presets.duration(presets.load(unmeasured), "en") == "time not measured"
    labels = dict((value, label) for label, value in presets.choices("generate", "en"))
    assert labels["generate/greedy_vs_sampling"].endswith(" · ~40 s")
    evaluate = dict((value, label) for label, value in presets.choices("evaluate", "zh"))
    assert evaluate["evaluate/rule_arithmetic"].endswith("耗时未实测")


def test_the_guided_path_shows_measured_times_and_a_teachers_own_estimate_as_theirs(durations, tmp_path):
    durations({"generate/greedy_vs_sampling": RECORD})
    text = guided_path.path_markdown("nobody", "en")
    line = next(line for line in text.split("\n\n") if "Generate" in line)
    assert line.endswith("· ~40 s")
    assert "time not measured" in text  # the other steps were not measured here
    assert "~40 s on a 2-core CPU" in guided_path.settings_markdown(presets.load("generate/greedy_vs_sampling"), "en")
    source = tmp_path / "week1.yaml"
    source.write_text("title: {en: Week 1}\nminutes: 3\nspec: {kind: demo, steps: 2}\n", encoding="utf-8")
    from lab.classroom import access

    preset_id = presets.save_class_preset(source, access.Viewer("teacher", "teacher"))
    assert presets.duration(presets.load(preset_id), "en") == "about 3 min (the teacher's estimate)"


def test_shipped_titles_carry_no_guessed_times_and_the_measurements_name_their_machine():
    from lab.present.i18n import messages

    guess = re.compile(r"\d\s*(minutes?|min\b)|分钟")
    for preset_id in presets.all_ids():
        if preset_id.startswith("class/"):
            continue
        preset = presets.load(preset_id)
        for lang in ("en", "zh"):
            assert not guess.search(preset.text("title", lang)), (preset_id, preset.text("title", lang))
        assert preset.minutes is None, preset_id  # a shipped preset is measured, never guessed
    for lang in ("en", "zh"):
        titles = {k: v for k, v in messages(lang).items() if k.startswith("preset.title.")}
        assert not [k for k, v in titles.items() if guess.search(v)]
    records = json.loads(presets.DURATIONS.read_text(encoding="utf-8"))
    assert records, "bench/preset_times.py has measured no preset"
    shipped = set(presets.all_ids())
    for preset_id, record in records.items():
        assert preset_id in shipped
        assert {"cpu", "cores", "threads", "load_avg_before", "date", "status"} <= set(record)
        assert (record["status"] == "succeeded") == isinstance(record["seconds"], (int, float))


def test_the_bench_picks_presets_in_the_order_asked_and_quick_keeps_the_short_ones():
    sys.path.insert(0, str(config.REPO / "bench"))
    import preset_times

    ids = ["a/x", "a/y", "b/z"]
    assert preset_times.selected(ids, ["b/z", "a/"], False, {}) == ["b/z", "a/x", "a/y"]
    known = {"a/x": {"seconds": 30.0}, "a/y": {"seconds": 500.0}}
    assert preset_times.selected(ids, ["a/"], True, known) == ["a/x"]
    assert preset_times.selected(ids, [], False, {}) == ids
