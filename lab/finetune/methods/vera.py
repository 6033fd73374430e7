"""VeRA: one pair of frozen random matrices shared by every layer, and two tiny trainable scaling vectors
per layer (Kopiczko et al., 2024, https://arxiv.org/abs/2310.11454).

ΔW = Λ_b · B · Λ_d · A with A, B random and frozen (the same for all layers), Λ_d and Λ_b diagonal and
trained: r + out_features numbers per adapted matrix, ~10x fewer than LoRA at a much larger rank.
"""
from dataclasses import dataclass

from lab.finetune.methods import METHODS, Method, peft_wrap, target_modules
from lab.specs import setting


@dataclass
class VeraSettings:
    """The rank of VeRA's shared random matrices."""

    vera_r: int = setting(256, en="VeRA: rank of the shared frozen random matrices (high is cheap: only r numbers per layer train).",
                          zh="VeRA:共享的冻结随机矩阵的秩(取高也不贵:每层只训练 r 个数)。", minimum=1, maximum=4096)


def apply(model, spec, info):
    from peft import VeraConfig

    return peft_wrap(model, VeraConfig(task_type="CAUSAL_LM", r=spec.vera_r, target_modules=target_modules(spec),
                                       vera_dropout=spec.lora_dropout))


METHODS.register("vera", Method(apply, group=VeraSettings, reads=("lora_dropout", "target_modules"), learning_rate=1e-2))
