"""A model's linear layers, as quantizers and pruners see them (Quantize and Prune share this list)."""


def linear_layers(model, skip=("lm_head",)) -> list:
    """(short name, module) of every linear layer a quantizer converts (bitsandbytes skips lm_head)."""
    from lab.quantize.memory import is_linear

    return [(name.removeprefix("model."), module) for name, module in model.named_modules()
            if is_linear(module) and not any(name.endswith(s) for s in skip)]
