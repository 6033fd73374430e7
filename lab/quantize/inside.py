"""Look inside: the data behind the teaching views, as pandas frames from a model's own tensors.

- weight_histogram: one layer's weights, normalised the way a 4-bit format sees them (divided by the
  absmax of their block of 64, as NF4/FP4 do), with the code points each format can store;
- layer_errors: relative error ||W - Q(W)|| / ||W|| (and SNR in dB) of every linear layer under every
  variant, from each scheme's own quantize-dequantize function (GPTQ's come from its run, with the output
  error on calibration inputs beside RTN's: calibrated_errors);
- activation_outliers: per hidden dimension, the largest |input| each linear layer reading the
  residual stream sees on sample text — the few outlier features behind LLM.int8's 16-bit columns.
The figures (lab/quantize/plots.py) are drawn from these frames and nothing else.
"""
import math

import numpy as np
import pandas as pd

from lab.modeling.layers import linear_layers

# The 16 NF4 levels (bitsandbytes.functional.get_4bit_type("nf4")): normal-distribution quantiles in [-1, 1].
NF4_LEVELS = (-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
              -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
              0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
              0.7229568362236023, 1.0)
# FP4 (e2m1) levels as bitsandbytes scales them into [-1, 1].
FP4_LEVELS = tuple(sorted({s * v for v in (0.0, 0.0052083334885537624, 0.1666666716337204, 0.25,
                                           0.3333333432674408, 0.5, 0.6666666865348816, 1.0) for s in (1, -1)}))
NORMALIZATIONS = ("absmax64", "minmax32", "none")


