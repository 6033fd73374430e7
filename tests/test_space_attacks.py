"""Space mode under attack, at the library level: each test performs one attack of the review
(issue "Space mode safe to put on the internet") and asserts it fails, and that the owner's own use
still works. The attacks over HTTP (bare URLs, /config, timer ticks) are in tests/test_space_http.py.
"""
import dataclasses
import json
import math
import zipfile

import pytest

from lab import config
from lab.classroom import access, bundles, downloads, space_mode, visitors
from lab.errors import LabError
from lab.runs import runner, store
from lab.runs.folder import RunFolder
from lab.specs import KINDS, spec_from_dict


@pytest.fixture
def on_a_space(lab_home, monkeypatch):
    monkeypatch.setenv("LAB_SPACE", "1")
    monkeypatch.setenv("LAB_TEACHER_TOKEN", "teacher-secret-456")
    for name in ("LAB_VISITOR_MAX_QUEUED", "LAB_VISITOR_MAX_STEPS", "LAB_ALLOW_REMOTE_CODE",
                 "LAB_VISITOR_MAX_NEW_KEYS", "LAB_VISITOR_MAX_IMPORTS"):
        monkeypatch.delenv(name, raising=False)
    return lab_home


ALICE, BOB = "alice-key-000000001", "bob-key-0000000002"


def demo(**fields):
    return spec_from_dict({"kind": "demo", "steps": 3, "step_seconds": 0.0, **fields})


# 6. The owner is whatever the client sends -------------------------------------------------------
def test_a_visitor_cannot_choose_or_forge_their_key(on_a_space):
    key, credential = visitors.session_visitor(None, "10.0.0.1")
    assert visitors.verify(credential) == key and visitors.valid_visitor_key(key)
    assert visitors.session_visitor(credential, "10.0.0.1") == (key, credential)  # a reload keeps it
    for forged in ("", "cli", "demo", "cli.x", f"{ALICE}.{'0' * 32}", credential[:-1] + "x", key,
                   f"{key}.{credential.split('.')[1]}.extra", 123, None):
        assert visitors.verify(forged) == ""
        new_key, _ = visitors.session_visitor(forged, "10.0.0.2")
        assert new_key not in ("", "cli", "demo", ALICE)


def test_rotating_keys_gives_no_fresh_quota(on_a_space, monkeypatch):
    monkeypatch.setenv("LAB_VISITOR_MAX_NEW_KEYS", "3")
    keys = [visitors.session_visitor(None, "10.9.9.9")[0] for _ in range(5)]
    assert all(keys[:3]) and keys[3:] == ["", ""]  # the fourth fresh key within the hour is refused
    monkeypatch.setenv("LAB_VISITOR_MAX_QUEUED", "1")
    runner.submit(demo(), owner=keys[0], start_dispatcher=False)
    with pytest.raises(LabError) as error:  # another key from the same address shares the quota
        space_mode.check_submission(demo(), keys[1])
    assert error.value.key == "limit_queued"


# 4. Remote code execution ------------------------------------------------------------------------
def test_trust_remote_code_is_refused_for_visitors(on_a_space, monkeypatch):
    spec = spec_from_dict({"kind": "generate", "trust_remote_code": True})
    with pytest.raises(LabError) as error:
        space_mode.check_submission(spec, ALICE)
    assert error.value.key == "remote_code_refused"
    teacher = access.Viewer.of(ALICE, "teacher-secret-456")
    with pytest.raises(LabError):  # the teacher too, unless the operator allows it
        space_mode.check_submission(spec, ALICE, viewer=teacher)
    monkeypatch.setenv("LAB_ALLOW_REMOTE_CODE", "1")
    space_mode.check_submission(spec, ALICE, viewer=teacher)
    with pytest.raises(LabError):
        space_mode.check_submission(spec, ALICE)


