"""Checks a form runs before it queues a job, so a mistake is refused beside the button in a second
instead of failing in a worker a page away (issue 25): data files are read and every row checked, and a
hub model that cannot load here (the hub offline and the model not in the Hugging Face cache) is named
with what to do. Spec validation (ranges, one field against another) already ran when the spec was built.

    check_inputs(spec)   # raises LabError (e.g. "bad.jsonl line 2: not valid JSON") or returns None
"""
import os
from pathlib import Path

from lab.errors import LabError

MAX_CHECKED_BYTES = 50 * 1024**2  # bigger uploads are checked by the job itself (reading them takes a while)


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hub_cache_dir() -> Path:
    from huggingface_hub import constants  # light: no torch

    return Path(constants.HF_HUB_CACHE)


def in_hub_cache(hub_id: str) -> bool:
    """Has the Hugging Face cache a snapshot of this model (models--<org>--<name>/snapshots/<commit>/)?"""
    snapshots = hub_cache_dir() / f"models--{hub_id.replace('/', '--')}" / "snapshots"
    return snapshots.is_dir() and any(snapshots.iterdir())


def check_model(name: str) -> None:
    """A model that cannot load here: a hub id while the hub is offline and the model is not cached."""
    from lab.modeling.catalog import not_cached_error, resolve_model
    from lab.runs.folder import RunFolder

    if not isinstance(name, str) or not name.strip():
        return
    try:
        if RunFolder(name.strip()).path.is_dir():
            return  # a run id (a fine-tune to evaluate): the kind checks it
    except LabError:
        pass
    ref = resolve_model(name.strip())
    if ref.kind != "hub" or not hub_offline() or in_hub_cache(ref.location):
        return
    # on a Space the offline default loads from the hub: the message says what to do there
    raise not_cached_error(ref, hub_cache_dir() / f"models--{ref.location.replace('/', '--')}")


def check_finetune_data(dataset: str) -> None:
    """Read an uploaded fine-tuning file and check every row, as the job will (built-in sets pass)."""
    from lab.finetune.datasets import BUILTIN, load_examples

    if not dataset or dataset in BUILTIN:
        return
    path = Path(dataset)
    if path.is_file() and path.stat().st_size > MAX_CHECKED_BYTES:
        return
    load_examples(dataset)


def check_inputs(spec) -> None:
    """What can be known before a job is queued: its model loads here, its data files parse."""
    if isinstance(getattr(spec, "model", None), str):
        check_model(spec.model)
    if spec.kind == "finetune":
        check_finetune_data(spec.dataset)
