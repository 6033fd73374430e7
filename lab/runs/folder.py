"""RunFolder: the one owner of a run folder's format, runs/<run_id>/.

Every read and write of a run's files goes through it; it is the only module that names them:

    spec.json       the spec the run was started with (written once, by submit)
    result.json     how it ended: one schema, written by write_result() only (see RESULT_KEYS)
    progress.json   fraction done, ETA and live figures (rewritten while it runs)
    metrics.jsonl   one record per logged step (curves), append-only
    log.txt         the worker's stdout and stderr
    artifacts/      whatever the kind saves (adapters, tables, traces); artifact_path() never leaves it
    checkpoints/    a training run's resumable state (Trainer checkpoints), gone once it finishes
    ranks/          a run of several processes: torchrun's per-rank stdout/stderr files (log.txt has them too)
    tensorboard/    a training run's TensorBoard event files (lab.modeling.training_log writes them)

Readers are tolerant: a missing file, bad JSON, or JSON of the wrong shape (a list or a string where
an object belongs) reads as empty ({} / []), and metrics lines that are not objects are skipped, so a
damaged or hand-edited folder never crashes a view. Writes are atomic (lab.runs.run_files).
"""
import shutil
from pathlib import Path

from lab import config
from lab.errors import LabError
from lab.runs.run_files import (RUN_ID_PATTERN, append_jsonl, check_run_id, read_json, read_jsonl, tail,  # noqa: F401
                                write_atomic, write_json)

SPEC = "spec.json"
RESULT = "result.json"
PROGRESS = "progress.json"
METRICS = "metrics.jsonl"
LOG = "log.txt"
ARTIFACTS = "artifacts"
CHECKPOINTS = "checkpoints"  # a training run's resumable state, removed when it finishes
RANKS = "ranks"  # torchrun's --log-dir for a run of several processes
TENSORBOARD = "tensorboard"  # TensorBoard event files of a training run
RUN_FILES = (SPEC, RESULT, METRICS, LOG, PROGRESS)  # the files (not folders) a run may have, e.g. for bundles
WATCHED = (SPEC, RESULT, PROGRESS, METRICS, LOG)  # what signature() looks at

# The keys every result.json has, with the same defaults whoever writes it (worker, dispatcher,
# cancel, replay, bundle import); writers may add more (outputs, started_at, log_tail, imported_from...).
RESULT_KEYS = ("status", "error", "error_key", "metrics", "outputs", "spec", "seed", "spec_hash", "versions",
               "cached_from")


def result_record(status: str, metrics=None, error=None, error_key=None, spec=None, seed=None, spec_hash=None,
                  versions=None, cached_from=None, outputs=None, **extra) -> dict:
    """One result.json record; None means "not known" and takes the one default for that key."""
    spec = spec if isinstance(spec, dict) else {}
    record = {"status": str(status), "error": error or "", "error_key": error_key,
              "metrics": metrics if isinstance(metrics, dict) else {},
              "outputs": outputs if isinstance(outputs, dict) else {},
              "spec": spec, "seed": seed if seed is not None else spec.get("seed"), "spec_hash": spec_hash,
              "versions": versions if isinstance(versions, dict) else {}, "cached_from": cached_from}
    record.update(extra)
    return record


def _as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


