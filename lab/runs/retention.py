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
import shutil
import time
from pathlib import Path

from lab import config
from lab.errors import LabError
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


SIDE_FOLDERS = ("uploads", "exports")  # visitors' uploads and the bundles/reports/CSVs made for download
ORPHAN_GRACE = 3600.0  # a run folder no database row knows, older than this, is a leftover (a failed import)


def clean_orphans(now: float) -> list[str]:
    """Remove run folders that no database row knows (never a folder being created right now)."""
    removed = []
    for folder in config.runs_dir().iterdir():
        try:
            if folder.is_dir() and store.get_run(folder.name) is None and now - folder.stat().st_mtime > ORPHAN_GRACE:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
        except (OSError, LabError):
            continue
    return removed


def clean_side_folders(cutoff: float) -> int:
    """Files in uploads/ and exports/ last changed before cutoff are removed (they count in the quota)."""
    removed = 0
    for name in SIDE_FOLDERS:
        root = config.lab_home() / name
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*"), reverse=True):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
                elif path.is_dir() and not any(path.iterdir()):
                    path.rmdir()
            except OSError:
                continue
    return removed


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
    clean_orphans(now)
    if days > 0:
        clean_side_folders(now - days * 86400)
    if quota > 0:
        left = [r for r in finished if r["id"] not in deleted]
        order = [r for r in left if is_visitor(r["owner"])] + [r for r in left if not is_visitor(r["owner"])]
        used = folder_bytes(config.runs_dir()) + sum(folder_bytes(config.lab_home() / name) for name in SIDE_FOLDERS)
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
