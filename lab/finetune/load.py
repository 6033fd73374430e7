"""Load what a fine-tune left behind: its base model with the adapter applied, or the tuned model itself.

A finished "finetune" run keeps artifacts/adapter/ with lab_finetune.json (method, base model),
and either a peft adapter (adapter_config.json), a method's own files (bottleneck adapters), or a
whole model folder (full fine-tuning).
"""
from pathlib import Path
from lab.runs.folder import RunFolder, read_json
from lab.errors import LabError
from lab.finetune.methods import METHODS


def adapter_folder(run_id: str) -> Path:
    folder = RunFolder(run_id).artifact_path("adapter")
    if not (folder / "lab_finetune.json").is_file():
        raise LabError("not_a_finetune_result", run_id=run_id)
    return folder


def describe(run_id: str) -> dict:
    """{"method", "base_model", "base_location", "run_id"} of a finished fine-tune."""
    return read_json(adapter_folder(run_id) / "lab_finetune.json")


def is_whole_model(folder: Path) -> bool:
    return (folder / "config.json").is_file() and not (folder / "adapter_config.json").is_file()


def apply_adapter(model, run_id: str):
    """Put the fine-tune's learned parameters on top of an already loaded base model (in place for peft)."""
    folder = adapter_folder(run_id)
    method = METHODS.get(describe(run_id)["method"])
    if method.load is not None:
        return method.load(model, folder)
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(folder))