class RunFolder:
    """runs/<run_id>/ (or, for a worker or a test, any folder given as `path`)."""

    def __init__(self, run_id: str, path: Path | None = None):
        if path is None:
            self.run_id = check_run_id(run_id)
            self.path = config.runs_dir() / self.run_id
        else:  # the worker is handed a folder; its name is the run id
            self.path = Path(path)
            self.run_id = run_id or self.path.name

    @classmethod
    def at(cls, path) -> "RunFolder":
        return cls("", Path(path))

    def __repr__(self) -> str:
        return f"RunFolder({self.run_id!r})"

    # -- the folder ----------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.is_dir()

    def create(self) -> "RunFolder":
        self.path.mkdir(parents=True)
        return self

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    # -- spec --------------------------------------------------------------------------------
    def read_spec(self) -> dict:
        """The spec as a dict ({} when missing or malformed)."""
        return _as_dict(read_json(self.path / SPEC))

    def write_spec(self, spec) -> None:
        write_atomic(self.path / SPEC, spec if isinstance(spec, str) else spec.to_json())

    # -- result ------------------------------------------------------------------------------
    def has_result(self) -> bool:
        return bool(self.read_result())

    def read_result(self) -> dict:
        """The result as a dict ({} when there is none yet, or it is malformed); its figure and output
        tables are dicts and its texts strings whatever the file holds (a bundle may have been edited)."""
        result = _as_dict(read_json(self.path / RESULT))
        for key in ("metrics", "outputs", "spec", "versions"):
            if key in result and not isinstance(result[key], dict):
                result[key] = {}
        for key in ("error", "log_tail"):
            if key in result and not isinstance(result[key], str):
                result[key] = str(result[key])
        return result

    def write_result(self, /, status: str, metrics=None, error=None, error_key=None, spec=None, seed=None,
                     spec_hash=None, versions=None, cached_from=None, **extra) -> dict:
        """Write result.json in the one schema (result_record); returns what was written."""
        record = result_record(status, metrics=metrics, error=error, error_key=error_key, spec=spec, seed=seed,
                               spec_hash=spec_hash, versions=versions, cached_from=cached_from, **extra)
        write_json(self.path / RESULT, record)
        return record

    # -- progress ----------------------------------------------------------------------------
    def read_progress(self) -> dict:
        return _as_dict(read_json(self.path / PROGRESS))

    def write_progress(self, progress: dict) -> None:
        write_json(self.path / PROGRESS, progress)

    # -- metrics -----------------------------------------------------------------------------
    def append_metric(self, record: dict) -> None:
        append_jsonl(self.path / METRICS, record)

    def read_metrics(self) -> list[dict]:
        """Every finished metrics line that is a JSON object (others are skipped)."""
        return [record for record in read_jsonl(self.path / METRICS) if isinstance(record, dict)]

    # -- log ---------------------------------------------------------------------------------
    @property
    def log_file(self) -> Path:
        """Where the worker's stdout and stderr go (the dispatcher opens it for the child)."""
        return self.path / LOG

    def append_log(self, text: str) -> None:
        with open(self.log_file, "a", encoding="utf-8") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")

    def log_tail(self, lines: int = 20) -> str:
        return tail(self.log_file, lines)

    # -- artifacts ---------------------------------------------------------------------------
    @property
    def artifact_dir(self) -> Path:
        return self.path / ARTIFACTS

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def rank_log_dir(self) -> Path:
        return self.path / RANKS

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / TENSORBOARD

    def has_tensorboard(self) -> bool:
        folder = self.tensorboard_dir
        return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))

    def artifacts(self) -> list[Path]:
        folder = self.artifact_dir
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.rglob("*") if p.is_file())

    def artifact_path(self, relative) -> Path:
        """artifacts/<relative>, refusing any path that would leave the artifacts folder."""
        text = str(relative)
        target = (self.artifact_dir / text).resolve()
        root = self.artifact_dir.resolve()
        if not text or Path(text).is_absolute() or (target != root and root not in target.parents):
            raise LabError("bad_artifact_path", path=text[:200])
        return self.artifact_dir / text

    def read_artifact_json(self, relative, default=None):
        return read_json(self.artifact_path(relative), default)

    def read_artifact_jsonl(self, relative) -> list[dict]:
        return [r for r in read_jsonl(self.artifact_path(relative)) if isinstance(r, dict)]

    def write_artifact_text(self, relative, text: str) -> Path:
        path = self.artifact_path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
        return path

    def relative_name(self, path: Path) -> str:
        """A file's name inside the folder (artifacts/x.csv), as the detail view lists it."""
        return str(Path(path).relative_to(self.path))

    # -- change detection and copying ----------------------------------------------------------
    def signature(self, log: bool = True) -> str:
        """Changes whenever any of the run's files does (sizes and modification times; "-" when missing),
        so a timer can skip a refresh that would show the same thing. log=False leaves out the log,
        which changes with every printed line, for views that do not show it."""
        parts = []
        for name in WATCHED if log else tuple(n for n in WATCHED if n != LOG):
            try:
                stat = (self.path / name).stat()
                parts.append(f"{stat.st_size}:{stat.st_mtime_ns}")
            except OSError:
                parts.append("-")
        return f"{self.run_id}|" + "|".join(parts)

    def copy_outputs_from(self, source: "RunFolder", copy_function=shutil.copy2) -> None:
        """Copy metrics, progress, log and artifacts (not spec or result) from another run (a replay)."""
        for name in (METRICS, PROGRESS, LOG):
            if (source.path / name).exists():
                shutil.copy2(source.path / name, self.path / name)
        if source.artifact_dir.is_dir():
            shutil.copytree(source.artifact_dir, self.artifact_dir, copy_function=copy_function)
