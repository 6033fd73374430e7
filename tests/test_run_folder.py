"""RunFolder owns the run folder's format: the only module naming its files, tolerant of damaged files,
atomic writes, artifact paths that cannot escape, one result schema from every writer, one signature."""
import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.runs import dispatcher, runner, store
from lab.runs.folder import RESULT_KEYS, RunFolder, result_record
from lab.runs.worker import run_job
from lab.specs import spec_from_dict

REPO = Path(__file__).resolve().parent.parent
FILE_NAMES = ("spec.json", "result.json", "progress.json", "metrics.jsonl", "log.txt")


def test_only_the_folder_module_names_the_run_files():
    sources = [REPO / "app.py", *(REPO / "lab").rglob("*.py"), *(REPO / "pages").rglob("*.py")]
    assert len(sources) > 50  # the walk found the tree
    found = []
    for path in sources:
        if path == REPO / "lab" / "runs" / "folder.py":
            continue
        text = path.read_text(encoding="utf-8")
        found += [f"{path.relative_to(REPO)}: {name}" for name in FILE_NAMES if name in text]
    assert found == []


def damaged(lab_home, **files) -> RunFolder:
    folder = RunFolder("damaged-run").create()
    for name, text in files.items():
        (folder.path / name.replace("_", ".")).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("text", ["[1, 2]", '"done"', "{not json", "", "null", "42"])
def test_malformed_json_files_read_as_empty(lab_home, text):
    folder = damaged(lab_home, spec_json=text, result_json=text, progress_json=text)
    assert folder.read_spec() == {} and folder.read_result() == {} and folder.read_progress() == {}
    assert runner.result("damaged-run") is None and runner.progress("damaged-run") == {}


def test_metrics_lines_that_are_not_objects_are_skipped(lab_home):
    lines = ['{"step": 1, "loss": 2.0}', "[1, 2]", '"text"', "{broken", "7", '{"step": 2, "loss": 1.5}',
             '{"step": 3']  # the last line has no newline yet: still being written
    folder = damaged(lab_home, metrics_jsonl="\n".join(lines))
    assert folder.read_metrics() == [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}]


def test_a_missing_folder_reads_as_empty(lab_home):
    folder = RunFolder("never-ran")
    assert not folder.exists()
    assert (folder.read_spec(), folder.read_result(), folder.read_progress(), folder.read_metrics(),
            folder.log_tail(), folder.artifacts()) == ({}, {}, {}, [], "", [])


