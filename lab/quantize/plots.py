"""The Quantize tab's figures: pure functions from data frames to plotly figures (lab/present/plots.py styling).

    memory_vs_quality(table, lang)      speed_vs_quality(table, lang)      rtn_curve(table, lang)
    error_heatmap(errors, lang, metric) weight_histogram(hist, points, layer, lang)
    outlier_heatmap(outliers, threshold, lang)                             prune_curve(sweep, lang)
    bits_by_method(table, lang)         smoothing_view(outliers, lang)

`table` has one row per variant (lab/quantize/compare.py), `sweep` one per pruning point.
"""
import math

import pandas as pd

from lab.present.i18n import t
from lab.present.plots import COLORS, empty_figure, layout, metric_axis, noise_note

SCHEME_COLORS = {"fp32": COLORS[0], "bf16": COLORS[2], "fp16": COLORS[7], "int8": COLORS[3], "nf4": COLORS[1],
                 "fp4": COLORS[4], "rtn": COLORS[5], "gptq": COLORS[1], "smoothquant": COLORS[2], "qat": COLORS[3]}
BITS_SCHEMES = ("rtn", "gptq", "qat")  # the methods of the bits × method chart
ERROR_METRICS = ("rel_error", "output_error")


def _go():
    import plotly.graph_objects as go  # imported where first used: the app starts without it

    return go


def memory_x(row) -> float:
    """Linear-layer memory of a row: what bitsandbytes stores, or what a packed RTN format would take."""
    packed = row.get("packed_linear_mb")
    return packed if packed is not None and not (isinstance(packed, float) and math.isnan(packed)) else row["linear_mb"]


def memory_vs_quality(table: pd.DataFrame, lang: str):
    if table is None or table.empty:
        return empty_figure(lang)
    go = _go()
    figure = go.Figure()
    for scheme, rows in table.groupby("scheme", sort=False):
        figure.add_trace(go.Scatter(x=[memory_x(r) for _, r in rows.iterrows()], y=list(rows["ppl"]),
                                    text=list(rows["variant"]),  # above, below, above...: int8 rows overlap
                                    textposition=[("top center", "bottom center")[i % 2] for i in range(len(rows))],
                                    mode="markers" if scheme == "rtn" else "markers+text",  # many RTN points: hover
                                    name=scheme, marker={"size": 14, "color": SCHEME_COLORS.get(scheme, COLORS[6]),
                                                         "symbol": "diamond" if scheme == "rtn" else "circle"}))
    figure = layout(figure, t("quantize.plot.memory_title", lang), t("quantize.plot.linear_mb", lang),
                    t("quantize.plot.ppl", lang))
    figure.update_layout(hovermode="closest")
    return _perplexity_axis(figure, table, lang, x_values=[memory_x(r) for _, r in table.iterrows()])


def ppl_noise(table: pd.DataFrame) -> float:
    """The largest standard error of the rows' perplexities (0 for runs from before it was measured)."""
    if "ppl_se" not in table:
        return 0.0
    values = pd.to_numeric(table["ppl_se"], errors="coerce").dropna()
    return float(values.max()) if not values.empty else 0.0


def _perplexity_axis(figure, table: pd.DataFrame, lang: str, x_values=None):
    """Perplexity from a meaningful baseline (lab/present/plots.metric_axis: never below 1, never a
    0.0002-wide axis), the x axis from 0, and a note when the variants are within noise of each other."""
    metric_axis(figure, table["ppl"], floor=1.0)
    if x_values is not None:
        metric_axis(figure, x_values, axis="x")
    noise_note(figure, table["ppl"], lang, noise=ppl_noise(table))
    return figure


