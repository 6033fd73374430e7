"""What a running job sees: where to write, how to report progress, and its thread budget.

A kind's run(spec, ctx) calls ctx.progress(done, total, **live_figures) as it goes and
ctx.log_metrics(step=..., loss=...) for curves; both land in the run folder, which the UI reads.
"""
import time
from pathlib import Path
from lab.runs.eta import EtaEstimator
from lab.runs.folder import RunFolder


class JobContext:
    def __init__(self, run_dir: Path, threads: int = 1, writer: bool = True):
        self.writer = writer  # False on ranks other than 0: they write nothing into the run folder
        self.folder = RunFolder.at(run_dir)
        self.run_dir = self.folder.path
        self.run_id = self.folder.run_id
        self.threads = threads
        self.artifact_dir = self.folder.artifact_dir
        if writer:
            self.artifact_dir.mkdir(exist_ok=True)
        self.started = time.time()
        self._last_progress_write = 0.0
        self._eta = None  # lab/runs/eta.EtaEstimator: time left from measured steps, set-up and warm-up left out
        self.cancel_requested = False  # set by SIGTERM for kinds that stop gracefully (Spec.graceful_cancel)

    def log(self, message: str) -> None:
        """A line in the run's log (the worker's stdout is the log too)."""
        print(message, flush=True)

    def log_metrics(self, **figures) -> None:
        """One metrics record (curves): e.g. step=10, loss=2.3."""
        if not self.writer:
            return
        self.folder.append_metric({"time": round(time.time() - self.started, 3), **figures})

    def progress(self, done: float, total: float, message: str = "", force: bool = False, **live) -> None:
        """Fraction done and ETA in the run's progress; written at most twice a second unless forced."""
        if not self.writer:
            return
        now = time.time()
        if self._eta is None or self._eta.total != total:  # a new phase with its own total
            self._eta = EtaEstimator(total)
        self._eta.update(done, now)
        if not force and now - self._last_progress_write < 0.5 and done < total:
            return
        self._last_progress_write = now
        fraction = 0.0 if total <= 0 else min(1.0, max(0.0, done / total))
        elapsed = now - self.started
        eta = self._eta.seconds_left()
        self.folder.write_progress({
            "fraction": round(fraction, 4), "done": done, "total": total, "message": message,
            "elapsed_seconds": round(elapsed, 2), "eta_seconds": None if eta is None else round(eta, 1),
            "live": live, "updated": now,
        })
