"""One function from data points to everything the Scaling-laws tab shows, shared by the "scaling"
and "scaling_sweep" kinds, and the way back from a run's result to fit objects for the plots.

    metrics, outputs = fit_report(points, bootstrap_samples=200, seed=0)
    metrics["alpha"], metrics["alpha_ci_low"], metrics["alpha_ci_high"], metrics["alpha_se"]
    fit, boot = fit_from_outputs(outputs), bootstrap_from_outputs(outputs)
"""
import numpy as np

from lab.errors import LabError
from lab.scaling import allocation, references
from lab.scaling.bootstrap import Bootstrap, bootstrap_chinchilla, predict_interval, summarize
from lab.scaling.data import frontier_points
from lab.scaling.fit import CHINCHILLA_NAMES, LawFit, chinchilla_params, fit_chinchilla, fit_power_law
from lab.scaling.objective import HUBER_DELTA

INTERVAL_NAMES = CHINCHILLA_NAMES + ("n_opt_exponent", "d_opt_exponent", "G", "n_opt", "d_opt", "tokens_per_parameter")


def fit_report(points, delta: float = HUBER_DELTA, bootstrap_samples: int = 200, seed: int = 0,
               max_iter: int = 1000, compute_budget: float = 0.0, predict_n: float = 0.0, predict_d: float = 0.0,
               kaplan_irreducible: bool = False) -> tuple[dict, dict]:
    n, d, loss = (points[c].to_numpy(dtype=float) for c in ("N", "D", "loss"))
    fit = fit_chinchilla(n, d, loss, delta=delta, max_iter=max_iter)
    budget = compute_budget or float(points["C"].max())
    metrics = {**fit.params, "objective": fit.objective, "n_points": fit.n_points, "n_starts": fit.n_starts,
               "iterations": fit.iterations, "fit_seconds": round(fit.seconds, 3), "compute_budget": budget}
    n_opt, d_opt = allocation.optimal_allocation(fit.params, budget)
    a, b = allocation.exponents(fit.params)
    metrics.update(n_opt_exponent=a, d_opt_exponent=b, G=allocation.g_factor(fit.params), n_opt=float(n_opt),
                   d_opt=float(d_opt), tokens_per_parameter=float(d_opt / n_opt),
                   optimal_loss=float(allocation.optimal_loss(fit.params, budget)))
    boot = None
    if bootstrap_samples >= 2:
        boot = bootstrap_chinchilla(fit, n, d, loss, samples=bootstrap_samples, seed=seed, delta=delta, max_iter=max_iter)
        for name, figures in summarize(boot.quantities(compute=budget)).items():
            for key, value in figures.items():
                metrics[f"{name}_{key}"] = value
        metrics["bootstrap_samples"] = boot.samples
        metrics["bootstrap_converged"] = boot.converged
    if predict_n and predict_d:
        metrics.update(prediction(fit, boot, predict_n, predict_d))
    kaplan, kaplan_messages = {}, {}
    for variable in ("N", "D", "C"):
        chosen = frontier_points(points, variable)
        try:
            law = fit_power_law(chosen[variable], chosen["loss"], variable=variable, irreducible=kaplan_irreducible)
        except LabError as exc:
            kaplan_messages[variable] = {"key": exc.key, "params": {k: str(v) for k, v in exc.params.items()}}
            continue
        if not all(np.isfinite(v) for v in law.params.values()):
            continue  # a flat power law (α = 0) has no X_c: nothing to draw
        kaplan[variable] = law.to_dict()
        metrics[f"kaplan_{variable}_alpha"] = law.params["alpha"]
        metrics[f"kaplan_{variable}_X_c"] = law.params["X_c"]
        if kaplan_irreducible:
            metrics[f"kaplan_{variable}_E"] = law.params["E"]
    # the result must stay strict JSON (the browser parses it): no inf or nan
    metrics = {k: float(v) if isinstance(v, (np.floating, float)) else v for k, v in metrics.items()
               if not isinstance(v, (np.floating, float)) or np.isfinite(v)}
    outputs = {
        "converged": fit.converged,
        "fit_message": fit.message,
        "fit": {**fit.to_dict(), "theta": [float(v) for v in fit.theta],
                "candidates": [[float(v) for v in row] for row in fit.candidates]},
        "bootstrap": None if boot is None else {"thetas": [[float(v) for v in row] for row in boot.thetas],
                                                "converged": boot.converged, "dropped": boot.dropped, "seed": boot.seed},
        "kaplan": kaplan,
        "kaplan_errors": kaplan_messages,
        "points": [{k: (float(v) if k != "label" else str(v)) for k, v in row.items() if k != "row"}
                   for row in points.to_dict("records")],
        "references": {"chinchilla": references.CHINCHILLA, "epoch_replication": references.EPOCH_REPLICATION},
    }
    return metrics, outputs


def prediction(fit: LawFit, boot: Bootstrap | None, n_params: float, tokens: float) -> dict:
    """Predicted loss at (N, D) with its bootstrap 95 % interval."""
    out = {"predict_n": float(n_params), "predict_d": float(tokens),
           "prediction": float(fit.predict(n_params, tokens))}
    if boot is not None and boot.samples > 1:
        low, high = predict_interval(boot, n_params, tokens)
        out.update(prediction_ci_low=float(low), prediction_ci_high=float(high))
    return out


def fit_from_outputs(outputs: dict) -> LawFit:
    stored = outputs["fit"]
    theta = np.array(stored["theta"])
    return LawFit(law="chinchilla", params=chinchilla_params(theta), theta=theta, objective=stored["objective"],
                  converged=stored["converged"], iterations=stored["iterations"], n_starts=stored["n_starts"],
                  n_points=stored["n_points"], residuals=np.array(stored["residuals"]), seconds=stored["seconds"],
                  candidates=np.array(stored.get("candidates") or np.empty((0, 5))))


def bootstrap_from_outputs(outputs: dict) -> Bootstrap | None:
    stored = outputs.get("bootstrap")
    if not stored or not stored.get("thetas"):
        return None
    thetas = np.array(stored["thetas"])
    params = {name: np.array([chinchilla_params(t)[name] for t in thetas]) for name in CHINCHILLA_NAMES}
    return Bootstrap(params=params, thetas=thetas, converged=stored["converged"], dropped=stored["dropped"],
                     seed=stored["seed"])


def kaplan_fits_from_outputs(outputs: dict) -> dict:
    fits = {}
    for variable, stored in (outputs.get("kaplan") or {}).items():
        fits[variable] = LawFit(law=stored["law"], params=stored["params"], theta=np.array([]),
                                objective=stored["objective"], converged=stored["converged"],
                                iterations=stored["iterations"], n_starts=stored["n_starts"],
                                n_points=stored["n_points"], residuals=np.array(stored["residuals"]),
                                seconds=stored["seconds"])
    return fits
