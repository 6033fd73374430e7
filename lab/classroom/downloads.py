"""Downloads: the only way a file of the data folder reaches a browser.

Nothing under the data folder is served by URL (app.py blocks it in Gradio). A page that offers a
file (an adapter, a CSV, a report, a bundle) asks here: the caller has already checked the viewer
through the run API; this copies just that file (or zips just that folder) into a fresh folder in the
system's temp space, which Gradio then serves from its cache under an unguessable name, as an
attachment (Gradio serves non-media files as attachments, never inline). Old copies are removed.
"""
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from lab import config
from lab.errors import LabError

KEEP_SECONDS = 3600  # copies older than this are removed on the next download
PREFIX = "llm-lab-download-"
_copies: dict[tuple, str] = {}  # (source, mtime, size, name) -> its copy, reused while it exists (polls re-render)


def _clean_old(now: float) -> None:
    root = Path(tempfile.gettempdir())
    for folder in root.glob(f"{PREFIX}*"):
        try:
            if now - folder.stat().st_mtime > KEEP_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def _inside_data(path: Path) -> Path:
    resolved = Path(path).resolve()
    home = config.lab_home().resolve()
    if home not in resolved.parents:
        raise LabError("no_such_file", name=Path(path).name)
    return resolved


def copy_for_download(path, name: str | None = None) -> str:
    """A private copy of one file of the data folder (or a zip of one folder), returned as a path."""
    source = _inside_data(Path(path))
    if not source.exists() or source.is_symlink():
        raise LabError("no_such_file", name=source.name)
    key = (str(source), *_version(source), name)
    if key in _copies and Path(_copies[key]).is_file():
        return _copies[key]
    _clean_old(time.time())
    _copies[key] = _make_copy(source, name)
    return _copies[key]


def _version(source: Path) -> tuple[int, int]:
    """(newest modification time, total size): a folder's changes when any file in it grows (a TensorBoard
    event file being written), not only when a file is added."""
    stat = source.stat()
    if not source.is_dir():
        return stat.st_mtime_ns, stat.st_size
    stats = [p.stat() for p in source.rglob("*") if p.is_file() and not p.is_symlink()]
    return max([stat.st_mtime_ns, *(s.st_mtime_ns for s in stats)]), sum(s.st_size for s in stats)


def _make_copy(source: Path, name: str | None) -> str:
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    if source.is_dir():
        target = folder / f"{name or source.name}.zip"
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for item in sorted(source.rglob("*")):
                if item.is_file() and not item.is_symlink():
                    archive.write(item, item.relative_to(source).as_posix())
        return str(target)
    target = folder / (name or source.name)
    shutil.copy2(source, target)
    return str(target)


def copies_for_download(paths) -> list[str]:
    return [copy_for_download(p) for p in paths]
