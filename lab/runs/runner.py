"""The run API, the front door used by the app and the CLI alike: submit, cancel, delete, rerun, get,
list_runs, read (and wait).

submit(spec) writes the new run folder's spec, queues the run in SQLite and makes sure a dispatcher
is alive to start it. get / list_runs / read / cancel / delete / rerun take the viewer
(lab.classroom.access.Viewer; None = the lab itself, which sees everything) and refuse another
visitor's private run as if it did not exist: read(run_id, viewer) -> RunFolder is the access-checked
way to a run's files. Nothing here imports torch.
"""
import os
import secrets
import shutil
import subprocess
import sys
import time

from lab import config
from lab.classroom import access
from lab.runs import store
from lab.runs.folder import RUN_ID_PATTERN, RunFolder, check_run_id
from lab.errors import LabError
from lab.specs import Spec, spec_from_dict
from lab.runs.versioning import code_version


def new_run_id(kind: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{secrets.token_hex(3)}"


def submit(spec: Spec, owner: str = "", private: bool | None = None, use_cache: bool = False,
           start_dispatcher: bool = True, group_id: str | None = None, preset: str | None = None,
           checked: bool = False, viewer: access.Viewer | None = None) -> str:
    """Queue a run and return its id. With use_cache, a deterministic spec that already succeeded
    under the same code is replayed from its stored result instead of recomputed.
    private=None: private in Space mode (a visitor's runs are theirs), shared otherwise.
    In Space mode a visitor's run is refused (LabError naming the limit) beyond the per-visitor limits
    (checked=True: the caller checked them for a group of runs, e.g. lab.classroom.presets).
    viewer: who submits through the app (their role lifts the limits); in Space mode a visitor must
    hold a key the server issued (lab.classroom.visitors). A cached result is replayed only from a
    shared run or one of the same owner's: another visitor's private run is never copied."""
    from lab.classroom import space_mode, visitors
    from lab.runs import retention

    if config.space_mode() and (owner == "" or (viewer is not None and viewer.role == "visitor"
                                                and not visitors.valid_visitor_key(owner))):
        raise LabError("no_visitor_key")  # the app's visitor without a server-issued key (the CLI says "cli")
    if private is None:
        private = space_mode.private_by_default() and space_mode.is_visitor(owner)
    if not checked:
        space_mode.check_submission(spec, owner, viewer)
    retention.maybe_clean()
    run_id = new_run_id(spec.kind)
    folder = RunFolder(run_id).create()
    folder.write_spec(spec)
    spec_hash, version = spec.spec_hash(), code_version()
    if use_cache and spec.deterministic:
        source = store.find_succeeded(spec_hash, version, owner)
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


def _replay(source_id: str, folder: RunFolder) -> bool:
    """Copy a finished run's result, metrics, progress and artifacts into a new run folder."""
    source = RunFolder(source_id)
    result = source.read_result()
    if result.get("status") != "succeeded":
        return False
    folder.copy_outputs_from(source, copy_function=_link_or_copy)
    folder.write_result(**{**result, "cached_from": source_id})
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
    check_run_id(run_id)
    row = store.get_run(run_id)
    if row is None or not access.can_see(row, viewer):
        raise LabError("no_such_run", run_id=run_id)
    if row["status"] == "running" and _orphaned(row):
        row = resolve_orphan(row)
    return row


def _orphaned(row: dict) -> bool:
    """A 'running' run whose worker is gone while no dispatcher is alive to record how it ended."""
    return bool(row.get("pid")) and not store.process_alive(row["pid"], row["pid_start"]) \
        and store.lease_holder() is None


def resolve_orphan(row: dict) -> dict:
    """The next reader records the end of a run whose dispatcher died (from its result, or failed)."""
    from lab.runs.dispatcher import finalize

    finalize(row["id"], None)
    return store.get_run(row["id"]) or row


def cancel(run_id: str, owner: str | None = None, viewer: access.Viewer | None = None) -> str:
    """Cancel a queued or running run; returns its status before. Owner (or the viewer's rights:
    their own runs; every run for the teacher and the admin) is checked when given."""
    row = get(run_id, viewer)
    if (owner is not None and row["owner"] != owner) or not access.can_cancel(row, viewer):
        raise LabError("not_your_run", run_id=run_id)
    prior = store.request_cancel(run_id)
    if prior == "queued":
        folder = RunFolder(run_id)
        folder.write_result("cancelled", error=str(LabError("cancelled")), error_key="cancelled",
                            spec=folder.read_spec(), spec_hash=row["spec_hash"])
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
    RunFolder(run_id).remove()


def rerun(run_id: str, owner: str = "", private: bool | None = None, viewer: access.Viewer | None = None) -> str:
    spec_data = read(run_id, viewer).read_spec()
    if not spec_data:
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


def list_runs(viewer: access.Viewer | None = None, limit: int = 500, statuses=None,
              preset: str | None = None) -> list[dict]:
    """The runs this viewer may see, newest first (None: every run). Orphaned 'running' runs are resolved."""
    rows = store.list_runs(limit=limit, statuses=statuses, viewer=viewer, preset=preset)
    if any(row["status"] == "running" and _orphaned(row) for row in rows):
        rows = [resolve_orphan(row) if row["status"] == "running" and _orphaned(row) else row for row in rows]
    return rows


def visible(run_ids: list[str], viewer: access.Viewer | None) -> list[str]:
    """The ids (from a browser state) of runs this viewer may see, in order; the rest (unknown, malformed or
    another visitor's private runs) are dropped. One query for all of them: timers ask every tick."""
    ids = [run_id for run_id in run_ids if isinstance(run_id, str) and RUN_ID_PATTERN.fullmatch(run_id)]
    return [row["id"] for row in store.get_runs(ids) if access.can_see(row, viewer)]


def read(run_id: str, viewer: access.Viewer | None = None) -> RunFolder:
    """The run's folder, once the viewer may see the run (LabError no_such_run otherwise)."""
    get(run_id, viewer)
    return RunFolder(run_id)


# The lab's own unchecked reads (CLI, kinds that chain runs, tests): {} / None / [] when there is nothing.
def progress(run_id: str) -> dict:
    return RunFolder(run_id).read_progress()


def result(run_id: str) -> dict | None:
    return RunFolder(run_id).read_result() or None


def metrics(run_id: str) -> list[dict]:
    return RunFolder(run_id).read_metrics()
