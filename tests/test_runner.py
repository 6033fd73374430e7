"""The runner with the torch-free demo kind: queueing, concurrency, cancel, crashes, recovery, cache."""
import os
import signal
import subprocess
import sys
import time

import pytest

from lab import config
from lab.runs import run_files, runner, store
from lab.runs.folder import RunFolder
from lab.specs import spec_from_dict

REPO = config.REPO


def demo(**fields):
    return spec_from_dict({"kind": "demo", **fields})


def wait_for(condition, timeout=30.0, poll=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError("condition not met in time")


def running_pid(run_id):
    """The worker's pid, once the job is really under way (its first metrics record is written)."""
    pid = wait_for(lambda: (row := store.get_run(run_id))["status"] == "running" and row["pid"] and row["pid"])
    wait_for(lambda: runner.metrics(run_id))
    return pid


def test_a_run_succeeds_and_leaves_a_complete_run_folder(lab_home):
    run_id = runner.submit(demo(steps=5, step_seconds=0.01, name="first"))
    row = runner.wait(run_id, timeout=30)
    assert row["status"] == "succeeded" and row["name"] == "first"
    folder = RunFolder(run_id).path
    result = run_files.read_json(folder / "result.json")
    for key in ("status", "error", "metrics", "spec", "seed", "versions", "spec_hash"):
        assert key in result
    assert result["metrics"]["final_loss"] > 0 and result["metrics"]["wall_seconds"] > 0
    assert result["metrics"]["peak_memory_mb"] > 0
    assert result["outputs"]["summary"] == "counted 5 steps"
    assert [m["step"] for m in runner.metrics(run_id)] == [1, 2, 3, 4, 5]
    assert runner.progress(run_id)["fraction"] == 1.0
    assert row["metrics"]["final_loss"] == result["metrics"]["final_loss"]  # key figures reach the table


def test_queue_runs_in_order_one_at_a_time_with_a_second_submitter(lab_home):
    spec_path = lab_home.parent / "spec.json"
    spec_path.write_text(demo(steps=4, step_seconds=0.1).to_json())
    ids = [runner.submit(demo(steps=4, step_seconds=0.1), start_dispatcher=False)]
    cli = subprocess.run([sys.executable, "-m", "lab", "run", str(spec_path)], capture_output=True, text=True,
                         cwd=REPO, env=os.environ, timeout=60)
    ids.append(cli.stdout.splitlines()[0])
    ids.append(runner.submit(demo(steps=4, step_seconds=0.1)))
    positions = store.queue_positions()
    assert [positions.get(i) for i in ids if i in positions] == sorted(positions[i] for i in ids if i in positions)
    most_running = 0
    while any(store.get_run(i)["status"] not in store.TERMINAL for i in ids):
        most_running = max(most_running, len(store.list_runs(statuses=("running",))))
        time.sleep(0.02)
    assert most_running == 1
    rows = [store.get_run(i) for i in ids]
    assert all(r["status"] == "succeeded" for r in rows)
    starts = [r["started_at"] for r in rows]
    assert starts == sorted(starts)  # first submitted, first started


def test_the_concurrency_limit_can_be_raised(lab_home, monkeypatch):
    monkeypatch.setenv("LAB_MAX_JOBS", "2")
    ids = [runner.submit(demo(steps=10, step_seconds=0.1), start_dispatcher=False) for _ in range(3)]
    runner.ensure_dispatcher()
    wait_for(lambda: len(store.list_runs(statuses=("running",))) == 2, timeout=20)
    assert store.get_run(ids[2])["status"] == "queued"
    for run_id in ids:
        assert runner.wait(run_id, timeout=30)["status"] == "succeeded"


def test_only_one_dispatcher_holds_the_lease(lab_home):
    runner.submit(demo(steps=20, step_seconds=0.1))
    holder = wait_for(store.lease_holder)
    assert runner.ensure_dispatcher() is False
    second = subprocess.run([sys.executable, "-m", "lab.runs.dispatcher"], cwd=REPO, env=os.environ, timeout=30,
                            capture_output=True, text=True)
    assert second.returncode == 0 and "took the lease" not in second.stdout  # it left at once
    assert store.lease_holder()["holder_pid"] == holder["holder_pid"]


def test_cancel_a_queued_run_and_a_running_one_with_its_process_tree(lab_home):
    first = runner.submit(demo(steps=300, step_seconds=0.1, child_process=True))
    queued = runner.submit(demo(steps=2))
    pid = running_pid(first)
    child_line = wait_for(lambda: [l for l in run_files.tail(RunFolder(first).path / "log.txt").splitlines()
                                   if l.startswith("child process")])
    child_pid = int(child_line[0].split()[-1])
    assert runner.cancel(queued) == "queued"
    assert store.get_run(queued)["status"] == "cancelled"
    assert runner.cancel(first) == "running"
    row = runner.wait(first, timeout=20)
    assert row["status"] == "cancelled"
    assert runner.result(first)["status"] == "cancelled"
    assert not store.process_alive(pid, None)
    wait_for(lambda: not store.process_alive(child_pid, None), timeout=10)  # the grandchild is gone too


def test_a_worker_killed_with_sigkill_is_recorded_as_failed_with_its_log_tail(lab_home):
    run_id = runner.submit(demo(steps=300, step_seconds=0.1))
    later = runner.submit(demo(steps=2, step_seconds=0.01))
    os.kill(running_pid(run_id), signal.SIGKILL)
    row = runner.wait(run_id, timeout=20)
    assert row["status"] == "failed" and "SIGKILL" in row["error"]
    result = runner.result(run_id)
    assert "[lab] run" in result["log_tail"]
    assert runner.wait(later, timeout=20)["status"] == "succeeded"  # the next run is untouched


def test_a_crashing_job_fails_with_its_reason(lab_home):
    run_id = runner.submit(demo(steps=5, step_seconds=0.01, fail_at_step=2))
    row = runner.wait(run_id, timeout=20)
    assert row["status"] == "failed"
    assert "demo failure at step 2" in row["error"]
    assert "Traceback" in runner.result(run_id)["log_tail"]


def test_restart_recovery_after_dispatcher_and_worker_die(lab_home):
    running = runner.submit(demo(steps=300, step_seconds=0.1))
    queued = runner.submit(demo(steps=3, step_seconds=0.01))
    pid = running_pid(running)
    holder = store.lease_holder()
    os.kill(holder["holder_pid"], signal.SIGKILL)  # the dispatcher dies first, then its worker
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: not store.process_alive(pid, None))
    time.sleep(0.3)
    assert store.get_run(running)["status"] == "running"  # nobody has noticed yet
    assert runner.ensure_dispatcher() is True  # the next submitter or the app starts a new one
    assert runner.wait(running, timeout=30)["status"] == "failed"
    assert "[lab] run" in runner.result(running)["log_tail"]
    assert runner.wait(queued, timeout=30)["status"] == "succeeded"  # queued runs resume


