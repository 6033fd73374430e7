"""What the Prompting tab shows, as data: the strategy table, the figures, the traces and one trace's
detail, the presets and the "predict, then run" reveal. Pure functions of a run's result and folder;
pages/prompting.py only wires them.
"""

import pandas as pd

from lab.runs.folder import RunFolder
from lab.present.i18n import t
from lab.present.plots import COLORS, empty_figure, layout, metric_axis
from lab.modeling.filters import FILTERS
from lab.prompting.strategies import STRATEGIES
from lab.runs.runs_view import finish_text
from lab.tasks import TASKS

TABLE_COLUMNS = ("strategy", "k", "n", "accuracy", "ci", "correct", "tokens", "seconds", "truncated")
TRACE_COLUMNS = ("row", "strategy", "k", "question", "output", "extracted", "gold", "correct")
MAX_TRACE_ROWS = 400


def strategy_label(name: str, lang: str) -> str:
    return t(STRATEGIES.label_key(name), lang)


def strategy_choices(lang: str) -> list[tuple[str, str]]:
    return [(strategy_label(name, lang), name) for name in STRATEGIES.names()]


def task_choices(lang: str) -> list[tuple[str, str]]:
    return [(f"{name} · {t(f'tasks.type.{entry.type}', lang)}", name) for name, entry in TASKS.items()]


def task_description(name: str, lang: str) -> str:
    entry = TASKS.get(name)
    return t(entry.description_key, lang) if entry else t("prompting.uploaded_task", lang, name=name)






def _outputs(result) -> dict:
    return (result or {}).get("outputs") or {}


def strategy_frame(result, lang: str) -> pd.DataFrame:
    """One row per strategy: accuracy with its 95% interval, cost in tokens and seconds, truncations."""
    rows = []
    for row in _outputs(result).get("strategies") or []:
        rows.append([strategy_label(row["strategy"], lang), row["k"], row["n"], f"{row['accuracy'] * 100:.0f}%",
                     f"{row['ci_low'] * 100:.0f}–{row['ci_high'] * 100:.0f}%", f"{row['correct']}/{row['total']}",
                     f"{row['tokens_per_question']:.1f}", f"{row['seconds']:.1f}", row["truncated"]])
    return pd.DataFrame(rows, columns=[t(f"prompting.col.{c}", lang) for c in TABLE_COLUMNS], dtype=object)


def _error_bars(rows):
    return {"type": "data", "symmetric": False, "array": [r["ci_high"] - r["accuracy"] for r in rows],
            "arrayminus": [r["accuracy"] - r["ci_low"] for r in rows], "thickness": 2, "width": 8}


def accuracy_bars(result, lang: str):
    """Accuracy per strategy with its 95% interval as error bars."""
    import plotly.graph_objects as go

    rows = _outputs(result).get("strategies") or []
    if not rows:
        return empty_figure(lang)
    figure = go.Figure(go.Bar(x=[strategy_label(r["strategy"], lang) for r in rows], y=[r["accuracy"] for r in rows],
                              error_y=_error_bars(rows), marker_color=[COLORS[i % len(COLORS)] for i in range(len(rows))],
                              text=[f"{r['accuracy'] * 100:.0f}%" for r in rows], textposition="outside"))
    figure = layout(figure, t("prompting.plot.accuracy", lang), "", t("prompting.axis.accuracy", lang))
    _accuracy_axis(figure, [r["accuracy"] for r in rows])
    return figure


def _lines(groups: dict, x: str, lang: str, title_key: str, x_key: str, empty_key: str):
    import plotly.graph_objects as go

    figure = go.Figure()
    for index, (name, rows) in enumerate(groups.items()):
        rows = sorted(rows, key=lambda r: r[x])
        figure.add_trace(go.Scatter(x=[r[x] for r in rows], y=[r["accuracy"] for r in rows], error_y=_error_bars(rows),
                                    mode="lines+markers", name=strategy_label(name, lang), cliponaxis=False,
                                    line={"width": 3, "color": COLORS[index % len(COLORS)]}, marker={"size": 10}))
    if not figure.data:
        return empty_figure(lang, empty_key)
    figure = layout(figure, t(title_key, lang), t(x_key, lang), t("prompting.axis.accuracy", lang))
    _accuracy_axis(figure, [r["accuracy"] for rows in groups.values() for r in rows])
    figure.update_xaxes(tickmode="array", tickvals=sorted({r[x] for rows in groups.values() for r in rows}))  # whole k, n
    figure.update_layout(hovermode="closest")
    return figure


