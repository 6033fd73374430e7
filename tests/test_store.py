"""The run folder's writes are atomic; readers never see half a record; run ids cannot escape."""
import json
import os

import pytest
from lab.runs import run_files
from lab.runs.folder import RunFolder
from lab.errors import LabError


def test_atomic_write_keeps_the_old_file_when_the_rename_fails(tmp_path, monkeypatch):
    target = tmp_path / "result.json"
    run_files.write_json(target, {"status": "succeeded"})

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        run_files.write_json(target, {"status": "half"})
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"status": "succeeded"}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temp file left behind


def test_jsonl_reader_skips_a_line_still_being_written(tmp_path):
    path = tmp_path / "metrics.jsonl"
    run_files.append_jsonl(path, {"step": 1, "loss": 2.0})
    run_files.append_jsonl(path, {"step": 2, "loss": 1.5})
    with open(path, "a") as handle:
        handle.write('{"step": 3, "lo')  # a writer caught mid-line
    assert run_files.read_jsonl(path) == [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}]


@pytest.mark.parametrize("bad", ["../etc", "..", "a/b", "/abs", "", "x" * 100, "a b", ".hidden", "run\n"])
def test_run_ids_that_could_escape_are_refused(bad, lab_home):
    with pytest.raises(LabError) as info:
        RunFolder(bad).path
    assert info.value.key == "bad_run_id"


def test_tail_returns_the_last_lines(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text("\n".join(f"line {i}" for i in range(100)))
    assert run_files.tail(path, 3).splitlines() == ["line 97", "line 98", "line 99"]
    assert run_files.tail(tmp_path / "missing.txt") == ""
