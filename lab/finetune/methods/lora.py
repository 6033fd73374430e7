"""LoRA: a trainable low-rank update B·A beside frozen weight matrices (Hu et al., 2021,
https://arxiv.org/abs/2106.09685).

W' = W + (alpha / r) · B·A, with B starting at zero so training starts from the base model.
"""
from dataclasses import dataclass

from lab.finetune.methods import METHODS, Method, peft_wrap, target_modules
from lab.specs import setting


@dataclass
class LoraSettings:
    """LoRA's settings; DoRA, QLoRA and AdaLoRA read them too (BitFit reads target_modules)."""

    lora_r: int = setting(8, en="LoRA rank: the width of the low-rank update. Higher = more capacity and parameters.",
                          zh="LoRA 秩:低秩更新的宽度。越高容量和参数越多。", minimum=1, maximum=1024)
    lora_alpha: int = setting(16, en="LoRA scale: the update is multiplied by alpha / r (usually 2*r).",
                              zh="LoRA 缩放:更新量乘以 alpha / r(通常取 2*r)。", minimum=1)
    lora_dropout: float = setting(0.05, en="Dropout on the LoRA input, against overfitting.", zh="LoRA 输入上的 dropout,防止过拟合。",
                                  minimum=0.0, maximum=0.9)
    target_modules: str = setting("", en="Comma-separated layer names to adapt (e.g. q_proj,v_proj); empty = peft's default for the model.",
                                  zh="要适配的层名,用逗号分隔(如 q_proj,v_proj);留空使用 peft 对该模型的默认值。")


def lora_config(spec, **extra):
    from peft import LoraConfig

    return LoraConfig(task_type="CAUSAL_LM", r=spec.lora_r, lora_alpha=spec.lora_alpha,
                      lora_dropout=spec.lora_dropout, target_modules=target_modules(spec), **extra)


def apply(model, spec, info):
    return peft_wrap(model, lora_config(spec))


METHODS.register("lora", Method(apply, group=LoraSettings, learning_rate=1e-3))
