"""The Runs table's server-side search and filters (lab/runs/runs_view.find_runs over runner.list_runs with the
viewer), one label style for every kind, replayed runs' Started and Duration, and the worker's quiet log
(issue 25, "Smaller")."""
import os
import warnings

from lab.present.i18n import t
from lab.runs import runs_view, store
from lab.specs import KINDS
from test_app import _fake_run


def _ids(rows):
    return {row["id"] for row in rows}


def test_search_kind_and_status_filters_run_on_the_server_for_the_viewer(lab_home, monkeypatch):
    from lab.classroom.access import Viewer

    monkeypatch.setenv("LAB_SPACE", "1")  # a shared server: private runs of others stay out of every answer
    _fake_run("run-a", kind="demo", owner="visitor-1")
    _fake_run("run-b", kind="generate", owner="visitor-1", status="failed")
    _fake_run("run-c", kind="generate", owner="someone-else")
    _fake_run("run-d", kind="finetune", owner="someone-else")
    store.update_run("run-d", private=1)  # another visitor's private run
    me = Viewer.of("visitor-1")
    assert _ids(runs_view.find_runs(me)) == {"run-a", "run-b", "run-c"}
    assert _ids(runs_view.find_runs(me, kind="generate")) == {"run-b", "run-c"}
    assert _ids(runs_view.find_runs(me, kind="generate", status="failed")) == {"run-b"}
    assert _ids(runs_view.find_runs(me, status="succeeded")) == {"run-a", "run-c"}
    assert _ids(runs_view.find_runs(me, search="RUN-C")) == {"run-c"}  # case-insensitive, on the id
    assert _ids(runs_view.find_runs(me, search="run b")) == {"run-b"}  # every word, on id and name ("run b")
    assert _ids(runs_view.find_runs(me, search="生成", lang="zh")) == {"run-b", "run-c"}  # the kind in words
    assert runs_view.find_runs(me, kind="finetune") == []  # the private run is not found by kind ...
    assert runs_view.find_runs(me, search="run-d") == []  # ... nor by its id
    assert _ids(runs_view.find_runs(Viewer.of("someone-else"), kind="finetune")) == {"run-d"}
    assert len(runs_view.find_runs(me, limit=2)) == 2
    assert [r["id"] for r in runs_view.find_runs(me)] == ["run-c", "run-b", "run-a"]  # newest first


def test_every_kind_has_a_translated_label_in_one_style():
    for lang in ("en", "zh"):
        labels = {}
        for kind in KINDS.names():
            label = runs_view.kind_text(kind, lang)
            assert t(KINDS.label_key(kind), lang) != KINDS.label_key(kind), f"{kind}: no {lang} label"
            assert label[:1] == label[:1].upper(), f"{kind}: {label!r} starts in lower case"
            labels[kind] = label
        if lang == "en":
            assert labels["generate"] == "Generate" and labels["prompt"] == "Prompting"
        choices = runs_view.kind_choices(lang)
        assert choices[0] == (t("runs.filter.any_kind", lang), "")
        assert sorted(v for _, v in choices[1:]) == sorted(KINDS.names())
    assert [v for _, v in runs_view.status_choices("en")] == ["", *runs_view.STATUSES]


def test_a_replayed_run_shows_when_it_was_made_and_the_time_it_replays(lab_home):
    _fake_run("run-a", owner="v")
    store.insert_run("run-r", "demo", "replay", "v", False, "hash", "v", status="succeeded", cached_from="run-a",
                     metrics={"final_loss": 1.0, "wall_seconds": 75.0})
    rows = {r["id"]: r for r in store.list_runs()}
    frame = runs_view.runs_frame([rows["run-r"]], "en", visitor="v")
    started, took = frame.iloc[0, 6], frame.iloc[0, 7]
    assert started == runs_view.format_time(rows["run-r"]["created_at"]) and started
    assert took == "1 min 15 s (replayed)"
    store.update_run("run-r", metrics={})  # no figure of its own: the source run's duration
    took = runs_view.runs_frame([store.get_run("run-r")], "zh", visitor="v").iloc[0, 7]
    assert took == t("runs.replayed_duration", "zh", duration="1 min 05 s")


def test_the_worker_log_has_no_future_warnings_or_progress_bars_but_keeps_errors(monkeypatch):
    from lab.runs import worker

    for name in worker.QUIET_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        worker.quiet_libraries()
        warnings.warn("old API", FutureWarning)
        warnings.warn("keep me", UserWarning)
    assert os.environ["TQDM_DISABLE"] == "1" and os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    assert [str(w.message) for w in caught] == ["keep me"]
    assert os.environ["TRANSFORMERS_VERBOSITY"] == "error"  # the libraries' errors still reach the log


def test_a_number_limit_refusal_names_the_field():
    import gradio as gr

    from pages.ui import K, UI
    from pages.widgets import number_field

    with gr.Blocks():
        ui = UI(secret="x")
        box = number_field(ui, K("field.max_steps"), value=5, minimum=1, maximum=100, precision=0)
    assert box.preprocess(7) == 7
    for value, words in ((-1, "less than the minimum (1)"), (500, "greater than the maximum (100)")):
        try:
            box.preprocess(value)
        except gr.Error as error:
            assert str(error.message).startswith(t("field.max_steps", "en") + ":") and words in error.message
            assert f"{value}" in error.message
        else:
            raise AssertionError(f"{value} was not refused")