def speed_vs_quality(table: pd.DataFrame, lang: str):
    if table is None or table.empty or "tokens_per_second_batched" not in table:
        return empty_figure(lang)
    timed = table.dropna(subset=["tokens_per_second_batched"])
    if timed.empty:
        return empty_figure(lang)
    go = _go()
    figure = go.Figure()
    for scheme, rows in timed.groupby("scheme", sort=False):
        figure.add_trace(go.Scatter(x=list(rows["tokens_per_second_batched"]), y=list(rows["ppl"]),
                                    text=list(rows["variant"]), mode="markers+text", textposition="top center",
                                    name=scheme, marker={"size": 14, "color": SCHEME_COLORS.get(scheme, COLORS[6])}))
    figure = layout(figure, t("quantize.plot.speed_title", lang), t("quantize.plot.tokens_per_second", lang),
                    t("quantize.plot.ppl", lang))
    figure.update_layout(hovermode="closest")
    return _perplexity_axis(figure, timed, lang, x_values=timed["tokens_per_second_batched"])


def rtn_frame(table: pd.DataFrame) -> pd.DataFrame:
    """bits, grouping (t / ch / g32 ...), ppl of the RTN rows."""
    rows = table[table["scheme"] == "rtn"] if table is not None and not table.empty else pd.DataFrame()
    out = []
    for _, row in rows.iterrows():
        head, _, tag = row["variant"].partition(" ")
        out.append({"bits": int(head.removeprefix("rtn")), "grouping": tag, "ppl": row["ppl"]})
    return pd.DataFrame(out, columns=["bits", "grouping", "ppl"])


def rtn_curve(table: pd.DataFrame, lang: str):
    frame = rtn_frame(table)
    if frame.empty:
        return empty_figure(lang)
    go = _go()
    figure = go.Figure()
    for index, (grouping, rows) in enumerate(frame.groupby("grouping", sort=False)):
        rows = rows.sort_values("bits")
        figure.add_trace(go.Scatter(x=list(rows["bits"]), y=list(rows["ppl"]), name=grouping, mode="lines+markers",
                                    line={"width": 3, "color": COLORS[index % len(COLORS)]}))
    base = table[table["scheme"] == "fp32"]
    values = list(frame["ppl"])
    if not base.empty:
        fp32 = float(base["ppl"].iloc[0])
        values.append(fp32)
        figure.add_trace(go.Scatter(x=[min(frame["bits"]), max(frame["bits"])], y=[fp32, fp32], name="fp32", mode="lines",
                                    line={"width": 2, "dash": "dash", "color": "#6b7280"}))
    figure = layout(figure, t("quantize.plot.rtn_title", lang), t("quantize.plot.bits", lang), t("quantize.plot.ppl", lang))
    metric_axis(figure, values, floor=1.0, log=True)  # log axis: 2-bit perplexity can be 100x the rest
    figure.update_xaxes(dtick=1)
    return figure


def error_heatmap(errors: pd.DataFrame, lang: str, metric: str = "rel_error"):
    """Per layer × variant: the weight error of every scheme (rel_error), or the output error on the
    calibration inputs (output_error: GPTQ and RTN at the same bits and group, where GPTQ ran)."""
    metric = metric if metric in ERROR_METRICS else "rel_error"
    if errors is None or errors.empty or metric not in errors:
        return empty_figure(lang)
    errors = errors.dropna(subset=[metric])
    if errors.empty:
        return empty_figure(lang)
    go = _go()
    grid = errors.pivot(index="layer", columns="variant", values=metric)
    grid = grid.reindex(index=list(dict.fromkeys(errors["layer"])), columns=list(dict.fromkeys(errors["variant"])))
    figure = go.Figure(go.Heatmap(z=grid.values.tolist(), x=list(grid.columns), y=list(grid.index), colorscale="Viridis",
                                  colorbar={"title": t(f"quantize.plot.{metric}", lang)},
                                  hovertemplate="%{y}<br>%{x}: %{z:.4f}<extra></extra>"))
    figure = layout(figure, t(f"quantize.plot.error_title_{metric}", lang), t("quantize.plot.variant", lang),
                    t("quantize.plot.layer", lang))
    figure.update_layout(height=max(400, 22 * len(grid.index) + 160), hovermode="closest")
    figure.update_yaxes(autorange="reversed")
    return figure


