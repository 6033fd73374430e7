"""Bootstrap uncertainty for a Chinchilla fit: refit on data points drawn with replacement (seeded),
report standard errors and 95 % percentile intervals for every parameter and derived quantity.

A resample is a vector of integer weights (how often each point was drawn), so all resamples are
refitted together in one batched L-BFGS run, each from the distinct local optima of the full fit
(warm starts: a resample moves the optimum a little, rarely to another basin).

    boot = bootstrap_chinchilla(fit, N, D, loss, samples=200, seed=0)
    boot.params["alpha"]        -> array of 200 refitted α
    summarize(boot.quantities()) -> {"alpha": {"se": ..., "ci_low": ..., "ci_high": ...}, ...}
"""
from dataclasses import dataclass

import numpy as np

from lab.scaling import allocation
from lab.scaling.fit import CHINCHILLA_NAMES, LawFit, chinchilla_params
from lab.scaling.lbfgs import minimize_batched
from lab.scaling.objective import HUBER_DELTA, LawObjective

CONFIDENCE = 0.95


@dataclass
class Bootstrap:
    params: dict  # name -> (samples,) array, one refit per kept resample
    thetas: np.ndarray  # (samples, 5) raw (a, b, e, alpha, beta)
    converged: float  # share of refits that converged
    dropped: int  # resamples skipped because they held one N or one D only
    seed: int

    @property
    def samples(self) -> int:
        return len(self.thetas)

    def quantities(self, compute=None) -> dict:
        """Parameters plus allocation figures (exponents a, b, G; N_opt, D_opt and tokens per
        parameter at the budget `compute`, if given), each an array over the resamples."""
        out = dict(self.params)
        out["n_opt_exponent"], out["d_opt_exponent"] = allocation.exponents(self.params)
        out["G"] = allocation.g_factor(self.params)
        if compute:
            out["n_opt"], out["d_opt"] = allocation.optimal_allocation(self.params, compute)
            out["tokens_per_parameter"] = out["d_opt"] / out["n_opt"]
        return out


def bootstrap_chinchilla(fit: LawFit, n_params, tokens, loss, samples: int = 200, seed: int = 0,
                         delta: float = HUBER_DELTA, max_iter: int = 1000) -> Bootstrap:
    features = np.log(np.stack([np.asarray(n_params, float), np.asarray(tokens, float)]))
    log_loss = np.log(np.asarray(loss, float))
    n = log_loss.size
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=samples).astype(float)
    usable = np.array([_spread(features[0], c) and _spread(features[1], c) for c in counts], dtype=bool)
    counts = counts[usable]
    starts = fit.candidates if len(fit.candidates) else fit.theta[None]
    k = len(starts)
    objective = LawObjective(features, log_loss, delta=delta, weights=np.repeat(counts, k, axis=0))
    result = minimize_batched(objective, np.tile(starts, (len(counts), 1)), max_iter=max_iter)
    values = np.where(np.isfinite(result.f), result.f, np.inf).reshape(len(counts), k)
    best = values.argmin(axis=1) + np.arange(len(counts)) * k
    thetas = result.x[best]
    params = {name: np.array([chinchilla_params(t)[name] for t in thetas]) for name in CHINCHILLA_NAMES}
    return Bootstrap(params=params, thetas=thetas, converged=float(result.converged[best].mean()) if len(best) else 0.0,
                     dropped=int((~usable).sum()), seed=seed)


def _spread(values, counts) -> bool:
    """True if the resample holds at least two distinct values of this variable."""
    drawn = values[counts > 0]
    return drawn.size > 0 and drawn.max() > drawn.min()


def summarize(quantities: dict, confidence: float = CONFIDENCE) -> dict:
    """name -> {"se", "ci_low", "ci_high"}: standard deviation over resamples and percentile interval."""
    tail = 100 * (1 - confidence) / 2
    out = {}
    for name, values in quantities.items():
        values = np.asarray(values, dtype=float)
        values = values[np.isfinite(values)]
        if values.size < 2:
            continue
        low, high = np.percentile(values, [tail, 100 - tail])
        with np.errstate(over="ignore", invalid="ignore"):  # a degenerate fit can send A or B to 1e100
            se = float(values.std(ddof=1))
        out[name] = {"ci_low": float(low), "ci_high": float(high), **({"se": se} if np.isfinite(se) else {})}
    return out


def predict_interval(boot: Bootstrap, n_params, tokens, confidence: float = CONFIDENCE):
    """(low, high) percentile band of the predicted loss at (N, D) over the resamples (broadcast)."""
    n_params = np.asarray(n_params, dtype=float)
    tokens = np.asarray(tokens, dtype=float)
    p = {k: v.reshape((-1,) + (1,) * np.broadcast(n_params, tokens).ndim) for k, v in boot.params.items()}
    predictions = allocation.predicted_loss(p, n_params, tokens)
    tail = 100 * (1 - confidence) / 2
    return np.percentile(predictions, tail, axis=0), np.percentile(predictions, 100 - tail, axis=0)