def _by_strategy(rows) -> dict:
    groups: dict = {}
    for row in rows:
        groups.setdefault(row["strategy"], []).append(row)
    return groups


def k_curve(result, lang: str):
    """Accuracy vs the number of shots k, one line per strategy that shows exemplars."""
    return _lines(_by_strategy(_outputs(result).get("k_curve") or []), "k", lang, "prompting.plot.k_curve",
                  "prompting.axis.k", "prompting.plot.no_k_curve")


def n_curve(result, lang: str):
    """Accuracy of self-consistency's vote over the first n paths."""
    return _lines(_by_strategy(_outputs(result).get("n_curve") or []), "n", lang, "prompting.plot.n_curve",
                  "prompting.axis.n", "prompting.plot.no_n_curve")


def cost_figure(result, lang: str):
    """Accuracy vs tokens generated per question: what each strategy's accuracy costs."""
    import plotly.graph_objects as go

    outputs = _outputs(result)
    points = [dict(r, series="strategies") for r in outputs.get("strategies") or []]
    points += [dict(r, series="k") for r in outputs.get("k_curve") or [] if not r.get("main")]
    points += [dict(r, series="n") for r in outputs.get("n_curve") or []]
    if not points:
        return empty_figure(lang)
    figure = go.Figure()
    for index, (name, rows) in enumerate(_by_strategy(points).items()):
        label = strategy_label(name, lang)
        figure.add_trace(go.Scatter(
            x=[r["tokens_per_question"] for r in rows], y=[r["accuracy"] for r in rows], mode="markers+text",
            name=label, marker={"size": 13, "color": COLORS[index % len(COLORS)]}, cliponaxis=False,
            text=[_point_label(label, r) for r in rows], textposition="top center",
            customdata=[f"k={r['k']} n={r['n']}" for r in rows],
            hovertemplate="%{text} (%{customdata}): %{y:.0%} @ %{x:.1f} tokens<extra></extra>"))
    figure = layout(figure, t("prompting.plot.cost", lang), t("prompting.axis.tokens", lang),
                    t("prompting.axis.accuracy", lang))
    # tokens: a log axis spanning the data, at least a factor 4 wide, with labelled ticks (lab/present/plots.py)
    metric_axis(figure, [p["tokens_per_question"] for p in points], axis="x", log=True, min_span=3.0)
    _accuracy_axis(figure, [p["accuracy"] for p in points])
    figure.update_layout(hovermode="closest")
    return figure


def _point_label(label: str, row: dict) -> str:
    """A cost point's label: the strategy, with k or n where the point is one of a curve's."""
    if row.get("series") == "k":
        return f"{label} k={row['k']}"
    if row.get("series") == "n":
        return f"{label} n={row['n']}"
    return label


def _accuracy_axis(figure, values):
    """Accuracy on its whole scale, 0 to 100 %, whatever the values (lab/present/plots.metric_axis)."""
    metric_axis(figure, [0.0, 1.0, *values], floor=0.0, ceiling=1.0)
    figure.update_yaxes(tickformat=".0%")
    return figure


def read_traces(run_id: str) -> list[dict]:
    if not run_id:
        return []
    return RunFolder(run_id).read_artifact_jsonl("traces.jsonl")


