"""Fitting scaling laws: the Chinchilla form L(N, D) = E + A/N^α + B/D^β as in Hoffmann et al.
(2022), Approach 3, and Kaplan et al.'s (2020) single-variable power laws L(X) = (X_c/X)^α_X.

Chinchilla: minimise Σ Huber_δ(LSE(a − α log N, b − β log D, e) − log L), δ = 1e-3, by L-BFGS from
every start of the grid α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1}, a, b ∈ {0, 5, …, 25} (4,500
starts), keeping the best; A = e^a, B = e^b, E = e^e.

How it stays fast (bench/scaling_fit.py measures it against a plain scipy loop): every start runs
at once (lab/scaling/lbfgs.py), and starts are pruned cheaply. The objective is evaluated once at
all 4,500 starts and the quarter with the lowest values is kept (typically a quarter of *all*
starts end in the best basin, so hundreds of kept ones do); those run to loose convergence with
the objective in float32 (exp/log ~3x cheaper), and the `POLISH` best are then converged tightly
in float64. Pruning and screening only decide which starts are worth finishing: the reported
optimum is a float64 one, and tests and the bench check it equals that of running every start.

    fit = fit_chinchilla(N, D, loss)
    fit.params  -> {"A": ..., "B": ..., "E": ..., "alpha": ..., "beta": ...}
    fit.predict(N, D)
"""
import itertools
import time
from dataclasses import dataclass, field

import numpy as np

from lab.errors import LabError
from lab.scaling.lbfgs import minimize_batched
from lab.scaling.objective import HUBER_DELTA, LawObjective

# Hoffmann et al.'s grid of initialisations; parameter order (a, b, e, alpha, beta)
GRID_A = GRID_B = np.arange(0.0, 25.01, 5.0)
GRID_E = np.arange(-1.0, 1.01, 0.5)
GRID_EXPONENT = np.arange(0.0, 2.01, 0.5)
CHINCHILLA_NAMES = ("A", "B", "E", "alpha", "beta")
KEEP = 0.25  # share of the starts run at all: those whose initial objective is lowest
POLISH = 64  # starts finished in float64 after the float32 pass
SCREEN_ITERATIONS = 40  # the float32 pass only ranks starts; the polish finishes the best


def hoffmann_grid() -> np.ndarray:
    """The 4,500 starts (a, b, e, alpha, beta) of Hoffmann et al., Approach 3."""
    return np.array(list(itertools.product(GRID_A, GRID_B, GRID_E, GRID_EXPONENT, GRID_EXPONENT)))


@dataclass
class LawFit:
    """A fitted law: named parameters, objective, convergence, residuals (log L̂ − log L)."""

    law: str  # "chinchilla", "kaplan_N", "kaplan_D", "kaplan_C"
    params: dict
    theta: np.ndarray  # raw parameter row in the objective's layout
    objective: float
    converged: bool
    iterations: int
    n_starts: int
    n_points: int
    residuals: np.ndarray
    seconds: float
    candidates: np.ndarray = field(default_factory=lambda: np.empty((0, 5)))  # distinct local optima, best first

    @property
    def message(self) -> str:
        return self.describe("en")

    def describe(self, lang: str = "en") -> str:
        from lab.present.i18n import t

        key = "scaling.fit.converged" if self.converged else "scaling.fit.not_converged"
        return t(key, lang, iterations=self.iterations, starts=self.n_starts)

    def predict(self, *variables) -> np.ndarray:
        """Predicted loss at the given N, D (Chinchilla) or X (Kaplan), broadcast."""
        p = self.params
        if self.law == "chinchilla":
            n, d = (np.asarray(v, dtype=float) for v in variables)
            return p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]
        x = np.asarray(variables[0], dtype=float)
        return p.get("E", 0.0) + (p["X_c"] / x) ** p["alpha"]

    def to_dict(self) -> dict:
        return {"law": self.law, "params": {k: float(v) for k, v in self.params.items()},
                "objective": float(self.objective), "converged": bool(self.converged),
                "iterations": int(self.iterations), "n_starts": int(self.n_starts),
                "n_points": int(self.n_points), "seconds": round(self.seconds, 4),
                "residuals": [float(r) for r in self.residuals]}


def check_points(columns: dict, loss, n_params: int) -> None:
    """Refuse data a law cannot be fitted to, naming the reason: too few points, a variable with
    only one value, a non-positive or non-finite value."""
    loss = np.asarray(loss, dtype=float)
    for name, values in {**columns, "loss": loss}.items():
        values = np.asarray(values, dtype=float)
        bad = np.flatnonzero(~np.isfinite(values) | (values <= 0))
        if bad.size:
            raise LabError("scaling_point_not_positive", column=name, point=int(bad[0]) + 1, value=float(values[bad[0]]))
    if loss.size <= n_params:
        raise LabError("scaling_too_few_points", points=loss.size, params=n_params, needed=n_params + 1)
    for name, values in columns.items():
        distinct = np.unique(np.asarray(values, dtype=float))
        if distinct.size < 2:
            raise LabError("scaling_one_value", column=name, value=float(distinct[0]))


