"""Length-controlled win rate (AlpacaEval 2): what the win rate would be if both answers were equally long.

Judges (and people) tend to prefer the longer answer, so a model can "win" by writing more. Fit, over
the games of a model against a baseline,

    P(model wins) = sigmoid(b0 + b1 * tanh(d / s)),   d = len(model answer) - len(baseline answer)

(s: the standard deviation of d, so the term is scale free and bounded, as in AlpacaEval 2's GLM), by
maximum likelihood with ties as half a win, and report sigmoid(b0): the win rate at zero length
difference. b1 > 0 means longer answers win more. AlpacaEval 2 also has a per-instruction difficulty
term; with a handful of prompts per class run that term is not identifiable, so it is left out.
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
