"""LoRA: a trainable low-rank update B·A beside frozen weight matrices (Hu et al., 2021).

W' = W + (alpha / r) · B·A, with B starting at zero so training starts from the base model.
"""
from lab.finetune.methods import Method, peft_wrap, register_method, target_modules


def lora_config(spec, **extra):
    from peft import LoraConfig

    return LoraConfig(task_type="CAUSAL_LM", r=spec.lora_r, lora_alpha=spec.lora_alpha,
                      lora_dropout=spec.lora_dropout, target_modules=target_modules(spec), **extra)


def apply(model, spec, info):
    return peft_wrap(model, lora_config(spec))


LORA_SETTINGS = ("lora_r", "lora_alpha", "lora_dropout", "target_modules")
register_method(Method("lora", apply, settings=LORA_SETTINGS, learning_rate=1e-3,
                       paper="https://arxiv.org/abs/2106.09685"))