# 13 / 12. Arbitrary server paths -----------------------------------------------------------------
def test_server_paths_and_other_visitors_uploads_are_refused(on_a_space):
    bob_upload = config.lab_home() / "uploads" / BOB / "data.jsonl"
    bob_upload.parent.mkdir(parents=True)
    bob_upload.write_text('{"question": "1+1", "answer": "2"}\n')
    alice_upload = config.lab_home() / "uploads" / ALICE / "mine.jsonl"
    alice_upload.parent.mkdir(parents=True)
    alice_upload.write_text('{"question": "1+1", "answer": "2"}\n')
    attacks = [("finetune", "dataset", str(bob_upload)), ("finetune", "dataset", "/etc/passwd"),
               ("finetune", "dataset", f"../{config.lab_home().name}/uploads/{BOB}/data.jsonl"),
               ("generate", "model", str(config.lab_home())), ("generate", "model", "/"),
               ("prompt", "task", str(bob_upload)), ("scaling", "csv", "/etc/hostname")]
    for kind, field, value in attacks:
        with pytest.raises(LabError) as error:  # checked on the raw data, before building the spec reads the file
            space_mode.check_data({"kind": kind, field: value}, ALICE)
        assert error.value.key == "not_allowed_ref", (kind, field, value)
        try:
            spec = spec_from_dict({"kind": kind, field: value})
        except LabError:
            continue
        with pytest.raises(LabError) as error:  # and again on the spec, at submission
            space_mode.check_submission(spec, ALICE)
        assert error.value.key == "not_allowed_ref", (kind, field, value)
    # her own upload, the built-in names and a hub id are fine
    for kind, field, value in [("finetune", "dataset", str(alice_upload)), ("finetune", "dataset", "arithmetic"),
                               ("generate", "model", "HuggingFaceTB/SmolLM2-135M-Instruct")]:
        space_mode.check_submission(spec_from_dict({"kind": kind, field: value}), ALICE)
    space_mode.check_submission(spec_from_dict({"kind": "scaling"}), ALICE)  # the shipped example CSV


def test_another_visitors_run_cannot_be_named_in_a_spec(on_a_space):
    bob_run = runner.submit(demo(), owner=BOB, start_dispatcher=False)
    for data in ({"kind": "export", "run_id": bob_run}, {"kind": "finetune", "resume_from": bob_run},
                 {"kind": "evaluate", "model": bob_run}, {"kind": "generate", "model": str(RunFolder(bob_run).path)},
                 {"kind": "judge", "contestants": [f"{bob_run}@plain", "smollm2-135m-instruct"]}):
        with pytest.raises(LabError) as error:
            space_mode.check_data(data, ALICE)
        assert error.value.key in ("no_such_run", "not_allowed_ref")
    own = runner.submit(demo(), owner=ALICE, start_dispatcher=False)
    space_mode.check_data({"kind": "export", "run_id": own}, ALICE)
    space_mode.check_data({"kind": "generate", "model": str(RunFolder(own).path)}, ALICE)


def test_every_field_naming_a_file_folder_or_run_is_checked():
    words = ("folder", "path", "run id", "file")
    for kind, entry in KINDS.entries().items():
        for field in dataclasses.fields(entry.spec_class):
            help_text = field.metadata.get("help", {}).get("en", "").lower()
            if field.metadata.get("choices"):
                continue  # a choice among fixed values names nothing on the server
            if field.type in (str, "str", list[str], "list[str]") and any(w in help_text for w in words):
                assert field.name in space_mode.REFERENCE_FIELDS or field.name in ("eval_text", "name", "export_point", "export_variant"), \
                    f"{kind}.{field.name} names something on the server but is not checked"


# 7. Work without bounds --------------------------------------------------------------------------
@pytest.mark.parametrize("data", [
    {"kind": "prompt", "questions": 500, "n_paths": 40, "strategies": ["self_consistency"]},
    {"kind": "finetune", "batch_size": 512, "max_length": 32768},
    {"kind": "finetune", "processes": "2"},  # two training processes on the visitors' shared cores
    {"kind": "dpo", "processes": "2"},
    {"kind": "demo", "steps": 300, "step_seconds": 60.0},
    {"kind": "judge", "bootstrap_rounds": 5000},
    {"kind": "pretrain", "width": 4096, "depth": 48, "heads": 32},
])
def test_work_caps_refuse_runs_that_multiply_work(on_a_space, data):
    try:
        spec = spec_from_dict(data)
    except LabError:
        return  # the spec's own bounds already refuse it: nothing reaches the runner either
    with pytest.raises(LabError) as error:
        space_mode.check_submission(spec, ALICE)
    assert error.value.key in ("limit_cost", "limit_model", "limit_steps")
    assert str(error.value)  # the refusal names the limit and its value