def normalized(weight: np.ndarray, normalization: str) -> np.ndarray:
    """absmax64: w / max|w| of its block of 64 (NF4's view, in [-1, 1]); minmax32: each block of 32 mapped
    onto [-1, 1] by its min and max (the grid of a 4-bit file like Q4_1 shows as 16 spikes); none: raw."""
    flat = np.asarray(weight, dtype=np.float64).reshape(-1)
    if normalization == "none":
        return flat
    size = 64 if normalization == "absmax64" else 32
    flat = flat[: len(flat) // size * size].reshape(-1, size)
    if normalization == "absmax64":
        return (flat / np.maximum(np.abs(flat).max(axis=1, keepdims=True), 1e-12)).reshape(-1)
    low, high = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
    return ((flat - low) / np.maximum(high - low, 1e-12) * 2 - 1).reshape(-1)


def weight_histogram(weight, normalization: str = "absmax64", bins: int = 241) -> pd.DataFrame:
    """Counts of the (normalised) weights in equal bins: columns center, count, share."""
    values = normalized(weight, normalization)
    low, high = (-1.0, 1.0) if normalization != "none" else (float(values.min()), float(values.max()))
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    return pd.DataFrame({"center": (edges[:-1] + edges[1:]) / 2, "count": counts, "share": counts / max(1, len(values))})


def code_points(normalization: str = "absmax64") -> pd.DataFrame:
    """The values each format can store, in the histogram's units: columns format, value."""
    if normalization == "absmax64":
        rows = ([("nf4", v) for v in NF4_LEVELS] + [("fp4", v) for v in FP4_LEVELS]
                + [("int8", k / 127) for k in range(-127, 128)])
    elif normalization == "minmax32":
        rows = [("grid4", -1 + 2 * k / 15) for k in range(16)]  # the 16 levels of any 4-bit min-max format
    else:
        rows = []
    return pd.DataFrame(rows, columns=["format", "value"])


def spikes(hist: pd.DataFrame, top: int = 16) -> float:
    """Share of all weights in the `top` fullest bins: ~1 for weights already on a 16-level grid."""
    return float(hist["count"].nlargest(top).sum() / max(1, hist["count"].sum()))


def layer_errors(model, variants, get_scheme) -> pd.DataFrame:
    """Relative error and SNR (dB) of every linear layer under every variant: columns layer, variant, rel_error, snr_db."""
    import torch

    rows = []
    with torch.no_grad():
        for name, module in linear_layers(model):
            weight = module.weight.detach().float()
            for variant in variants:
                quantized = get_scheme(variant.scheme).fake_quant(weight, variant)
                if quantized is None:  # not a function of the weight alone (GPTQ, smoothed, trained): added after its run
                    continue
                error = float((weight - quantized).norm() / weight.norm().clamp(min=1e-12))
                snr = 20 * math.log10(1 / error) if error > 0 else float("inf")
                rows.append({"layer": name, "variant": variant.label, "rel_error": error, "snr_db": snr})
    return pd.DataFrame(rows, columns=["layer", "variant", "rel_error", "snr_db"])


def with_calibrated_errors(errors: pd.DataFrame, rows: list) -> pd.DataFrame:
    """The layer_errors frame plus the rows a calibrated scheme measured during its run (GPTQ: layer,
    variant, rel_error, output_error, and its RTN twin at the same bits and group on the same inputs).
    The twin's output error fills the RTN sweep's row of that label where there is one, else it is added."""
    frame = errors.copy()
    if "output_error" not in frame:
        frame["output_error"] = float("nan")
    added = []
    for row in rows:
        added.append({"layer": row["layer"], "variant": row["variant"], "rel_error": row["rel_error"],
                      "snr_db": _snr(row["rel_error"]), "output_error": row["output_error"]})
        twin = (frame["layer"] == row["layer"]) & (frame["variant"] == row["twin"])
        if twin.any():
            frame.loc[twin, "output_error"] = row["twin_output_error"]
        elif not any(a["layer"] == row["layer"] and a["variant"] == row["twin"] for a in added):
            added.append({"layer": row["layer"], "variant": row["twin"], "rel_error": row["twin_rel_error"],
                          "snr_db": _snr(row["twin_rel_error"]), "output_error": row["twin_output_error"]})
    if not added:
        return frame
    return pd.concat([frame, pd.DataFrame(added)], ignore_index=True)


def _snr(error: float) -> float:
    return 20 * math.log10(1 / error) if error > 0 else float("inf")


def activation_outliers(model, tokenizer, texts: list, max_length: int = 256) -> pd.DataFrame:
    """Max |input| per hidden dimension of every linear layer that reads the residual stream (its
    in_features is the model width), over `texts`: columns layer, dim, max_abs."""
    import torch

    width = model.config.hidden_size
    chosen = [(name, m) for name, m in linear_layers(model) if m.in_features == width]
    seen_inputs, maxima, hooks = {}, {}, []
    for name, module in chosen:
        def hook(mod, args, name=name):
            x = args[0].detach().float().abs().reshape(-1, args[0].shape[-1]).amax(dim=0)
            key = id(args[0])  # q, k and v read the same tensor: one row for the three
            if key in seen_inputs and seen_inputs[key][0] != name:
                return
            seen_inputs[key] = (name, args[0])  # holding the tensor keeps its id from being reused in this pass
            maxima[name] = torch.maximum(maxima[name], x) if name in maxima else x
        hooks.append(module.register_forward_pre_hook(hook))
    try:
        run_texts(model, tokenizer, texts, max_length, before_each=seen_inputs.clear)
    finally:
        for h in hooks:
            h.remove()
    rows = [(name, dim, float(v)) for name, values in maxima.items() for dim, v in enumerate(values.cpu().tolist())]
    return pd.DataFrame(rows, columns=["layer", "dim", "max_abs"])


def run_texts(model, tokenizer, texts: list, max_length: int, before_each=None) -> None:
    """One forward pass per text (its first max_length tokens), for the hooks that watch the layers."""
    import torch

    device = next(model.parameters()).device
    with torch.inference_mode():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt")["input_ids"][:, :max_length].to(device)
            if before_each is not None:
                before_each()
            model(input_ids=ids)


def outlier_summary(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per layer: how many hidden dimensions exceed the threshold, the largest value, and the median."""
    if frame.empty:
        return pd.DataFrame(columns=["layer", "outlier_dims", "max_abs", "median_abs"])
    grouped = frame.groupby("layer", sort=False)["max_abs"]
    return pd.DataFrame({"outlier_dims": grouped.apply(lambda s: int((s > threshold).sum())),
                         "max_abs": grouped.max(), "median_abs": grouped.median()}).reset_index()
