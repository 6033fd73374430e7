"""The classroom: presets (every shipped file loads and validates), locked settings, the guided path's
check marks, the class board, replay from the cache, run bundles (export, import, and the checks
that refuse bad ones), HTML reports, and exact reproduction of a preset on the same machine."""
import io
import json
import zipfile

import pytest
from lab.classroom import access, bundles, classboard, guided_path, html_report, presets
from lab.present.tabs import TABS
from lab import config
from lab.runs import runner, store
from lab.errors import LabError

ALICE, BOB = "alice-key-0001", "bob-key-00002"
DEMO_PRESET = """
title: {en: Count to five, zh: 数到五}
description: {en: Two seeds of the demo counter., zh: 演示计数器的两个种子。}
minutes: 0.1
spec: {kind: demo, steps: 5, step_seconds: 0.0}
variants: [{name: seed0, seed: 0}, {name: seed3, seed: 3}]
unlocked: [name, step_seconds]
predict:
  question: {en: "Which seed ends lower?", zh: "哪个种子的最终损失更低?"}
  metric: final_loss
  pick: min
board: [final_loss, steps]
"""


@pytest.mark.parametrize("preset_id", presets.all_ids())
def test_every_shipped_preset_loads_and_its_specs_validate(preset_id, lab_home):
    preset = presets.load(preset_id)
    specs = preset.build()
    assert specs and all(spec.kind for spec in specs)
    assert preset.text("title", "en") and preset.text("title", "zh")


def write_class_preset(lab_home, text=DEMO_PRESET, name="count"):
    source = lab_home.parent / f"{name}.yaml"
    source.write_text(text, encoding="utf-8")
    return presets.save_class_preset(source, access.Viewer("teach-key-0001", "teacher"))


def test_only_a_teacher_locks_settings_and_locked_fields_refuse_changes(lab_home):
    source = lab_home.parent / "count.yaml"
    source.write_text(DEMO_PRESET, encoding="utf-8")
    with pytest.raises(LabError) as error:
        presets.save_class_preset(source, access.Viewer(ALICE, "visitor"))
    assert error.value.key == "teacher_only"
    preset_id = write_class_preset(lab_home)
    assert preset_id == "class/count" and preset_id in presets.all_ids()
    preset = presets.load(preset_id)
    assert [s.seed for s in preset.build({"step_seconds": 0.01})] == [0, 3]
    with pytest.raises(LabError) as error:
        preset.build({"steps": 500})
    assert error.value.key == "preset_locked" and "steps" in error.value.message("en")
    bad = lab_home.parent / "bad.yaml"
    bad.write_text("spec: {kind: demo, steps: -3}\n", encoding="utf-8")
    with pytest.raises(LabError) as error:
        presets.save_class_preset(bad, access.Viewer("t", "teacher"))
    assert error.value.key == "too_small"  # the spec's own check, naming the field
    bad.write_text("spec: {kind: demo\n  steps: [\n", encoding="utf-8")
    with pytest.raises(LabError) as error:
        presets.save_class_preset(bad, access.Viewer("t", "teacher"))
    assert error.value.key == "preset_invalid" and "line" in error.value.message("en")
    for wrong in ("../../etc/passwd", "class/../x", "finetune", ""):
        assert not presets.exists(wrong)


def test_the_path_hides_missing_steps_and_checks_off_done_ones(lab_home, tmp_path, monkeypatch):
    preset_id = write_class_preset(lab_home)
    path_file = tmp_path / "path.yaml"
    path_file.write_text("steps:\n  - {tab: generate, preset: generate/greedy_vs_sampling.yaml}\n"
                         "  - {tab: quantize, preset: quantize/not_there_yet.json}\n"
                         "  - {tab: prompting, preset: no_such_folder/}\n"
                         f"  - {{tab: runs, preset: {preset_id}}}\n", encoding="utf-8")
    steps = guided_path.steps(path_file)
    assert [(s.number, s.tab) for s in steps] == [(1, "generate"), (2, "runs")]
    write_class_preset(lab_home, name="another")  # a teacher's preset not on the path comes after it
    assert [(s.number, s.tab, s.preset.id) for s in guided_path.steps(path_file)][2:] == [(3, "class", "class/another")]
    assert "✓" not in guided_path.path_markdown(ALICE, "en", path_file)
    _, run_ids = presets.submit(preset_id, owner=ALICE)
    for run_id in run_ids:
        runner.wait(run_id, timeout=60)
    text = guided_path.path_markdown(ALICE, "en", path_file)
    assert "✓ **2." in text and "○ **1." in text and "○ **3." in text and "1/3" in text.replace(" ", "")
    monkeypatch.setenv("LAB_SPACE", "0")  # one person's lab: every run is theirs, in any browser session
    assert "✓ **2." in guided_path.path_markdown(BOB, "zh", path_file)
    monkeypatch.setenv("LAB_SPACE", "1")  # a shared server: check marks are per visitor
    assert "✓" not in guided_path.path_markdown(BOB, "zh", path_file)


