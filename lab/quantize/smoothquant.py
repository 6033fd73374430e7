"""SmoothQuant: move the scale of outlier activation channels into the weights, so that both the weights
and the activations of a linear layer fit in 8 bits (W8A8).

Xiao, Lin, Seznec, Wu, Demouth, Han 2022, "SmoothQuant: Accurate and Efficient Post-Training
Quantization for Large Language Models", arXiv 2211.10438 (eq. 4); reference mit-han-lab/smoothquant.

A few input channels j of a linear layer carry activations 10-100× larger than the rest, in every token;
per-token (or per-tensor) 8-bit activation quantization then spends its levels on them and rounds
the others to nothing. Since Y = X W^T = (X diag(s)^-1) (W diag(s))^T for any s > 0, divide channel j of
X by
    s_j = max|X_j|^α / max_i |W_ij|^(1−α)          (α = 0.5 balances both; larger α moves more into W)
and multiply column j of W by it. When X is the output of a norm (RMSNorm / LayerNorm), dividing its
weight (and bias) by s does the first for free, so the smoothed model computes the same function in full
precision: q/k/v after input_layernorm and gate/up after post_attention_layernorm in a Llama block
(o_proj and down_proj read no norm output and are not smoothed, as in the reference for Llama).

W8A8 is simulated: weights per output channel and activations per token (or per tensor, dynamic) on
symmetric 8-bit RTN grids (lab/quantize/rtn.py), computed in float.
"""
from lab.errors import LabError
from lab.quantize import rtn
from lab.quantize.gptq_model import linear_names

ACTIVATION_GRANULARITIES = ("per_token", "per_tensor")
ALPHAS = (0.5, 0.75, 0.85)  # the paper uses 0.5 for most models, up to 0.75-0.85 for GLM-130B / Llama


def check_alpha(alpha: float) -> None:
    if not 0 <= alpha <= 1:
        raise LabError("smoothquant_bad_alpha", alpha=alpha)


def _forward(model, batches) -> None:
    import torch

    device = next(model.parameters()).device
    with torch.no_grad():
        for batch in batches:
            model(input_ids=batch.to(device), use_cache=False)


def activation_absmax(model, batches) -> dict:
    """{linear name: max |x_j| over every calibration token, per input channel j} for the decoder linears."""
    import torch

    maxima, hooks = {}, []
    for name, module in linear_names(model):
        def hook(mod, args, name=name):
            x = args[0].detach().float().abs().reshape(-1, args[0].shape[-1]).amax(dim=0)
            maxima[name] = torch.maximum(maxima[name], x) if name in maxima else x
        hooks.append(module.register_forward_pre_hook(hook))
    try:
        _forward(model, batches)
    finally:
        for h in hooks:
            h.remove()
    return maxima


def norm_groups(model, batch) -> list:
    """[(norm name, norm module, [(linear name, linear)])]: the linears that read a norm's output directly,
    found by tensor identity during one forward pass (so any Llama-like block layout works)."""
    import torch

    outputs, readers, hooks, keep = {}, {}, [], []
    names = dict((id(m), n) for n, m in linear_names(model))
    for name, module in model.named_modules():
        if "norm" in type(module).__name__.lower() and getattr(module, "weight", None) is not None:
            def after(mod, args, out, name=name):
                outputs[id(out)] = (name, mod)
                keep.append(out)  # alive until the end, so ids stay unique
            hooks.append(module.register_forward_hook(after))
        elif isinstance(module, torch.nn.Linear) and id(module) in names:
            def before(mod, args):
                keep.append(args[0])
                if id(args[0]) in outputs:
                    readers.setdefault(outputs[id(args[0])][0], (outputs[id(args[0])][1], []))[1].append(
                        (names[id(mod)], mod))
            hooks.append(module.register_forward_pre_hook(before))
    try:
        _forward(model, [batch])
    finally:
        for h in hooks:
            h.remove()
    return [(name, norm, linears) for name, (norm, linears) in readers.items()]


def smoothing_scales(act_absmax, linears, alpha: float):
    """s_j = max|X_j|^α / max|W_j|^(1−α), W_j over every row of every linear reading the same X (eq. 4)."""
    import torch

    check_alpha(alpha)
    weight_max = torch.stack([m.weight.detach().float().abs().amax(dim=0) for _, m in linears]).amax(dim=0)
    return (act_absmax.clamp(min=1e-5).pow(alpha) / weight_max.clamp(min=1e-5).pow(1 - alpha)).clamp(min=1e-5)


def smooth_model(model, batches, alpha: float = 0.5) -> dict:
    """Fold SmoothQuant scales into `model` in place (norm weights ÷ s, linear columns × s);
    returns {norm name: s} (the same function in full precision, up to float rounding)."""
    import torch

    check_alpha(alpha)
    act = activation_absmax(model, batches)
    scales = {}
    with torch.no_grad():
        for norm_name, norm, linears in norm_groups(model, batches[0]):
            s = smoothing_scales(act[linears[0][0]], linears, alpha)
            norm.weight.div_(s.to(norm.weight.dtype))
            if getattr(norm, "bias", None) is not None:
                norm.bias.div_(s.to(norm.bias.dtype))
            for _, linear in linears:
                linear.weight.mul_(s.to(linear.weight.dtype).view(1, -1))
            scales[norm_name] = s
    return scales


def fake_quant_activations(x, granularity: str = "per_token", bits: int = 8):
    """Symmetric RTN of activations: one scale per token (row of the last dim) or one for the tensor."""
    if granularity not in ACTIVATION_GRANULARITIES:
        raise LabError("smoothquant_bad_activation", granularity=granularity,
                       choices=", ".join(ACTIVATION_GRANULARITIES))
    rows = x.reshape(-1, x.shape[-1]).float() if granularity == "per_token" else x.reshape(1, -1).float()
    return rtn.round_to_grid(rows, rtn.grid_of(rows, bits, "symmetric")).reshape(x.shape).to(x.dtype)


def apply_w8a8(model, activation: str = "per_token", weight_bits: int = 8, activation_bits: int = 8) -> list:
    """Simulated W8A8 on every decoder linear: weights fake-quantized per output channel (in place), inputs
    fake-quantized by a forward pre-hook. Returns the hook handles (remove them to stop quantizing inputs)."""
    import torch

    fake_quant_activations(torch.zeros(1, 1), activation)  # refuse a bad granularity before changing anything
    handles = []
    with torch.no_grad():
        for _, module in linear_names(model):
            module.weight.copy_(rtn.fake_quant(module.weight, weight_bits, "per_channel").to(module.weight.dtype))
            handles.append(module.register_forward_pre_hook(
                lambda mod, args: (fake_quant_activations(args[0], activation, activation_bits),) + tuple(args[1:])))
    return handles


def outlier_view(model, batches, alpha: float = 0.5):
    """The outlier view: per norm-fed group and input channel, max |x_j| before and after smoothing
    (after = before / s_j, what the folded model's linears read). Columns layer, dim, before, after.
    The model itself is not changed."""
    import pandas as pd

    act = activation_absmax(model, batches)
    rows = []
    for _, _, linears in norm_groups(model, batches[0]):
        before = act[linears[0][0]]
        after = before / smoothing_scales(before, linears, alpha)
        label = "+".join(name.rsplit(".", 1)[-1] for name, _ in linears)
        layer = f"{linears[0][0].rsplit('.', 1)[0]}.{label}"
        rows += [(layer, j, float(b), float(a)) for j, (b, a) in enumerate(zip(before.tolist(), after.tolist()))]
    return pd.DataFrame(rows, columns=["layer", "dim", "before", "after"])
