"""Plotly figures built by pure functions from pandas data frames, readable when projected in class.

Every builder takes the language and looks up its titles by key, so a language switch redraws the
figure in the other language. Tests check the figures' data without a browser.

Every loss or metric axis gets its range from ONE rule, metric_axis() (value_range()): it spans the data,
never goes below the data's natural floor (0 for anything that cannot be negative, 1 for a perplexity),
starts at that floor when the gap to it is smaller than the data's spread, and is never narrower than a
few percent of the values, so 8.9383 vs 8.9385 looks as small as it is. noise_note() says so under the
plot when the points differ by less than their noise.
"""
import math

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


MIN_RELATIVE_SPAN = 0.05  # an axis spans at least 5 % of its largest value: tiny differences look tiny
PAD = 0.06  # of the span, either side: markers and their labels are not cut at the edges
NOISE_RELATIVE = 0.001  # points closer than 0.1 % of their value are read as equal even without a standard error


def _finite(values) -> list[float]:
    out = []
    for value in values if values is not None else []:
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out.append(number)
    return out


def value_range(values, floor: float | None = None, ceiling: float | None = None, log: bool = False,
                min_span: float = MIN_RELATIVE_SPAN) -> list[float] | None:
    """[low, high] for an axis showing `values` (log10 units when `log`, as plotly wants), or None without data.

    floor: the lowest value the quantity can take (a loss 0, a perplexity 1); None: 0 when every value
    is >= 0, else no floor. The axis never goes below it, and starts at it when the gap between the
    data and the floor is smaller than the data's own spread (a meaningful baseline). ceiling likewise
    (an accuracy's 1). min_span: the axis is at least this share of the largest |value| wide (on a
    log axis: spans at least a factor 1 + min_span)."""
    data = _finite(values)
    if log:
        data = [v for v in data if v > 0]
    if not data:
        return None
    if floor is None and min(data) >= 0:
        floor = 0.0
    if log:
        to_axis = math.log10
        data = [to_axis(v) for v in data]
        floor = to_axis(floor) if floor is not None and floor > 0 else None
        ceiling = to_axis(ceiling) if ceiling is not None and ceiling > 0 else None
        wanted = math.log10(1 + min_span)
    else:
        wanted = min_span * max(abs(v) for v in data)
    low, high = min(data), max(data)
    span = max(high - low, wanted, 1e-12)
    middle = (low + high) / 2
    low, high = middle - span / 2, middle + span / 2
    if floor is not None and low - floor < span:  # the floor is near: start there, a baseline to read against
        low = floor
    if ceiling is not None and max(data) <= ceiling and ceiling - high < span:
        high = ceiling
    pad = PAD * (high - low)
    low, high = low - pad, high + pad  # the ceiling keeps its pad (an accuracy of 100 % is not cut off)
    return [max(low, floor) if floor is not None else low, high]


def metric_axis(figure, values, axis: str = "y", floor: float | None = None, ceiling: float | None = None,
                log: bool = False, min_span: float = MIN_RELATIVE_SPAN, **where):
    """Apply value_range() to a figure's loss/metric axis (axis "y" or "x"; where: row=, col= of a subplot grid)."""
    bounds = value_range(values, floor=floor, ceiling=ceiling, log=log, min_span=min_span)
    update = figure.update_yaxes if axis == "y" else figure.update_xaxes
    settings = {"type": "log"} if log else {}
    if bounds is not None:
        settings.update(range=bounds, autorange=False)
        if log:  # labelled ticks at 1-2-5 values (plotly leaves a short log axis with one or two labels)
            ticks = log_ticks(10 ** bounds[0], 10 ** bounds[1])
            settings.update(tickvals=ticks, ticktext=[f"{v:g}" for v in ticks])
    update(**settings, **where)
    return figure


def log_ticks(low: float, high: float, most: int = 10) -> list[float]:
    """Tick values for a log axis from low to high: 1-2-5 steps, or every digit where those give under 3."""
    for digits in ((1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9), tuple(d / 10 for d in range(10, 100))):
        ticks = []
        for power in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
            ticks += [round(d * 10 ** power, 12) for d in digits if low <= d * 10 ** power <= high]
        if len(ticks) >= 3:
            break
    if len(ticks) > most:
        ticks = ticks[::math.ceil(len(ticks) / most)]
    return ticks


def within_noise(values, noise: float = 0.0, relative: float = NOISE_RELATIVE) -> float | None:
    """The spread of `values` when it is within their noise (their standard error, or `relative` of their
    size), else None; one value or none is never "within noise"."""
    data = _finite(values)
    if len(data) < 2:
        return None
    spread = max(data) - min(data)
    limit = max(float(noise or 0.0), relative * max(abs(v) for v in data))
    return spread if spread <= limit else None