def test_writes_are_atomic_and_leave_no_temp_files(lab_home, monkeypatch):
    folder = RunFolder("atomic-run").create()
    folder.write_result("succeeded", metrics={"loss": 1.0})

    def fail(*_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        folder.write_result("failed")
    assert folder.read_result()["status"] == "succeeded"  # the old file is whole
    assert sorted(p.name for p in folder.path.iterdir()) == ["result.json"]  # and the temp file is gone


@pytest.mark.parametrize("bad", ["../x", "../../etc/passwd", "a/../../x", "/etc/passwd", ""])
def test_artifact_paths_never_leave_the_folder(lab_home, bad):
    folder = RunFolder("artifact-run").create()
    with pytest.raises(LabError) as info:
        folder.artifact_path(bad)
    assert info.value.key == "bad_artifact_path"


def test_artifact_paths_inside_are_allowed(lab_home):
    folder = RunFolder("artifact-run").create()
    path = folder.write_artifact_text("inside/table.csv", "a,b\n1,2\n")
    assert path == folder.path / "artifacts" / "inside" / "table.csv" and path.read_text() == "a,b\n1,2\n"
    assert folder.artifact_path("a/../b.txt") == folder.path / "artifacts" / "a/../b.txt"  # stays inside
    assert folder.artifacts() == [path] and folder.relative_name(path) == "artifacts/inside/table.csv"


def test_bad_run_ids_are_refused(lab_home):
    with pytest.raises(LabError) as info:
        RunFolder("../escape")
    assert info.value.key == "bad_run_id"


def test_the_signature_changes_with_each_file(lab_home):
    folder = RunFolder("sig-run").create()
    seen = {folder.signature()}
    folder.write_spec(json.dumps({"kind": "demo"}))
    folder.write_progress({"fraction": 0.5})
    seen.add(folder.signature())
    folder.append_metric({"step": 1})
    seen.add(folder.signature())
    quiet = folder.signature(log=False)
    folder.append_log("a line")
    seen.add(folder.signature())
    assert folder.signature(log=False) == quiet  # views without the log ignore it
    folder.write_result("succeeded")
    seen.add(folder.signature())
    assert len(seen) == 5 and folder.signature() == folder.signature()


def test_the_result_schema_fills_every_key_with_one_default():
    record = result_record("failed", spec={"seed": 3}, metrics=[1], outputs="x", self="kept")
    assert tuple(record)[:len(RESULT_KEYS)] == RESULT_KEYS
    assert record["seed"] == 3 and record["metrics"] == {} and record["outputs"] == {} and record["error"] == ""
    assert record["self"] == "kept"  # any key of an imported result passes through


def keys_of(run_id: str) -> set:
    return set(json.loads((RunFolder(run_id).path / "result.json").read_text()))


def test_every_writer_uses_the_one_schema(lab_home):
    demo = {"kind": "demo", "steps": 2, "seed": 5, "step_seconds": 0.0}
    ran = runner.submit(spec_from_dict(demo), start_dispatcher=False)  # the worker
    assert run_job(RunFolder(ran).path) == 0
    assert set(RESULT_KEYS) <= keys_of(ran) and RunFolder(ran).read_result()["seed"] == 5
    store.update_run(ran, status="succeeded")

    crashed = runner.submit(spec_from_dict({**demo, "seed": 6}), start_dispatcher=False)  # the dispatcher
    store.update_run(crashed, status="running")
    dispatcher.finalize(crashed, -9)
    assert set(RESULT_KEYS) <= keys_of(crashed) and RunFolder(crashed).read_result()["error_key"] == "worker_killed_oom"

    queued = runner.submit(spec_from_dict({**demo, "seed": 7}), start_dispatcher=False)  # cancel
    runner.cancel(queued)
    assert set(RESULT_KEYS) <= keys_of(queued) and RunFolder(queued).read_result()["spec"]["seed"] == 7

    replayed = runner.submit(spec_from_dict(demo), use_cache=True, start_dispatcher=False)  # replay
    assert set(RESULT_KEYS) <= keys_of(replayed) and RunFolder(replayed).read_result()["cached_from"] == ran

    from lab.classroom import bundles  # bundle import

    imported = bundles.import_bundle(bundles.export_run(ran), owner="someone")
    assert set(RESULT_KEYS) <= keys_of(imported) and RunFolder(imported).read_result()["imported_from"] == ran


def test_a_hostile_bundle_result_cannot_break_the_writer(lab_home, tmp_path):
    from lab.classroom import bundles

    ran = runner.submit(spec_from_dict({"kind": "demo", "steps": 1, "step_seconds": 0.0}), start_dispatcher=False)
    run_job(RunFolder(ran).path)
    store.update_run(ran, status="succeeded")
    source = bundles.export_run(ran)
    target = tmp_path / "hostile.zip"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item)
            if item.filename == "result.json":
                data = json.dumps({**json.loads(data), "self": 1, "metrics": {"x": 1}}).encode()
            new.writestr(item, data)
    imported = bundles.import_bundle(target, owner="someone")
    assert RunFolder(imported).read_result()["self"] == 1


def test_read_is_the_access_checked_way_to_a_runs_files(lab_home, monkeypatch):
    from lab.classroom.access import Viewer

    monkeypatch.setenv("LAB_SPACE", "1")  # private runs belong to their visitor on a shared server (locally, all are yours)

    run_id = runner.submit(spec_from_dict({"kind": "demo", "steps": 1}), owner="alice-key-0001", private=True,
                           start_dispatcher=False)
    assert runner.read(run_id, Viewer.of("alice-key-0001")).read_spec()["kind"] == "demo"
    with pytest.raises(LabError) as info:
        runner.read(run_id, Viewer.of("bob-key-000002"))
    assert info.value.key == "no_such_run"
    assert [r["id"] for r in runner.list_runs(Viewer.of("bob-key-000002"))] == []
    assert [r["id"] for r in runner.list_runs(Viewer.of("alice-key-0001"))] == [run_id]
    assert re.fullmatch(r"\d{8}-\d{6}-demo-[0-9a-f]{6}", run_id)
