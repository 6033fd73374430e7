"""What the Quantize tab shows, as data: model choices and warnings, the comparison table, answers side
by side, every figure of a quantize run and of a prune run, and the presets. Pure functions of run
folders and results (no Gradio, no torch); pages/quantize.py only wires them.
"""
import math

import pandas as pd

from lab.runs.folder import RunFolder, read_json
from lab.present.i18n import t
from lab.quantize import plots
from lab.quantize.default_model import DEFAULT_QUANTIZE_MODEL

TABLE_COLUMNS = ("variant", "layer_class", "weight_dtype", "linear_mb", "linear_vs_fp32", "bits_per_weight",
                 "packed_bits_per_weight", "quant_state_mb", "footprint_mb", "memory_added_mb", "load_seconds",
                 "tokens_per_second_b1", "tokens_per_second_batched", "speed_batched_vs_fp32", "ppl", "accuracy")
SWEEP_COLUMNS = ("point", "method", "pattern", "sparsity", "ppl", "accuracy")
FIGURES = ("memory", "speed", "rtn", "bits", "errors", "histogram", "outliers", "smoothquant")
ERROR_METRICS = plots.ERROR_METRICS
NORMALIZATIONS = ("absmax64", "minmax32", "none")


def model_choices(viewer=None) -> list[tuple[str, str]]:
    """The default full-precision model, the models of finished runs this viewer may see (pre-trained,
    exported quantized or pruned), then the offline ones. None: shared runs only (widgets built at start)."""
    from lab.classroom.access import Viewer
    from lab.modeling.models import available_models
    from lab.runs import runner

    choices = [(f"{DEFAULT_QUANTIZE_MODEL} (fp32, Shakespeare)", DEFAULT_QUANTIZE_MODEL)]
    for row in runner.list_runs(viewer or Viewer(), statuses=("succeeded",)):
        metrics_dir = RunFolder(row["id"]).artifact_dir
        for sub in ("model", "export"):
            if (metrics_dir / sub / "config.json").is_file():
                choices.append((f"{row['kind']} · {row['name'] or row['id']}", str(metrics_dir / sub)))
    choices += [(f"{m['name']} ({m['quantized_source']})" if m["quantized_source"] else m["name"], m["name"])
                for m in available_models() if m["installed"]]
    return choices


def model_warning(name: str, lang: str) -> str:
    """Markdown warning for a model whose weights came from a quantized file; a note for the default."""
    from lab.errors import LabError
    from lab.modeling.models import resolve_model
    from lab.quantize import default_model

    if not name:
        return ""
    if name == DEFAULT_QUANTIZE_MODEL:
        return "" if default_model.is_ready() else t("quantize.page.default_untrained", lang)
    try:
        source = resolve_model(name).quantized_source
    except LabError:
        return ""
    return t("quantize.page.prequantized_warning", lang, model=name, source=source) if source else ""


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def rows_frame(result: dict | None) -> pd.DataFrame:
    rows = ((result or {}).get("outputs") or {}).get("rows") or []
    return pd.DataFrame(rows)


def table_frame(result: dict | None, lang: str) -> pd.DataFrame:
    """The comparison table as shown: translated headers, numbers to 4 significant digits."""
    frame = rows_frame(result)
    headers = [t(f"quantize.col.{c}", lang) for c in TABLE_COLUMNS]
    if frame.empty:
        return pd.DataFrame(columns=headers, dtype=object)
    shown = pd.DataFrame({c: [_cell(v) for v in frame[c]] if c in frame else [""] * len(frame) for c in TABLE_COLUMNS})
    shown.columns = headers
    return shown.astype(object)


def answers_frame(result: dict | None, lang: str) -> pd.DataFrame:
    """One row per (prompt, variant): the answers side by side."""
    outputs = (result or {}).get("outputs") or {}
    prompts, answers = outputs.get("prompts") or [], outputs.get("answers") or {}
    rows = [[prompt if i == 0 else "", label, texts[k] if k < len(texts) else ""]
            for k, prompt in enumerate(prompts) for i, (label, texts) in enumerate(answers.items())]
    return pd.DataFrame(rows, columns=[t(f"quantize.col.{c}", lang) for c in ("prompt", "variant", "answer")], dtype=object)


def inside_frames(run_id: str) -> dict:
    folder = RunFolder(run_id).artifact_path("inside")

    def read(name):
        try:
            return pd.read_csv(folder / name)
        except (OSError, ValueError):
            return pd.DataFrame()

    about = read_json(folder / "about.json", {}) or {}
    return {"errors": read("layer_errors.csv"), "outliers": read("outliers.csv"), "layer": about.get("layer", ""),
            "smoothquant": read("smoothquant_outliers.csv"),
            "spikes": about.get("spikes"), **{f"hist_{n}": read(f"histogram_{n}.csv") for n in NORMALIZATIONS}}


