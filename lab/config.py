"""Where the lab keeps its data and how many jobs and threads it uses, from environment variables.

LAB_HOME       data folder (runs/, lab.db, models/); default ./lab_data beside app.py. On a Space: /data.
LAB_MAX_JOBS   jobs that run at once (default 1: on a 2-core CPU a second job slows both).
LAB_THREADS    torch threads per job (default 1: PLATFORM.md measured 2 threads 3-25x slower under load).
LAB_LAUNCH     "fork" (a dispatcher that pre-imports torch forks each job: no import cost per job)
               or "spawn" (each job is a fresh `python -m lab.runs.worker RUN_DIR`).
LAB_IDLE_EXIT  seconds a dispatcher with nothing to do waits before it exits (default 120).
LAB_MODELS     folder of converted models (default LAB_HOME/models): several data folders (tests,
               worktrees) can share one conversion of the default model.
LAB_SPACE      "1": Space mode (several visitors, private runs, limits; see lab/classroom/space_mode.py). On by default
               when SPACE_ID is set (a Hugging Face Space); "0" turns it off there.
"""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


SPACE_DATA = Path("/data")  # a Space's persistent storage, when the owner has added it


def space_mode() -> bool:
    """Several visitors share this server (a Hugging Face Space, or `app.py --space`)."""
    flag = os.environ.get("LAB_SPACE", "").strip().lower()
    if flag in ("1", "true", "yes", "on"):
        return True
    if flag in ("0", "false", "no", "off"):
        return False
    return bool(os.environ.get("SPACE_ID"))


def on_hf_space() -> bool:
    return bool(os.environ.get("SPACE_ID"))


def persistent_storage() -> bool:
    """Is /data there and writable (a Space with persistent storage)?"""
    return SPACE_DATA.is_dir() and os.access(SPACE_DATA, os.W_OK)


def default_home() -> Path:
    if space_mode() and persistent_storage():
        return SPACE_DATA / "lab_data"  # survives a restart; the Space's own disk does not
    return REPO / "lab_data"


def lab_home() -> Path:
    home = Path(os.environ.get("LAB_HOME") or default_home()).resolve()
    (home / "runs").mkdir(parents=True, exist_ok=True)
    return home


def runs_dir() -> Path:
    return lab_home() / "runs"


def models_dir() -> Path:
    path = Path(os.environ["LAB_MODELS"]).resolve() if os.environ.get("LAB_MODELS") else lab_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _int_env(name: str, default: int, minimum: int = 1) -> int:
    try:
        return max(minimum, int(os.environ.get(name, default)))
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


def max_upload_mb() -> int:
    """The largest upload the app accepts (Gradio refuses bigger ones before they reach a handler)."""
    return _int_env("LAB_MAX_UPLOAD_MB", 50 if space_mode() else 500)