def _short(text, limit: int = 160) -> str:
    text = " ".join(str(text if text is not None else "—").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def traces_frame(traces: list[dict], lang: str, strategy: str = "", only_wrong: bool = False) -> pd.DataFrame:
    """The per-example table: one row per (condition, question); `row` indexes the traces for the detail view."""
    rows = []
    for index, line in enumerate(traces):
        if (strategy and line["strategy"] != strategy) or (only_wrong and line["correct"]):
            continue
        rows.append([index, strategy_label(line["strategy"], lang), line["k"], _short(line["question"], 100),
                     _short(line["output"]), "—" if line["extracted"] is None else line["extracted"], line["gold"],
                     "✓" if line["correct"] else "✗"])
        if len(rows) >= MAX_TRACE_ROWS:
            break
    return pd.DataFrame(rows, columns=[t(f"prompting.trace.{c}", lang) for c in TRACE_COLUMNS], dtype=object)


def trace_detail(traces: list[dict], index, lang: str) -> tuple[str, str, pd.DataFrame]:
    """(markdown summary, the exact prompt, the paths table) of one trace line."""
    columns = [t(f"prompting.path.{c}", lang) for c in ("path", "output", "extracted", "tokens")]
    try:
        line = traces[int(index)]
    except (TypeError, ValueError, IndexError):
        return t("prompting.pick_trace", lang), "", pd.DataFrame([], columns=columns, dtype=object)
    verdict = t("prompting.correct" if line["correct"] else "prompting.wrong", lang)
    summary = t("prompting.detail", lang, strategy=strategy_label(line["strategy"], lang), k=line["k"], n=line["n"],
                question=line["question"], span=line["span"] or "—",
                extracted="—" if line["extracted"] is None else line["extracted"], gold=line["gold"], verdict=verdict,
                tokens=line["prompt_tokens"], finish=finish_text(line["finish_reason"], lang))
    if line.get("truncated"):
        summary += "\n\n" + t("prompting.detail_truncated", lang)
    if line.get("votes") is not None:
        votes = ", ".join(f"{answer}: {count}" for answer, count in line["votes"].items()) or "—"
        summary += "\n\n" + t("prompting.detail_votes", lang, votes=votes)
    paths = line.get("paths") or [{"output": line["output"], "extracted": line["extracted"],
                                    "new_tokens": line["new_tokens"]}]
    frame = pd.DataFrame([[i + 1, p["output"], "—" if p["extracted"] is None else p["extracted"], p["new_tokens"]]
                          for i, p in enumerate(paths)], columns=columns, dtype=object)
    return summary, line["prompt"], frame


def vote_histogram(traces: list[dict], index, lang: str):
    """The votes of one self-consistency question: a bar per answer, the gold answer in green."""
    import plotly.graph_objects as go

    try:
        line = traces[int(index)]
    except (TypeError, ValueError, IndexError):
        return empty_figure(lang, "prompting.plot.no_votes")
    votes = line.get("votes")
    if not votes:
        return empty_figure(lang, "prompting.plot.no_votes")
    answers = list(votes)
    colours = [COLORS[2] if a == line["gold"] else COLORS[0] for a in answers]
    figure = go.Figure(go.Bar(x=[str(a) for a in answers], y=[votes[a] for a in answers], marker_color=colours,
                              text=[votes[a] for a in answers], textposition="outside"))
    figure = layout(figure, t("prompting.plot.votes", lang, gold=line["gold"]), t("prompting.axis.answer", lang),
                    t("prompting.axis.votes", lang))
    figure.update_xaxes(type="category")
    return figure


def normalisation_markdown(result, lang: str) -> str:
    outputs = _outputs(result)
    if not outputs.get("answer_filter"):
        return ""
    name = outputs["answer_filter"]
    description = t(FILTERS.label_key(name), lang)
    normalisation = t(f"prompting.norm.{outputs.get('normaliser', '')}", lang)
    text = t("prompting.normalisation", lang, filter=name,
             description=outputs.get("filter_description", "") if description.startswith("prompting.") else description,
             normalisation=outputs.get("normalisation", "") if normalisation.startswith("prompting.") else normalisation)
    for warning in outputs.get("warnings") or []:
        if warning.startswith("truncated:"):
            _, condition, count = warning.split(":")
            text += "\n\n⚠️ " + t("prompting.warning_truncated", lang, condition=condition, count=count,
                                  context=(result.get("metrics") or {}).get("context_length", "?"))
        elif warning == "no_chat_template":
            text += "\n\n⚠️ " + t("prompting.warning_no_template", lang)
    return text


def reveal_markdown(result, lang: str) -> str:
    """The measured answer to the lesson's "predict, then run" question: best strategy vs zero-shot."""
    rows = _outputs(result).get("strategies") or []
    if not rows:
        return ""
    best = max(rows, key=lambda r: (r["accuracy"], -r["tokens_per_question"]))
    text = t("prompting.reveal_best", lang, strategy=strategy_label(best["strategy"], lang),
             accuracy=f"{best['accuracy'] * 100:.0f}", low=f"{best['ci_low'] * 100:.0f}",
             high=f"{best['ci_high'] * 100:.0f}", tokens=f"{best['tokens_per_question']:.0f}")
    zero = next((r for r in rows if r["strategy"] == "zero_shot"), None)
    if zero is not None and best is not zero:
        overlap = best["ci_low"] <= zero["ci_high"]
        text += " " + t("prompting.reveal_vs_zero" if not overlap else "prompting.reveal_overlap", lang,
                        zero=f"{zero['accuracy'] * 100:.0f}")
    return text
