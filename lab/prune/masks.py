"""Masks from scores: which weights to keep. Pure tensor functions, so a test can check the counts.

    per_row_mask(scores, 0.3)   -> round(0.3 * weights) pruned in all, shared out evenly over the rows (each row
                                   loses its lowest scores; rows differ by at most one weight)
    n_m_mask(scores, 2, 4)      -> in every 4 consecutive weights of a row, the 2 lowest are pruned
"""
from lab.errors import LabError


def per_row_counts(rows: int, columns: int, sparsity: float) -> list:
    """How many weights each row loses: round(sparsity * rows * columns) in all, the remainder going to
    the first rows, so a layer reaches the requested sparsity exactly (as magnitude pruning does)."""
    total = int(round(sparsity * rows * columns))
    base, extra = divmod(total, rows)
    return [base + (1 if row < extra else 0) for row in range(rows)]


def per_row_mask(scores, sparsity: float):
    """Boolean keep-mask: each row loses its per_row_counts(...) lowest scores."""
    import torch

    rows, columns = scores.shape
    counts = per_row_counts(rows, columns, sparsity)
    keep = torch.ones_like(scores, dtype=torch.bool)
    if counts[0]:  # counts[0] is the largest: drop that many lowest in every row, then give one back where due
        order = torch.argsort(scores, dim=1)  # ascending: lowest first
        rank = torch.empty_like(order)
        rank.scatter_(1, order, torch.arange(columns, device=scores.device).expand(rows, columns))
        keep = rank >= torch.tensor(counts, device=scores.device)[:, None]
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