def weight_histogram(hist: pd.DataFrame, points: pd.DataFrame, layer: str, lang: str, normalization: str = "absmax64"):
    if hist is None or hist.empty:
        return empty_figure(lang)
    go = _go()
    figure = go.Figure(go.Bar(x=list(hist["center"]), y=list(hist["count"]), name=t("quantize.plot.weights", lang),
                              marker={"color": COLORS[0]}, opacity=0.75))
    top = float(hist["count"].max()) or 1.0
    styles = {"nf4": (COLORS[1], top * 1.05, "line-ns-open", 18), "fp4": (COLORS[4], top * 1.12, "line-ns-open", 18),
              "int8": (COLORS[3], -top * 0.04, "line-ns-open", 8), "grid4": (COLORS[1], top * 1.05, "line-ns-open", 18)}
    for fmt, rows in (points.groupby("format", sort=False) if points is not None and not points.empty else []):
        color, y, symbol, size = styles.get(fmt, (COLORS[5], top, "line-ns-open", 12))
        name = t("quantize.plot.grid4", lang) if fmt == "grid4" else fmt
        figure.add_trace(go.Scatter(x=list(rows["value"]), y=[y] * len(rows), mode="markers", name=name,
                                    marker={"symbol": symbol, "size": size, "color": color, "line": {"width": 2, "color": color}}))
    figure = layout(figure, t("quantize.plot.histogram_title", lang, layer=layer),
                    t(f"quantize.plot.normalization.{normalization}", lang), t("quantize.plot.count", lang))
    figure.update_layout(bargap=0, hovermode="closest")
    return figure


def outlier_heatmap(outliers: pd.DataFrame, threshold: float, lang: str):
    if outliers is None or outliers.empty:
        return empty_figure(lang)
    go = _go()
    grid = outliers.pivot(index="layer", columns="dim", values="max_abs")
    grid = grid.reindex(index=list(dict.fromkeys(outliers["layer"])))
    logs = [[math.log10(max(v, 1e-6)) for v in row] for row in grid.values.tolist()]
    over = int((outliers["max_abs"] > threshold).sum())
    dims = outliers.loc[outliers["max_abs"] > threshold, "dim"].nunique()
    figure = go.Figure(go.Heatmap(z=logs, x=list(grid.columns), y=list(grid.index), colorscale="Magma",
                                  customdata=grid.values.tolist(), colorbar={"title": "log10 max|x|"},
                                  hovertemplate="%{y}<br>dim %{x}: %{customdata:.2f}<extra></extra>"))
    figure = layout(figure, t("quantize.plot.outlier_title", lang, threshold=f"{threshold:g}", cells=over, dims=dims),
                    t("quantize.plot.hidden_dim", lang), t("quantize.plot.layer", lang))
    figure.update_layout(height=max(400, 18 * len(grid.index) + 160), hovermode="closest")
    figure.update_yaxes(autorange="reversed")
    return figure


def prune_curve(sweep: pd.DataFrame, lang: str):
    if sweep is None or sweep.empty:
        return empty_figure(lang)
    go = _go()
    figure = go.Figure()
    for index, (method, rows) in enumerate(sweep.groupby("method", sort=False)):
        color = COLORS[index % len(COLORS)]
        flat = rows[rows["pattern"] == "unstructured"].sort_values("sparsity")
        figure.add_trace(go.Scatter(x=list(flat["sparsity"]), y=list(flat["ppl"]), name=method, mode="lines+markers",
                                    line={"width": 3, "color": color}))
        nm = rows[rows["pattern"] == "2:4"]
        if not nm.empty:
            figure.add_trace(go.Scatter(x=list(nm["sparsity"]), y=list(nm["ppl"]), name=f"{method} 2:4", mode="markers",
                                        marker={"size": 16, "symbol": "star", "color": color}))
    figure = layout(figure, t("quantize.plot.prune_title", lang), t("quantize.plot.sparsity", lang),
                    t("quantize.plot.ppl", lang))
    metric_axis(figure, sweep["ppl"], floor=1.0, log=True)
    figure.update_layout(hovermode="closest")
    return figure


