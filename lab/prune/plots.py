"""The pruning figures that are not a sparsity sweep: pure functions from data frames to plotly figures.

    owl_layers(layers, target, lang)      bars: the sparsity OWL chose per decoder layer (target dashed),
                                          line on a second axis: the layer's outlier ratio D_l (%)
    recovery_bars(stages, lang)           perplexity dense → pruned → recovered, one bar each
"""
import pandas as pd

from lab.present.i18n import t
from lab.present.plots import COLORS, empty_figure, layout


def owl_layers(layers: pd.DataFrame, target: float, lang: str):
    """`layers`: columns layer, sparsity (0..1), outlier_ratio_pct (lab/prune/owl.plan_rows)."""
    if layers is None or layers.empty:
        return empty_figure(lang)
    import plotly.graph_objects as go

    x = [int(v) for v in layers["layer"]]
    figure = go.Figure()
    figure.add_trace(go.Bar(x=x, y=[100 * float(v) for v in layers["sparsity"]], name=t("prune.plot.layer_sparsity", lang),
                            marker={"color": COLORS[0]}))
    figure.add_trace(go.Scatter(x=x, y=[float(v) for v in layers["outlier_ratio_pct"]], name=t("prune.plot.outlier_ratio", lang),
                                mode="lines+markers", yaxis="y2", line={"width": 3, "color": COLORS[1]}))
    figure.add_hline(y=100 * target, line={"dash": "dash", "color": "#555"},
                     annotation_text=t("prune.plot.target", lang, target=f"{100 * target:g}"))
    figure = layout(figure, t("prune.plot.owl_title", lang, target=f"{100 * target:g}"), t("prune.plot.layer", lang),
                    t("prune.plot.sparsity_pct", lang))
    figure.update_layout(yaxis2={"title": t("prune.plot.outlier_ratio", lang), "overlaying": "y", "side": "right",
                                 "rangemode": "tozero", "showgrid": False},
                         legend={"orientation": "h", "y": -0.2}, bargap=0.25)
    figure.update_xaxes(tickmode="linear", dtick=1)
    return figure


def recovery_bars(stages: pd.DataFrame, lang: str):
    """`stages`: columns stage (dense, pruned, recovered), ppl; stages without a figure are left out."""
    if stages is None or stages.empty:
        return empty_figure(lang)
    import plotly.graph_objects as go

    shown = stages.dropna(subset=["ppl"])
    if shown.empty:
        return empty_figure(lang)
    figure = go.Figure(go.Bar(x=[t(f"prune.stage.{s}", lang) for s in shown["stage"]], y=list(shown["ppl"]),
                              marker={"color": [COLORS[i] for i in (2, 1, 0)][:len(shown)]},
                              text=[f"{v:.2f}" for v in shown["ppl"]], textposition="outside"))
    return layout(figure, t("prune.plot.recovery_title", lang), "", t("prune.plot.continuation_ppl", lang))
