"""Plotly figures built by pure functions from pandas data frames, readable when projected in class.

Every builder takes the language and looks up its titles by key, so a language switch redraws the
figure in the other language. Tests check the figures' data without a browser.
"""
import pandas as pd

from lab.present.i18n import t

FONT_SIZE = 16  # large enough for the back row of a classroom
TITLE_SIZE = 22
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def axis_title(name: str, lang: str) -> str:
    """A metric's display name: a translated one where the lab has it (metric.loss), else the name."""
    key = f"metric.{name}"
    text = t(key, lang)
    return name if text == key else text


AXIS = {"gridcolor": "#e5e7eb", "zeroline": False, "linecolor": "#9ca3af", "ticks": "outside", "automargin": True}


def layout(figure, title: str, x_title: str, y_title: str):
    # Styled by hand rather than with the "plotly_white" template: loading a template costs ~0.2 s of
    # start-up, and pages build their empty plots while the app starts.
    figure.update_layout(
        template="none", plot_bgcolor="white", paper_bgcolor="white", colorway=list(COLORS),
        xaxis=AXIS, yaxis=AXIS, title={"text": title, "font": {"size": TITLE_SIZE}},
        font={"size": FONT_SIZE}, margin={"l": 70, "r": 30, "t": 70, "b": 60}, height=400,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        xaxis_title=x_title, yaxis_title=y_title, hovermode="x unified")
    return figure


def empty_figure(lang: str, message_key: str = "plot.no_data"):
    import plotly.graph_objects as go  # imported where first used: the app starts without it

    figure = go.Figure()
    figure.add_annotation(text=t(message_key, lang), showarrow=False, font={"size": FONT_SIZE + 2},
                          xref="paper", yref="paper", x=0.5, y=0.5)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return layout(figure, "", "", "")


def metric_curves(frames: dict[str, pd.DataFrame], metric: str, lang: str, x: str = "step"):
    """One line per run (label -> frame of its metrics records) of `metric` against `x`; runs without it are left out."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for index, (label, frame) in enumerate(frames.items()):
        if frame is None or frame.empty or metric not in frame.columns:
            continue
        data = frame[[c for c in (x, metric) if c in frame.columns]].dropna()
        xs = data[x] if x in data.columns else pd.Series(range(1, len(data) + 1))
        figure.add_trace(go.Scatter(x=list(xs), y=list(data[metric]), name=label,
                                    mode="lines+markers" if len(data) <= 30 else "lines",
                                    line={"width": 3, "color": COLORS[index % len(COLORS)]}))
    if not figure.data:
        return empty_figure(lang)
    title = t("plot.curve_title", lang, metric=axis_title(metric, lang), x=axis_title(x, lang))
    return layout(figure, title, axis_title(x, lang), axis_title(metric, lang))
