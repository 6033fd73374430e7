"""What a tab shows of the job it started: its status line, progress and error, and (for generate
runs) the outputs as a table. Pure reads of the job table and the run folder, in a language.
"""
import pandas as pd
from lab.runs import store
from lab.runs.folder import RunFolder
from lab.errors import LabError
from lab.present.i18n import t
from lab.runs.runs_view import duration, error_message, eta_text, finish_text, format_duration, status_text


def job_status(run_id: str, lang: str, viewer) -> dict:
    """A tab's view of the run it follows: status line, progress fraction, error, and the result when done.

    The run id comes from the browser: it is checked against the viewer (lab.classroom.access.Viewer)
    on every call, through the run API; a run this viewer may not see reads as missing."""
    from lab.runs import runner

    try:
        row = runner.get(run_id, viewer)
    except LabError:
        row = None
    if row is None:
        return {"status": "missing", "fraction": 0.0, "text": t("error.no_such_run", lang, run_id=run_id),
                "error": "", "terminal": True, "result": None}
    folder = RunFolder(run_id)
    progress = folder.read_progress()
    status = row["status"]
    fraction = 1.0 if status == "succeeded" else float(progress.get("fraction") or 0.0)
    text = t("job.status_line", lang, id=run_id, status=status_text(status, lang))
    if status == "queued":
        text += " · " + t("runs.detail.queued", lang, position=store.queue_positions().get(run_id, "?"))
    elif status == "running":
        eta = eta_text(progress)
        text += " · " + t("job.running_line", lang, percent=f"{fraction * 100:.0f}", eta=eta or "?",
                         elapsed=format_duration(duration(row)))
        if progress.get("message"):
            text += " · " + str(progress["message"])[:200]
    elif status in store.TERMINAL:
        text += " · " + t("job.took", lang, duration=format_duration(duration(row)) or "0 s")
    terminal = status in store.TERMINAL
    result = (folder.read_result() or None) if terminal else None
    return {"status": status, "fraction": fraction, "text": text, "terminal": terminal, "result": result,
            "error": error_message(result, row, lang) if status in ("failed", "cancelled") else ""}


def run_spec(run_id: str, viewer) -> dict | None:
    """The spec a run was started with (None for an unknown or malformed id, or a run the viewer may not see)."""
    from lab.runs import runner

    try:
        return runner.read(run_id, viewer).read_spec() or None
    except LabError:
        return None


GENERATION_COLUMNS = ("prompt", "text", "base_text", "finish_reason")


def generation_frame(result: dict | None, lang: str) -> pd.DataFrame:
    """A generate run's outputs (prompt, text, why it stopped) with headers in `lang`; empty before it ends.
    A fine-tune compared with its base model (outputs["base_outputs"]) gets the base model's text beside it."""
    outputs = (result or {}).get("outputs") or {}
    rows = [r for r in outputs.get("outputs") or [] if isinstance(r, dict)]
    base = [r.get("text", "") if isinstance(r, dict) else "" for r in outputs.get("base_outputs") or []]
    columns = [c for c in GENERATION_COLUMNS if c != "base_text" or base]
    records = []
    for index, row in enumerate(rows):
        values = {"prompt": str(row.get("prompt", "")), "text": str(row.get("text", "")),
                  "base_text": str(base[index]) if index < len(base) else "",
                  "finish_reason": finish_text(str(row.get("finish_reason", "")), lang)}
        records.append([values[c] for c in columns])
    return pd.DataFrame(records, columns=[t(f"generate.col.{c}", lang) for c in columns], dtype=object)
