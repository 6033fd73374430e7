"""Compute-optimal allocation for a fitted L(N, D) = E + A/N^α + B/D^β under C ≈ 6·N·D FLOPs.

Minimising L along a budget C (D = C/(6N)) gives Hoffmann et al.'s closed form:

    N_opt(C) = G · (C/6)^a,   D_opt(C) = G⁻¹ · (C/6)^b,   a = β/(α+β),  b = α/(α+β),
    G = (α·A / (β·B))^(1/(α+β))

so N_opt · D_opt = C/6 exactly, and tokens per parameter D_opt/N_opt = G⁻² (C/6)^(b−a) — about
20 for the published Chinchilla fit at Chinchilla's budget. Every function takes the parameters as
a dict of floats or of numpy arrays (one entry per bootstrap fit) and broadcasts against C.
"""
import numpy as np

FLOPS_PER_PARAM_TOKEN = 6.0  # forward (2) + backward (4) multiply-adds per parameter per token


def exponents(params: dict):
    """(a, b): N_opt ∝ C^a, D_opt ∝ C^b; a + b = 1."""
    total = params["alpha"] + params["beta"]
    return params["beta"] / total, params["alpha"] / total


def g_factor(params: dict):
    alpha, beta = params["alpha"], params["beta"]
    return (alpha * params["A"] / (beta * params["B"])) ** (1.0 / (alpha + beta))


def optimal_allocation(params: dict, compute):
    """(N_opt, D_opt) for budgets `compute` in FLOPs."""
    a, b = exponents(params)
    g = g_factor(params)
    scaled = np.asarray(compute, dtype=float) / FLOPS_PER_PARAM_TOKEN
    return g * scaled**a, scaled**b / g


def tokens_per_parameter(params: dict, compute):
    n_opt, d_opt = optimal_allocation(params, compute)
    return d_opt / n_opt


def predicted_loss(params: dict, n_params, tokens):
    return params["E"] + params["A"] / np.asarray(n_params, float) ** params["alpha"] \
        + params["B"] / np.asarray(tokens, float) ** params["beta"]


def isoflop_loss(params: dict, n_params, compute):
    """Loss of a model of N parameters trained on the budget C, i.e. on D = C/(6N) tokens."""
    n_params = np.asarray(n_params, dtype=float)
    return predicted_loss(params, n_params, np.asarray(compute, float) / (FLOPS_PER_PARAM_TOKEN * n_params))


def optimal_loss(params: dict, compute):
    n_opt, d_opt = optimal_allocation(params, compute)
    return predicted_loss(params, n_opt, d_opt)


def compute_of(n_params, tokens):
    return FLOPS_PER_PARAM_TOKEN * np.asarray(n_params, float) * np.asarray(tokens, float)