def test_a_class_replays_from_the_cache_and_the_board_gathers_every_run(lab_home, monkeypatch):
    preset_id = write_class_preset(lab_home)
    preset = presets.load(preset_id)
    _, first = presets.submit(preset_id, owner=ALICE)
    rows = [runner.wait(r, timeout=60) for r in first]
    assert all(r["status"] == "succeeded" and not r["cached_from"] for r in rows)
    _, second = presets.submit(preset_id, owner=BOB)  # identical specs: replayed, nothing queued
    assert [store.get_run(r)["cached_from"] for r in second] == first
    assert all(store.get_run(r)["status"] == "succeeded" for r in second)
    assert runner.result(second[0])["metrics"]["final_loss"] == runner.result(first[0])["metrics"]["final_loss"]

    monkeypatch.setenv("LAB_SPACE", "1")  # a class on one server (locally every run is "you")
    bob = access.Viewer(BOB)
    frame = classboard.board_frame(preset, bob, "en")
    assert len(frame) == 4 and list(frame.columns)[-2:] == ["final loss", "steps"]
    assert set(frame.iloc[:, 0]) == {"you", "student 1"}  # others are numbered, never shown by key
    assert set(frame.iloc[:, 3]) == {"ran here", "replayed"}
    figure = classboard.board_figure(preset, bob, "zh")
    assert len(figure.data) == 2 and sorted(len(trace.y) for trace in figure.data) == [2, 2]
    answer = classboard.reveal(preset, bob, "en")
    losses = {r: runner.result(r)["metrics"]["final_loss"] for r in second}
    best = "seed0" if losses[second[0]] <= losses[second[1]] else "seed3"
    assert "Which seed ends lower?" in answer and f"**{best}**" in answer
    assert "appears here once" in classboard.reveal(preset, access.Viewer("carol-key-003"), "en")  # no answer before a run


def test_a_preset_reproduces_exactly_on_the_same_machine(lab_home):
    """Seeded runs of the same spec, recomputed (no cache), give identical figures and curves: the
    demo kind, and one torch kind (a tiny model pre-trained from scratch)."""
    tiny = ("spec: {kind: pretrain, width: 32, depth: 1, heads: 2, tokens: 8192, context: 32, batch_size: 8,"
            " eval_tokens: 2048, save_model: false, device: cpu, seed: 7}\nboard: [held_out_loss]\n")
    write_class_preset(lab_home, tiny, name="tiny")
    write_class_preset(lab_home)
    for preset_id, metric in (("class/count", "final_loss"), ("class/tiny", "held_out_loss")):
        runs = [presets.submit(preset_id, owner=ALICE, use_cache=False)[1][0] for _ in range(2)]
        rows = [runner.wait(r, timeout=240) for r in runs]
        assert all(r["status"] == "succeeded" and not r["cached_from"] for r in rows), [r["error"] for r in rows]
        first, second = (runner.result(r)["metrics"] for r in runs)
        assert first[metric] == second[metric]
        curves = [[{k: v for k, v in m.items() if k not in ("time", "seconds")} for m in runner.metrics(r)] for r in runs]
        assert curves[0] == curves[1] and curves[0]


def demo_run(owner=ALICE):
    _, run_ids = presets.submit(write_class_preset_if_needed(), owner=owner, use_cache=False)
    return runner.wait(run_ids[0], timeout=60)["id"]


def write_class_preset_if_needed():
    if not presets.exists("class/count"):
        from lab import config

        write_class_preset(config.lab_home())
    return "class/count"


def test_a_bundle_exports_and_imports_onto_the_class_board(lab_home):
    run_id = demo_run()
    path = bundles.export_run(run_id)
    with zipfile.ZipFile(path) as archive:
        assert {"bundle.json", "spec.json", "result.json", "metrics.jsonl"} <= set(archive.namelist())
    store.delete_run(run_id)  # handed in elsewhere: a new lab sees only the bundle
    imported = bundles.import_bundle(path, owner=BOB)
    row = store.get_run(imported)
    assert row["status"] == "succeeded" and row["imported_from"] == run_id and row["preset"] == "class/count"
    assert runner.metrics(imported) and runner.result(imported)["imported_from"] == run_id
    frame = classboard.board_frame(presets.load("class/count"), access.Viewer(BOB), "en")
    assert "imported" in set(frame.iloc[:, 3])
    assert store.find_succeeded(row["spec_hash"], row["code_version"]) is None  # never replayed for others