def bits_frame(table: pd.DataFrame) -> pd.DataFrame:
    """bits, series (the variant's label without its bit width: "rtn g64", "gptq g64 ao", "qat g64 full"),
    scheme and ppl of the rows of RTN, GPTQ and QAT."""
    if table is None or table.empty or "bits" not in table:
        return pd.DataFrame(columns=["bits", "series", "scheme", "ppl"])
    rows = table[table["scheme"].isin(BITS_SCHEMES)].dropna(subset=["bits"])
    out = [{"bits": int(r["bits"]), "series": f"{r['scheme']} {r['variant'].partition(' ')[2]}".strip(),
            "scheme": r["scheme"], "ppl": r["ppl"]} for _, r in rows.iterrows()]
    return pd.DataFrame(out, columns=["bits", "series", "scheme", "ppl"])


def bits_by_method(table: pd.DataFrame, lang: str):
    """Perplexity by bit width, one line per method and grouping (RTN vs GPTQ vs QAT), fp32 dashed."""
    frame = bits_frame(table)
    if frame.empty:
        return empty_figure(lang)
    go = _go()
    figure = go.Figure()
    dashes = {"rtn": "dot", "gptq": "solid", "qat": "dash"}
    for index, (series, rows) in enumerate(frame.groupby("series", sort=False)):
        rows = rows.sort_values("bits")
        scheme = rows["scheme"].iloc[0]
        figure.add_trace(go.Scatter(x=list(rows["bits"]), y=list(rows["ppl"]), name=series, mode="lines+markers",
                                    line={"width": 3, "color": COLORS[index % len(COLORS)], "dash": dashes[scheme]},
                                    marker={"size": 10}))
    values = list(frame["ppl"])
    base = table[table["scheme"] == "fp32"]
    if not base.empty:
        fp32 = float(base["ppl"].iloc[0])
        values.append(fp32)
        figure.add_trace(go.Scatter(x=[min(frame["bits"]), max(frame["bits"])], y=[fp32, fp32], name="fp32", mode="lines",
                                    line={"width": 2, "dash": "dash", "color": "#6b7280"}))
    figure = layout(figure, t("quantize.plot.bits_title", lang), t("quantize.plot.bits", lang), t("quantize.plot.ppl", lang))
    metric_axis(figure, values, floor=1.0, log=True)
    figure.update_xaxes(dtick=1)
    return figure


def strongest_layer(outliers: pd.DataFrame) -> str:
    """The layer group whose largest input channel stands out most from its median (before smoothing)."""
    grouped = outliers.groupby("layer", sort=False)["before"]
    return str((grouped.max() / grouped.median().clip(lower=1e-12)).idxmax())


def smoothing_view(outliers: pd.DataFrame, lang: str, layer: str = ""):
    """SmoothQuant's outlier view: max |x| per input channel of one norm-fed layer group, before smoothing
    and after it at each α (the layer whose outliers stand out most, unless one is named)."""
    if outliers is None or outliers.empty:
        return empty_figure(lang)
    go = _go()
    layer = layer if layer in set(outliers["layer"]) else strongest_layer(outliers)
    rows = outliers[outliers["layer"] == layer]
    first = rows[rows["alpha"] == rows["alpha"].iloc[0]]
    ratio = lambda values: float(values.max() / max(values.median(), 1e-12))  # noqa: E731
    figure = go.Figure(go.Bar(x=list(first["dim"]), y=list(first["before"]), marker={"color": COLORS[3]},
                              name=t("quantize.plot.before_smoothing", lang, ratio=f"{ratio(first['before']):.1f}")))
    for index, (alpha, part) in enumerate(rows.groupby("alpha", sort=True)):
        figure.add_trace(go.Scatter(x=list(part["dim"]), y=list(part["after"]), mode="lines",
                                    line={"width": 2, "color": COLORS[(index + 1) % len(COLORS)]},
                                    name=t("quantize.plot.after_smoothing", lang, alpha=f"{alpha:g}",
                                           ratio=f"{ratio(part['after']):.1f}")))
    figure = layout(figure, t("quantize.plot.smoothing_title", lang, layer=layer), t("quantize.plot.input_channel", lang),
                    t("quantize.plot.max_abs", lang))
    figure.update_layout(bargap=0, hovermode="x unified")
    return figure
