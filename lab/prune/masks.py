"""Masks from scores: which weights to keep. Pure tensor functions, so a test can check the counts.

    per_row_mask(scores, 0.5)   -> in every row, the round(0.5 * columns) lowest scores are pruned
    n_m_mask(scores, 2, 4)      -> in every 4 consecutive weights of a row, the 2 lowest are pruned
"""
from lab.errors import LabError


def per_row_count(columns: int, sparsity: float) -> int:
    return int(round(sparsity * columns))


def per_row_mask(scores, sparsity: float):
    """Boolean keep-mask pruning exactly per_row_count(columns, sparsity) weights of each row."""
    import torch

    k = per_row_count(scores.shape[1], sparsity)
    keep = torch.ones_like(scores, dtype=torch.bool)
    if k:
        lowest = torch.topk(scores, k, dim=1, largest=False).indices
        keep.scatter_(1, lowest, False)
    return keep


def n_m_mask(scores, n: int = 2, m: int = 4, layer: str = ""):
    """Keep-mask pruning the n lowest scores of every m consecutive weights in a row (2:4 = 50 %)."""
    import torch

    rows, columns = scores.shape
    if columns % m:
        raise LabError("prune_24_columns", layer=layer, columns=columns)
    groups = scores.reshape(rows, columns // m, m)
    lowest = torch.topk(groups, n, dim=2, largest=False).indices
    keep = torch.ones_like(groups, dtype=torch.bool)
    keep.scatter_(2, lowest, False)
    return keep.reshape(rows, columns)


def sparsity_of(model_layers) -> float:
    """Share of exact zeros over the weights of the given (name, module) layers."""
    zeros = total = 0
    for _, module in model_layers:
        zeros += int((module.weight == 0).sum())
        total += module.weight.numel()
    return zeros / max(1, total)
