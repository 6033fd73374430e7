"""DoRA: LoRA on the direction of each weight, plus a trainable magnitude (Liu et al., 2024)."""
from lab.finetune.methods import Method, peft_wrap, register_method
from lab.finetune.methods.lora import LORA_SETTINGS, lora_config


def apply(model, spec, info):
    return peft_wrap(model, lora_config(spec, use_dora=True))


register_method(Method("dora", apply, settings=LORA_SETTINGS, learning_rate=1e-3,
                       paper="https://arxiv.org/abs/2402.09353"))
