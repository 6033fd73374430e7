"""Plotly figures for the Scaling-laws tab, built by pure functions from points and fits.

Every figure has large fonts (readable when projected), log axes where the law is a power law,
and texts looked up by key (lab.present.i18n.t) so they follow the chosen language.

    loss_vs_n(points, fit)       loss against N, one colour per token budget, fitted curves
    loss_vs_d(points, fit)       the same against D
    isoflop(points, fit)         loss against N at fixed compute, with each curve's minimum
    frontier(fit, boot)          N_opt(C) and D_opt(C) with bootstrap bands and published fits
    residuals(points, fit)       log-loss residuals of the Chinchilla fit
    kaplan(points, kaplan_fits)  Kaplan's single-variable laws beside the published exponents
    prediction(points, fit, boot, n, d, measured)   predict-then-verify for one (N, D)
"""
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lab.present.i18n import t
from lab.scaling import allocation, references
from lab.scaling.bootstrap import predict_interval

FONT = 18
TITLE_FONT = 24
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
REFERENCE_DASH = {"chinchilla": "dash", "epoch_replication": "dot", "kaplan": "dashdot"}


def _style(fig: go.Figure, title: str, height: int = 560) -> go.Figure:
    fig.update_layout(title={"text": title, "font": {"size": TITLE_FONT}}, font={"size": FONT}, height=height,
                      template="plotly_white", margin={"l": 80, "r": 30, "t": 80, "b": 70},
                      legend={"font": {"size": FONT - 2}})
    return fig


def _span(values, pad: float = 1.3, count: int = 120) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return np.geomspace(values.min() / pad, values.max() * pad, count)


def _groups(values, most: int = 7) -> list[tuple[float, np.ndarray]]:
    """(representative value, mask) per group: each distinct value, or log-spaced bins if there are many."""
    values = np.asarray(values, dtype=float)
    distinct = np.unique(values)
    if distinct.size <= most:
        return [(v, values == v) for v in distinct]
    edges = np.geomspace(values.min(), values.max() * (1 + 1e-9), most + 1)
    out = []
    for low, high in zip(edges[:-1], edges[1:]):
        mask = (values >= low) & (values < high)
        if mask.any():
            out.append((float(np.exp(np.log(values[mask]).mean())), mask))
    return out


def _number(value: float) -> str:
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _loss_vs(points, fit, variable: str, other: str, lang: str) -> go.Figure:
    fig = go.Figure()
    span = _span(points[variable])
    for i, (level, mask) in enumerate(_groups(points[other])):
        color = PALETTE[i % len(PALETTE)]
        name = f"{other} ≈ {_number(level)}"
        chosen = points[mask]
        fig.add_trace(go.Scatter(x=chosen[variable], y=chosen["loss"], mode="markers", name=name, legendgroup=name,
                                 marker={"size": 11, "color": color}, text=chosen["label"]))
        if fit is not None:
            curve = fit.predict(span, level) if variable == "N" else fit.predict(level, span)
            fig.add_trace(go.Scatter(x=span, y=curve, mode="lines", line={"color": color, "width": 2.5},
                                     legendgroup=name, showlegend=False, hoverinfo="skip"))
    fig.update_xaxes(type="log", title=t(f"scaling.axis.{variable}", lang))
    fig.update_yaxes(type="log", title=t("scaling.axis.loss", lang))
    return _style(fig, t(f"scaling.plot.loss_vs_{variable.lower()}", lang))


def loss_vs_n(points, fit=None, lang: str = "en") -> go.Figure:
    return _loss_vs(points, fit, "N", "D", lang)


def loss_vs_d(points, fit=None, lang: str = "en") -> go.Figure:
    return _loss_vs(points, fit, "D", "N", lang)


def isoflop(points, fit, lang: str = "en", budgets=None) -> go.Figure:
    """Loss against N along fixed budgets C (D = C/6N); a diamond marks each curve's minimum N_opt(C)."""
    p = fit.params
    compute = points["C"].to_numpy()
    budgets = np.geomspace(compute.min(), compute.max(), 5) if budgets is None else np.asarray(budgets, float)
    span = _span(points["N"], pad=3.0, count=200)
    fig = go.Figure()
    log_budgets = np.log(budgets)
    nearest = np.abs(np.log(compute)[:, None] - log_budgets[None]).argmin(axis=1)
    half_step = np.diff(log_budgets).min() / 2 if len(budgets) > 1 else np.inf
    for i, budget in enumerate(budgets):
        color = PALETTE[i % len(PALETTE)]
        name = f"C = {budget:.2g} FLOP"
        fig.add_trace(go.Scatter(x=span, y=allocation.isoflop_loss(p, span, budget), mode="lines", name=name,
                                 legendgroup=name, line={"color": color, "width": 2.5}))
        n_opt, _ = allocation.optimal_allocation(p, budget)
        fig.add_trace(go.Scatter(x=[n_opt], y=[allocation.optimal_loss(p, budget)], mode="markers", legendgroup=name,
                                 showlegend=False, marker={"symbol": "diamond", "size": 16, "color": color,
                                                           "line": {"color": "black", "width": 1.5}},
                                 hovertemplate=f"N_opt = {_number(float(n_opt))}<extra></extra>"))
        near = (nearest == i) & (np.abs(np.log(compute) - log_budgets[i]) <= half_step)
        if near.any():
            chosen = points[near]
            fig.add_trace(go.Scatter(x=chosen["N"], y=chosen["loss"], mode="markers", legendgroup=name,
                                     showlegend=False, marker={"size": 10, "color": color, "opacity": 0.7},
                                     text=chosen["label"]))
    fig.update_xaxes(type="log", title=t("scaling.axis.N", lang))
    fig.update_yaxes(type="log", title=t("scaling.axis.loss", lang))
    return _style(fig, t("scaling.plot.isoflop", lang))


