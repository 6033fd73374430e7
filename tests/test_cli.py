"""The command line as a user types it: run/list/show/cancel/spec, exit codes and one-line errors."""
import json
import os
import subprocess
import sys

import pytest

from lab import config


def lab(*args, stdin=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, input=stdin,
                          cwd=config.REPO, env=os.environ, timeout=timeout)


def test_spec_run_wait_list_show(lab_home, tmp_path):
    spec = lab("spec", "demo")
    assert spec.returncode == 0
    data = json.loads(spec.stdout)
    assert data["kind"] == "demo" and data["steps"] == 10 and data["name"] == ""
    data.update(steps=3, step_seconds=0.01, name="from the cli")
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(data))
    run = lab("run", str(path), "--wait")
    lines = run.stdout.splitlines()
    assert run.returncode == 0, run.stderr
    run_id = lines[0]
    assert lines[-1] == "succeeded"
    listing = lab("list")
    assert run_id in listing.stdout and "from the cli" in listing.stdout
    shown = lab("show", run_id, "--json")
    result = json.loads(shown.stdout)
    assert result["status"] == "succeeded" and result["spec"]["steps"] == 3
    assert "final_loss" in lab("show", run_id).stdout


def test_a_failing_run_exits_non_zero_with_its_reason(lab_home):
    run = lab("run", "-", "--wait", stdin='{"kind": "demo", "steps": 3, "step_seconds": 0.01, "fail_at_step": 2}')
    assert run.returncode == 1
    assert run.stdout.splitlines()[-1].startswith("failed: The job crashed: RuntimeError: demo failure at step 2")


def test_cancel_from_the_cli(lab_home):
    run_id = lab("run", "-", stdin='{"kind": "demo", "steps": 500, "step_seconds": 0.1}').stdout.strip()
    cancelled = lab("cancel", run_id)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    from lab.runs import runner

    assert runner.wait(run_id, timeout=20)["status"] == "cancelled"
    assert "already cancelled" in lab("cancel", run_id).stdout


@pytest.mark.parametrize("args, stdin, message", [
    (["run", "-"], '{"kind": "nope"}', "error: Unknown job kind 'nope'. Known kinds:"),
    (["run", "-"], '{"kind": "demo", "steps": "x"}', "error: steps must be of type int, not str."),
    (["run", "-"], '{"kind": "demo", "speed": 1}', "error: Unknown field 'speed' for kind 'demo'."),
    (["run", "-"], "not json", "error: The spec is not valid JSON"),
    (["run", "/no/such/spec.json"], None, "error: Cannot read '/no/such/spec.json'"),
    (["show", "../../etc/passwd"], None, "error: '../../etc/passwd' is not a valid run id"),
    (["show", "20990101-000000-demo-abcdef"], None, "error: There is no run '20990101-000000-demo-abcdef'."),
    (["cancel", "nope"], None, "error: There is no run 'nope'."),
    (["spec", "nope"], None, "error: Unknown job kind 'nope'."),
])
def test_bad_input_gets_one_line_and_exit_2(lab_home, args, stdin, message):
    result = lab(*args, stdin=stdin)
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""
