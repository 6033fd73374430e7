"""Hyperparameter sweeps: a grid over a few fine-tuning settings, run as one comparison group.

    axes = parse_axes({"learning_rate": "1e-4, 1e-3", "lora_r": "4, 16"})   # text from the form -> values
    specs = expand(fields, axes, seeds=3)        # 2 × 2 × 3 = 12 finetune specs, everything else equal
    group, run_ids = submit_sweep(fields, axes, seeds=3, owner=visitor)    # refused whole when too large
    sweep_frame(run_ids) / summary_frame(run_ids, axes) / loss_overlay(...) / heatmap(...)

Every run gets the same model, data, method and budget except the swept settings (and the seed when a
setting is repeated with several seeds, to show run-to-run noise beside the effect of a setting). The
group is a comparison group (the same machinery as lab/finetune/compare.py's method comparison). Pure
functions over the run store, tested without a browser.
"""
import itertools
import math
import secrets

import pandas as pd

from lab.errors import LabError
from lab.present.i18n import t
from lab.present.plots import axis_title
from lab.runs import runner
from lab.runs.folder import RunFolder
from lab.specs import spec_from_dict

AXES = ("learning_rate", "lora_r", "lora_alpha", "batch_size", "max_steps")  # what a sweep may vary (and seeds)
MAX_RUNS = 64  # a sweep larger than this is refused anywhere; Space mode has its own, smaller limit
MAX_SEEDS = 5
FINAL = ("train_loss_last", "eval_loss", "task_accuracy")  # final metrics a heatmap can show


def parse_axes(texts: dict) -> dict:
    """{"learning_rate": "1e-4, 3e-4"} -> {"learning_rate": [0.0001, 0.0003]}; empty texts are left out.
    A bad value is refused naming the setting and the value (numbers only: nothing is evaluated)."""
    axes = {}
    for name, text in texts.items():
        if name not in AXES:
            raise LabError("sweep_bad_axis", field=name, axes=", ".join(AXES))
        items = [item.strip() for item in str(text or "").replace(";", ",").split(",") if item.strip()]
        values = []
        for item in items:
            try:
                value = float(item) if name == "learning_rate" else int(item)
            except ValueError:
                raise LabError("sweep_bad_value", field=name, value=item[:40]) from None
            if not math.isfinite(value) or value <= 0:
                raise LabError("sweep_bad_value", field=name, value=item[:40])
            values.append(value)
        if values:
            axes[name] = list(dict.fromkeys(values))
    return axes


def seed_list(seeds, first: int = 0) -> list[int]:
    """seeds: a count (3 -> [first, first+1, first+2]) or an explicit list."""
    if isinstance(seeds, int):
        if not 1 <= seeds <= MAX_SEEDS:
            raise LabError("sweep_bad_value", field="seeds", value=seeds)
        return [first + i for i in range(seeds)]
    return list(dict.fromkeys(int(s) for s in seeds)) or [first]


def run_name(values: dict) -> str:
    short = {"learning_rate": "lr", "lora_r": "r", "lora_alpha": "alpha", "batch_size": "batch",
             "max_steps": "steps", "seed": "seed"}
    return " ".join(f"{short[k]}={v:g}" if isinstance(v, float) else f"{short[k]}={v}" for k, v in values.items())


def expand(fields: dict, axes: dict, seeds=1) -> list[dict]:
    """The grid: one finetune spec's fields per combination of the axes' values and each seed."""
    seeds = seed_list(seeds, int(fields.get("seed", 0) or 0))
    names = list(axes)
    combos = list(itertools.product(*(axes[n] for n in names))) or [()]
    count = len(combos) * len(seeds)
    if count > MAX_RUNS:
        raise LabError("sweep_too_large", count=count, limit=MAX_RUNS)
    out = []
    for combo in combos:
        for seed in seeds:
            values = dict(zip(names, combo))
            if len(seeds) > 1:
                values["seed"] = seed
            out.append({**fields, **values, "seed": seed, "kind": "finetune", "name": run_name(values) or "sweep"})
    return out


def preset_axes(specs: list[dict]) -> dict:
    """The sweepable settings that differ between a preset's runs, with their values in order."""
    return {name: list(dict.fromkeys(s[name] for s in specs if name in s)) for name in AXES
            if len({s.get(name) for s in specs}) > 1}