def noise_note(figure, values, lang: str, noise: float = 0.0, relative: float = NOISE_RELATIVE) -> bool:
    """A note under the plot when every point is within noise of the others; True when it added one."""
    spread = within_noise(values, noise, relative)
    if spread is None:
        return False
    key = "plot.within_noise_se" if noise else "plot.within_noise"
    text = t(key, lang, spread=f"{spread:.3g}", noise=f"{noise:.3g}", percent=f"{100 * relative:g}")
    text = "<br>".join(wrap_lines(text, 56 if lang == "zh" else 90))  # plotly does not wrap annotations
    figure.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0, y=-0.28, xanchor="left",
                          yanchor="top", align="left", font={"size": FONT_SIZE - 2, "color": "#92400e"},
                          name="noise_note")
    lines = text.count("<br>") + 1
    figure.update_layout(margin={"b": (figure.layout.margin.b or 60) + 30 + 22 * lines},
                         height=(figure.layout.height or 400) + 20 + 22 * lines)
    return True


def wrap_lines(text: str, width: int) -> list[str]:
    """Lines of at most `width` characters, broken at spaces (English) or anywhere (Chinese has none)."""
    import textwrap

    if " " not in text.strip() or any("\u4e00" <= c <= "\u9fff" for c in text):
        return [text[i:i + width] for i in range(0, len(text), width)] or [text]
    return textwrap.wrap(text, width, break_long_words=True) or [text]


def empty_figure(lang: str, message_key: str = "plot.no_data"):
    import plotly.graph_objects as go  # imported where first used: the app starts without it

    figure = go.Figure()
    figure.add_annotation(text=t(message_key, lang), showarrow=False, font={"size": FONT_SIZE + 2},
                          xref="paper", yref="paper", x=0.5, y=0.5)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return layout(figure, "", "", "")


FLOORS = {"ppl": 1.0, "perplexity": 1.0}  # metrics whose lowest possible value is not 0


def _short_number(value: float) -> str:
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def curve_series(label: str, frame: pd.DataFrame, metric: str, x: str = "step",
                 named: bool = True) -> list[tuple[str, str, list, list]]:
    """(name, x column, xs, ys) of each line a run's metrics records make. A run that logs one record per
    trained model (a scaling sweep: N, D and no step) makes one line per model N against its tokens D, not
    one line joining separate models; a run without `x` is drawn against its record number."""
    if frame is None or frame.empty or metric not in frame.columns:
        return []
    if x not in frame.columns and {"N", "D"} <= set(frame.columns):
        data = frame[["N", "D", metric]].dropna()
        return [(f"{label} · N={_short_number(float(n))}" if label and named else f"N={_short_number(float(n))}", "D",
                 list(rows.sort_values("D")["D"]), list(rows.sort_values("D")[metric]))
                for n, rows in data.groupby("N", sort=True)]
    data = frame[[c for c in (x, metric) if c in frame.columns]].dropna()
    xs = list(data[x]) if x in data.columns else list(range(1, len(data) + 1))
    return [(label, x, xs, list(data[metric]))]


def metric_curves(frames: dict[str, pd.DataFrame], metric: str, lang: str, x: str = "step"):
    """One line per run (label -> frame of its metrics records) of `metric` against `x` (a sweep: one per
    model, curve_series); runs without it are left out. The metric axis follows metric_axis()."""
    import plotly.graph_objects as go

    figure = go.Figure()
    values, x_name = [], x
    named = len(frames) > 1  # one run: its sweep's lines are named by model alone
    series = [s for label, frame in frames.items() for s in curve_series(label, frame, metric, x, named)]
    for index, (name, x_name, xs, ys) in enumerate(series):
        figure.add_trace(go.Scatter(x=xs, y=ys, name=name, mode="lines+markers" if len(ys) <= 30 else "lines",
                                    line={"width": 3, "color": COLORS[index % len(COLORS)]}))
        values += ys
    if not figure.data:
        return empty_figure(lang)
    x_name = series[0][1]
    title = t("plot.curve_title", lang, metric=axis_title(metric, lang), x=axis_title(x_name, lang))
    figure = layout(figure, title, axis_title(x_name, lang), axis_title(metric, lang))
    if x_name == "D":
        figure.update_xaxes(type="log")
    return metric_axis(figure, values, floor=FLOORS.get(metric))
