"""OWL: Outlier Weighed Layerwise sparsity (Yin et al., 2023, arXiv 2310.05175), on top of Wanda.

Uniform Wanda prunes every layer at the same share s. OWL notices that the layers differ in how many
"outlier" weights they hold -- Wanda scores |W_ij|·||X_j|| far above the layer's mean -- and that
pruning those layers hard hurts most. So each decoder layer l gets its own sparsity:

    D_l = share of the layer's Wanda scores (all its linear sublayers together) above M × their mean
    s_l = s − (scale(D)_l − mean(scale(D)))     scale: min-max onto [0, 2λ]

so the layer sparsities average exactly to s (unweighted over layers, as in the authors' code) and lie
in [s − 2λ, s + 2λ]: the layer with the most outliers is pruned least. Then Wanda prunes within each
layer at s_l (each output row loses its lowest scores; lab/prune/masks.py).

    plan = owl_plan(model, norms, sparsity=0.7)         # per layer: outlier ratio D_l and sparsity s_l
    owl_prune(model, norms, plan)                       # zeroes the weights in place
    plan_rows(plan)                                     # rows for a bar chart

`norms` are Wanda's input-feature norms (lab/prune/calibrate.py), computed in one pass of the dense
model: the outlier ratios are then exactly the reference's (its first pass does not prune either);
its pruning pass feeds each layer the already-pruned layers' outputs, which the lab skips (as in wanda.py).
"""
import re
from dataclasses import dataclass

from lab.errors import LabError

DEFAULT_M = 5.0  # outlier threshold: score > M × the layer mean (the paper's and reference script's value)
DEFAULT_LAMBDA = 0.08  # largest departure from the target, ±2λ spread in all (reference script, LLaMA-7B at 70 %)

_BLOCK = re.compile(r"^(.*?)\.(\d+)\.")  # "layers.3.mlp.up_proj" -> decoder block 3


@dataclass(frozen=True)
class LayerPlan:
    index: int  # decoder block number
    names: tuple  # its linear sublayers (short names, as lab.quantize.inside.linear_layers gives them)
    outlier_ratio: float  # D_l: share of scores above M × mean, 0..1
    sparsity: float  # s_l


def decoder_blocks(layers: list) -> dict:
    """{block index: [(name, module), ...]} from (name, module) pairs; names without a block number
    (none in a Llama besides lm_head, which linear_layers already skips) are left out."""
    blocks = {}
    for name, module in layers:
        found = _BLOCK.match(name)
        if found:
            blocks.setdefault(int(found.group(2)), []).append((name, module))
    return dict(sorted(blocks.items()))


def outlier_ratio(scores: list, m: float) -> float:
    """Share of all the given score tensors' entries above m × their common mean."""
    import torch

    flat = torch.cat([s.flatten().float() for s in scores])
    return float((flat > m * flat.mean()).float().mean())


def layer_sparsities(ratios: list, sparsity: float, lam: float) -> list:
    """s_l from the outlier ratios D_l: min-max scaled to [0, 2λ], centred on the mean, taken from s.
    Equal ratios (or one layer) give every layer s. Refuses λ > s and any s_l outside [0, 1)."""
    check_settings(sparsity, lam)
    low, high = min(ratios), max(ratios)
    if high - low <= 0:
        return [float(sparsity)] * len(ratios)
    scaled = [(r - low) / (high - low) * 2 * lam for r in ratios]
    centre = sum(scaled) / len(scaled)
    out = [float(sparsity - (x - centre)) for x in scaled]
    for index, value in enumerate(out):
        if not 0 <= value < 1:
            raise LabError("prune_owl_layer_sparsity", layer=index, sparsity=round(value, 4),
                           target=sparsity, lam=lam)
    return out


def check_settings(sparsity: float, lam: float, m: float = DEFAULT_M) -> None:
    if not 0 <= sparsity < 1:
        raise LabError("prune_owl_sparsity", sparsity=sparsity)
    if lam < 0 or lam > sparsity:  # λ > s would ask the most-outlier layer for a negative sparsity
        raise LabError("prune_owl_lambda", lam=lam, sparsity=sparsity)
    if m <= 0:
        raise LabError("prune_owl_m", m=m)


def owl_plan(model, norms: dict, sparsity: float, m: float = DEFAULT_M, lam: float = DEFAULT_LAMBDA) -> list:
    """LayerPlan of every decoder block: its outlier ratio and its sparsity. Nothing is pruned."""
    from lab.prune.methods.wanda import scores
    from lab.quantize.inside import linear_layers

    check_settings(sparsity, lam, m)
    blocks = decoder_blocks(linear_layers(model))
    if not blocks:
        raise LabError("prune_owl_no_blocks", model=type(model).__name__)
    ratios = []
    for members in blocks.values():
        ratios.append(outlier_ratio([scores(module.weight, norms[name].to(module.weight.device))
                                     for name, module in members], m))
    sparsities = layer_sparsities(ratios, sparsity, lam)
    return [LayerPlan(index, tuple(name for name, _ in members), ratio, s)
            for (index, members), ratio, s in zip(blocks.items(), ratios, sparsities)]


def owl_prune(model, norms: dict, plan: list) -> None:
    """Wanda within each decoder block at its planned sparsity (every sublayer reaches it exactly)."""
    import torch

    from lab.prune.masks import per_row_mask
    from lab.prune.methods.wanda import scores
    from lab.quantize.inside import linear_layers

    modules = dict(linear_layers(model))
    with torch.no_grad():
        for layer in plan:
            for name in layer.names:
                module = modules[name]
                keep = per_row_mask(scores(module.weight, norms[name].to(module.weight.device)), layer.sparsity)
                module.weight.mul_(keep.to(module.weight.dtype))


def plan_rows(plan: list) -> list:
    """One row per decoder block for the bar chart: sparsity chosen and outlier ratio beside it (in %)."""
    return [{"layer": p.index, "sparsity": round(p.sparsity, 6), "outlier_ratio_pct": round(100 * p.outlier_ratio, 4)}
            for p in plan]