def frontier(fit, boot=None, lang: str = "en", compute=None, show_references: bool = True) -> go.Figure:
    """N_opt(C) and D_opt(C) side by side, with the bootstrap's 95 % band and the published fits."""
    compute = np.geomspace(1e10, 1e24, 120) if compute is None else np.asarray(compute, float)
    fig = make_subplots(rows=1, cols=2, subplot_titles=(t("scaling.axis.n_opt", lang), t("scaling.axis.d_opt", lang)))
    n_opt, d_opt = allocation.optimal_allocation(fit.params, compute)
    if boot is not None and boot.samples > 1:
        grid_n, grid_d = allocation.optimal_allocation({k: v[:, None] for k, v in boot.params.items()}, compute[None])
        for col, values in ((1, grid_n), (2, grid_d)):
            low, high = np.nanpercentile(values, [2.5, 97.5], axis=0)
            fig.add_trace(go.Scatter(x=np.concatenate([compute, compute[::-1]]), y=np.concatenate([high, low[::-1]]),
                                     fill="toself", fillcolor="rgba(31,119,180,0.2)", line={"width": 0},
                                     name=t("scaling.legend.band", lang), legendgroup="band", showlegend=col == 1,
                                     hoverinfo="skip"), row=1, col=col)
    for col, values in ((1, n_opt), (2, d_opt)):
        fig.add_trace(go.Scatter(x=compute, y=values, mode="lines", line={"color": PALETTE[0], "width": 3},
                                 name=t("scaling.legend.your_fit", lang), legendgroup="fit", showlegend=col == 1),
                      row=1, col=col)
    if show_references:
        for key, params in references.CHINCHILLA_FITS.items():
            ref_n, ref_d = allocation.optimal_allocation(params, compute)
            for col, values in ((1, ref_n), (2, ref_d)):
                fig.add_trace(go.Scatter(x=compute, y=values, mode="lines", name=t(f"scaling.reference.{key}", lang),
                                         legendgroup=key, showlegend=col == 1,
                                         line={"color": "gray", "dash": REFERENCE_DASH[key], "width": 2}), row=1, col=col)
        # Kaplan et al.: N_opt = 1.3e9 · C_PF-day^0.73 (their eq. 6.1); D follows from C = 6ND
        kaplan_n = 1.3e9 * (compute / references.PF_DAY) ** references.KAPLAN_N_OPT_EXPONENT
        for col, values in ((1, kaplan_n), (2, compute / (6 * kaplan_n))):
            fig.add_trace(go.Scatter(x=compute, y=values, mode="lines", name=t("scaling.reference.kaplan", lang),
                                     legendgroup="kaplan", showlegend=col == 1,
                                     line={"color": "darkgray", "dash": REFERENCE_DASH["kaplan"], "width": 2}),
                          row=1, col=col)
    fig.update_xaxes(type="log", title=t("scaling.axis.C", lang), dtick=2, tickangle=0, exponentformat="power")
    fig.update_yaxes(type="log", exponentformat="SI")
    fig.update_annotations(font_size=FONT)
    _style(fig, t("scaling.plot.frontier", lang), height=820)
    # legend and the note on units below the panels: the tab's column is narrow
    fig.update_layout(legend={"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top", "font": {"size": FONT - 4}},
                      margin={"b": 290})
    fig.add_annotation(text=t("scaling.plot.reference_note", lang), xref="paper", yref="paper", x=0, y=-0.4,
                       yanchor="top", showarrow=False, align="left", font={"size": FONT - 5})
    return fig


