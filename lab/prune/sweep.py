"""The sparsity sweep: every method at every sparsity on the same model, calibration and eval text.

The dense fp32 weights are kept once; each point restores them, prunes every linear layer (not the
output layer), checks the sparsity reached, and measures perplexity and accuracy (lab/modeling/scoring.py).
Sparsity 0 is the dense model: measured once and shared by every method.
"""
import time

from lab.prune.masks import sparsity_of
from lab.prune.methods import METHODS


def point_label(method: str, sparsity: float, pattern: str) -> str:
    return f"{method}@2:4" if pattern == "2:4" else f"{method}@{sparsity:g}"


def points(spec) -> list:
    """(method, sparsity, pattern) of every point of the sweep, in order."""
    out = [(m, s, "unstructured") for m in spec.methods for s in spec.sparsities]
    if spec.two_four:  # methods that plan their own per-layer shares (OWL) have no 2:4 point
        out += [(m, 0.5, "2:4") for m in spec.methods if "2:4" in METHODS.get(m).patterns]
    return out


def prune_model(model, method: str, sparsity: float, pattern: str, norms: dict, spec=None) -> dict:
    """Prune in place with the method (per layer, or planned across layers); returns what a whole-model
    method chose (OWL: {"layers": per-layer sparsity and outlier ratio}), else {}."""
    return METHODS.get(method).apply(model, sparsity, pattern, norms, spec)


def run_sweep(model, tokenizer, spec, data, progress=None, log=print, on_point=None) -> tuple:
    """(rows, dense weights, Wanda's input norms): the model is left at the last point's pruning."""
    import torch

    from lab.prune.calibrate import input_norms
    from lab.quantize.evaldata import accuracy
    from lab.modeling.layers import linear_layers
    from lab.modeling.scoring import perplexity
    from lab.modeling.models import context_length

    window = min(spec.eval_window, context_length(model) or spec.eval_window)
    layers = linear_layers(model)
    dense = {name: module.weight.detach().clone() for name, module in layers}
    norms = {}
    if any(METHODS.get(m).needs_calibration for m in spec.methods):
        norms = input_norms(model, tokenizer, data.calibration_texts, layers, max_length=window)
    rows, dense_row = [], None
    todo = points(spec)
    for index, (method, sparsity, pattern) in enumerate(todo):
        if progress:
            progress(index, len(todo), point_label(method, sparsity, pattern))
        started = time.time()
        if sparsity == 0 and pattern == "unstructured" and dense_row is not None:
            rows.append({**dense_row, "method": method, "point": point_label(method, 0, pattern)})
            continue
        with torch.no_grad():
            for name, module in layers:
                module.weight.copy_(dense[name])
        chosen = prune_model(model, method, sparsity, pattern, norms, spec)
        row = {"point": point_label(method, sparsity, pattern), "method": method, "pattern": pattern,
               "target_sparsity": sparsity, "sparsity": round(sparsity_of(layers), 6),
               "ppl": round(perplexity(model, tokenizer, data.eval_texts, max_length=window,
                                       batch_size=spec.eval_batch_size)["perplexity"], 4)}
        acc = accuracy(model, tokenizer, data, batch_size=spec.eval_batch_size)
        row["accuracy"] = None if acc is None else round(acc, 4)
        row["seconds"] = round(time.time() - started, 2)
        if chosen.get("layers"):
            row["layers"] = chosen["layers"]  # per decoder layer: sparsity chosen, outlier ratio (OWL)
        log(f"{row['point']}: sparsity {row['sparsity']:.4f}, ppl {row['ppl']:.3f}, accuracy {row['accuracy']}")
        if sparsity == 0 and pattern == "unstructured":
            dense_row = row
        rows.append(row)
        if on_point:
            on_point(index, row, model)
    return rows, dense, norms


def restore(model, dense: dict) -> None:
    import torch

    from lab.modeling.layers import linear_layers

    with torch.no_grad():
        for name, module in linear_layers(model):
            module.weight.copy_(dense[name])