def test_a_visitors_job_has_a_wall_clock_limit(on_a_space, monkeypatch):
    assert space_mode.job_seconds_limit() == 900
    monkeypatch.setenv("LAB_VISITOR_MAX_JOB_SECONDS", "5")
    assert space_mode.job_seconds_limit() == 5


# 14. NaN and infinity ----------------------------------------------------------------------------
@pytest.mark.parametrize("data", [{"kind": "demo", "step_seconds": math.nan}, {"kind": "generate", "temperature": math.nan},
                                  {"kind": "generate", "temperature": math.inf}])
def test_nan_and_infinity_are_refused_at_validation(data):
    with pytest.raises(LabError) as error:
        spec_from_dict(data)
    assert error.value.key in ("not_finite", "too_large")


# 8. Bundle import --------------------------------------------------------------------------------
GOOD = {"bundle.json": json.dumps({"lab_bundle": 1, "run_id": "x1"}),
        "spec.json": json.dumps({"kind": "demo", "steps": 3}),
        "result.json": json.dumps({"status": "succeeded", "metrics": {"final_loss": 1.0}})}


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def runs_on_disk():
    return sorted(p.name for p in config.runs_dir().iterdir())


def test_small_members_cannot_add_up_to_a_bomb(on_a_space, tmp_path):
    members = {f"artifacts/part{i}.dat": b"\0" * (900 * 2**10) for i in range(40)}  # each < 1 MiB, ~1000x
    path = write_zip(tmp_path / "bomb.zip", {**GOOD, **members})
    assert path.stat().st_size < 2**20
    with pytest.raises(LabError) as error:
        bundles.import_bundle(path, owner=ALICE)
    assert error.value.key == "bundle_too_large" and runs_on_disk() == []


def test_a_member_whose_declared_size_lies_leaves_no_orphan(on_a_space, tmp_path):
    path = write_zip(tmp_path / "liar.zip", {**GOOD, "artifacts/weights.safetensors": b"a" * 5000})
    data = bytearray(path.read_bytes())
    # shrink the declared uncompressed size (local header and central directory) of the member to 10 bytes
    name = b"artifacts/weights.safetensors"
    for header, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = data.find(header, 0)
        while start != -1:
            name_at = start + (30 if header == b"PK\x03\x04" else 46)
            if data[name_at:name_at + len(name)] == name:
                data[start + offset:start + offset + 4] = (10).to_bytes(4, "little")
            start = data.find(header, start + 4)
    path.write_bytes(bytes(data))
    with pytest.raises(LabError):
        bundles.import_bundle(path, owner=ALICE)
    assert runs_on_disk() == [] and store.list_runs() == []


@pytest.mark.parametrize("member", ["artifacts/page.html", "artifacts/x.svg", "artifacts/model/modeling_evil.py",
                                    "artifacts/optimizer.pt"])
def test_code_and_web_pages_are_refused_in_bundles(on_a_space, tmp_path, member):
    path = write_zip(tmp_path / "b.zip", {**GOOD, member: "<script>alert(1)</script>"})
    with pytest.raises(LabError) as error:
        bundles.import_bundle(path, owner=ALICE)
    assert error.value.key == "bundle_refused_file" and runs_on_disk() == []


def test_a_model_folder_asking_for_remote_code_is_refused(on_a_space, tmp_path):
    config_json = json.dumps({"model_type": "llama", "auto_map": {"AutoModelForCausalLM": "evil.Model"}})
    path = write_zip(tmp_path / "b.zip", {**GOOD, "artifacts/model/config.json": config_json})
    with pytest.raises(LabError) as error:
        bundles.import_bundle(path, owner=ALICE)
    assert error.value.key == "bundle_refused_file"


