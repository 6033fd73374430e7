"""Weight memory counted honestly: every tensor a model keeps for its weights, once.

transformers' model.get_memory_footprint() sums parameters and buffers, but bitsandbytes keeps the
per-block scales of a 4-bit weight in a QuantState hung off the parameter (absmax, the code book and,
with double quantization, the 8-bit absmax with its own fp32 scales) and the per-row scales of an
int8 weight in `weight.SCB`: none of these are parameters, so the footprint misses them and double
quantization's saving (fp32 absmax -> 8-bit absmax) is invisible. Here they are counted; a tensor
shared by several layers (the NF4 code book, tied embeddings) counts once.
"""
LINEAR_CLASSES = ("Linear", "Linear8bitLt", "Linear4bit", "LinearFP4", "LinearNF4")


def _tensor_bytes(tensor) -> int:
    return tensor.numel() * tensor.element_size()


def quant_state_tensors(parameter) -> list:
    """The tensors of a bitsandbytes parameter's quantization state (empty for a plain tensor)."""
    found = []
    state = getattr(parameter, "quant_state", None)
    while state is not None:  # 4-bit: absmax, code, offset; nested (double quant) state2: absmax, code
        for name in ("absmax", "code", "offset"):
            value = getattr(state, name, None)
            if value is not None and hasattr(value, "numel"):
                found.append(value)
        state = getattr(state, "state2", None) if getattr(state, "nested", False) else None
    scb = getattr(parameter, "SCB", None)  # int8: one fp32 scale per output row
    if scb is not None and hasattr(scb, "numel"):
        found.append(scb)
    return found


def is_linear(module) -> bool:
    return type(module).__name__ in LINEAR_CLASSES


def weight_memory(model, skip_names=("lm_head",)) -> dict:
    """Bytes of the whole model and of its linear layers (without `skip_names`, which bitsandbytes leaves
    unquantized), split into stored weights and quantization state. Shared tensors count once."""
    seen = set()

    def count(tensors) -> int:
        total = 0
        for tensor in tensors:
            key = (tensor.data_ptr(), tensor.numel(), tensor.dtype) if tensor.numel() else id(tensor)
            if key in seen:
                continue
            seen.add(key)
            total += _tensor_bytes(tensor)
        return total

    linear_weights = linear_state = linear_params = 0
    for name, module in model.named_modules():
        if not is_linear(module) or any(name.endswith(s) for s in skip_names):
            continue
        own = list(module.parameters(recurse=False)) + list(module.buffers(recurse=False))
        linear_weights += count(own)
        linear_state += count(t for p in module.parameters(recurse=False) for t in quant_state_tensors(p))
        linear_params += module.in_features * module.out_features
    rest = count(list(model.parameters()) + list(model.buffers()))
    rest_state = count(t for p in model.parameters() for t in quant_state_tensors(p))
    total = linear_weights + linear_state + rest + rest_state
    return {"total_bytes": total, "linear_bytes": linear_weights + linear_state, "linear_state_bytes": linear_state,
            "linear_weights": linear_params,
            "linear_bits_per_weight": 8 * (linear_weights + linear_state) / max(1, linear_params),
            "footprint_bytes": int(model.get_memory_footprint()) if hasattr(model, "get_memory_footprint") else total}
