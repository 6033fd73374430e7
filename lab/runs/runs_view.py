"""What the Runs tab shows, as data: the runs table, one run's details, and the comparison table.
(A tab's view of the one job it started is in lab/runs/job_view.py.)

Pure reads of the job table (SQLite) and the small files of a run folder, rendered in a language;
the page only puts these values into widgets. Everything here is cheap enough for a 1-2 s timer.
"""
import json
import time

import pandas as pd
from lab.classroom import access
from lab.runs import runner, store
from lab.runs.folder import RunFolder
from lab.errors import LabError
from lab.present.formatting import format_duration, format_number
from lab.present.i18n import t
from lab.present.plots import axis_title as figure_name
from lab.specs import KINDS

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TABLE_COLUMNS = ("id", "kind", "name", "status", "queue", "progress", "started", "duration", "figures", "owner")
TABLE_WIDTHS = ("20%", "7%", "10%", "9%", "6%", "8%", "11%", "8%", "13%", "8%")
GENERIC_FIGURES = ("wall_seconds", "peak_memory_mb")  # every run has them: the table shows the kind's own first
MAX_DOWNLOAD_BYTES = 200 * 1024**2  # bigger artifacts are listed, not offered for download (the UI copies them)


def status_text(status: str, lang: str) -> str:
    return t(f"runs.status.{status}", lang) if status in STATUSES else status


def kind_text(kind: str, lang: str) -> str:
    """A job kind in words ("kind.generate"), or its name where the lab has no translation; one style for
    every kind (first letter upper case: "Generate", "Fine-tune", "Prompting", "DPO"), so that the Kind
    column does not mix "Prompting" with lowercase kinds."""
    key = KINDS.label_key(kind)
    text = t(key, lang)
    text = kind if text == key else text
    return text[:1].upper() + text[1:]


def format_time(timestamp) -> str:
    return time.strftime("%m-%d %H:%M:%S", time.localtime(timestamp)) if timestamp else ""


def eta_text(progress: dict) -> str:
    """The time left from the run's progress, or "" when unknown (no estimate yet, or a phase that reports none)."""
    eta, fraction = progress.get("eta_seconds"), progress.get("fraction") or 0
    return "" if eta is None or (eta < 1 and fraction < 1) else format_duration(eta)


def key_figures(metrics: dict, lang: str = "en", limit: int = 2) -> str:
    items = list((metrics or {}).items())
    own = [(k, v) for k, v in items if k not in GENERIC_FIGURES]
    shown = (own or [(k, v) for k, v in items if k != "wall_seconds"])[:limit]
    return " · ".join(f"{figure_name(k, lang)} {format_number(v)}" for k, v in shown)


def duration(row: dict, now: float | None = None) -> float | None:
    if not row.get("started_at"):
        return None
    return (row.get("finished_at") or now or time.time()) - row["started_at"]


def started_text(row: dict) -> str:
    """When the run started; a replayed run (served from the cache, never started) shows when it was made."""
    return format_time(row.get("started_at") or (row.get("created_at") if row.get("cached_from") else None))


def duration_text(row: dict, lang: str, now: float | None = None) -> str:
    """How long the run took; a replayed run says so, with the time the run it replays took."""
    if row.get("cached_from") and not row.get("started_at"):
        took = (row.get("metrics") or {}).get("wall_seconds")
        if not isinstance(took, (int, float)):
            source = store.get_run(row["cached_from"]) or {}
            took = duration(source, now) if source.get("finished_at") else None
        return t("runs.replayed_duration", lang, duration=format_duration(took) or "–")
    return format_duration(duration(row, now))


def progress_text(row: dict) -> str:
    if row["status"] == "succeeded":
        return "100%"
    if row["status"] == "queued":
        return ""
    fraction = RunFolder(row["id"]).read_progress().get("fraction")
    return "" if fraction is None else f"{fraction * 100:.0f}%"


def owner_text(owner: str, visitor: str, lang: str) -> str:
    """Who ran it, for the Runs table: the command line, the Space owner's demo, you, or another visitor
    (never outside Space mode, where every run is yours: lab/classroom/access.py)."""
    if owner == "cli":
        return t("runs.owner_cli", lang)
    if owner == "demo":
        return t("runs.owner_demo", lang)
    if access.is_mine(owner, visitor):
        return t("runs.owner_you", lang)
    return t("runs.owner_other", lang) if owner else ""