def test_imports_are_rate_limited_per_visitor(on_a_space, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_VISITOR_MAX_IMPORTS", "2")
    path = write_zip(tmp_path / "ok.zip", GOOD)
    bundles.import_bundle(path, owner=ALICE)
    bundles.import_bundle(path, owner=ALICE)
    with pytest.raises(LabError) as error:
        bundles.import_bundle(path, owner=ALICE)
    assert error.value.key == "limit_imports"
    bundles.import_bundle(path, owner=BOB)  # another visitor is not affected


# 1. Downloads are copies, never the data folder itself ---------------------------------------------
def test_downloads_are_private_copies_outside_the_data_folder(on_a_space, tmp_path):
    run_id = runner.submit(demo(), owner=ALICE, start_dispatcher=False)
    adapter = RunFolder(run_id).path / "artifacts" / "adapter"  # an adapter the job wrote
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text("{}")
    copy = downloads.copy_for_download(adapter, name="adapter")
    assert copy.endswith("adapter.zip") and config.lab_home() not in __import__("pathlib").Path(copy).parents
    assert zipfile.ZipFile(copy).namelist() == ["adapter_config.json"]
    with pytest.raises(LabError):
        downloads.copy_for_download("/etc/passwd")
    with pytest.raises(LabError):
        downloads.copy_for_download(config.lab_home() / "browser_secret" / ".." / ".." / "..")


# 10. The result cache ignored the owner --------------------------------------------------------------
def test_the_cache_never_replays_another_visitors_private_run(on_a_space):
    first = runner.submit(demo(), owner=ALICE, start_dispatcher=False)
    folder = RunFolder(first)
    folder.write_result("succeeded", metrics={"final_loss": 0.5}, spec=demo().to_dict())
    store.update_run(first, status="succeeded")
    mine = runner.submit(demo(), owner=ALICE, use_cache=True, start_dispatcher=False)
    assert store.get_run(mine)["cached_from"] == first  # her own result is replayed for her
    theirs = runner.submit(demo(), owner=BOB, use_cache=True, start_dispatcher=False)
    assert store.get_run(theirs)["cached_from"] is None and store.get_run(theirs)["status"] == "queued"
    assert first not in RunFolder(theirs).log_tail(50)


def test_a_browser_without_a_server_issued_key_cannot_submit(on_a_space):
    for owner in ("", "cli", "demo"):
        with pytest.raises(LabError) as error:
            runner.submit(demo(), owner=owner, viewer=access.Viewer(owner, "visitor"), start_dispatcher=False)
        assert error.value.key == "no_visitor_key"
    runner.submit(demo(), owner=ALICE, viewer=access.Viewer(ALICE, "visitor"), start_dispatcher=False)


# 9. Secrets stay in the app's process --------------------------------------------------------------
def test_jobs_never_inherit_the_role_tokens(on_a_space, monkeypatch):
    from lab.runs import dispatcher
    import os

    monkeypatch.setenv("LAB_ADMIN_TOKEN", "admin-secret-123")
    dispatcher.scrub_secrets()
    assert "LAB_ADMIN_TOKEN" not in os.environ and "LAB_TEACHER_TOKEN" not in os.environ


# 7. A wall-clock limit per job, and 14. robustness ---------------------------------------------------
def test_a_visitors_job_past_its_time_limit_fails_naming_the_limit(on_a_space, monkeypatch):
    monkeypatch.setenv("LAB_VISITOR_MAX_JOB_SECONDS", "3")
    monkeypatch.setenv("LAB_LAUNCH", "spawn")
    run_id = runner.submit(demo(steps=60, step_seconds=1.0), owner=ALICE)
    row = runner.wait(run_id, timeout=90)
    assert row["status"] == "failed"
    assert RunFolder(run_id).read_result()["error_key"] == "job_time_limit" and "3" in row["error"]


def test_a_finished_run_whose_dispatcher_died_is_resolved_by_the_next_reader(on_a_space):
    run_id = runner.submit(demo(), owner=ALICE, start_dispatcher=False)
    store.update_run(run_id, status="running", pid=999999, pid_start="x", started_at=1.0)  # a worker long gone
    RunFolder(run_id).write_result("succeeded", metrics={"final_loss": 0.1})
    assert store.lease_holder() is None
    assert runner.get(run_id)["status"] == "succeeded"
    other = runner.submit(demo(), owner=ALICE, start_dispatcher=False)
    store.update_run(other, status="running", pid=999998, pid_start="x", started_at=1.0)
    assert {r["id"]: r["status"] for r in runner.list_runs()}[other] == "failed"


def test_a_full_disk_fails_the_run_and_the_dispatcher_survives(on_a_space, monkeypatch):
    import errno
    from lab.runs import dispatcher

    run_id = runner.submit(demo(), owner=ALICE, start_dispatcher=False)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(RunFolder, "write_result", full)
    result = dispatcher.finalize(run_id, 0)
    assert result["status"] == "failed" and result["error_key"] == "disk_full"
    assert store.get_run(run_id)["status"] == "failed"


@pytest.mark.parametrize("content", ['["a", "list"]', '"a string"', '{"status": "succeeded", "metrics": "x", "outputs": [1]}',
                                     '{not json', '{"status": "failed", "error": ["x"], "log_tail": 5}'])
def test_the_cli_shows_a_run_whatever_its_result_file_holds(on_a_space, content, capsys):
    from lab import cli

    run_id = runner.submit(demo(), owner="cli", start_dispatcher=False)
    (RunFolder(run_id).path / "result.json").write_text(content)
    assert cli.main(["show", run_id]) == 0
    assert run_id in capsys.readouterr().out


# 12. A visitor value of ".." wrote into the data root ------------------------------------------------
@pytest.mark.parametrize("visitor", ["..", "../..", ".", "a/../..", "cli"])
def test_an_odd_visitor_value_never_names_an_upload_folder(on_a_space, tmp_path, visitor):
    from lab.classroom import uploads

    source = tmp_path / "data.jsonl"
    source.write_text('{"question": "1+1", "answer": "2"}\n')
    saved = __import__("pathlib").Path(uploads.save_upload(str(source), visitor))
    assert saved.parent == config.lab_home() / "uploads" / "anonymous"
    assert not (config.lab_home() / "data.jsonl").exists()


# 2. "Follow my job" trusted the browser's run id ------------------------------------------------------
def test_following_another_visitors_run_id_shows_nothing(on_a_space):
    from lab.runs.job_view import job_status, run_spec

    bob_run = runner.submit(demo(name="bob-secret-name"), owner=BOB, start_dispatcher=False)
    RunFolder(bob_run).write_result("succeeded", metrics={"final_loss": 0.5}, outputs={"answer": "bob's"})
    store.update_run(bob_run, status="succeeded")
    alice = access.Viewer(ALICE)
    status = job_status(bob_run, "en", alice)
    assert status["status"] == "missing" and status["result"] is None
    assert run_spec(bob_run, alice) is None
    assert runner.visible([bob_run, "../x"], alice) == []
    bob = access.Viewer(BOB)  # the owner still follows it after a reload
    assert job_status(bob_run, "en", bob)["result"]["outputs"] == {"answer": "bob's"}
    assert run_spec(bob_run, bob)["name"] == "bob-secret-name" and runner.visible([bob_run], bob) == [bob_run]
    teacher = access.Viewer.of(ALICE, "teacher-secret-456")  # the teacher sees every run
    assert job_status(bob_run, "en", teacher)["status"] == "succeeded"


def test_the_guided_paths_runs_list_only_what_the_viewer_may_see(on_a_space):
    from lab.classroom import guided_path

    bob_run = runner.submit(demo(name="bob-secret-name"), owner=BOB, start_dispatcher=False)
    assert "bob-secret-name" not in guided_path.runs_markdown([bob_run], "en", access.Viewer(ALICE))
    assert "bob-secret-name" in guided_path.runs_markdown([bob_run], "en", access.Viewer(BOB))


# 3. Private run ids and names in every picker ------------------------------------------------------------
def test_run_pickers_list_only_what_the_viewer_may_see(on_a_space, monkeypatch):
    from lab.align import view as align_view
    from lab.evaluate import view as evaluate_view
    from lab.quantize import view as quantize_view
    from lab.scaling import view as scaling_view

    monkeypatch.setenv("LAB_VISITOR_MAX_QUEUED", "0")  # three runs at once for this test
    bob_judge = runner.submit(spec_from_dict({"kind": "judge", "name": "bob-judge"}), owner=BOB, start_dispatcher=False)
    bob_sweep = runner.submit(spec_from_dict({"kind": "scaling_sweep", "name": "bob-sweep"}), owner=BOB,
                              start_dispatcher=False)
    bob_tune = runner.submit(spec_from_dict({"kind": "finetune", "name": "bob-tune"}), owner=BOB, start_dispatcher=False)
    for run_id in (bob_judge, bob_sweep, bob_tune):
        store.update_run(run_id, status="succeeded")
    adapter = RunFolder(bob_tune).artifact_dir / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "lab_finetune.json").write_text("{}")
    (RunFolder(bob_tune).artifact_dir / "model").mkdir()
    (RunFolder(bob_tune).artifact_dir / "model" / "config.json").write_text("{}")
    for seen in (None, access.Viewer(ALICE)):  # None: the widgets built at start, as everyone sees them
        listed = json.dumps([evaluate_view.contestant_choices(seen), evaluate_view.arena_sources(seen),
                             align_view.starting_choices("en", seen), quantize_view.model_choices(seen),
                             scaling_view.sweep_choices(seen)], default=str)
        for leak in (bob_judge, bob_sweep, bob_tune, "bob-judge", "bob-sweep", "bob-tune"):
            assert leak not in listed
    bob = access.Viewer(BOB)
    assert bob_judge in json.dumps(evaluate_view.arena_sources(bob))
    assert bob_sweep in json.dumps(scaling_view.sweep_choices(bob))
    assert bob_tune in json.dumps(align_view.starting_choices("en", bob))