def minimize_from_starts(features, log_loss, starts, constant=True, delta=HUBER_DELTA, max_iter=1000,
                         keep=KEEP, polish=POLISH, screen=True):
    """Run the `keep` share of the starts with the lowest initial objective; screen them in float32,
    finish the `polish` best in float64. Returns (x, f, converged, iterations) of the finished rows,
    best first. keep=1, screen=False runs every start in float64 to the end."""
    starts = np.asarray(starts, dtype=float)
    exact = LawObjective(features, log_loss, constant=constant, delta=delta)
    rough = LawObjective(features, log_loss, constant=constant, delta=delta, dtype=np.float32)
    if keep < 1 and len(starts) > polish:
        initial = rough(starts)[0]
        count = max(polish, int(np.ceil(keep * len(starts))))
        starts = starts[np.argsort(np.where(np.isfinite(initial), initial, np.inf), kind="stable")[:count]]
    if screen and len(starts) > polish:
        first = minimize_batched(rough, starts, max_iter=min(max_iter, SCREEN_ITERATIONS), ftol=1e-6, gtol=1e-7,
                                 patience=1)
        order = np.argsort(np.where(np.isfinite(first.f), first.f, np.inf), kind="stable")
        starts = first.x[order[:polish]]
    final = minimize_batched(exact, starts, max_iter=max_iter)
    order = np.argsort(np.where(np.isfinite(final.f), final.f, np.inf), kind="stable")
    return final.x[order], final.f[order], final.converged[order], final.iterations[order]


def distinct_optima(x: np.ndarray, f: np.ndarray, limit: int = 8, tolerance: float = 1e-3) -> np.ndarray:
    """Up to `limit` rows of x (sorted best first) that differ from every better row by > tolerance."""
    kept = []
    for row, value in zip(x, f):
        if not np.isfinite(value):
            continue
        if all(np.max(np.abs(row - other)) > tolerance for other in kept):
            kept.append(row)
        if len(kept) == limit:
            break
    return np.array(kept)


def fit_chinchilla(n_params, tokens, loss, delta: float = HUBER_DELTA, starts=None, max_iter: int = 1000,
                   keep: float = KEEP, polish: int = POLISH, screen: bool = True) -> LawFit:
    """Hoffmann et al.'s Approach 3 on points (N, D, L). Refuses unusable data with a LabError."""
    check_points({"N": n_params, "D": tokens}, loss, n_params=5)
    began = time.perf_counter()
    features = np.log(np.stack([np.asarray(n_params, float), np.asarray(tokens, float)]))
    log_loss = np.log(np.asarray(loss, float))
    starts = hoffmann_grid() if starts is None else np.atleast_2d(starts)
    x, f, converged, iterations = minimize_from_starts(features, log_loss, starts, delta=delta, max_iter=max_iter,
                                                       keep=keep, polish=polish, screen=screen)
    best = x[0]
    objective = LawObjective(features, log_loss, delta=delta)
    return LawFit(law="chinchilla", params=chinchilla_params(best), theta=best, objective=float(f[0]),
                  converged=bool(converged[0]), iterations=int(iterations[0]), n_starts=len(starts),
                  n_points=log_loss.size, residuals=objective.residuals(best),
                  seconds=time.perf_counter() - began, candidates=distinct_optima(x, f))


def chinchilla_params(theta) -> dict:
    a, b, e, alpha, beta = (float(v) for v in theta)
    return {"A": float(np.exp(a)), "B": float(np.exp(b)), "E": float(np.exp(e)), "alpha": alpha, "beta": beta}


def fit_power_law(x, loss, variable: str = "N", irreducible: bool = False, max_iter: int = 1000) -> LawFit:
    """Kaplan's L(X) = (X_c/X)^α [+ E], least squares on log L. Without E it is a straight line in
    log-log space: log L = α log X_c − α log X, solved exactly; with E, L-BFGS from a small grid."""
    n_params = 3 if irreducible else 2
    check_points({variable: x}, loss, n_params=n_params)
    began = time.perf_counter()
    log_x, log_loss = np.log(np.asarray(x, float)), np.log(np.asarray(loss, float))
    if not irreducible:
        slope, intercept = np.polyfit(log_x, log_loss, 1)
        theta = np.array([intercept, -slope])  # layout [c, k]: log L = c − k·log X
        objective = LawObjective(log_x[None], log_loss, constant=False, delta=np.inf)
        value = float(objective(theta[None])[0][0])
        converged, iterations, n_starts = True, 0, 1
    else:
        grid = np.array(list(itertools.product(GRID_A, GRID_E, GRID_EXPONENT)))
        objective = LawObjective(log_x[None], log_loss, constant=True, delta=np.inf)
        xs, fs, conv, its = minimize_from_starts(log_x[None], log_loss, grid, delta=np.inf, max_iter=max_iter,
                                                 screen=False)
        theta, value, converged, iterations, n_starts = xs[0], float(fs[0]), bool(conv[0]), int(its[0]), len(grid)
    c, k = theta[0], theta[-1]
    params = {"X_c": float(np.exp(c / k)) if k != 0 else float("inf"), "alpha": float(k)}
    if irreducible:
        params["E"] = float(np.exp(theta[1]))
    return LawFit(law=f"kaplan_{variable}", params=params, theta=theta, objective=value, converged=converged,
                  iterations=iterations, n_starts=n_starts, n_points=log_loss.size,
                  residuals=objective.residuals(theta), seconds=time.perf_counter() - began)
