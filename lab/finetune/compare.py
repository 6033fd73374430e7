"""Compare methods on equal budgets: one run per method, same model, data, steps and seed.

submit_comparison() queues the runs under one group id; comparison_frame() collects their figures
(one row per method) and the plot builders draw loss curves, quality vs trainable parameters, and
cost bars. Pure functions over the run store, tested without a browser.

The Fine-tune tab's timer asks for the same comparison up to four times a tick (table, plots, chat
choices, measured answer): comparison_frame() keeps the last few frames keyed by every run's row and
folder signature, so a tick reads each run's files once, and not at all while nothing changed.
"""
import json
import secrets
import threading
from collections import OrderedDict
from pathlib import Path

import pandas as pd
from lab.runs import runner, store
from lab.runs.folder import RunFolder
from lab.errors import LabError
from lab.present.i18n import t
from lab.present.plots import axis_title
from lab.specs import spec_from_dict

FIGURES = ("trainable_params", "trainable_percent", "train_loss_first", "train_loss_last", "eval_loss",
           "eval_perplexity", "task_accuracy", "adapter_mb", "peak_memory_mb", "tokens_per_second", "wall_seconds")
PRESETS = Path(__file__).resolve().parent.parent.parent / "assets" / "presets" / "finetune"


def submit_comparison(fields: dict, methods: list[str], owner: str = "", private: bool | None = None,
                      use_cache: bool = False, preset: str | None = None) -> tuple[str, list[str]]:
    """Queue one fine-tune per method with the same other settings; every spec is checked before any is queued."""
    if len(methods) < 1:
        raise LabError("compare_needs_methods")
    group = f"compare-{secrets.token_hex(4)}"
    specs = [spec_from_dict({**fields, "kind": "finetune", "method": method,
                             "name": fields.get("name") or f"{method}"}) for method in dict.fromkeys(methods)]
    run_ids = [runner.submit(spec, owner=owner, private=private, use_cache=use_cache, group_id=group, preset=preset)
               for spec in specs]
    return group, run_ids






def preset_names() -> list[str]:
    """The method-comparison presets (assets/presets/finetune/), read by lab/classroom/presets.py."""
    from lab.classroom import presets

    return [p.id.split("/", 1)[1] for p in presets.menu("finetune")]


def submit_preset(name: str, owner: str = "", private: bool | None = None, use_cache: bool = True) -> tuple[str, list[str]]:
    """One run per method of the preset finetune/<name>, as one comparison group."""
    from lab.classroom import presets

    preset = presets.load(f"finetune/{name}")
    return submit_comparison({k: v for k, v in preset.specs[0].items() if k != "method"},
                             [s["method"] for s in preset.specs], owner=owner, private=private, use_cache=use_cache)


_FRAMES: OrderedDict = OrderedDict()  # signature key -> frame; a few, for several open tabs
_FRAMES_KEPT = 16
_FRAMES_LOCK = threading.Lock()  # Gradio runs handlers in threads


def comparison_frame(run_ids: list[str], lang: str = "en") -> pd.DataFrame:
    """One row per run: method, status, then the comparison figures (blank until a run has them).
    The same frame (a copy) while no run's row or files changed since it was built."""
    rows = [(row["id"], row) for row in store.get_runs(run_ids)]
    key = tuple((str(RunFolder(run_id).path), row["status"], json.dumps(row.get("metrics"), sort_keys=True, default=str),
                 RunFolder(run_id).signature(log=False)) for run_id, row in rows)
    with _FRAMES_LOCK:
        if key in _FRAMES:
            _FRAMES.move_to_end(key)
            return _FRAMES[key].copy()
    frame = _build_frame(rows)
    with _FRAMES_LOCK:
        _FRAMES[key] = frame
        while len(_FRAMES) > _FRAMES_KEPT:
            _FRAMES.popitem(last=False)
    return frame.copy()


def _build_frame(rows: list[tuple[str, dict]]) -> pd.DataFrame:
    records = []
    for run_id, row in rows:
        folder = RunFolder(run_id)
        spec, result = folder.read_spec(), folder.read_result()
        metrics = {**(row.get("metrics") or {}), **(result.get("metrics") or {})}
        record = {"run_id": run_id, "method": spec.get("method", ""), "status": row["status"]}
        record.update({name: metrics.get(name) for name in FIGURES})
        records.append(record)
    return pd.DataFrame(records, columns=["run_id", "method", "status", *FIGURES])


def translated(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Headers in the reader's language (the CSV export keeps the machine names)."""
    return frame.rename(columns={c: axis_title(c, lang) for c in frame.columns})


def loss_curves(run_ids: list[str], lang: str, metric: str = "loss"):
    """Training (or eval) loss against step, one line per method."""
    from lab.present.plots import metric_curves

    frames = {}
    for run_id in run_ids:
        folder = RunFolder(run_id)
        frames[folder.read_spec().get("method", run_id)] = pd.DataFrame(folder.read_metrics())
    return metric_curves(frames, metric, lang)


def quality_vs_parameters(frame: pd.DataFrame, lang: str, quality: str = "eval_loss"):
    """Each finished method as a point: trainable parameters (log x) against eval loss or accuracy."""
    import plotly.graph_objects as go

    from lab.present.plots import COLORS, empty_figure, layout, metric_axis

    data = frame.dropna(subset=["trainable_params", quality]) if quality in frame else frame.iloc[0:0]
    if data.empty:
        return empty_figure(lang)
    figure = go.Figure(go.Scatter(x=list(data["trainable_params"]), y=list(data[quality]), mode="markers+text",
                                  text=list(data["method"]), textposition="top center",
                                  marker={"size": 16, "color": [COLORS[i % len(COLORS)] for i in range(len(data))]}))
    title = t("finetune.plot.quality_title", lang, quality=axis_title(quality, lang))
    figure = layout(figure, title, axis_title("trainable_params", lang), axis_title(quality, lang))
    metric_axis(figure, data["trainable_params"], axis="x", log=True, min_span=3.0)
    return metric_axis(figure, data[quality])  # a loss or accuracy axis never reaches below zero


def cost_bars(frame: pd.DataFrame, lang: str):
    """Peak memory and training speed per method, side by side."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from lab.present.plots import COLORS, empty_figure, layout

    data = frame.dropna(subset=["peak_memory_mb", "tokens_per_second"], how="all")
    if data.empty:
        return empty_figure(lang)
    names = ("peak_memory_mb", "tokens_per_second")
    figure = make_subplots(rows=1, cols=2, subplot_titles=[axis_title(n, lang) for n in names])
    for column, name in enumerate(names, start=1):
        figure.add_trace(go.Bar(x=list(data["method"]), y=list(data[name]), showlegend=False,
                                marker_color=[COLORS[i % len(COLORS)] for i in range(len(data))]), row=1, col=column)
    figure = layout(figure, t("finetune.plot.cost_title", lang), "", "")
    figure.update_layout(hovermode="closest")
    return figure
