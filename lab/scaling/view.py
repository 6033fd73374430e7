"""What the Scaling-laws tab shows, as data: the parameter table, the figures of a fit run, the
prediction text, the list of sweeps and presets, and the "train this model" spec for
predict-then-verify. Pure functions of run folders and fits; pages/scaling.py only wires them.
"""
import math
import re

import pandas as pd

from lab.runs.folder import RunFolder
from lab.present.i18n import t
from lab.scaling import plots
from lab.scaling.data import frontier_points, points_from_records
from lab.scaling.report import bootstrap_from_outputs, fit_from_outputs, kaplan_fits_from_outputs, prediction

PARAM_ROWS = ("E", "A", "B", "alpha", "beta", "n_opt_exponent", "d_opt_exponent", "tokens_per_parameter", "n_opt", "d_opt")
TABLE_COLUMNS = ("name", "value", "ci_low", "ci_high", "se")
FIGURES = ("loss_vs_n", "loss_vs_d", "isoflop", "frontier", "residuals", "kaplan", "prediction")
VERIFY_NAME = re.compile(r"\[fit ([A-Za-z0-9_-]+)\]")
MAX_VERIFY_FLOPS = 2e14  # ~10 minutes of a loaded CPU core; bigger checks belong on a GPU, from the CLI


def _two_figures(value: float) -> float:
    return float(f"{value:.2g}")


def predict_defaults(points: pd.DataFrame) -> tuple[float, float]:
    """(N, D) to predict first: the geometric middle of the fitted models' N and of their D (two significant
    figures), a point inside the data, where the fit is best supported."""
    import numpy as np

    return (_two_figures(float(np.exp(np.log(points["N"].astype(float)).mean()))),
            _two_figures(float(np.exp(np.log(points["D"].astype(float)).mean()))))


def _factor(ratio: float) -> str:
    return f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}"


def extrapolation(points: pd.DataFrame, n_params: float, tokens: float, lang: str) -> str:
    """A warning when N or D lies outside the fitted data's range, saying how far ("100x below the
    smallest model fitted"); "" inside it."""
    parts = []
    for variable, value, key in (("N", n_params, "n"), ("D", tokens, "d")):
        low, high = float(points[variable].min()), float(points[variable].max())
        if value < low:
            parts.append(t(f"scaling.extrapolate.{key}_below", lang, factor=_factor(low / value), edge=plots._number(low)))
        elif value > high:
            parts.append(t(f"scaling.extrapolate.{key}_above", lang, factor=_factor(value / high), edge=plots._number(high)))
    if not parts:
        return ""
    return t("scaling.extrapolate.warning", lang, what=t("scaling.extrapolate.sep", lang).join(parts))


def verify_reason(fit_run_id: str | None, n_params, tokens, lang: str) -> str:
    """Why "Train this model to verify" cannot run now ("" when it can): no finished fit, a fit of a CSV
    rather than the lab's own sweep, no N or D, or a model too big for this page."""
    from lab.errors import LabError

    result = RunFolder(fit_run_id).read_result() if fit_run_id else {}
    if not result or result.get("status") != "succeeded":
        return LabError("scaling_no_fit_yet").message(lang)
    if not n_params or not tokens or n_params <= 0 or tokens <= 0:
        return LabError("scaling_predict_pair", n=n_params, d=tokens).message(lang)
    sweep = fit_source_sweep(result)
    try:
        _verify_spec(RunFolder(sweep).read_spec() if sweep else None, fit_run_id, float(n_params), float(tokens))
    except LabError as error:
        return error.message(lang)
    return ""


def sweep_choices(viewer=None) -> list[tuple[str, str]]:
    """Finished sweeps this viewer may see: their own, the command line's, and shared ones (None: shared only)."""
    from lab.classroom.access import Viewer
    from lab.runs import runner

    rows = [r for r in runner.list_runs(viewer or Viewer(), statuses=("succeeded",)) if r["kind"] == "scaling_sweep"]
    return [(f"{r['name'] or r['id']} · {int(r['metrics'].get('n_points', 0))} pts", r["id"]) for r in rows]