def runs_frame(rows: list[dict], lang: str, visitor: str = "", now: float | None = None) -> pd.DataFrame:
    """The runs table with headers and statuses in `lang`; the first column is always the run id."""
    records = [[row["id"], kind_text(row["kind"], lang), row["name"], status_text(row["status"], lang),
                row.get("queue_position") or "", progress_text(row), started_text(row),
                duration_text(row, lang, now), key_figures(row.get("metrics"), lang),
                owner_text(row.get("owner", ""), visitor, lang)] for row in rows]
    return pd.DataFrame(records, columns=[t(f"runs.col.{c}", lang) for c in TABLE_COLUMNS], dtype=object)


def find_runs(viewer: access.Viewer | None, search: str = "", kind: str = "", status: str = "",
              lang: str = "en", limit: int = 200, scan: int = 2000) -> list[dict]:
    """The runs table's rows, filtered on the server: the runs this viewer may see (runner.list_runs), of
    one kind and one status ("" = any), whose id, name, kind (name or words in `lang`), preset or owner
    contain every word of `search` (case-insensitive); newest first, at most `limit` of the newest `scan`."""
    statuses = [status] if status in STATUSES else None
    rows = runner.list_runs(viewer, limit=scan if (search or kind) else limit, statuses=statuses)
    words = str(search or "").lower().split()

    def text(row: dict) -> str:
        return " ".join(str(v) for v in (row["id"], row.get("name"), row["kind"], kind_text(row["kind"], lang),
                                          row.get("preset"), row.get("owner"))).lower()

    found = [row for row in rows if (not kind or row["kind"] == kind) and all(w in text(row) for w in words)]
    return found[:limit]


def kind_choices(lang: str) -> list[tuple[str, str]]:
    """The Runs table's kind filter: every kind, in words, sorted; "" = every kind."""
    kinds = sorted(((kind_text(name, lang), name) for name in KINDS.names()), key=lambda c: c[0].lower())
    return [(t("runs.filter.any_kind", lang), ""), *kinds]


def status_choices(lang: str) -> list[tuple[str, str]]:
    return [(t("runs.filter.any_status", lang), ""), *((status_text(s, lang), s) for s in STATUSES)]


def any_active_run() -> bool:
    """Is any run queued or running (one indexed SQLite query)?"""
    return bool(store.list_runs(limit=1, statuses=store.ACTIVE))


def table_signature(rows: list[dict]) -> str:
    """Changes whenever what the table shows would change (so the timer can skip identical refreshes)."""
    active = any(r["status"] in store.ACTIVE for r in rows)
    shown = [(r["id"], r["status"], r.get("queue_position"), progress_text(r) if r["status"] == "running" else "")
             for r in rows]
    return json.dumps(shown + [int(time.time()) if active else 0])  # durations tick while a run is active


def run_choices(rows: list[dict]) -> list[tuple[str, str]]:
    return [(f"{r['id']} {r['name']}".strip(), r["id"]) for r in rows]


def run_label(row: dict) -> str:
    """A short name for legends: the run's name and the end of its id, or the id alone."""
    return f"{row['name']} ({row['id'][-6:]})" if row.get("name") else row["id"]


def error_message(result: dict | None, row: dict | None, lang: str) -> str:
    """A failed or cancelled run's reason in `lang`, from error_key/error_params when the job left them."""
    result = result or {}
    if result.get("error_key"):
        return LabError(result["error_key"], **(result.get("error_params") or {})).message(lang)
    return result.get("error") or (row or {}).get("error") or ""


def finish_text(reason: str, lang: str) -> str:
    """Why generation stopped ("eos", "stop", "length"), in words."""
    key = f"generate.finish.{reason}"
    text = t(key, lang)
    return reason if text == key else text


def _word(prefix: str, name: str, lang: str) -> str:
    key = f"{prefix}.{name}"
    text = t(key, lang)
    return name if text == key else text


def outputs_markdown(outputs: dict, lang: str) -> str:
    """A kind's non-numeric outputs (texts, small tables) as markdown, named in `lang` where the lab
    has the words (output.<name>, output.col.<column>); long values are cut."""
    parts = []
    for name, value in (outputs or {}).items():
        parts.append(f"**{_word('output', name, lang)}**")
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            records = [{_word("output.col", k, lang): finish_text(v, lang) if k == "finish_reason" else v
                        for k, v in item.items()} for item in value[:50]]
            parts.append(markdown_table(records))
        else:
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
            parts.append("```text\n" + text[:4000] + "\n```")
    return "\n\n".join(parts)


