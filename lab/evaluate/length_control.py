"""Length-controlled win rate (AlpacaEval 2): what the win rate would be if both answers were equally long.

Judges (and people) tend to prefer the longer answer, so a model can "win" by writing more. Fit, over
the games of a model against a baseline,

    P(model wins) = sigmoid(b0 + b1 * tanh(d / s)),   d = len(model answer) - len(baseline answer)

(s: the standard deviation of d, so the term is scale free and bounded, as in AlpacaEval 2's GLM), by
maximum likelihood with ties as half a win, and report sigmoid(b0): the win rate at zero length
difference. b1 > 0 means longer answers win more. This is AlpacaEval's "length_controlled_minimal" model;
fit_many below is its length_controlled_v1, which also has a per-instruction difficulty, estimated from all the
contestants of a run, and falls back to this one when there is a single contestant.
"""
import math

import numpy as np

RIDGE = 1e-3  # keeps the fit finite when every game went one way


def fit(scores, length_differences, ridge: float = RIDGE, iterations: int = 100) -> dict:
    """scores: the model's score per game (1, 0.5, 0); length_differences: its answer minus the baseline's."""
    y = np.asarray(scores, dtype=float)
    d = np.asarray(length_differences, dtype=float)
    if len(y) == 0:
        return {"win_rate": None, "lc_win_rate": None, "length_coefficient": None, "games": 0}
    scale = float(d.std()) or 1.0
    x = np.column_stack([np.ones_like(d), np.tanh(d / scale)])
    beta = np.zeros(2)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-x @ beta))
        gradient = x.T @ (y - p) - ridge * beta
        hessian = -(x.T * (p * (1 - p))) @ x - ridge * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        beta = beta - step
        if np.max(np.abs(step)) < 1e-10:
            break
    return {"win_rate": float(y.mean()), "lc_win_rate": 1 / (1 + math.exp(-beta[0])),
            "length_coefficient": float(beta[1]), "length_scale": scale, "games": int(len(y))}


# --- AlpacaEval 2's length_controlled_v1, with the instruction difficulty estimated from this run ------------
#
# Dubois et al. 2024, "Length-Controlled AlpacaEval" (arXiv:2404.04475), fit per model
#     logit P(model beats baseline on prompt i) = a + b * tanh(d_i / s) + g * difficulty_i
# where difficulty_i was estimated beforehand from many models, plus "gamed baseline" rows (the baseline told to
# be verbose or concise: equal quality, only the length differs) at weight 0.2 that tie down the length slope,
# and report the mean over prompts of the prediction at d = 0. The minimal model (fit above) has no difficulty,
# so a contestant whose answers are all shorter has its length slope confounded with its intercept and is
# "corrected" far too much (AlpacaEval 2's terse gamed model: published LC 12.2, minimal 40.1).
#
# The difficulties cannot be downloaded here, but a judge run has several contestants answering the same
# prompts against the same baseline, so fit_many estimates them in two stages:
#   1. jointly over all contestants: logit = a_c + b_c * tanh(d / s_c) + difficulty_i, with a unit-normal
#      prior on each difficulty (penalty 1/2 * sum difficulty_i^2, fixed, not cross-validated: a prompt rarely
#      moves a win by more than a couple of logits, so the prior is weak beside many games per prompt, keeps a
#      prompt every contestant lost finite, and a fixed value keeps the figure deterministic where a class run's
#      12-100 prompts would make cross-validation folds tiny and noisy);
#   2. per contestant, AlpacaEval's model with those difficulties held fixed and its own coefficient g.
# The gamed rows' role is played by pooling: each contestant's slope is pulled toward the slope b_bar shared by
# all (the judge's own length bias) with the information 0.2 gamed rows per game would carry (p(1-p) t^2 <= 1/4
# each), so a terse contestant borrows the length slope the others reveal instead of inventing one.

GAMED_WEIGHT = 0.2       # AlpacaEval's regularize_to_baseline_lambda
DIFFICULTY_PRIOR = 1.0   # precision of the unit-normal prior on each prompt's difficulty (logits)
ONE_SIDED = 0.9          # this share of answers on one side of the baseline's length: the LC is an extrapolation


def _softplus(z):
    return np.logaddexp(0.0, z)


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def _minimise(objective, start):
    from scipy.optimize import minimize

    found = minimize(objective, start, jac=True, method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-9})
    return found.x


def _tanh_lengths(c, d, n_contestants):
    """tanh(d / s_c) with s_c each contestant's own standard deviation of length differences, as AlpacaEval."""
    scale = np.array([d[c == k].std() if np.any(c == k) else 0.0 for k in range(n_contestants)])
    scale[scale == 0] = 1.0
    return np.tanh(d / scale[c]), scale


