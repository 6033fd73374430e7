"""LoRA+: LoRA with a larger learning rate for B than for A (Hayou et al., 2024, https://arxiv.org/abs/2402.12354).

A maps the input down to r dimensions and B maps it back up; with one shared rate B learns too slowly
in wide models. LoRA+ gives B `loraplus_lr_ratio` times A's rate (the paper suggests ~16), built by
peft.optimizers.create_loraplus_optimizer. Same parameters as LoRA, same adapter file.
"""
from dataclasses import dataclass

from lab.finetune.methods import METHODS, Method, peft_wrap
from lab.finetune.methods.lora import LoraSettings, lora_config
from lab.specs import group_fields, setting


@dataclass
class LoraplusSettings:
    """How much faster B learns than A."""

    loraplus_lr_ratio: float = setting(16.0, en="LoRA+: B's learning rate is this many times A's (the paper suggests about 16).",
                                       zh="LoRA+:B 的学习率是 A 的多少倍(论文建议约 16)。", minimum=1.0, maximum=1024.0)


def apply(model, spec, info):
    return peft_wrap(model, lora_config(spec))


def optimizer(model, spec, learning_rate):
    import torch
    from peft.optimizers import create_loraplus_optimizer

    # weight_decay 0 as for every other method (lab/finetune/train.py)
    return create_loraplus_optimizer(model, torch.optim.AdamW, lr=learning_rate, loraplus_lr_ratio=spec.loraplus_lr_ratio,
                                     weight_decay=0.0)


METHODS.register("loraplus", Method(apply, group=LoraplusSettings, reads=group_fields(LoraSettings), learning_rate=1e-3,
                                    optimizer=optimizer))