def zip_with(entries: dict) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer


GOOD = {"bundle.json": json.dumps({"lab_bundle": 1, "run_id": "x1"}),
        "spec.json": json.dumps({"kind": "demo", "steps": 3}),
        "result.json": json.dumps({"status": "succeeded", "metrics": {"final_loss": 1.0}})}


@pytest.mark.parametrize("change, key", [
    ({"../escape.txt": "x"}, "bundle_bad_path"),
    ({"/etc/evil": "x"}, "bundle_bad_path"),
    ({"artifacts/../../up.txt": "x"}, "bundle_bad_path"),
    ({"elsewhere/file.txt": "x"}, "bundle_bad_path"),
    ({"spec.json": json.dumps({"kind": "demo", "steps": -1})}, "too_small"),
    ({"spec.json": json.dumps({"kind": "no-such-kind"})}, "unknown_kind"),
    ({"spec.json": "{not json"}, "bundle_bad_file"),
    ({"result.json": json.dumps({"status": "running"})}, "bundle_bad_file"),
    ({"bundle.json": json.dumps({"lab_bundle": 99})}, "bundle_bad_file"),
    ({"artifacts/bomb.dat": b"\0" * (3 * 2**20)}, "bundle_too_large"),
])
def test_a_bad_bundle_is_refused_naming_the_problem(lab_home, tmp_path, change, key):
    entries = {**GOOD, **change}
    path = tmp_path / "bundle.zip"
    path.write_bytes(zip_with(entries).getvalue())
    # a zip of mostly zeros is an honest small file; the ratio check is what refuses it
    before = set(p.name for p in config.runs_dir().iterdir())
    with pytest.raises(LabError) as error:
        bundles.import_bundle(path, owner=ALICE)
    assert error.value.key == key
    assert set(p.name for p in config.runs_dir().iterdir()) == before  # nothing was unpacked
    assert not (tmp_path / "escape.txt").exists() and not (lab_home / "up.txt").exists()


def test_not_a_zip_and_a_good_minimal_bundle(lab_home, tmp_path):
    path = tmp_path / "bundle.zip"
    path.write_bytes(b"plain text")
    with pytest.raises(LabError) as error:
        bundles.import_bundle(path)
    assert error.value.key == "bundle_not_zip"
    path.write_bytes(zip_with(GOOD).getvalue())
    assert store.get_run(bundles.import_bundle(path, owner=ALICE))["metrics"] == {"final_loss": 1.0}


def test_html_reports_are_self_contained(lab_home):
    run_id = demo_run()
    text = html_report.run_report(run_id, "zh")
    assert text.startswith("<!DOCTYPE html>") and "Plotly" in text and len(text) > 1_000_000  # plotly.js inlined
    assert "<script src=" not in text and "cdn." not in text.split("</script>", 1)[1]  # nothing fetched
    body = text.split("</script>", 1)[1]  # after the inlined plotly.js
    assert "最终损失" in body and "e+0" not in body.split("<h2>", 2)[1]  # figures named and formatted as in the app
    other = demo_run(owner=BOB)
    text = html_report.comparison_report([run_id, other], "en", viewer=access.Viewer(ALICE))
    assert run_id[-6:] in text and other[-6:] in text  # class runs are shared: both visible
    assert html_report.write_run_report(run_id, "en").endswith(f"report-{run_id}.html")


def test_the_finetune_tab_reveals_the_measured_answer(lab_home):
    from lab.finetune.view import measured_answer

    ids = []
    for method, params, loss in (("lora", 1000, 1.5), ("ia3", 100, 1.9), ("prompt", 500, 1.2)):
        run_id = runner.submit(presets.spec_from_dict({"kind": "finetune", "method": method, "max_steps": 20}),
                               start_dispatcher=False)
        store.update_run(run_id, status="succeeded", metrics={"trainable_params": params, "eval_loss": loss})
        ids.append(run_id)
    assert measured_answer(ids[:1], "en") == ""  # nothing to compare yet
    text = measured_answer(ids, "en")
    assert "**IA3**" in text.split(";")[0] and "prompt" in text.split(";")[1].lower()
    assert "实测" in measured_answer(ids, "zh")


def test_every_child_of_the_tab_bar_is_a_tab(lab_home):
    """A gr.State placed directly under gr.Tabs counts as a tab in the browser and shifts the others
    (found here: the Fine-tune button turned into a second Generate button)."""
    gr = pytest.importorskip("gradio")
    import app

    demo = app.build_app()
    tabs = next(block for block in demo.blocks.values() if isinstance(block, gr.Tabs) and block.elem_id == "tabs")
    assert [type(child).__name__ for child in tabs.children] == ["Tab"] * len(TABS)
