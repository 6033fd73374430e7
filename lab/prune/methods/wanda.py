"""Wanda (Sun et al., 2023, "A Simple and Effective Pruning Approach for Large Language Models",
https://arxiv.org/abs/2306.11695):

    score_ij = |W_ij| · ||X_j||_2

where ||X_j|| is the norm of input feature j over the calibration tokens. A small weight on a feature
with huge activations (an outlier feature) matters more than its size says, so it is kept. Weights are
compared within each output row (each output keeps the same share), no retraining, no weight update.
The lab computes the norms in one pass of the dense model (the paper's code feeds each layer the
outputs of the already-pruned layers before it; for small models the difference is small)."""
from lab.prune.methods import METHODS, PruneMethod


def scores(weight, input_norm):
    return weight.detach().abs().float() * input_norm.float()[None, :]


def prune(module, sparsity: float, input_norm, pattern: str) -> None:
    import torch

    from lab.prune.masks import n_m_mask, per_row_mask

    score = scores(module.weight, input_norm.to(module.weight.device))
    keep = n_m_mask(score, 2, 4) if pattern == "2:4" else per_row_mask(score, sparsity)
    with torch.no_grad():
        module.weight.mul_(keep.to(module.weight.dtype))


METHODS.register("wanda", PruneMethod(prune, needs_calibration=True))