def markdown_table(records: list[dict], max_chars: int = 300) -> str:
    columns = list(dict.fromkeys(k for r in records for k in r))

    def cell(value) -> str:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")[:max_chars]

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in records]
    return "\n".join(lines)


def run_detail(run_id: str, lang: str, viewer: access.Viewer | None = None) -> dict:
    """Everything the detail view shows for one run (raises LabError for an unknown id, and for a
    private run of someone else: to this viewer it does not exist)."""
    folder = runner.read(run_id, viewer)
    row = runner.get(run_id, viewer)
    result = folder.read_result() or None
    progress = folder.read_progress()
    figures = dict(row.get("metrics") or {})
    figures.update((result or {}).get("metrics") or {})
    if row["status"] == "running":
        figures.update({k: v for k, v in (progress.get("live") or {}).items() if isinstance(v, (int, float))})
    files = folder.artifacts()
    summary = [t("runs.detail.summary", lang, id=run_id, kind=kind_text(row["kind"], lang),
                 status=status_text(row["status"], lang))]
    if row["status"] == "running" and progress:
        summary.append(t("runs.detail.progress", lang, percent=f"{progress.get('fraction', 0) * 100:.0f}",
                         eta=eta_text(progress) or "?", message=progress.get("message", "")))
    if row["status"] == "queued":
        summary.append(t("runs.detail.queued", lang, position=store.queue_positions().get(run_id, "?")))
    if row.get("cached_from"):
        summary.append(t("runs.detail.cached", lang, source=row["cached_from"]))
    if figures:
        summary.append(" · ".join(f"{figure_name(k, lang)} **{format_number(v)}**" for k, v in figures.items()))
    return {
        "row": row,
        "status": row["status"],
        "summary": "\n\n".join(summary),
        "error": error_message(result, row, lang) if row["status"] in ("failed", "cancelled") else "",
        "spec_json": json.dumps(folder.read_spec(), indent=2, ensure_ascii=False),
        "log_tail": folder.log_tail(40),
        "outputs": outputs_markdown((result or {}).get("outputs"), lang),
        "downloads": [str(p) for p in files if p.stat().st_size <= MAX_DOWNLOAD_BYTES][:50],
        "tensorboard": str(folder.tensorboard_dir) if folder.has_tensorboard() else None,  # offered as a zip
        "artifacts": [(folder.relative_name(p), p.stat().st_size) for p in files],
    }


def metric_records(run_id: str) -> pd.DataFrame:
    return pd.DataFrame(RunFolder(run_id).read_metrics())


def curve_names(frames: dict[str, pd.DataFrame]) -> list[str]:
    """Numeric columns of the runs' metrics records, other than the x axes (step, time)."""
    names = []
    for frame in frames.values():
        for column in frame.columns:
            numeric = pd.api.types.is_numeric_dtype(frame[column])
            if numeric and column not in ("step", "time", "epoch") and column not in names:
                names.append(column)
    return names


def compare_frame(run_ids: list[str], lang: str, viewer: access.Viewer | None = None) -> pd.DataFrame:
    """One column per run, one row per figure (the union over runs; blank where a run lacks one).
    Runs as columns keep many figures readable side by side. Runs the viewer may not see are left out."""
    columns, rows = {}, {"kind": {}, "status": {}}
    for run_id in run_ids:
        row = store.get_run(run_id)
        if row is None or not access.can_see(row, viewer):
            continue
        label = run_label(row)
        columns[label] = run_id
        rows["kind"][label] = kind_text(row["kind"], lang)
        rows["status"][label] = status_text(row["status"], lang)
        result = RunFolder(run_id).read_result()
        for name, value in {**(row.get("metrics") or {}), **(result.get("metrics") or {})}.items():
            rows.setdefault(name, {})[label] = format_number(value)
    first = t("runs.col.figure", lang)
    records = [[t(f"runs.col.{name}", lang) if name in ("kind", "status") else figure_name(name, lang),
                *[values.get(label, "") for label in columns]] for name, values in rows.items()]
    return pd.DataFrame(records if columns else [], columns=[first, *columns], dtype=object)