def parameter_table(metrics: dict, lang: str) -> pd.DataFrame:
    """One row per fitted or derived figure: value, 95 % interval, standard error."""
    rows = []
    for name in PARAM_ROWS:
        if name not in metrics:
            continue
        rows.append([t(f"scaling.param.{name}", lang), _fmt(metrics[name]), _fmt(metrics.get(f"{name}_ci_low")),
                     _fmt(metrics.get(f"{name}_ci_high")), _fmt(metrics.get(f"{name}_se"))])
    return pd.DataFrame(rows, columns=[t(f"scaling.col.{c}", lang) for c in TABLE_COLUMNS])


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.4g}"


def summary(result: dict, lang: str) -> str:
    """Markdown: how the fit went (converged or not), objective, points, starts."""
    metrics, outputs = result["metrics"], result["outputs"]
    fit = fit_from_outputs(outputs)
    status = fit.describe(lang)
    return t("scaling.summary", lang, status=status, points=int(metrics["n_points"]), starts=int(metrics["n_starts"]),
             objective=f"{metrics['objective']:.6g}", seconds=f"{metrics.get('fit_seconds', 0):.2f}",
             samples=int(metrics.get("bootstrap_samples", 0)))


def figures(result: dict, lang: str, predict_n: float = 0.0, predict_d: float = 0.0, measured=None) -> list:
    """Every figure of a fit run (None for those its data cannot support), in FIGURES order."""
    outputs = result["outputs"]
    fit, boot = fit_from_outputs(outputs), bootstrap_from_outputs(outputs)
    points = points_from_records(outputs["points"])
    kaplan = kaplan_fits_from_outputs(outputs)
    default_n, default_d = predict_defaults(points)
    n, d = predict_n or default_n, predict_d or default_d
    return [plots.loss_vs_n(points, fit, lang), plots.loss_vs_d(points, fit, lang), plots.isoflop(points, fit, lang),
            plots.frontier(fit, boot, lang, compute=_compute_span(points)), plots.residuals(points, fit, lang),
            plots.kaplan({v: frontier_points(points, v) for v in kaplan}, kaplan, lang) if kaplan else None,
            prediction_figure(result, lang, n, d, measured)]


def prediction_figure(result: dict, lang: str, predict_n: float, predict_d: float, measured=None):
    """The fitted curve at N against D, the prediction's marker and interval, and a note on the plot when
    (N, D) lies outside the fitted range."""
    outputs = result["outputs"]
    points = points_from_records(outputs["points"])
    figure = plots.prediction(points, fit_from_outputs(outputs), bootstrap_from_outputs(outputs), predict_n, predict_d,
                              measured=measured, lang=lang)
    warning = extrapolation(points, predict_n, predict_d, lang)
    if warning:
        from lab.present.plots import wrap_lines

        text = "<br>".join(wrap_lines(warning.replace("**", ""), 30 if lang == "zh" else 55))  # inside the plot area
        figure.add_annotation(text=text, xref="paper", yref="paper", x=0.01, y=0.01,
                              xanchor="left", yanchor="bottom", showarrow=False, align="left",
                              bgcolor="rgba(255,255,255,0.85)", font={"size": 13, "color": "#b45309"}, name="extrapolation")
    return figure


def _compute_span(points):
    import numpy as np

    low, high = float(points["C"].min()), float(points["C"].max())
    return np.geomspace(low / 10, high * 1000, 120)


