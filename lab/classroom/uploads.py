"""The one place an uploaded file is saved: copied into the data folder, because the job that reads it
runs later, in another process, and Gradio's temporary copy may be gone by then.

    save_upload(path, visitor)                                   # fine-tune / align data, judge prompts
    save_upload(path, visitor, (".jsonl",), "task_bad_format", sub="tasks", check=load_jsonl)   # tasks
    save_upload(path, "", (".csv", ".tsv", ".txt"), by_hash=True)                               # scaling CSV

Uploads go to LAB_HOME/uploads/<visitor>[/<sub>]/<cleaned name>; a name is cleaned of anything but
letters, digits, dot, dash and underscore, so it cannot climb out of its folder. `by_hash` names the
file after its content instead (a second upload of another file with the same name cannot replace
the first while a job still reads it).
"""
import hashlib
import re
import shutil
from pathlib import Path
from typing import Callable, Optional

from lab import config
from lab.errors import LabError

MAX_UPLOAD_MB = 50
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
DATA_SUFFIXES = (".jsonl", ".json", ".csv")


def uploads_dir(visitor: str = "", sub: str = "") -> Path:
    """LAB_HOME/uploads/<visitor>[/<sub>]: a visitor value that is not a well-formed key (".." included)
    never names a folder; it goes to "anonymous", which no visitor's spec may read in Space mode."""
    from lab.classroom.visitors import valid_visitor_key

    owner = visitor if valid_visitor_key(visitor) else "anonymous"
    folder = config.lab_home() / "uploads" / owner
    folder = folder / sub if sub else folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_upload(source: str, visitor: str = "", suffixes: tuple = DATA_SUFFIXES, error: str = "data_bad_format",
                sub: str = "", check: Optional[Callable] = None, by_hash: bool = False,
                limit_mb: int = MAX_UPLOAD_MB) -> str:
    """Copy an upload into the visitor's uploads folder and return its path; LabError(`error`) for a
    suffix not in `suffixes`, "upload_too_large" over limit_mb; check(path) may refuse it after."""
    source_path = Path(source)
    suffix = source_path.suffix.lower()
    if suffix not in suffixes:
        raise LabError(error, file=source_path.name, suffix=source_path.suffix or "(none)")
    if source_path.stat().st_size > limit_mb * 2**20:
        raise LabError("upload_too_large", file=source_path.name, limit=limit_mb)
    folder = uploads_dir(visitor, sub)
    if by_hash:
        name = f"{hashlib.sha256(source_path.read_bytes()).hexdigest()[:16]}{suffix}"
    else:
        name = SAFE_NAME.sub("_", source_path.name).lstrip(".") or f"data{suffixes[0]}"
    target = (folder / name).resolve()
    if target.parent != folder.resolve():  # cleaned names cannot climb out; this says so in code
        raise LabError(error, file=source_path.name, suffix=source_path.suffix)
    shutil.copyfile(source_path, target)
    if check is not None:
        check(target)  # refuse a bad file now, naming its line, not later in the job
    return str(target)


MAX_FOLDER_FILES = 50  # files in one multi-file or .zip upload
MAX_FOLDER_DEPTH = 3   # folders inside a .zip


def _clean_parts(name: str, error: str) -> Path:
    """A relative path of cleaned parts; absolute names, "..", and deep nesting are refused."""
    raw = name.replace("\\", "/")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if raw.startswith("/") or ".." in parts or not parts or len(parts) > MAX_FOLDER_DEPTH + 1:
        raise LabError("upload_bad_member", file=name[:120])
    return Path(*[SAFE_NAME.sub("_", part).lstrip(".") or "_" for part in parts])


def save_folder_upload(sources, visitor: str = "", sub: str = "", suffixes: tuple = DATA_SUFFIXES,
                       error: str = "data_bad_format", limit_mb: int = MAX_UPLOAD_MB) -> Path:
    """Files that belong together (a task YAML and its data files), given as several files or as one .zip,
    copied into a fresh folder LAB_HOME/uploads/<visitor>[/<sub>]/<name>-<content hash>/ and returned.

    Every name is cleaned (letters, digits, dot, dash, underscore); a .zip member may keep up to
    MAX_FOLDER_DEPTH folders, but an absolute name, "..", a link or a suffix not in `suffixes` is refused
    (LabError naming the member), as are more than MAX_FOLDER_FILES files or more than limit_mb in all
    (counted uncompressed, before anything is extracted)."""
    import zipfile

    paths = [Path(s) for s in ([sources] if isinstance(sources, (str, Path)) else sources)]
    members: list[tuple[Path, bytes]] = []

    def add(name: str, size: int, read) -> None:
        relative = _clean_parts(name, error)
        if relative.suffix.lower() not in suffixes:
            raise LabError(error, file=name[:120], suffix=relative.suffix or "(none)")
        if len(members) >= MAX_FOLDER_FILES:
            raise LabError("upload_too_many_files", limit=MAX_FOLDER_FILES)
        if size + sum(len(data) for _, data in members) > limit_mb * 2**20:
            raise LabError("upload_too_large", file=name[:120], limit=limit_mb)
        members.append((relative, read()))

    for path in paths:
        if path.suffix.lower() == ".zip":
            if path.stat().st_size > limit_mb * 2**20:
                raise LabError("upload_too_large", file=path.name, limit=limit_mb)
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if info.is_dir() or info.filename.startswith("__MACOSX/"):
                        continue
                    if (info.external_attr >> 16) & 0o170000 == 0o120000:  # a symbolic link stored in the zip
                        raise LabError("upload_bad_member", file=info.filename[:120])
                    add(info.filename, info.file_size, lambda info=info: archive.read(info)[:limit_mb * 2**20 + 1])
        else:
            add(path.name, path.stat().st_size, path.read_bytes)
    if not members:
        raise LabError("upload_empty", file=", ".join(p.name for p in paths)[:120] or "(none)")
    names = [str(relative) for relative, _ in members]
    if len(set(names)) != len(names):
        raise LabError("upload_bad_member", file=next(n for n in names if names.count(n) > 1))
    digest = hashlib.sha256()
    for relative, data in sorted(members, key=lambda m: str(m[0])):
        digest.update(str(relative).encode() + b"\0" + hashlib.sha256(data).digest())
    stem = SAFE_NAME.sub("_", paths[0].stem).lstrip(".")[:40] or "upload"
    root = uploads_dir(visitor, sub).resolve()
    folder = root / f"{stem}-{digest.hexdigest()[:12]}"
    for relative, data in members:
        target = (folder / relative).resolve()
        if root not in target.parents:  # cleaned parts cannot climb out; this says so in code
            raise LabError("upload_bad_member", file=str(relative))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder
