"""Synthetic scaling-law data drawn from a known law with multiplicative noise, for tests, the
benchmark and the example CSV (assets/data/scaling/chinchilla_like_synthetic.csv).

    points = isoflop_points(EPOCH_REPLICATION, budgets=[1e18, 1e19, 1e20], sizes_per_budget=8, noise=0.015)
    points = random_points(params, n=300, n_range=(5e7, 2e10), d_range=(1e9, 5e11), noise=0.02, seed=0)
"""
import numpy as np
import pandas as pd

from lab.scaling import allocation
from lab.scaling.data import COLUMNS


def _frame(n, d, loss, prefix: str) -> pd.DataFrame:
    n, d = np.asarray(n, float), np.asarray(d, float)
    return pd.DataFrame({"N": n, "D": d, "C": allocation.compute_of(n, d), "loss": np.asarray(loss, float),
                         "label": [f"{prefix}{i + 1}" for i in range(n.size)], "row": np.arange(2, n.size + 2)})[COLUMNS]


def noisy_loss(params: dict, n, d, noise: float, rng) -> np.ndarray:
    """The law's loss times exp(ε), ε ~ Normal(0, noise): noise is a relative error (0.02 = 2 %)."""
    return allocation.predicted_loss(params, n, d) * np.exp(rng.normal(0.0, noise, np.shape(n)))


def random_points(params: dict, n: int, n_range=(5e7, 2e10), d_range=(1e9, 5e11), noise: float = 0.02,
                  seed: int = 0) -> pd.DataFrame:
    """N and D log-uniform over the ranges."""
    rng = np.random.default_rng(seed)
    sizes = np.exp(rng.uniform(*np.log(n_range), n))
    tokens = np.exp(rng.uniform(*np.log(d_range), n))
    return _frame(sizes, tokens, noisy_loss(params, sizes, tokens, noise, rng), "random-")


def isoflop_points(params: dict, budgets, sizes_per_budget: int = 8, spread: float = 4.0, noise: float = 0.015,
                   seed: int = 0) -> pd.DataFrame:
    """Chinchilla's IsoFLOP design: for each budget C, models from N_opt(C)/spread to N_opt(C)·spread,
    each trained on D = C/(6N) tokens."""
    rng = np.random.default_rng(seed)
    sizes, tokens = [], []
    for budget in budgets:
        n_opt, _ = allocation.optimal_allocation(params, budget)
        for n in np.geomspace(n_opt / spread, n_opt * spread, sizes_per_budget):
            n = float(np.round(n, -int(np.floor(np.log10(n))) + 2))  # 3 significant digits, like a model table
            sizes.append(n)
            tokens.append(float(np.round(budget / (allocation.FLOPS_PER_PARAM_TOKEN * n), -6)))
    return _frame(sizes, tokens, noisy_loss(params, np.array(sizes), np.array(tokens), noise, rng), "synthetic-")
