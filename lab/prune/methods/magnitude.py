"""Magnitude pruning: drop the weights with the smallest |W| in each layer (Han et al., 2015,
https://arxiv.org/abs/1506.02626).

Unstructured pruning uses torch.nn.utils.prune.l1_unstructured, which prunes exactly
round(sparsity × weights) of the layer, then makes the zeros permanent (prune.remove)."""
from lab.prune.methods import METHODS, PruneMethod


def prune(module, sparsity: float, input_norm, pattern: str) -> None:
    import torch
    from torch.nn.utils import prune as torch_prune

    from lab.prune.masks import n_m_mask

    if pattern == "2:4":
        torch_prune.custom_from_mask(module, "weight", n_m_mask(module.weight.detach().abs(), 2, 4).to(torch.float32))
    elif sparsity > 0:
        torch_prune.l1_unstructured(module, "weight", amount=float(sparsity))
    else:
        return
    torch_prune.remove(module, "weight")


METHODS.register("magnitude", PruneMethod(prune))
