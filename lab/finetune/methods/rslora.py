"""rsLoRA: LoRA scaled by alpha / √r instead of alpha / r (Kalajdzievski, 2023, https://arxiv.org/abs/2312.03732).

With alpha / r the update of a high-rank adapter is scaled down so far that its gradients vanish and
raising r stops helping; alpha / √r keeps the update's size stable across ranks. Same parameters as LoRA.
"""
from lab.finetune.methods import METHODS, Method, peft_wrap
from lab.finetune.methods.lora import LoraSettings, lora_config
from lab.specs import group_fields


def apply(model, spec, info):
    return peft_wrap(model, lora_config(spec, use_rslora=True))


METHODS.register("rslora", Method(apply, reads=group_fields(LoraSettings), learning_rate=1e-3))
