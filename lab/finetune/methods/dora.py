"""DoRA: LoRA on the direction of each weight, plus a trainable magnitude (Liu et al., 2024,
https://arxiv.org/abs/2402.09353)."""
from lab.finetune.methods import METHODS, Method, peft_wrap
from lab.finetune.methods.lora import LoraSettings, lora_config
from lab.specs import group_fields


def apply(model, spec, info):
    return peft_wrap(model, lora_config(spec, use_dora=True))


METHODS.register("dora", Method(apply, reads=group_fields(LoraSettings), learning_rate=1e-3))
