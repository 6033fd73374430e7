"""What the Fine-tune tab shows, as data: method table, a comparison's live table, uploads, chat results.

Pure functions over the run store and the method registry (no Gradio, no torch), tested directly.
"""

import pandas as pd

from lab import config
from lab.runs import runner, store
from lab.runs.folder import RunFolder, write_atomic
from lab.errors import LabError
from lab.finetune.compare import comparison_frame
from lab.finetune.methods import METHODS
from lab.present.i18n import t
from lab.present.formatting import format_duration, format_number
from lab.runs.runs_view import status_text

SHOWN = ("method", "status", "trainable_percent", "train_loss_first", "train_loss_last", "eval_loss",
         "task_accuracy", "tokens_per_second", "peak_memory_mb", "wall_seconds")


def method_label(name: str, lang: str) -> str:
    return t(METHODS.label_key(name), lang)


def method_choices(lang: str) -> list[tuple[str, str]]:
    return [(method_label(name, lang), name) for name in METHODS.names()]


def methods_frame(lang: str) -> pd.DataFrame:
    """One row per method: what trains, its usual learning rate, whether it merges (and why not)."""
    rows = []
    for name, method in METHODS.entries().items():
        merge = t("finetune.yes", lang) if method.can_merge else t("finetune.merge_no", lang)
        rows.append([method_label(name, lang), t(f"finetune.trains.{name}", lang), f"{method.learning_rate:g}", merge])
    columns = [t(f"finetune.methods_col.{c}", lang) for c in ("method", "trains", "lr", "merge")]
    return pd.DataFrame(rows, columns=columns, dtype=object)


def _progress_cell(row: pd.Series, lang: str) -> str:
    status = row["status"]
    if status == "running":
        progress = runner.progress(row["run_id"])
        eta = format_duration(progress.get("eta_seconds"))
        text = f"{status_text(status, lang)} {progress.get('fraction', 0) * 100:.0f}%"
        return f"{text} · {t('finetune.eta', lang, eta=eta)}" if eta else text
    if status == "queued":
        return t("runs.detail.queued", lang, position=store.queue_positions().get(row["run_id"], "?"))
    return status_text(status, lang)


def group_frame(run_ids: list[str], lang: str) -> pd.DataFrame:
    """The comparison as the tab shows it: translated headers, live progress, rounded figures."""
    frame = comparison_frame(run_ids, lang)
    if frame.empty:
        return pd.DataFrame(columns=[t(f"finetune.col.{c}", lang) for c in SHOWN], dtype=object)
    shown = pd.DataFrame({"method": [method_label(m, lang) for m in frame["method"]],
                          "status": [_progress_cell(row, lang) for _, row in frame.iterrows()]})
    for name in SHOWN[2:]:
        shown[name] = [format_number(v) if v is not None and not pd.isna(v) else "" for v in frame[name]]
    shown.columns = [t(f"finetune.col.{c}", lang) for c in SHOWN]
    return shown.astype(object)


def group_signature(run_ids: list[str]) -> str:
    """Changes whenever the table or the curves would: statuses, and the runs' files (not their logs)."""
    return "|".join(f"{row['status']}:{RunFolder(row['id']).signature(log=False)}" for row in store.get_runs(run_ids))


def finished_choices(run_ids: list[str], lang: str, viewer=None, limit: int = 40) -> list[tuple[str, str]]:
    """Finished fine-tunes to chat with or export, labelled by method: the comparison's first, then (with
    a viewer) the viewer's own earlier ones, so a new browser session still finds "my" tuned models
    (outside Space mode every run is the viewer's: lab/classroom/access.py)."""
    frame = comparison_frame(run_ids, lang)
    done = frame[frame["status"] == "succeeded"]
    choices = [(f"{method_label(row['method'], lang)} · {row['run_id']}", row["run_id"]) for _, row in done.iterrows()]
    if viewer is not None:
        from lab.classroom.access import owns

        seen = {value for _, value in choices}
        for row in runner.list_runs(viewer, limit=500, statuses=("succeeded",)):
            if row["kind"] == "finetune" and row["id"] not in seen and owns(row, viewer) and len(choices) < limit:
                method = RunFolder(row["id"]).read_spec().get("method", "")
                label = method_label(method, lang) if method in METHODS.names() else method
                choices.append((f"{label} · {row['id']}", row["id"]))
    return choices