def submit_sweep(fields: dict, axes: dict, seeds=1, owner: str = "", viewer=None, private=None,
                 use_cache: bool = False) -> tuple[str, list[str]]:
    """Queue the whole grid as one comparison group; every spec is built (validated) and the visitor's limits
    are checked for the sweep as a whole before any run is queued."""
    from lab.classroom import space_mode

    specs = [spec_from_dict(data) for data in expand(fields, axes, seeds)]
    space_mode.check_sweep(specs, owner, viewer)
    group = f"sweep-{secrets.token_hex(4)}"
    run_ids = [runner.submit(spec, owner=owner, private=private, use_cache=use_cache, group_id=group, checked=True,
                             viewer=viewer) for spec in specs]
    return group, run_ids


def sweep_frame(run_ids: list[str]) -> pd.DataFrame:
    """One row per run: its name, swept settings, seed, status and final metrics."""
    from lab.runs import store

    rows = []
    for row in store.get_runs(run_ids):
        folder = RunFolder(row["id"])
        spec, result = folder.read_spec(), folder.read_result()
        metrics = {**(row.get("metrics") or {}), **(result.get("metrics") or {})}
        record = {"run_id": row["id"], "name": spec.get("name", ""), "status": row["status"]}
        record.update({name: spec.get(name) for name in (*AXES, "seed")})
        record.update({name: metrics.get(name) for name in (*FINAL, "trainable_percent", "wall_seconds")})
        rows.append(record)
    return pd.DataFrame(rows, columns=["run_id", "name", "status", *AXES, "seed", *FINAL, "trainable_percent",
                                       "wall_seconds"])


def final_metric(frame: pd.DataFrame) -> str:
    """What a sweep is judged by: the held-out loss where the runs measured it, else the last training loss
    (one batch: noisy)."""
    return "eval_loss" if "eval_loss" in frame and frame["eval_loss"].notna().any() else "train_loss_last"


def swept(frame: pd.DataFrame) -> list[str]:
    """The settings that differ between the runs (the seed aside)."""
    return [name for name in AXES if name in frame and frame[name].nunique(dropna=True) > 1]


def summary_frame(frame: pd.DataFrame, metric: str = "train_loss_last") -> pd.DataFrame:
    """Per setting (seeds pooled): the mean, the spread across seeds (std) and how many finished."""
    axes = swept(frame)
    done = frame.dropna(subset=[metric]) if metric in frame else frame.iloc[0:0]
    if done.empty:
        return pd.DataFrame(columns=[*axes, "runs", "mean", "std"])
    if not axes:
        groups = [((), done)]
    else:
        groups = list(done.groupby(axes, sort=True))
    rows = []
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        values = part[metric].astype(float)
        rows.append([*key, len(values), values.mean(), values.std(ddof=1) if len(values) > 1 else float("nan")])
    return pd.DataFrame(rows, columns=[*axes, "runs", "mean", "std"])


def loss_overlay(run_ids: list[str], lang: str, metric: str = "loss"):
    """Every run's loss curve on one plot, labelled by its swept settings."""
    from lab.present.plots import metric_curves

    frames = {}
    for run_id in run_ids:
        folder = RunFolder(run_id)
        label = folder.read_spec().get("name") or run_id
        frames[label if label not in frames else f"{label} ({run_id[-6:]})"] = pd.DataFrame(folder.read_metrics())
    return metric_curves(frames, metric, lang)


def heatmap(frame: pd.DataFrame, lang: str, metric: str = "train_loss_last", x: str | None = None,
            y: str | None = None):
    """The final metric (mean over seeds) over two swept settings; one swept setting gives one row."""
    import plotly.graph_objects as go

    from lab.present.plots import empty_figure, layout

    axes = swept(frame)
    x = x or (axes[0] if axes else None)
    y = y or next((a for a in axes if a != x), None)
    data = frame.dropna(subset=[metric]) if metric in frame else frame.iloc[0:0]
    if x is None or data.empty:
        return empty_figure(lang)
    if y is None:
        table = data.groupby(x)[metric].mean().to_frame().T
        rows = [""]
    else:
        table = data.pivot_table(index=y, columns=x, values=metric, aggfunc="mean").sort_index()
        rows = [f"{v:g}" for v in table.index]
    columns = [f"{v:g}" for v in table.columns]
    values = table.to_numpy().tolist()
    text = [[("" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}") for v in row]
            for row in values]
    figure = go.Figure(go.Heatmap(z=values, x=columns, y=rows, text=text, texttemplate="%{text}",
                                  colorscale="Viridis", reversescale=metric != "task_accuracy",
                                  colorbar={"title": {"text": axis_title(metric, lang)}}))
    figure.update_xaxes(type="category")
    figure.update_yaxes(type="category")
    title = t("finetune.sweep.heatmap_title", lang, metric=axis_title(metric, lang))
    figure = layout(figure, title, axis_title(x, lang), axis_title(y, lang) if y else "")
    figure.update_layout(hovermode="closest")
    return figure
