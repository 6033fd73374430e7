"""Where the lab keeps its data and how many jobs and threads it uses, from environment variables.

LAB_HOME       data folder (runs/, lab.db, models/); default ./lab_data beside app.py. On a Space: /data.
LAB_MAX_JOBS   jobs that run at once (default 1: on a 2-core CPU a second job slows both).
LAB_THREADS    torch threads per job (default 1: PLATFORM.md measured 2 threads 3-25x slower under load).
LAB_LAUNCH     "fork" (a dispatcher that pre-imports torch forks each job: no import cost per job)
               or "spawn" (each job is a fresh `python -m lab.worker RUN_DIR`).
LAB_IDLE_EXIT  seconds a dispatcher with nothing to do waits before it exits (default 120).
LAB_MODELS     folder of converted models (default LAB_HOME/models): several data folders (tests,
               worktrees) can share one conversion of the default model.
"""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def lab_home() -> Path:
    home = Path(os.environ.get("LAB_HOME") or REPO / "lab_data").resolve()
    (home / "runs").mkdir(parents=True, exist_ok=True)
    return home


def runs_dir() -> Path:
    return lab_home() / "runs"


def models_dir() -> Path:
    path = Path(os.environ["LAB_MODELS"]).resolve() if os.environ.get("LAB_MODELS") else lab_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _int_env(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def max_jobs() -> int:
    return _int_env("LAB_MAX_JOBS", 1)


def worker_threads() -> int:
    return _int_env("LAB_THREADS", 1)


def launch_mode() -> str:
    mode = os.environ.get("LAB_LAUNCH", "fork")
    return mode if mode in ("fork", "spawn") and hasattr(os, "fork") else "spawn"


def idle_exit_seconds() -> float:
    try:
        return float(os.environ.get("LAB_IDLE_EXIT", 120))
    except ValueError:
        return 120.0
