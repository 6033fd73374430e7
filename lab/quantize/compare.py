"""One comparison run: the same model, text, task and prompts under every variant, one after another.

For each variant: load (timed), count weight memory honestly (lab/quantize/memory.py), measure the
process memory it added (RSS on CPU, peak allocated on CUDA), perplexity on held-out text and accuracy
on the continuation task (lab/modeling/scoring.py), generation tokens/s at batch 1 and batched with the same
greedy prompts (lab/modeling/generation.py), and keep the answers for the side-by-side view. The fp32 model,
loaded first, also feeds the look-inside views (per-layer error of every variant, a weight histogram,
activation outliers). Figures and frames go to the run's artifacts; rows come back as the result.
"""
import gc
import logging
import time
import warnings
from pathlib import Path

from lab.modeling.layers import linear_layers
from lab.quantize import inside
from lab.quantize.memory import weight_memory
from lab.quantize.schemes import SCHEMES


def rss_mb() -> float:
    """Resident memory of this process now, in MiB (Linux /proc/self/statm)."""
    import os

    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def layer_info(model) -> dict:
    """Class and storage dtype of the first quantizable layer: proof the layers really are quantized."""
    layers = linear_layers(model)
    if not layers:
        return {"layer_class": "", "weight_dtype": ""}
    _, module = layers[0]
    return {"layer_class": type(module).__name__, "weight_dtype": str(module.weight.dtype).replace("torch.", "")}


def measure(model_path: str, variant, device: str, data, spec, log=print, job=None) -> tuple:
    """(row, answers, model, tokenizer) for one variant; the caller drops the model when done with it. `job`: the
    LoadJob a calibrated scheme loads with (calibration text, progress; what it measured lands in job.extras)."""
    import torch

    from lab.modeling.generation import generate
    from lab.modeling.models import context_length
    from lab.modeling.scoring import perplexity
    from lab.quantize.evaldata import accuracy

    scheme = SCHEMES.get(variant.scheme)
    import transformers  # noqa: F401  (imported before the clock starts: load time is the model's, not the import's)
    if scheme.bitsandbytes:
        import bitsandbytes  # noqa: F401
        # bitsandbytes logs "inputs will be cast to float16" on every int8 matmul of fp32 inputs
        logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    gc.collect()
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    before = rss_mb()
    started = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bitsandbytes warns on every int8 matmul that inputs are cast to fp16
        model, tokenizer, info = scheme.open(model_path, variant, device, job)
        load_seconds = time.time() - started
        memory = weight_memory(model)
        row = {"variant": variant.label, "scheme": variant.scheme, "bits": variant.options.get("bits"), **layer_info(model),
               "load_seconds": round(load_seconds, 3),
               "weights_mb": round(memory["total_bytes"] / 2**20, 3),
               "linear_mb": round(memory["linear_bytes"] / 2**20, 4),
               "quant_state_mb": round(memory["linear_state_bytes"] / 2**20, 4),
               "footprint_mb": round(memory["footprint_bytes"] / 2**20, 3),
               "bits_per_weight": round(memory["linear_bits_per_weight"], 3)}
        if scheme.packed_bits is not None:  # fake-quant keeps fp32 in memory; say what the packed format would take
            layers = linear_layers(model)
            total = sum(m.weight.numel() for _, m in layers)
            bits = sum(scheme.packed_bits(variant, m.weight.shape) * m.weight.numel() for _, m in layers) / max(1, total)
            row["packed_bits_per_weight"] = round(bits, 3)
            row["packed_linear_mb"] = round(bits * total / 8 / 2**20, 4)
        window = min(spec.eval_window, context_length(model) or spec.eval_window)  # no positions past training
        scored = perplexity(model, tokenizer, data.eval_texts, max_length=window, batch_size=spec.eval_batch_size)
        row["ppl"], row["ppl_se"] = round(scored["perplexity"], 4), round(scored["perplexity_se"], 4)
        acc = accuracy(model, tokenizer, data, batch_size=spec.eval_batch_size)
        row["accuracy"] = None if acc is None else round(acc, 4)
        answers = []
        if spec.prompts:
            kwargs = dict(max_new_tokens=spec.max_new_tokens, use_chat_template=spec.use_chat_template, seed=spec.seed)
            if scheme.real_speed:
                single = generate(model, tokenizer, spec.prompts[:1], batch_size=1, **kwargs)
                row["tokens_per_second_b1"] = round(single.tokens_per_second, 2)
            batched = generate(model, tokenizer, spec.prompts, batch_size=len(spec.prompts), **kwargs)
            if scheme.real_speed:
                row["tokens_per_second_batched"] = round(batched.tokens_per_second, 2)
            answers = [r.text for r in batched]
    row["memory_added_mb"] = round(torch.cuda.max_memory_allocated() / 2**20 if cuda else rss_mb() - before, 1)
    log(f"{variant.label}: {row['layer_class']} ({row['weight_dtype']}), linear {row['linear_mb']:.3f} MB, "
        f"ppl {row['ppl']:.3f}, accuracy {row['accuracy']}, load {load_seconds:.2f} s"
        + (f", {row['tokens_per_second_batched']:.1f} tokens/s batched" if "tokens_per_second_batched" in row else ""))
    return row, answers, model, tokenizer


def add_ratios(rows: list) -> list:
    """Each row's linear-layer memory and speed as a ratio of the fp32 row's (same run)."""
    base = next((r for r in rows if r["scheme"] == "fp32"), None)
    if base is None:
        return rows
    for row in rows:
        row["linear_vs_fp32"] = round(row["linear_mb"] / base["linear_mb"], 4) if base["linear_mb"] else None
        for key in ("tokens_per_second_b1", "tokens_per_second_batched"):
            if row.get(key) and base.get(key):
                row[key.replace("tokens_per_second", "speed") + "_vs_fp32"] = round(row[key] / base[key], 3)
    return rows


def look_inside(model, tokenizer, variants, data, spec) -> dict:
    """The frames of the three views, computed on the fp32 model (calibrated schemes add their own
    per-layer errors once they have run: lab/kinds/quantize.py)."""
    errors = inside.layer_errors(model, variants, SCHEMES.get)
    layers = dict(linear_layers(model))
    layer = spec.inside_layer or list(layers)[len(layers) // 2]
    if layer not in layers:
        from lab.errors import LabError

        raise LabError("quantize_unknown_layer", layer=layer, layers=", ".join(list(layers)[:12]))
    weight = layers[layer].weight.detach().float().cpu().numpy()
    histograms = {n: inside.weight_histogram(weight, n) for n in inside.NORMALIZATIONS}
    from lab.modeling.models import context_length

    outliers = inside.activation_outliers(model, tokenizer, data.calibration_texts[:spec.outlier_texts],
                                          max_length=min(spec.eval_window, context_length(model) or spec.eval_window))
    return {"layer": layer, "errors": errors, "histograms": histograms, "outliers": outliers,
            "spikes": inside.spikes(histograms["minmax32"])}
