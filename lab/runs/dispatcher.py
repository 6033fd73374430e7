"""The one dispatcher: starts queued runs up to the concurrency limit, watches them, records how they end.

`python -m lab.runs.dispatcher` is started by whoever submits a run (the app or the CLI) when no live
dispatcher holds the lease in SQLite, so the limit holds however many submitters there are. It
exits after LAB_IDLE_EXIT seconds with nothing to do. On start it recovers: runs left "running"
by a dead dispatcher are adopted if their worker lives, or finalized as failed with the log tail.

Launch modes (LAB_LAUNCH): "fork" pre-imports the ML stack once, then forks a worker per job, so
a job pays no 8-35 s import; "spawn" runs `python -m lab.runs.worker RUN_DIR` from an argument list.
A training run whose `processes` setting is above 1 is spawned through torchrun (or `accelerate launch`
with LAB_ACCELERATE_CONFIG), one worker per rank: see lab/runs/distributed.py. No other kind ever is.

Jobs never see the server's secrets (SECRET_VARIABLES are removed from the dispatcher's environment
before any worker starts). In Space mode a visitor's job past its wall-clock limit is cancelled and
recorded as failed naming the limit. A full disk fails the run it hit ("disk full"); the dispatcher
keeps serving the others.
"""
import errno
import os
import signal
import subprocess
import sys
import time

from lab import config
from lab.runs import store
from lab.runs.folder import RunFolder
from lab.runs.versioning import code_version

SECRET_VARIABLES = ("LAB_TEACHER_TOKEN", "LAB_ADMIN_TOKEN")  # the roles' tokens stay in the app's process
LEASE_TTL = 120.0  # long enough to cover the ML-stack import, which blocks this loop once
POLL = 0.25


def _describe_exit(returncode) -> tuple[str, dict]:
    if returncode is None:
        return "worker_vanished", {}
    if returncode < 0:
        signum = -returncode
        name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else str(signum)
        return ("worker_killed_oom" if signum == signal.SIGKILL else "worker_killed"), {"signal": name}
    return "worker_exit", {"code": returncode}


def finalize(run_id: str, returncode) -> dict:
    """Record how a run ended, from its result or, if it left none, from its exit and log tail."""
    from lab.errors import LabError

    folder = RunFolder(run_id)
    row = store.get_run(run_id) or {}
    result = folder.read_result()  # {} when the worker left none (or a damaged one)
    if row.get("cancel_requested") == 2 and result.get("status") != "succeeded":  # stopped by the time limit
        from lab.classroom import space_mode

        limit = space_mode.job_seconds_limit()
        result.update(status="failed", error=str(LabError("job_time_limit", limit=limit)), error_key="job_time_limit",
                      error_params={"limit": str(limit)})
    elif row.get("cancel_requested") and result.get("status") not in ("succeeded", "cancelled"):
        result.update(status="cancelled", error=str(LabError("cancelled")), error_key="cancelled", error_params={})
    elif result.get("status") not in store.TERMINAL:
        key, params = _describe_exit(returncode)
        result.update(status="failed", error=str(LabError(key, **params)), error_key=key,
                      error_params={k: str(v) for k, v in params.items()})
    if result["status"] != "succeeded" and not row.get("cancel_requested") and _several_processes(folder):
        _name_failed_rank(result, folder)
    if result["status"] != "succeeded":
        result["log_tail"] = folder.log_tail(20)
    result["spec"] = result.get("spec") or folder.read_spec()
    result.setdefault("spec_hash", row.get("spec_hash"))
    try:
        result = folder.write_result(**result)
    except OSError as exc:  # a full disk (or a folder removed under it): the store still records the end
        key = "disk_full" if exc.errno == errno.ENOSPC else "result_unwritable"
        result.update(status="failed", error=str(LabError(key, detail=str(exc)[:200])), error_key=key)
    store.update_run(run_id, status=result["status"], finished_at=time.time(), error=result.get("error", ""),
                     metrics=result.get("metrics", {}) if isinstance(result.get("metrics"), dict) else {})
    _advance_chain(run_id)
    return result