def test_a_worker_that_outlives_its_dispatcher_is_adopted(lab_home):
    run_id = runner.submit(demo(steps=15, step_seconds=0.1))
    running_pid(run_id)
    os.kill(store.lease_holder()["holder_pid"], signal.SIGKILL)
    runner.ensure_dispatcher()
    row = runner.wait(run_id, timeout=30)
    assert row["status"] == "succeeded"
    assert runner.result(run_id)["metrics"]["steps"] == 15


def test_result_cache_replays_a_deterministic_spec(lab_home):
    first = runner.submit(demo(steps=3, step_seconds=0.01, name="teacher"), use_cache=True)
    assert runner.wait(first, timeout=20)["status"] == "succeeded"
    replay = runner.submit(demo(steps=3, step_seconds=0.01, name="student"), use_cache=True, owner="v2")
    row = store.get_run(replay)
    assert row["status"] == "succeeded" and row["cached_from"] == first and row["owner"] == "v2"
    assert runner.result(replay)["metrics"]["final_loss"] == runner.result(first)["metrics"]["final_loss"]
    assert runner.metrics(replay) == runner.metrics(first)
    fresh = runner.submit(demo(steps=3, step_seconds=0.01))  # without use_cache it runs again
    assert store.get_run(fresh)["cached_from"] is None
    other = runner.submit(demo(steps=4, step_seconds=0.01), use_cache=True)  # another spec is not a hit
    assert store.get_run(other)["cached_from"] is None
    assert runner.wait(other, timeout=20)["status"] == "succeeded"


def test_rerun_delete_and_ownership(lab_home):
    run_id = runner.submit(demo(steps=2, step_seconds=0.01), owner="alice")
    runner.wait(run_id, timeout=20)
    again = runner.rerun(run_id, owner="bob")
    assert again != run_id and store.get_run(again)["owner"] == "bob"
    runner.wait(again, timeout=20)
    from lab.errors import LabError

    with pytest.raises(LabError, match="another visitor"):
        runner.delete(run_id, owner="bob")
    runner.delete(run_id, owner="alice")
    assert store.get_run(run_id) is None and not RunFolder(run_id).path.exists()
    with pytest.raises(LabError, match="no run"):
        runner.get(run_id)