def figures(result: dict | None, run_id: str, lang: str, normalization: str = "absmax64",
            error_metric: str = "rel_error") -> list:
    """Every figure of a quantize run, in FIGURES order (None when there is no run yet)."""
    if not result or not run_id:
        return [None] * len(FIGURES)
    from lab.quantize import inside

    table = rows_frame(result)
    frames = inside_frames(run_id)
    threshold = float((result.get("spec") or {}).get("int8_threshold", 6.0))
    normalization = normalization if normalization in NORMALIZATIONS else "absmax64"
    return [plots.memory_vs_quality(table, lang), plots.speed_vs_quality(table, lang), plots.rtn_curve(table, lang),
            plots.bits_by_method(table, lang), plots.error_heatmap(frames["errors"], lang, error_metric),
            plots.weight_histogram(frames[f"hist_{normalization}"], inside.code_points(normalization), frames["layer"],
                                   lang, normalization),
            plots.outlier_heatmap(frames["outliers"], threshold, lang), plots.smoothing_view(frames["smoothquant"], lang)]


def summary(result: dict | None, run_id: str, lang: str) -> str:
    """A few lines under the table: the model, the pre-quantized warning, outliers, the exported folder."""
    if not result:
        return ""
    outputs, metrics = result.get("outputs") or {}, result.get("metrics") or {}
    lines = [t("quantize.page.summary", lang, model=(result.get("spec") or {}).get("model", ""),
               variants=int(metrics.get("variants", 0)), seconds=f"{metrics.get('wall_seconds', 0):.0f}")]
    line = measured_line(outputs.get("rows") or [], lang)
    if line:
        lines.append(line)
    if outputs.get("quantized_source"):
        lines.append(t("quantize.page.prequantized_warning", lang, model=(result.get("spec") or {}).get("model", ""),
                       source=outputs["quantized_source"]))
    spikes = metrics.get("prequantized_spike_share")
    if spikes is not None:
        lines.append(t("quantize.page.spikes", lang, share=f"{100 * spikes:.0f}"))
    for row in outputs.get("rows") or []:
        if row.get("export_folder"):
            lines.append(t("quantize.page.exported", lang, variant=row["variant"], folder=row["export_folder"]))
    return "\n\n".join(lines)


HEADLINE_SCHEMES = ("bf16", "fp16", "int8", "nf4", "fp4")  # one row each (int8: one per threshold); RTN & co. have plots


def measured_line(rows: list, lang: str) -> str:
    """"Measured: perplexity 8.94 in fp32; int8 t6 8.95 (+0.1% vs fp32), ..." over the headline variants that
    ran (a scheme that did not run is not named), or "" without an fp32 row."""
    base = next((r for r in rows if r.get("variant") == "fp32" and r.get("ppl")), None)
    if base is None:
        return ""
    items = [t("quantize.page.measured_item", lang, variant=r["variant"], ppl=_cell(r["ppl"]),
               change=f"{100 * (r['ppl'] / base['ppl'] - 1):+.2f}%")
             for r in rows if r.get("scheme") in HEADLINE_SCHEMES and r.get("ppl") is not None]
    if not items:
        return t("quantize.page.measured_fp32", lang, ppl_fp32=f"{base['ppl']:.3f}")
    return t("quantize.page.measured", lang, ppl_fp32=f"{base['ppl']:.3f}", others=t("quantize.page.list_sep", lang).join(items))


def sweep_frame(result: dict | None, lang: str) -> pd.DataFrame:
    rows = ((result or {}).get("outputs") or {}).get("rows") or []
    headers = [t(f"quantize.col.{c}", lang) for c in SWEEP_COLUMNS]
    if not rows:
        return pd.DataFrame(columns=headers, dtype=object)
    shown = pd.DataFrame([[_cell(r.get(c)) for c in SWEEP_COLUMNS] for r in rows], columns=headers)
    return shown.astype(object)


def prune_figure(result: dict | None, lang: str):
    rows = ((result or {}).get("outputs") or {}).get("rows") or []
    return plots.prune_curve(pd.DataFrame(rows), lang) if rows else None


def prune_summary(result: dict | None, lang: str) -> str:
    if not result:
        return ""
    outputs = result.get("outputs") or {}
    text = t("quantize.page.prune_summary", lang, points=len(outputs.get("rows") or []),
             seconds=f"{(result.get('metrics') or {}).get('wall_seconds', 0):.0f}")
    if outputs.get("export_folder"):
        text += "\n\n" + t("quantize.page.exported", lang, variant=(result.get("spec") or {}).get("export_point", ""),
                           folder=outputs["export_folder"])
    return text



