"""Old runs are cleaned up, so a shared server's disk does not fill: a retention rule and a quota.

- retention: finished runs of visitors older than LAB_RETENTION_DAYS (default 7 on a Space, off
  elsewhere) are deleted;
- quota: while the runs folder is over LAB_DISK_QUOTA_GB (default 20 on a Space, off elsewhere),
  the oldest finished runs are deleted, visitors' before shared ones (the CLI's and demo runs).
Queued and running runs are never touched. clean() is cheap enough to call on submit; maybe_clean()
does it at most every CLEAN_EVERY seconds per data folder.

    python -c "from lab import retention; print(retention.clean())"
"""
import os
import time
from pathlib import Path

from lab import config
from lab.runs import store
from lab.runs.folder import RunFolder
from lab.classroom.space_mode import is_visitor

CLEAN_EVERY = 600.0  # seconds between automatic clean-ups
STAMP = "last_clean"


def _float_env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def retention_days() -> float:
    return _float_env("LAB_RETENTION_DAYS", 7.0 if config.space_mode() else 0.0)


def quota_bytes() -> float:
    return _float_env("LAB_DISK_QUOTA_GB", 20.0 if config.space_mode() else 0.0) * 1024**3


def folder_bytes(path: Path) -> int:
    """Bytes in a folder; hard-linked files (replayed artifacts) are counted once."""
    total, seen = 0, set()
    for root, _, files in os.walk(path):
        for name in files:
            try:
                stat = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def _remove(run: dict) -> None:
    store.delete_run(run["id"])
    RunFolder(run["id"]).remove()


def clean(now: float | None = None, days: float | None = None, quota: float | None = None) -> list[str]:
    """Delete what the rules say; returns the deleted run ids (oldest first)."""
    now = time.time() if now is None else now
    days = retention_days() if days is None else days
    quota = quota_bytes() if quota is None else quota
    finished = sorted(store.list_runs(limit=10**9, statuses=store.TERMINAL), key=lambda r: r["seq"])
    deleted = []
    if days > 0:
        cutoff = now - days * 86400
        for run in finished:
            if is_visitor(run["owner"]) and (run.get("finished_at") or run["created_at"]) < cutoff:
                _remove(run)
                deleted.append(run["id"])
    if quota > 0:
        left = [r for r in finished if r["id"] not in deleted]
        order = [r for r in left if is_visitor(r["owner"])] + [r for r in left if not is_visitor(r["owner"])]
        used = folder_bytes(config.runs_dir())
        for run in order:
            if used <= quota:
                break
            size = folder_bytes(RunFolder(run["id"]).path)
            _remove(run)
            deleted.append(run["id"])
            used -= size
    return deleted


def maybe_clean() -> list[str]:
    """clean() unless it ran in the last CLEAN_EVERY seconds (or no rule is on)."""
    if retention_days() <= 0 and quota_bytes() <= 0:
        return []
    stamp = config.lab_home() / STAMP
    try:
        if time.time() - stamp.stat().st_mtime < CLEAN_EVERY:
            return []
    except FileNotFoundError:
        pass
    stamp.touch()
    return clean()
