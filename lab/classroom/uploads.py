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
