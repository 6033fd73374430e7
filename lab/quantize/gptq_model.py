"""GPTQ over a whole decoder model, sequentially: each layer is quantized from the inputs it receives from
the ALREADY-quantized layers before it (the reference's llama.py), so later layers also correct for the
error the earlier ones left.

    stats = gptq_quantize_model(model, calibration_batches, bits=4, group_size=64)

1. The inputs of the first decoder layer (hidden states plus the keyword arguments the model passes it:
   attention mask, rotary position embeddings...) are caught once per calibration batch.
2. Inside a layer, linears that read the same tensor (q/k/v; gate/up) form a group, in the order the
   forward pass calls them; group by group, H = 2/N Σ x xᵀ is collected with hooks while the layer runs
   on every batch, then the group is quantized ("true sequential": o_proj sees quantized q/k/v).
3. The quantized layer's outputs become the next layer's inputs.
Only nn.Linear layers inside the decoder stack are quantized (embeddings and lm_head stay as they are).
"""
import time

from lab.errors import LabError
from lab.quantize.gptq import Hessian, check_group_divides, check_settings, quantize_linear


class _Caught(Exception):
    """Raised by the hook on the first decoder layer: its inputs are caught, the rest of the model not run."""


def decoder_layers(model):
    """The model's stack of decoder layers: the first ModuleList whose blocks contain nn.Linear layers."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) and all(
                any(isinstance(m, torch.nn.Linear) for m in block.modules()) for block in module):
            return module
    raise LabError("gptq_no_layers", model=type(model).__name__)


def linear_names(model) -> list:
    """(name, module) of every nn.Linear GPTQ would quantize: those inside the decoder layers."""
    import torch

    layers = decoder_layers(model)
    prefix = next(name for name, module in model.named_modules() if module is layers)
    return [(f"{prefix}.{i}.{name}", m) for i, block in enumerate(layers)
            for name, m in block.named_modules() if isinstance(m, torch.nn.Linear)]


def _catch_first_inputs(model, layers, batches) -> list:
    """[(args, kwargs)] the first decoder layer receives, one per batch."""

    caught = []

    def hook(module, args, kwargs):
        kwargs = dict(kwargs)
        if not args:  # hidden states passed by keyword: make them the first positional argument
            args = (kwargs.pop("hidden_states"),)
        caught.append((args, kwargs))
        raise _Caught

    handle = layers[0].register_forward_pre_hook(hook, with_kwargs=True)
    try:
        device = next(model.parameters()).device
        for batch in batches:
            try:
                model(input_ids=batch.to(device), use_cache=False)
            except _Caught:
                pass
    finally:
        handle.remove()
    return caught


def _run(block, inputs) -> list:
    """The block's output hidden states for every caught (args, kwargs)."""
    outputs = []
    for args, kwargs in inputs:
        out = block(*args, **kwargs)
        outputs.append(out[0] if isinstance(out, tuple) else out)
    return outputs


def _groups_in_call_order(block, inputs) -> list:
    """Lists of (name, linear) of `block`, grouped by the input tensor they read, in forward order."""
    import torch

    order, reads, hooks = [], {}, []
    for name, module in block.named_modules():
        if isinstance(module, torch.nn.Linear):
            def hook(mod, args, name=name):
                reads.setdefault(name, args[0])  # keeping the tensor alive keeps its identity unique
                order.append((name, mod))
            hooks.append(module.register_forward_pre_hook(hook))
    try:
        _run(block, inputs[:1])
    finally:
        for h in hooks:
            h.remove()
    groups, by_input, done = [], {}, set()
    for name, module in order:
        if name in done:
            continue
        done.add(name)
        if id(reads[name]) not in by_input:
            by_input[id(reads[name])] = []
            groups.append(by_input[id(reads[name])])
        by_input[id(reads[name])].append((name, module))
    return groups


def gptq_quantize_model(model, calibration_batches, bits: int = 4, group_size: int = 64, mode: str = "symmetric",
                        act_order: bool = False, static_groups=None, percdamp: float = 0.01, block_size: int = 128,
                        progress=None) -> list:
    """Quantize every decoder linear of `model` in place with GPTQ; returns one dict per linear: layer,
    gptq_error and rtn_error (mean ‖WX − ŴX‖² per calibration token, RTN at the same bits and group on
    the same X), gptq_seconds, hessian_seconds, rows, columns. `calibration_batches`: input_ids tensors
    (batch, tokens) without padding."""
    import torch

    check_settings(bits, group_size, percdamp, mode)
    names = linear_names(model)
    check_group_divides(names, group_size)
    if not calibration_batches:
        raise LabError("gptq_no_calibration")
    layers = decoder_layers(model)
    stats = []
    with torch.no_grad():
        inputs = _catch_first_inputs(model, layers, calibration_batches)
        for index, block in enumerate(layers):
            for group in _groups_in_call_order(block, inputs):
                started = time.perf_counter()
                hessians = {name: Hessian(m.in_features, m.weight.device) for name, m in group}
                hooks = [m.register_forward_pre_hook(lambda mod, args, h=hessians[name]: h.add(args[0]))
                         for name, m in group]
                try:
                    _run(block, inputs)
                finally:
                    for h in hooks:
                        h.remove()
                hessian_seconds = (time.perf_counter() - started) / len(group)
                for name, module in group:
                    row = quantize_linear(module, hessians[name].matrix, bits, group_size, mode, act_order=act_order,
                                          static_groups=static_groups, percdamp=percdamp, block_size=block_size)
                    stats.append({"layer": f"{index}.{name}", "hessian_seconds": hessian_seconds, **row})
            outputs = _run(block, inputs)
            inputs = [((out,) + tuple(args[1:]), kwargs) for out, (args, kwargs) in zip(outputs, inputs)]
            if progress is not None:
                progress(index + 1, len(layers), f"GPTQ: layer {index + 1}/{len(layers)} quantized")
    return stats