def export_state(run_id: str, lang: str) -> tuple[bool, str]:
    """(can export, note): methods that add inputs or layers cannot be merged into the weights."""
    if not run_id:
        return False, ""
    method = RunFolder(run_id).read_spec().get("method", "")
    try:
        mergeable = METHODS.get(method).can_merge
    except LabError:
        return False, ""
    if mergeable:
        return True, t("finetune.merge_ok", lang, method=method_label(method, lang))
    return False, t("error.cannot_merge", lang, method=method_label(method, lang))


def export_warning(run_id: str, export_format: str, gguf_type: str, lang: str) -> str:
    """A warning before exporting a GGUF q4_0 of a fine-tune whose base was expanded from a 4-bit file (the
    default model ships as Q4_1): rounding to 4 bits again stacks a second error on the first."""
    from lab.finetune.load import describe
    from lab.modeling.catalog import resolve_model

    if not run_id or export_format != "gguf" or gguf_type != "q4_0":
        return ""
    try:
        source = resolve_model(describe(run_id).get("base_model") or "").quantized_source
    except (LabError, OSError, ValueError, AttributeError):
        return ""
    return t("finetune.export_q4_warning", lang, source=source) if source else ""


def export_summary(result: dict | None, lang: str) -> str:
    """What an export left: the merged folder, or the GGUF file with how closely it reads back."""
    outputs, metrics = (result or {}).get("outputs") or {}, (result or {}).get("metrics") or {}
    if outputs.get("gguf_file"):
        from pathlib import Path

        agreement = metrics.get("gguf_top1_agreement")
        return t("finetune.exported_gguf", lang, file=Path(outputs["gguf_file"]).name,
                 type=outputs.get("gguf_type", ""), mb=format_number(metrics.get("gguf_mb", 0)),
                 diff=format_number(metrics.get("gguf_max_abs_logit_diff", 0)),
                 top1="?" if agreement is None else f"{100 * agreement:.0f}%")
    if outputs.get("merged_folder"):
        return t("finetune.exported", lang, folder=outputs["merged_folder"])
    return ""


def export_file(result: dict | None) -> str | None:
    """The .gguf file an export wrote (offered for download as a copy), if it did."""
    path = ((result or {}).get("outputs") or {}).get("gguf_file")
    from pathlib import Path

    return path if path and Path(path).is_file() else None


def adapter_zip(run_id: str) -> str | None:
    if not run_id:
        return None
    path = RunFolder(run_id).artifact_path("adapter.zip")
    return str(path) if path.is_file() else None


def export_csv(frame: pd.DataFrame, run_ids: list[str]) -> str:
    """The comparison table as CSV (machine names as headers) in the lab's exports folder."""
    folder = config.lab_home() / "exports"
    folder.mkdir(exist_ok=True)
    path = folder / f"comparison-{run_ids[0]}.csv"
    write_atomic(path, frame.to_csv(index=False))
    return str(path)


def chat_frame(result: dict | None, lang: str) -> pd.DataFrame:
    """Prompt, the base model's answer and the tuned model's answer, side by side."""
    outputs = (result or {}).get("outputs") or {}
    tuned, base = outputs.get("outputs") or [], outputs.get("base_outputs") or []
    rows = [[item.get("prompt", ""), base[i].get("text", "") if i < len(base) else "", item.get("text", "")]
            for i, item in enumerate(tuned)]
    return pd.DataFrame(rows, columns=[t(f"finetune.chat_col.{c}", lang) for c in ("prompt", "base", "tuned")],
                        dtype=object)


def preview_markdown(summary: dict, lang: str) -> str:
    text = t("finetune.preview_summary", lang, train=summary["train"], validation=summary["validation"],
             longest=summary["longest"])
    if summary["too_long"]:
        text += " " + t("finetune.preview_too_long", lang, count=summary["too_long"])
    return text


def preview_highlights(summary: dict) -> list[tuple[str, str | None]]:
    """gr.HighlightedText value: trained tokens marked "answer", example borders as blank lines."""
    spans = []
    for index, row in enumerate(summary["rows"]):
        if index:
            spans.append(("\n\n", None))
        spans.extend((token, "answer" if trained else None) for token, trained in row)
    return spans


