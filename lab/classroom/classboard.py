"""The class board: every run of one preset — run here, replayed from the cache, or handed in as a
bundle — in one comparison table and one plot, and the measured answer to the preset's
"Predict, then run" question. Pure functions of the job table and the run folders.
"""
import pandas as pd
from lab.runs import store
from lab.runs.folder import RunFolder
from lab.classroom.access import Viewer, owns
from lab.present.i18n import t
from lab.present.plots import COLORS, axis_title, empty_figure, layout
from lab.classroom.presets import Preset
from lab.present.formatting import format_number
from lab.runs.runs_view import status_text

BOARD_COLUMNS = ("who", "variant", "status", "source", "run")


def figures_of(row: dict) -> dict:
    result = RunFolder(row["id"]).read_result()
    return {**(row.get("metrics") or {}), **(result.get("metrics") or {})}


def variant_of(row: dict) -> str:
    return row.get("name") or row["kind"]


def board_rows(preset: Preset, viewer: Viewer | None) -> list[dict]:
    """The preset's runs this viewer may see, oldest first, each with its figures."""
    rows = store.list_runs(limit=5000, preset=preset.id, viewer=viewer)
    rows.reverse()
    for row in rows:
        row["figures"] = figures_of(row) if row["status"] == "succeeded" else {}
    return rows


def _who(row: dict, viewer: Viewer | None, numbers: dict, lang: str) -> str:
    if viewer is not None and row["owner"] not in ("cli", "demo", "") and owns(row, viewer):
        return t("runs.owner_you", lang)
    if row["owner"] in ("cli", "demo", ""):
        return t("board.teacher", lang)
    numbers.setdefault(row["owner"], len(numbers) + 1)  # students are numbered, never named by their key
    return t("board.student", lang, number=numbers[row["owner"]])


def _source(row: dict, lang: str) -> str:
    if row.get("imported_from"):
        return t("board.source.imported", lang)
    if row.get("cached_from"):
        return t("board.source.replayed", lang)
    return t("board.source.ran", lang)


def board_frame(preset: Preset, viewer: Viewer | None, lang: str, rows: list[dict] | None = None) -> pd.DataFrame:
    rows = board_rows(preset, viewer) if rows is None else rows
    metrics = preset.board or sorted({k for r in rows for k, v in r["figures"].items() if isinstance(v, (int, float))})[:4]
    numbers, records = {}, []
    for row in rows:
        figures = row["figures"]
        records.append([_who(row, viewer, numbers, lang), variant_of(row), status_text(row["status"], lang),
                        _source(row, lang), row["id"],
                        *[format_number(figures[m]) if m in figures else "" for m in metrics]])
    columns = [t(f"board.col.{c}", lang) for c in BOARD_COLUMNS] + [axis_title(m, lang) for m in metrics]
    return pd.DataFrame(records, columns=columns, dtype=object)


def board_figure(preset: Preset, viewer: Viewer | None, lang: str, rows: list[dict] | None = None):
    """One point per finished run of the board's first figure, grouped by variant: the class's spread."""
    import plotly.graph_objects as go

    rows = board_rows(preset, viewer) if rows is None else rows
    metric = (preset.board or [None])[0]
    done = [r for r in rows if metric and isinstance(r["figures"].get(metric), (int, float))]
    if not done:
        return empty_figure(lang, "board.no_runs")
    figure = go.Figure()
    variants = list(dict.fromkeys(variant_of(r) for r in done))
    for index, variant in enumerate(variants):
        values = [r["figures"][metric] for r in done if variant_of(r) == variant]
        figure.add_trace(go.Box(y=values, name=variant, boxpoints="all", jitter=0.4, pointpos=0,
                                marker={"size": 11, "color": COLORS[index % len(COLORS)]},
                                line={"color": COLORS[index % len(COLORS)]}, showlegend=False))
    title = t("board.plot_title", lang, metric=axis_title(metric, lang), count=len(done))
    figure = layout(figure, title, t("board.col.variant", lang), axis_title(metric, lang))
    figure.update_layout(hovermode="closest")
    return figure


def reveal(preset: Preset, viewer: Viewer | None, lang: str, rows: list[dict] | None = None) -> str:
    """The preset's question, and — once this viewer has finished runs of it — the measured answer."""
    if not preset.predict:
        return ""
    question = t("board.predict", lang, question=preset.predict["question"].get(lang, ""))
    rows = board_rows(preset, viewer) if rows is None else rows
    metric = preset.predict["metric"]
    mine = [r for r in rows if owns(r, viewer)
            and isinstance(r["figures"].get(metric), (int, float))]
    if not mine:
        return question + "\n\n" + t("board.answer_after", lang)
    latest = mine[-1].get("group_id")
    group = [r for r in mine if r.get("group_id") == latest] or mine
    best = (min if preset.predict["pick"] == "min" else max)(group, key=lambda r: r["figures"][metric])
    values = " · ".join(f"{variant_of(r)} {format_number(r['figures'][metric])}" for r in group)
    answer = t("board.answer", lang, variant=variant_of(best), metric=axis_title(metric, lang),
               value=format_number(best["figures"][metric]), values=values)
    return question + "\n\n" + answer
