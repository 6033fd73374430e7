"""GPTQ as the paper states it before its speed-ups, for checking lab/quantize/gptq.py (tests, bench).

Frantar et al. 2022 (arXiv 2210.17323), eq. 2-3 (the OBS update, Hassibi & Stork 1993) applied in a
fixed column order: after rounding column q, every later column moves by −err · [H⁻¹]_{q,:} / [H⁻¹]_qq,
and q leaves H⁻¹ by one step of Gaussian elimination. No Cholesky factor, no blocks, no lazy
updates: O(columns³) per layer, so only for checking. Per-row grids (group size 0), lab RTN grids.
"""
from lab.quantize import rtn


def paper_gptq(weight, hessian, bits: int, mode: str = "symmetric", percdamp: float = 0.01):
    import torch

    W = weight.detach().clone().double()
    H = hessian.detach().clone().double()
    dead = torch.diag(H) == 0
    grid = rtn.grid_of(W, bits, mode)  # from the weights before dead columns are zeroed, as gptq.py
    H[dead, dead] = 1
    W[:, dead] = 0
    H.diagonal().add_(percdamp * H.diagonal().mean())
    inverse = torch.linalg.inv(H)
    for q in range(W.shape[1]):
        quantized = rtn.round_to_grid(W[:, q:q + 1], grid)
        err = (W[:, q:q + 1] - quantized) / inverse[q, q]
        W[:, q:] -= err @ inverse[q:q + 1, q:]
        W[:, q:q + 1] = quantized
        inverse = inverse - inverse[:, q:q + 1] @ inverse[q:q + 1, :] / inverse[q, q]
    return W