def _joint(c, p, t, y, n_c, n_p, pull):
    """Stage 1: intercepts a, slopes b, shared slope b_bar, difficulties; returns (difficulty, b_bar)."""
    def objective(theta):
        a, b, b_bar, diff = theta[:n_c], theta[n_c:2 * n_c], theta[2 * n_c], theta[2 * n_c + 1:]
        z = a[c] + b[c] * t + diff[p]
        r = _sigmoid(z) - y
        gap = b - b_bar
        value = np.sum(_softplus(z) - y * z) + 0.5 * DIFFICULTY_PRIOR * diff @ diff + 0.5 * pull @ gap ** 2 \
            + 0.5 * RIDGE * (a @ a + b @ b)
        grad = np.concatenate([np.bincount(c, r, n_c) + RIDGE * a, np.bincount(c, r * t, n_c) + pull * gap + RIDGE * b,
                               [-(pull @ gap)], np.bincount(p, r, n_p) + DIFFICULTY_PRIOR * diff])
        return value, grad

    theta = _minimise(objective, np.zeros(2 * n_c + 1 + n_p))
    return theta[2 * n_c + 1:], float(theta[2 * n_c])


def _own(t, y, diff, b_bar, pull):
    """Stage 2, one contestant: a + b * t + g * difficulty with the difficulties fixed (AlpacaEval's v1)."""
    x = np.column_stack([np.ones_like(t), t, diff])

    def objective(beta):
        z = x @ beta
        prior = np.array([0.0, beta[1] - b_bar, 0.0])
        value = np.sum(_softplus(z) - y * z) + 0.5 * pull * prior[1] ** 2 + 0.5 * RIDGE * (beta[0] ** 2 + beta[2] ** 2)
        grad = x.T @ (_sigmoid(z) - y) + pull * prior + RIDGE * np.array([beta[0], 0.0, beta[2]])
        return value, grad

    return _minimise(objective, np.array([0.0, b_bar, 1.0]))


def _one_sided(d) -> bool:
    return bool(len(d)) and bool(max(np.mean(d < 0), np.mean(d > 0)) >= ONE_SIDED)


def fit_many(games: list[dict]) -> dict:
    """games: {"contestant", "prompt", "score" in [0, 1] from the contestant's side, "length_difference"
    (contestant minus baseline, characters)}. Returns {contestant: {"win_rate", "lc_win_rate", "games",
    "length_coefficient", "difficulty_coefficient", "model" ("joint" or "minimal"), "extrapolated" (nearly all
    answers on one side of the baseline's length), "longer_share"}}."""
    names = sorted({g["contestant"] for g in games}, key=str)
    if len(names) < 2:  # one contestant: a prompt's difficulty cannot be told from the contestant's skill
        out = {}
        for name in names:
            d = [g["length_difference"] for g in games]
            fitted = fit([g["score"] for g in games], d)
            out[name] = {**fitted, "difficulty_coefficient": None, "model": "minimal", "extrapolated": _one_sided(np.asarray(d)),
                         "longer_share": float(np.mean(np.asarray(d) > 0)) if d else None}
        return out
    prompts = sorted({g["prompt"] for g in games}, key=str)
    c = np.array([names.index(g["contestant"]) for g in games])
    p_of = {prompt: i for i, prompt in enumerate(prompts)}
    p = np.array([p_of[g["prompt"]] for g in games])
    y = np.clip(np.array([float(g["score"]) for g in games]), 0.0, 1.0)
    d = np.array([float(g["length_difference"]) for g in games])
    t, scale = _tanh_lengths(c, d, len(names))
    pull = GAMED_WEIGHT * 0.25 * np.bincount(c, minlength=len(names)).astype(float)
    out = {}
    for k, name in enumerate(names):
        mine = c == k
        # the difficulties and shared slope come from the other contestants' games only: estimated with this
        # contestant's own outcomes in them they would partly encode those outcomes, and g would overfit them
        others = ~mine
        keep = np.flatnonzero(np.arange(len(names)) != k)
        diff, b_bar = _joint(np.searchsorted(keep, c[others]), p[others], t[others], y[others], len(keep),
                             len(prompts), pull[keep])
        a, b, g = _own(t[mine], y[mine], diff[p[mine]], b_bar, pull[k])
        lc = float(np.mean(_sigmoid(a + g * diff[p[mine]])))  # prediction at zero length difference, per prompt
        out[name] = {"win_rate": float(y[mine].mean()), "lc_win_rate": lc, "games": int(mine.sum()),
                     "length_coefficient": float(b), "difficulty_coefficient": float(g), "length_scale": float(scale[k]),
                     "model": "joint", "extrapolated": _one_sided(d[mine]),
                     "longer_share": float(np.mean(d[mine] > 0))}
    return out