# 5 / 9. Nothing secret lives in the browser ----------------------------------------------------------------
def test_no_token_or_visitor_key_is_kept_in_browser_storage(on_a_space):
    import gradio as gr
    import app

    demo_app = app.build_app()
    ui = demo_app.lab_ui
    assert isinstance(ui.token, gr.State) and not isinstance(ui.token, gr.BrowserState)
    assert isinstance(ui.visitor, gr.State) and not isinstance(ui.visitor, gr.BrowserState)
    keys = [b.storage_key for b in demo_app.blocks.values() if isinstance(b, gr.BrowserState)]
    assert "llm-lab-visitor" in keys and not any("token" in key for key in keys)


# 4. Remote code, at the last step: loading ---------------------------------------------------------------
def test_loading_with_remote_code_is_refused_in_space_mode(on_a_space, monkeypatch):
    from lab.modeling.models import load_model

    with pytest.raises(LabError) as error:
        load_model("HuggingFaceTB/SmolLM2-135M-Instruct", trust_remote_code=True)
    assert error.value.key == "remote_code_refused"


# 11 / 8. Uploads and exports are cleaned and counted; orphan folders go ------------------------------------
def test_uploads_exports_and_orphan_folders_are_cleaned(on_a_space):
    import os
    import time
    from lab.runs import retention

    old = time.time() - 30 * 86400
    upload = config.lab_home() / "uploads" / ALICE / "old.jsonl"
    export = config.lab_home() / "exports" / "old.zip"
    orphan = config.runs_dir() / "20260101-000000-demo-abcdef"
    for path in (upload, export):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
        os.utime(path, (old, old))
    orphan.mkdir()
    os.utime(orphan, (old, old))
    fresh = config.lab_home() / "uploads" / ALICE / "new.jsonl"
    fresh.write_text("y")
    retention.clean(days=7, quota=0)
    assert not upload.exists() and not export.exists() and not orphan.exists() and fresh.exists()


def test_a_huge_scaling_csv_is_not_read_whole(on_a_space, tmp_path):
    from lab.scaling.data import MAX_CSV_BYTES, read_points_file

    big = tmp_path / "big.csv"
    with open(big, "wb") as handle:
        handle.truncate(MAX_CSV_BYTES + 1)
    with pytest.raises(LabError) as error:
        read_points_file(big)
    assert error.value.key == "csv_too_large"