def _advance_chain(run_id: str) -> None:
    """A step of a preset chain (lab/classroom/chains.py) that succeeded submits the chain's next step."""
    try:
        from lab.classroom import chains

        submitted = chains.after_run(run_id)
    except Exception as exc:  # a broken chain must never stop the dispatcher serving the other runs
        print(f"[dispatcher] chain after {run_id}: {type(exc).__name__}: {exc}", flush=True)
        return
    if submitted:
        print(f"[dispatcher] chain after {run_id}: step {submitted[0]} queued as {submitted[1]}", flush=True)


def _several_processes(folder) -> bool:
    from lab.runs import distributed

    return distributed.launch_plan(folder.read_spec()) > 1


def _name_failed_rank(result: dict, folder) -> None:
    """A run of several ranks fails with the message of the rank that failed first (torchrun stops the
    others, so rank 0's own result, if it left one, names only the broken connection)."""
    from lab.errors import LabError
    from lab.runs import distributed

    cause = distributed.failure_in_log(folder.log_tail(400))
    if cause is None:
        return
    error = LabError("rank_failed", rank=cause["rank"], detail=cause["detail"][:300])
    result.update(status="failed", error=str(error), error_key=error.key,
                  error_params={k: str(v) for k, v in error.params.items()})


class Dispatcher:
    def __init__(self):
        self.children: dict[str, object] = {}  # run_id -> Popen (spawn) or pid (fork)
        self.kill_at: dict[str, float] = {}
        self.warm = False
        self.version = code_version()

    # -- launching ---------------------------------------------------------------------------
    def launch(self, run: dict) -> None:
        from lab.runs import distributed

        folder = RunFolder(run["id"])
        processes = distributed.launch_plan(folder.read_spec())
        fork = config.launch_mode() == "fork" and run["code_version"] == self.version and processes == 1
        if fork:
            from lab.specs import spec_class

            if spec_class(run["kind"]).needs_torch and not self.warm:
                self.prewarm()
            pid = self._fork(folder)
            self.children[run["id"]] = pid
        else:
            proc = self._spawn(folder, processes)
            pid = proc.pid
            self.children[run["id"]] = proc
        store.update_run(run["id"], pid=pid, pid_start=store.process_start_time(pid))

    def prewarm(self) -> None:
        started = time.time()
        import lab.runs.preload  # noqa: F401  (torch, transformers, peft: imported once, shared by every fork)

        self.warm = True
        print(f"[dispatcher] ML stack imported in {time.time() - started:.1f} s", flush=True)
        store.try_acquire_lease(LEASE_TTL)

    def _fork(self, folder) -> int:
        threads = config.worker_threads()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid:
            return pid
        code = 1
        try:
            os.setsid()  # its own process group: cancel kills the whole tree
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            log = os.open(folder.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            from lab.runs.worker import run_job

            code = run_job(folder.path, threads)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _spawn(self, folder, processes: int = 1) -> subprocess.Popen:
        from lab.runs import distributed

        env = dict(os.environ, LAB_HOME=str(config.lab_home()), LAB_THREADS=str(config.worker_threads()),
                   OMP_NUM_THREADS=str(config.worker_threads()), PYTHONUNBUFFERED="1")
        command = [sys.executable, "-m", "lab.runs.worker", str(folder.path)]
        if processes > 1:
            env.update(distributed.environment(processes))
            command = distributed.command(folder.path, processes, folder.rank_log_dir)
        with open(folder.log_file, "ab") as log:
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=config.REPO, env=env, start_new_session=True)

    # -- watching ----------------------------------------------------------------------------
    def reap(self) -> None:
        for run_id, child in list(self.children.items()):
            if isinstance(child, int):
                pid, status = os.waitpid(child, os.WNOHANG)
                if pid == 0:
                    continue
                returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            else:
                returncode = child.poll()
                if returncode is None:
                    continue
            del self.children[run_id]
            self.kill_at.pop(run_id, None)
            finalize(run_id, returncode)

    def recover(self) -> None:
        """Runs marked running that are not our children: adopt live workers, finalize dead ones."""
        for run in store.list_runs(statuses=("running",)):
            if run["id"] in self.children:
                continue
            if not run["pid"]:
                if time.time() - (run["started_at"] or 0) > 30:  # claimed, never launched: back in the queue
                    store.update_run(run["id"], status="queued", started_at=None)
                continue
            if not store.process_alive(run["pid"], run["pid_start"]):
                finalize(run["id"], None)

    def enforce_time_limits(self) -> None:
        """Space mode: a visitor's job running past LAB_VISITOR_MAX_JOB_SECONDS is cancelled (marked 2,
        so finalize records it as failed naming the limit)."""
        from lab.classroom import space_mode

        limit = space_mode.job_seconds_limit()
        if not config.space_mode() or not limit:
            return
        now = time.time()
        for run in store.list_runs(statuses=("running",)):
            if (not run["cancel_requested"] and space_mode.is_visitor(run["owner"]) and run["started_at"]
                    and now - run["started_at"] > limit):
                store.update_run(run["id"], cancel_requested=2)

    def enforce_cancels(self) -> None:
        now = time.time()
        for run in store.list_runs(statuses=("running",)):
            if not run["cancel_requested"] or not run["pid"]:
                continue
            if not store.process_alive(run["pid"], run["pid_start"]):
                continue
            first = run["id"] not in self.kill_at
            if first:
                from lab.specs import spec_class

                self.kill_at[run["id"]] = now + spec_class(run["kind"]).cancel_grace_seconds
            signum = signal.SIGTERM if first or now < self.kill_at[run["id"]] else signal.SIGKILL
            if first or signum == signal.SIGKILL:
                kill_tree(run["pid"], signum)

    def loop(self) -> int:
        if not store.try_acquire_lease(LEASE_TTL):
            return 0
        print(f"[dispatcher] pid {os.getpid()} took the lease (mode {config.launch_mode()}, "
              f"limit {config.max_jobs()})", flush=True)
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        idle_since = time.time()
        try:
            while not stop:
                if not store.try_acquire_lease(LEASE_TTL):
                    print("[dispatcher] lost the lease; exiting", flush=True)
                    break
                try:
                    self.reap()
                    self.recover()
                    self.enforce_time_limits()
                    self.enforce_cancels()
                except OSError as exc:  # a full disk must not take the dispatcher (and every other run) down
                    print(f"[dispatcher] {exc}; going on", flush=True)
                    time.sleep(1.0)
                while (run := store.claim_next_queued(config.max_jobs())) is not None:
                    try:
                        self.launch(run)
                    except Exception as exc:  # noqa: BLE001  (a launch failure fails one run, not the dispatcher)
                        print(f"[dispatcher] could not start {run['id']}: {exc}", flush=True)
                        finalize(run["id"], 1)
                busy = self.children or store.list_runs(limit=1, statuses=store.ACTIVE)
                if busy:
                    idle_since = time.time()
                elif time.time() - idle_since > config.idle_exit_seconds():
                    break
                time.sleep(POLL)
        finally:
            store.release_lease()
        print("[dispatcher] exiting", flush=True)
        return 0


def kill_tree(pid: int, signum) -> None:
    """Signal the job's whole process group (workers start their own session), and the groups of its
    children that started sessions of their own (torchrun starts each rank in a new session)."""
    for group in [pid, *_child_sessions(pid)]:
        try:
            os.killpg(group, signum)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(group, signum)
            except (ProcessLookupError, PermissionError):
                pass


def _child_sessions(pid: int) -> list[int]:
    """Children of pid that lead their own session (Linux /proc; [] elsewhere)."""
    children = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                children += [int(c) for c in handle.read().split()]
    except OSError:
        return []
    return [c for c in children if _session_of(c) == c]


def _session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def scrub_secrets() -> None:
    """Remove the roles' tokens from this process's environment: every worker inherits it."""
    for name in SECRET_VARIABLES:
        os.environ.pop(name, None)


def main() -> int:
    scrub_secrets()
    return Dispatcher().loop()


if __name__ == "__main__":
    sys.exit(main())
