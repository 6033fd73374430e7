"""Self-contained HTML reports of a run, a comparison or a class board, to hand in or share.

One file: tables as HTML, plotly figures as divs, and plotly.js itself inlined once (about 4.6 MB),
so the report opens offline and fetches nothing. Every text is escaped; titles follow the language.

    python -c "from lab import report; print(report.write_run_report('RUN_ID', 'en'))"
"""
import html
import json
import time

import pandas as pd

from lab import config
from lab.runs import runner
from lab.runs.folder import write_atomic
from lab.present.i18n import t
from lab.present.plots import axis_title, metric_curves
from lab.present.formatting import format_number
from lab.runs.runs_view import (compare_frame, curve_names, kind_text, metric_records, run_label,
                           status_text)

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#111}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #d1d5db;padding:4px 10px;text-align:left}
th{background:#eef2ff}pre{background:#f3f4f6;padding:1em;overflow:auto}.note{color:#555}"""


def html_report(title: str, sections: list[tuple[str, object]], lang: str) -> str:
    """sections: ("heading", text), ("text", text), ("table", DataFrame), ("figure", plotly Figure), ("code", text)."""
    from plotly.offline import get_plotlyjs

    parts = []
    for kind, value in sections:
        if kind == "heading":
            parts.append(f"<h2>{html.escape(str(value))}</h2>")
        elif kind == "text":
            parts.append("".join(f"<p>{html.escape(line)}</p>" for line in str(value).split("\n\n") if line.strip()))
        elif kind == "table":
            parts.append(value.to_html(index=False, escape=True, border=0, na_rep=""))
        elif kind == "figure":
            parts.append(value.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))
        elif kind == "code":
            parts.append(f"<pre>{html.escape(str(value))}</pre>")
    made = t("report.made", lang, when=time.strftime("%Y-%m-%d %H:%M"))
    return (f'<!DOCTYPE html>\n<html lang="{"zh" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
            f"<script>{get_plotlyjs()}</script></head><body><h1>{html.escape(title)}</h1>"
            f'<p class="note">{html.escape(made)}</p>{"".join(parts)}</body></html>')


def _curves(run_ids: list[str], lang: str, limit: int = 4) -> list:
    frames = {run_label(runner.get(r)): metric_records(r) for r in run_ids}
    return [("figure", metric_curves(frames, name, lang)) for name in curve_names(frames)[:limit]]


def run_report(run_id: str, lang: str, viewer=None) -> str:
    row = runner.get(run_id, viewer)
    folder = runner.read(run_id, viewer)
    result = folder.read_result()
    figures = {**(row.get("metrics") or {}), **(result.get("metrics") or {})}
    table = pd.DataFrame([[axis_title(k, lang), format_number(v)] for k, v in figures.items()],
                         columns=[t("runs.col.figure", lang), t("report.value", lang)], dtype=object)
    title = t("report.run_title", lang, run=run_label(row), kind=kind_text(row["kind"], lang))
    sections = [("text", t("runs.detail.summary", lang, id=run_id, kind=kind_text(row["kind"], lang),
                           status=status_text(row["status"], lang)).replace("**", "")),
                ("heading", t("report.figures", lang)), ("table", table), *_curves([run_id], lang),
                ("heading", t("runs.detail.spec", lang)),
                ("code", json.dumps(folder.read_spec(), indent=2, ensure_ascii=False))]
    outputs = result.get("outputs") or {}
    if outputs:
        sections += [("heading", t("report.outputs", lang)),
                     ("code", json.dumps(outputs, indent=1, ensure_ascii=False)[:20000])]
    return html_report(title, sections, lang)


def comparison_report(run_ids: list[str], lang: str, viewer=None, title: str = "", extra: list | None = None) -> str:
    visible = [r for r in run_ids if _visible(r, viewer)]
    sections = [("table", compare_frame(visible, lang, viewer)), *(extra or []), *_curves(visible, lang)]
    return html_report(title or t("report.compare_title", lang, count=len(visible)), sections, lang)


def _visible(run_id: str, viewer) -> bool:
    try:
        runner.get(run_id, viewer)
        return True
    except Exception:  # noqa: BLE001  (unknown or not this viewer's: left out of the report)
        return False


def write(text: str, name: str) -> str:
    folder = config.lab_home() / "exports"
    folder.mkdir(exist_ok=True)
    path = folder / name
    write_atomic(path, text)
    return str(path)


def write_run_report(run_id: str, lang: str, viewer=None) -> str:
    return write(run_report(run_id, lang, viewer), f"report-{run_id}.html")
