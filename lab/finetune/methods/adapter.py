"""Bottleneck adapters after the attention and/or MLP outputs (Houlsby 2019,
https://arxiv.org/abs/1902.00751; Pfeiffer 2020).

The adapter is a small non-linear network inside each layer, so it cannot be folded into the weights.
"""
from dataclasses import dataclass

from lab.finetune.methods import METHODS, Method
from lab.specs import setting


@dataclass
class AdapterSettings:
    """The bottleneck adapters' width and place."""

    adapter_size: int = setting(32, en="Adapters: the bottleneck width (down-projection size).", zh="适配器:瓶颈宽度(降维后的大小)。",
                                minimum=1)
    adapter_placement: str = setting("houlsby", en="Adapters: houlsby = after attention and MLP; pfeiffer = after the MLP only.",
                                     zh="适配器:houlsby 放在注意力和 MLP 之后;pfeiffer 只放在 MLP 之后。", choices=["houlsby", "pfeiffer"])


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


METHODS.register("adapter", Method(apply, group=AdapterSettings, learning_rate=1e-3, can_merge=False, save=save, load=load))
