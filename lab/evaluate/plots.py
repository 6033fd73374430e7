"""The Evaluate tab's figures, pure functions of data frames: win-rate heatmap, ratings with intervals,
answer length vs win rate. Titles and axes are looked up by key in the chosen language."""
import pandas as pd

from lab.present.i18n import t
from lab.present.plots import COLORS, FONT_SIZE, empty_figure, layout

EMPTY = "evaluate.plot.empty"


def winrate_heatmap(frame: pd.DataFrame, lang: str):
    """frame: rows and columns are contestants' labels, cells the row's win rate against the column."""
    import plotly.graph_objects as go

    if frame is None or frame.empty or frame.notna().sum().sum() == 0:
        return empty_figure(lang, EMPTY)
    values = frame.to_numpy(dtype=float)
    text = [["" if pd.isna(v) else f"{v:.2f}" for v in row] for row in values]
    figure = go.Figure(go.Heatmap(z=values, x=list(frame.columns), y=list(frame.index), zmin=0, zmax=1,
                                  colorscale="RdBu", text=text, texttemplate="%{text}",
                                  textfont={"size": FONT_SIZE + 2}, colorbar={"title": t("evaluate.plot.win_rate", lang)},
                                  hovertemplate="%{y} vs %{x}: %{z:.2f}<extra></extra>"))
    layout(figure, t("evaluate.plot.heatmap_title", lang), t("evaluate.plot.opponent", lang), t("evaluate.plot.contestant", lang))
    figure.update_layout(hovermode="closest", yaxis={"autorange": "reversed", "automargin": True},
                         height=max(380, 160 + 70 * len(frame)))
    return figure


def ratings_figure(frame: pd.DataFrame, lang: str, title_key: str = "evaluate.plot.ratings_title"):
    """frame: columns label, rating, low, high (best first): dots with their 95% bootstrap intervals."""
    import plotly.graph_objects as go

    if frame is None or frame.empty:
        return empty_figure(lang, EMPTY)
    data = frame.iloc[::-1]  # best on top
    has_interval = data["low"].notna().all() and data["high"].notna().all()
    error = {"type": "data", "symmetric": False, "array": list(data["high"] - data["rating"]),
             "arrayminus": list(data["rating"] - data["low"]), "thickness": 3, "width": 8} if has_interval else None
    figure = go.Figure(go.Scatter(x=list(data["rating"]), y=list(data["label"]), mode="markers",
                                  marker={"size": 16, "color": COLORS[0]}, error_x=error,
                                  hovertemplate="%{y}: %{x:.0f}<extra></extra>"))
    figure.add_vline(x=1000, line={"color": "#9ca3af", "dash": "dot"})
    layout(figure, t(title_key, lang), t("evaluate.plot.rating", lang), "")
    figure.update_layout(hovermode="closest", height=max(300, 110 + 60 * len(data)))
    return figure


def length_figure(points: pd.DataFrame, lang: str, bins: int = 5):
    """points: length_difference, score (one row per game and side): mean score per length-difference bin."""
    import plotly.graph_objects as go

    if points is None or points.empty or points["length_difference"].nunique() < 2:
        return empty_figure(lang, EMPTY)
    groups = pd.qcut(points["length_difference"], q=min(bins, points["length_difference"].nunique()), duplicates="drop")
    summary = points.groupby(groups, observed=True).agg(x=("length_difference", "mean"), y=("score", "mean"),
                                                        n=("score", "size")).reset_index(drop=True)
    figure = go.Figure(go.Scatter(x=list(summary["x"]), y=list(summary["y"]), mode="lines+markers",
                                  marker={"size": 14, "color": COLORS[1]}, line={"width": 3, "color": COLORS[1]},
                                  customdata=list(summary["n"]),
                                  hovertemplate="%{x:.0f}: %{y:.2f} (n=%{customdata})<extra></extra>"))
    figure.add_hline(y=0.5, line={"color": "#9ca3af", "dash": "dot"})
    layout(figure, t("evaluate.plot.length_title", lang), t("evaluate.plot.length_difference", lang),
           t("evaluate.plot.win_rate", lang))
    figure.update_yaxes(range=[-0.05, 1.05])
    figure.update_layout(hovermode="closest")
    return figure
