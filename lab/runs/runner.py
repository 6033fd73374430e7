"""The runner's front door, used by the app and the CLI alike: submit, cancel, wait, re-run, delete.

submit(spec) writes runs/<run_id>/spec.json, queues the run in SQLite and makes sure a dispatcher
is alive to start it. Nothing here imports torch.
"""
import os
import secrets
import shutil
import subprocess
import sys
import time

from lab import config
from lab.classroom import access
from lab.runs import run_files, store
from lab.errors import LabError
from lab.specs import Spec, spec_from_dict
from lab.runs.versioning import code_version


def new_run_id(kind: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{secrets.token_hex(3)}"


def submit(spec: Spec, owner: str = "", private: bool | None = None, use_cache: bool = False,
           start_dispatcher: bool = True, group_id: str | None = None, preset: str | None = None,
           checked: bool = False) -> str:
    """Queue a run and return its id. With use_cache, a deterministic spec that already succeeded
    under the same code is replayed from its stored result instead of recomputed.
    private=None: private in Space mode (a visitor's runs are theirs), shared otherwise.
    In Space mode a visitor's run is refused (LabError naming the limit) beyond the per-visitor limits
    (checked=True: the caller checked them for a group of runs, e.g. lab.classroom.presets)."""
    from lab.classroom import space_mode
    from lab.runs import retention

    if private is None:
        private = space_mode.private_by_default() and space_mode.is_visitor(owner)
    if not checked:
        space_mode.check_submission(spec, owner)
    retention.maybe_clean()
    run_id = new_run_id(spec.kind)
    folder = config.runs_dir() / run_id
    folder.mkdir(parents=True)
    run_files.write_atomic(folder / "spec.json", spec.to_json())
    spec_hash, version = spec.spec_hash(), code_version()
    if use_cache and spec.deterministic:
        source = store.find_succeeded(spec_hash, version)
        if source is not None and _replay(source["id"], folder):
            store.insert_run(run_id, spec.kind, spec.name, owner, private, spec_hash, version,
                             status="succeeded", cached_from=source["id"], metrics=source["metrics"],
                             group_id=group_id, preset=preset)
            return run_id
    store.insert_run(run_id, spec.kind, spec.name, owner, private, spec_hash, version, group_id=group_id,
                     preset=preset)
    if start_dispatcher:
        ensure_dispatcher()
    return run_id


def _replay(source_id: str, folder) -> bool:
    """Copy a finished run's result, metrics, progress and artifacts into a new run folder."""
    source = run_files.run_dir(source_id)
    result = run_files.read_json(source / "result.json")
    if not result or result.get("status") != "succeeded":
        return False
    for name in ("metrics.jsonl", "progress.json", "log.txt"):
        if (source / name).exists():
            shutil.copy2(source / name, folder / name)
    if (source / "artifacts").is_dir():
        shutil.copytree(source / "artifacts", folder / "artifacts", copy_function=_link_or_copy)
    result["cached_from"] = source_id
    run_files.write_json(folder / "result.json", result)
    return True


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)  # artifacts can be large (adapters): a hard link costs nothing
    except OSError:
        shutil.copy2(src, dst)


def submit_json(data: dict, **kwargs) -> str:
    return submit(spec_from_dict(data), **kwargs)


def ensure_dispatcher() -> bool:
    """Start a dispatcher process unless a live one holds the lease. Returns True if one was started."""
    if store.lease_holder() is not None:
        return False
    env = dict(os.environ, LAB_HOME=str(config.lab_home()), PYTHONUNBUFFERED="1")
    with open(config.lab_home() / "dispatcher.log", "ab") as log:
        subprocess.Popen([sys.executable, "-m", "lab.runs.dispatcher"], stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, cwd=config.REPO, env=env, start_new_session=True)
    return True


def get(run_id: str, viewer: access.Viewer | None = None) -> dict:
    """A run's row; a run this viewer may not see is reported as unknown (its id reveals nothing)."""
    run_files.check_run_id(run_id)
    row = store.get_run(run_id)
    if row is None or not access.can_see(row, viewer):
        raise LabError("no_such_run", run_id=run_id)
    return row


def cancel(run_id: str, owner: str | None = None, viewer: access.Viewer | None = None) -> str:
    """Cancel a queued or running run; returns its status before. Owner (or the viewer's rights:
    their own runs; every run for the teacher and the admin) is checked when given."""
    row = get(run_id, viewer)
    if (owner is not None and row["owner"] != owner) or not access.can_cancel(row, viewer):
        raise LabError("not_your_run", run_id=run_id)
    prior = store.request_cancel(run_id)
    if prior == "queued":
        run_files.write_json(run_files.run_dir(run_id) / "result.json", {
            "status": "cancelled", "error": str(LabError("cancelled")), "error_key": "cancelled",
            "metrics": {}, "spec": run_files.read_json(run_files.run_dir(run_id) / "spec.json", {}),
            "seed": None, "spec_hash": row["spec_hash"], "versions": {}})
    elif prior == "running":
        from lab.runs.dispatcher import kill_tree
        import signal

        if row["pid"] and store.process_alive(row["pid"], row["pid_start"]):
            kill_tree(row["pid"], signal.SIGTERM)  # the dispatcher records it and escalates to SIGKILL
        ensure_dispatcher()
    return prior


def delete(run_id: str, owner: str | None = None, viewer: access.Viewer | None = None) -> None:
    row = get(run_id, viewer)
    if (owner is not None and row["owner"] != owner) or not access.can_delete(row, viewer):
        raise LabError("not_your_run", run_id=run_id)
    if row["status"] in store.ACTIVE:
        raise LabError("delete_active", run_id=run_id)
    store.delete_run(run_id)
    shutil.rmtree(run_files.run_dir(run_id), ignore_errors=True)


def rerun(run_id: str, owner: str = "", private: bool | None = None, viewer: access.Viewer | None = None) -> str:
    get(run_id, viewer)
    spec_data = run_files.read_json(run_files.run_dir(run_id) / "spec.json")
    if spec_data is None:
        raise LabError("no_such_run", run_id=run_id)
    return submit_json(spec_data, owner=owner, private=private)


def wait(run_id: str, timeout: float | None = None, poll: float = 0.5) -> dict:
    """Block until the run ends (starting a dispatcher if none is alive); returns its row."""
    deadline = None if timeout is None else time.time() + timeout
    last_check = 0.0
    while True:
        row = get(run_id)
        if row["status"] in store.TERMINAL:
            return row
        if time.time() - last_check > 5:
            ensure_dispatcher()  # a dispatcher that died mid-run is replaced; it recovers the run
            last_check = time.time()
        if deadline is not None and time.time() > deadline:
            raise TimeoutError(run_id)
        time.sleep(poll)


def progress(run_id: str) -> dict:
    return run_files.read_json(run_files.run_dir(run_id) / "progress.json", {}) or {}


def result(run_id: str) -> dict | None:
    return run_files.read_json(run_files.run_dir(run_id) / "result.json")


def metrics(run_id: str) -> list[dict]:
    return run_files.read_jsonl(run_files.run_dir(run_id) / "metrics.jsonl")