def predict_text(result: dict, n_params: float, tokens: float, lang: str) -> str:
    fit, boot = fit_from_outputs(result["outputs"]), bootstrap_from_outputs(result["outputs"])
    figures_ = prediction(fit, boot, n_params, tokens)
    interval = ""
    if "prediction_ci_low" in figures_:
        interval = t("scaling.predict.interval", lang, low=f"{figures_['prediction_ci_low']:.4f}",
                     high=f"{figures_['prediction_ci_high']:.4f}")
    text = t("scaling.predict.text", lang, n=f"{n_params:.4g}", d=f"{tokens:.4g}", loss=f"{figures_['prediction']:.4f}",
             interval=interval)
    warning = extrapolation(points_from_records(result["outputs"]["points"]), n_params, tokens, lang)
    return f"{text}\n\n{warning}" if warning else text


def fit_source_sweep(result: dict) -> str | None:
    """The sweep a fit run used, if it used one."""
    spec = result.get("spec") or {}
    if spec.get("kind") == "scaling_sweep":
        return None
    return spec.get("sweep_run") if spec.get("source") == "sweep" else None


def sweep_spec_of(fit_run_id: str) -> dict | None:
    result = RunFolder(fit_run_id).read_result()
    sweep = fit_source_sweep(result)
    if not sweep:
        return None
    return RunFolder(sweep).read_spec() or None


def choose_shape(fields, target_n: float, parameter_count: str = "non_embedding") -> dict:
    """The (width, depth, heads) whose parameter count is closest to target_n (in log terms), with a
    mild preference for the sweep's own width-to-depth ratio of ~32-64."""
    from lab.pretrain.recipe import counts

    best, best_score = None, math.inf
    for width in range(32, 1025, 32):
        for depth in range(1, 13):
            heads = max(1, width // 32)
            size = counts(fields, width, depth, heads)["total" if parameter_count == "total" else "non_embedding"]
            score = abs(math.log(size / target_n)) + 0.05 * abs(math.log(width / depth / 48))
            if score < best_score:
                best, best_score = {"width": width, "depth": depth, "heads": heads, "N": size}, score
    return best


def verify_spec(fit_run_id: str, n_params: float, tokens: float) -> dict:
    """A "pretrain" spec for predict-then-verify: the sweep's own settings, a model near N, D tokens.
    Raises LabError when the fit did not come from a sweep or the run would be too long for a CPU."""
    return _verify_spec(sweep_spec_of(fit_run_id), fit_run_id, n_params, tokens)


def _verify_spec(sweep: dict | None, fit_run_id: str, n_params: float, tokens: float) -> dict:
    from lab.errors import LabError
    from lab.pretrain.fields import TinyModelFields
    from lab.specs import spec_from_dict

    if not sweep:
        raise LabError("scaling_verify_needs_sweep")
    fields = spec_from_dict(sweep)
    shape = choose_shape(fields, n_params, getattr(fields, "parameter_count", "non_embedding"))
    if 6.0 * shape["N"] * tokens > MAX_VERIFY_FLOPS:
        raise LabError("scaling_verify_too_big", flops=f"{6.0 * shape['N'] * tokens:.2g}", limit=f"{MAX_VERIFY_FLOPS:.0e}")
    shared = {name: getattr(fields, name) for name in TinyModelFields.__dataclass_fields__}
    return {"kind": "pretrain", **shared, "width": shape["width"], "depth": shape["depth"], "heads": shape["heads"],
            "tokens": int(tokens), "seed": fields.seed, "save_model": True,
            "name": f"verify N≈{shape['N']:,} D={int(tokens):,} [fit {fit_run_id}]"}


def verified_point(pretrain_result: dict) -> tuple[str | None, float, float, float] | None:
    """(fit run id, N, D, measured loss) from a finished verify run, in the fit's N convention."""
    spec = pretrain_result.get("spec") or {}
    match = VERIFY_NAME.search(spec.get("name", ""))
    if not match:
        return None
    metrics = pretrain_result["metrics"]
    sweep = sweep_spec_of(match.group(1)) or {}
    n = metrics["n_params"] if sweep.get("parameter_count") == "total" else metrics["N"]
    return match.group(1), float(n), float(metrics["D"]), float(metrics["held_out_loss"])