def measured_answer(run_ids: list[str], lang: str) -> str:
    """The answer to the lessons' "Predict, then run" questions, from finished runs of a comparison:
    which method trained the fewest parameters, and which reached the lowest eval (or training) loss."""
    frame = comparison_frame(run_ids, lang)
    done = frame[frame["status"] == "succeeded"]
    if len(done) < 2:
        return ""
    parts = []
    for figure, key in (("trainable_params", "finetune.measured_fewest"), ("eval_loss", "finetune.measured_lowest"),
                        ("train_loss_last", "finetune.measured_lowest")):
        values = done.dropna(subset=[figure])
        if values.empty or (figure == "train_loss_last" and not done["eval_loss"].isna().all()):
            continue
        best = values.loc[values[figure].idxmin()]
        parts.append(t(key, lang, method=method_label(best["method"], lang), figure=t(f"metric.{figure}", lang),
                       value=format_number(best[figure])))
    return t("finetune.measured", lang, answers="; ".join(parts)) if parts else ""


def estimate_markdown(fields: dict, methods: list[str], lang: str, status: dict | None = None) -> str:
    """The memory estimate before launch (lab/finetune/memory_estimate.py): the largest of the chosen methods'
    peaks split into its parts, next to the machine's free memory, with a warning when it will not fit.
    The runs of a comparison run one after another, so the largest single run is what must fit."""
    from lab.finetune.memory_estimate import estimate_for_spec, fits
    from lab.present.system_status import gpus, memory_mb

    estimates = {}
    for method in methods or ["lora"]:
        result = estimate_for_spec({**fields, "method": method})
        if "error" in result:
            return t("finetune.estimate_none", lang, reason=result["error"].message(lang))
        estimates[method] = result
    method, worst = max(estimates.items(), key=lambda item: item[1]["total_mb"])
    gb = lambda mb: f"{mb / 1024:.2f}"  # noqa: E731
    parts = " · ".join(t(f"finetune.estimate_part.{name}", lang, value=gb(worst[f"{name}_mb"]))
                       for name in ("process", "weights", "trainable", "activations", "logits", "bf16_copies")
                       if worst[f"{name}_mb"] > 0)
    devices = list(status["gpus"] if status else gpus())
    if devices and devices[0].get("memory_mb"):
        free_mb, where = devices[0]["memory_mb"], t("finetune.estimate_gpu", lang)
    else:
        free_mb, where = (status["memory"] if status else memory_mb())["available"], t("finetune.estimate_ram", lang)
    text = t("finetune.estimate", lang, total=gb(worst["total_mb"]), method=method_label(method, lang), parts=parts,
             free=gb(free_mb), where=where)
    if free_mb and not fits(worst["total_mb"], free_mb):
        text += "\n\n" + t("finetune.estimate_too_big", lang, total=gb(worst["total_mb"]), free=gb(free_mb))
    return text


def sweep_table(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A sweep's runs as the tab shows them: name, status, the swept settings and the final figures."""
    from lab.finetune.sweep import FINAL, swept

    if frame.empty:
        return pd.DataFrame(columns=[t("finetune.col.status", lang)], dtype=object)
    columns = ["name", "status", *swept(frame), "seed", *[f for f in FINAL if frame[f].notna().any()], "wall_seconds"]
    shown = frame[columns].copy()
    shown["status"] = [status_text(s, lang) for s in shown["status"]]
    for name in columns[2:]:
        shown[name] = [format_number(v) if v is not None and not pd.isna(v) else "" for v in shown[name]]
    from lab.present.plots import axis_title

    headers = {c: t("finetune.col.status", lang) if c == "status" else axis_title(c, lang) for c in columns}
    return shown.rename(columns=headers).astype(object)


def sweep_summary_table(frame: pd.DataFrame, metric: str, lang: str) -> pd.DataFrame:
    """Per swept setting, seeds pooled: runs, mean and spread (std) of the final metric, headers translated."""
    from lab.finetune.sweep import summary_frame
    from lab.present.plots import axis_title

    summary = summary_frame(frame, metric).round(4)
    names = {c: t(f"finetune.sweep.col.{c}", lang, metric=axis_title(metric, lang)) if c in ("runs", "mean", "std")
             else axis_title(c, lang) for c in summary.columns}
    return summary.rename(columns=names).astype(object)
