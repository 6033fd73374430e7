"""Runs one job in its own process: `python -m lab.runs.worker RUN_DIR` (or a fork of the dispatcher).

Reads the run's spec, runs the kind's recipe, and always leaves a result (RunFolder.write_result):
status, error (plain language), metrics (flat named figures), outputs, spec, seed, versions, spec_hash.
stdout/stderr are the run's log. Under torchrun (a run of several processes) every rank runs this;
only rank 0 writes the result and the run folder, the others print how they ended ("[lab] failed: ..."),
which the dispatcher reads when a rank dies (lab/runs/distributed.py).
"""
import importlib.metadata
import os
import platform
import random
import resource
import signal
import sys
import time
import traceback
from pathlib import Path
from lab.runs.folder import RunFolder
from lab.runs.job_context import JobContext
from lab.errors import JobCancelled, LabError

VERSION_PACKAGES = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "trl", "datasets", "gradio")


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in VERSION_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def peak_memory_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # ru_maxrss is KiB on Linux


def _seed_everything(seed: int, needs_torch: bool, threads: int) -> None:
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed)
    if needs_torch:
        import torch

        torch.set_num_threads(threads)
        torch.manual_seed(seed)


def _split_outputs(returned: dict) -> tuple[dict, dict]:
    """Flat numbers go to result['metrics']; anything else (texts, tables) to result['outputs']."""
    metrics, outputs = {}, {}
    for key, value in (returned or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics[key] = value
        else:
            outputs[key] = value
    return metrics, outputs


def _failure(exc: BaseException) -> LabError:
    if isinstance(exc, LabError):
        return exc
    text = str(exc)
    if isinstance(exc, MemoryError) or "out of memory" in text.lower():
        return LabError("out_of_memory", detail=text[:200] or type(exc).__name__)
    return LabError("job_crashed", detail=f"{type(exc).__name__}: {text[:300]}")


QUIET_ENVIRONMENT = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
                     "TRANSFORMERS_VERBOSITY": "error", "DATASETS_VERBOSITY": "error", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}
QUIET_WARNINGS = (FutureWarning, DeprecationWarning, PendingDeprecationWarning)


def quiet_libraries() -> None:
    """The run log is for students: no library FutureWarnings or deprecation notices, no raw tqdm bars
    (the lab reports progress itself). Real errors stay: exceptions and the libraries' error-level logs
    still reach the log, and UserWarnings (often the useful ones) are kept. Set before the libraries
    load, and applied to those a forked worker already holds."""
    import warnings

    os.environ.update(QUIET_ENVIRONMENT)
    for category in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", category=category)
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()


def run_job(run_dir: Path, threads: int = 1) -> int:
    """Run the job in run_dir; returns the process exit code (0 when it succeeded)."""
    from lab.runs import distributed

    quiet_libraries()

    run_dir = Path(run_dir)
    folder = RunFolder.at(run_dir)
    rank, world = distributed.rank(), distributed.world_size()
    writer = rank == 0
    spec_data = folder.read_spec()
    started = time.time()
    result = {"status": "failed", "error": "", "metrics": {}, "outputs": {}, "spec": spec_data,
              "seed": spec_data.get("seed"), "spec_hash": None, "versions": package_versions(),
              "started_at": started}
    where = f", rank {rank} of {world}" if world > 1 else ""
    print(f"[lab] run {run_dir.name}: kind {spec_data.get('kind')}, {threads} thread(s){where}, pid {os.getpid()}",
          flush=True)
    try:
        from lab.specs import KINDS, spec_from_dict

        spec = spec_from_dict(spec_data)
        result["spec_hash"] = spec.spec_hash()
        _seed_everything(spec.seed, spec.needs_torch, threads)
        ctx = JobContext(run_dir, threads, writer=writer)
        if spec.graceful_cancel and world == 1:  # several ranks must stop at the same step: cancel kills them all
            signal.signal(signal.SIGTERM, lambda *_: setattr(ctx, "cancel_requested", True))
        metrics, outputs = _split_outputs(KINDS.get(spec.kind).run(spec, ctx))
        if world > 1:
            metrics.setdefault("world_size", world)
        result.update(status="succeeded", metrics=metrics, outputs=outputs)
        ctx.progress(1, 1, force=True)
    except BaseException as exc:  # noqa: BLE001  (every failure must leave a result)
        if isinstance(exc, (KeyboardInterrupt, JobCancelled)):
            result["status"] = "cancelled"
        error = _failure(exc)
        result.update(error=str(error), error_key=error.key, error_params={k: str(v) for k, v in error.params.items()})
        if not isinstance(exc, LabError):
            traceback.print_exc()
        print(f"[lab] {result['status']}: {result['error']}", flush=True)
    finished = time.time()
    result["finished_at"] = finished
    result["metrics"].setdefault("wall_seconds", round(finished - started, 3))
    result["metrics"].setdefault("peak_memory_mb", peak_memory_mb())
    if writer:
        folder.write_result(**result)
    print(f"[lab] {result['status']} in {finished - started:.1f} s", flush=True)
    return 0 if result["status"] == "succeeded" else 1


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m lab.runs.worker RUN_DIR", file=sys.stderr)
        return 2
    return run_job(Path(argv[0]), threads=int(os.environ.get("LAB_THREADS", "1") or 1))


if __name__ == "__main__":
    sys.exit(main())
