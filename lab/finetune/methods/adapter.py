"""Bottleneck adapters after the attention and/or MLP outputs (Houlsby 2019; Pfeiffer 2020).

The adapter is a small non-linear network inside each layer, so it cannot be folded into the weights.
"""
from lab.finetune.methods import Method, register_method


def apply(model, spec, info):
    from lab.finetune.bottleneck import add_adapters

    add_adapters(model, spec.adapter_size, spec.adapter_placement)
    return model


def save(model, folder):
    from lab.finetune.bottleneck import save_adapters

    save_adapters(model, folder)


def load(model, folder):
    from lab.finetune.bottleneck import load_adapters

    return load_adapters(model, folder)


register_method(Method("adapter", apply, settings=("adapter_size", "adapter_placement"), learning_rate=1e-3,
                       can_merge=False, save=save, load=load, paper="https://arxiv.org/abs/1902.00751"))
