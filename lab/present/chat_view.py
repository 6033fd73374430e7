"""What the Chat tab shows besides the conversation: the models to pick and "where is my model".

No torch here: the model itself lives in a chat process (lab/modeling/chat_worker.py).
"""
from pathlib import Path

from lab.present.i18n import t
from lab.runs import runner
from lab.runs.folder import RUN_ID_PATTERN, RunFolder

CHAT_KINDS = ("finetune", "export")
MAX_RUNS = 40  # newest runs offered in the picker (any other run id can be typed)


def model_choices(lang: str, viewer) -> list[tuple[str, str]]:
    """The catalog's models, then the succeeded fine-tunes and exports this viewer may see, newest first."""
    from lab.finetune.view import method_label
    from lab.finetune.methods import METHODS
    from lab.modeling.models import DEFAULT_MODEL, available_models

    choices = [(name + (" ★" if name == DEFAULT_MODEL else ""), name) for name in (m["name"] for m in available_models())]
    runs = [row for row in runner.list_runs(viewer, limit=500, statuses=("succeeded",)) if row["kind"] in CHAT_KINDS]
    for row in runs[:MAX_RUNS]:
        spec = RunFolder(row["id"]).read_spec()
        if row["kind"] == "finetune":
            method = spec.get("method", "")
            what = method_label(method, lang) if method in METHODS.names() else method
        else:
            what = t("chat.merged", lang, run_id=spec.get("run_id", ""))
        name = f" «{row['name']}»" if row.get("name") else ""
        choices.append((f"{what}{name} · {row['id']}", row["id"]))
    return choices


def download_source(choice: str, viewer) -> tuple[str | None, str]:
    """(the file or folder to offer for download, the i18n key saying what it is) of a picked run;
    (None, key) for a model name or a run with nothing to download. The run is checked with the viewer:
    a run they may not see raises the same LabError as a missing one."""
    text = (choice or "").strip()
    if not RUN_ID_PATTERN.fullmatch(text):
        return None, "chat.where_model"
    row = runner.get(text, viewer)
    folder = RunFolder(text)
    if row["status"] != "succeeded" or row["kind"] not in CHAT_KINDS:
        return None, "chat.where_nothing"
    if row["kind"] == "export":
        merged = folder.artifact_path("merged")
        if merged.is_dir():
            return str(merged), "chat.where_merged"
        gguf = (folder.read_result().get("outputs") or {}).get("gguf_file")
        path = Path(gguf).resolve() if isinstance(gguf, str) and gguf else None
        if path is not None and folder.artifact_dir.resolve() in path.parents and path.is_file():
            return str(path), "chat.where_gguf"
        return None, "chat.where_nothing"
    packed = folder.artifact_path("adapter.zip")
    if packed.is_file():
        return str(packed), "chat.where_adapter"
    adapter = folder.artifact_path("adapter")
    if adapter.is_dir():
        whole = (adapter / "config.json").is_file() and not (adapter / "adapter_config.json").is_file()
        return str(adapter), "chat.where_full" if whole else "chat.where_adapter"
    return None, "chat.where_nothing"