def residuals(points, fit, lang: str = "en") -> go.Figure:
    """log L̂ − log L (≈ relative error) against N, one colour per token budget."""
    fig = go.Figure()
    residual = np.log(fit.predict(points["N"], points["D"])) - np.log(points["loss"].to_numpy())
    for i, (level, mask) in enumerate(_groups(points["D"])):
        chosen = points[mask]
        fig.add_trace(go.Scatter(x=chosen["N"], y=100 * residual[mask], mode="markers", name=f"D ≈ {_number(level)}",
                                 marker={"size": 11, "color": PALETTE[i % len(PALETTE)]}, text=chosen["label"]))
    fig.add_hline(y=0, line={"color": "black", "width": 1})
    fig.update_xaxes(type="log", title=t("scaling.axis.N", lang))
    fig.update_yaxes(title=t("scaling.axis.residual", lang))
    return _style(fig, t("scaling.plot.residuals", lang))


def kaplan(frontiers: dict, fits: dict, lang: str = "en", show_references: bool = True) -> go.Figure:
    """One panel per variable (N, D, C): the points Kaplan's law describes, the fitted power law, and
    Kaplan et al.'s published law (other data, other units)."""
    names = [v for v in ("N", "D", "C") if v in fits]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[t(f"scaling.axis.{v}", lang) for v in names])
    for col, variable in enumerate(names, start=1):
        chosen, fit = frontiers[variable], fits[variable]
        span = _span(chosen[variable])
        fig.add_trace(go.Scatter(x=chosen[variable], y=chosen["loss"], mode="markers", marker={"size": 11, "color": PALETTE[0]},
                                 name=t("scaling.legend.points", lang), legendgroup="points", showlegend=col == 1,
                                 text=chosen["label"]), row=1, col=col)
        label = f"α = {fit.params['alpha']:.3f}"
        fig.add_trace(go.Scatter(x=span, y=fit.predict(span), mode="lines", line={"color": PALETTE[1], "width": 2.5},
                                 name=label, showlegend=True), row=1, col=col)
        if show_references:
            ref = references.KAPLAN[variable]
            fig.add_trace(go.Scatter(x=span, y=(ref["X_c"] / span) ** ref["alpha"], mode="lines",
                                     line={"color": "gray", "dash": "dash", "width": 2},
                                     name=f"{t('scaling.reference.kaplan', lang)}: α = {ref['alpha']}",
                                     showlegend=True), row=1, col=col)
        fig.update_xaxes(type="log", row=1, col=col)
        fig.update_yaxes(type="log", row=1, col=col)
    fig.update_yaxes(title=t("scaling.axis.loss", lang), row=1, col=1)
    fig.update_annotations(font_size=FONT)
    return _style(fig, t("scaling.plot.kaplan", lang), height=560)


def prediction(points, fit, boot, n_params: float, tokens: float, measured: float | None = None,
               lang: str = "en") -> go.Figure:
    """Loss against D at the chosen N: the fitted curve with its bootstrap band, the prediction with
    its interval, and, once trained, the measured loss."""
    span = _span(np.append(points["D"].to_numpy(), tokens), pad=2.0)
    fig = go.Figure()
    if boot is not None and boot.samples > 1:
        low, high = predict_interval(boot, n_params, span)
        fig.add_trace(go.Scatter(x=np.concatenate([span, span[::-1]]), y=np.concatenate([high, low[::-1]]),
                                 fill="toself", fillcolor="rgba(31,119,180,0.2)", line={"width": 0},
                                 name=t("scaling.legend.band", lang), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=span, y=fit.predict(n_params, span), mode="lines", line={"color": PALETTE[0], "width": 3},
                             name=f"{t('scaling.legend.your_fit', lang)}, N = {_number(n_params)}"))
    near = np.abs(np.log(points["N"].to_numpy()) - np.log(n_params)) < 0.15
    if near.any():
        fig.add_trace(go.Scatter(x=points["D"][near], y=points["loss"][near], mode="markers", marker={"size": 10, "color": "gray"},
                                 name=t("scaling.legend.points_near", lang), text=points["label"][near]))
    predicted = float(fit.predict(n_params, tokens))
    error = None
    if boot is not None and boot.samples > 1:
        low, high = predict_interval(boot, n_params, tokens)
        error = {"type": "data", "symmetric": False, "array": [float(high) - predicted],
                 "arrayminus": [predicted - float(low)], "thickness": 2.5, "width": 10}
    fig.add_trace(go.Scatter(x=[tokens], y=[predicted], mode="markers", error_y=error, name=t("scaling.legend.predicted", lang),
                             marker={"size": 16, "symbol": "diamond", "color": PALETTE[1]}))
    if measured is not None:
        fig.add_trace(go.Scatter(x=[tokens], y=[measured], mode="markers", name=t("scaling.legend.measured", lang),
                                 marker={"size": 20, "symbol": "star", "color": PALETTE[2], "line": {"color": "black", "width": 1}}))
    fig.update_xaxes(type="log", title=t("scaling.axis.D", lang))
    fig.update_yaxes(type="log", title=t("scaling.axis.loss", lang))
    return _style(fig, t("scaling.plot.prediction", lang))
