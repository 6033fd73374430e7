"""QLoRA: LoRA on a base model stored in 4-bit NormalFloat, with double quantization (Dettmers et al., 2023,
https://arxiv.org/abs/2305.14314).

bitsandbytes 0.50 runs the 4-bit kernels and their backward on CPU as well as CUDA. The adapter can
be merged only into a full-precision copy of the base, so merge/export reloads the base unquantized.
"""
from dataclasses import dataclass

from lab.finetune.methods import METHODS, Method, peft_wrap
from lab.finetune.methods.lora import LoraSettings, lora_config
from lab.specs import group_fields, setting


@dataclass
class QloraSettings:
    """How QLoRA stores the frozen base."""

    quant_type: str = setting("nf4", en="QLoRA's 4-bit format: NF4 (NormalFloat, made for normally distributed weights) or FP4.",
                              zh="QLoRA 的 4 位格式:NF4(为正态分布权重设计)或 FP4。", choices=["nf4", "fp4"])
    double_quant: bool = setting(True, en="Also quantize the quantization constants (saves ~0.4 bit per weight).",
                                 zh="对量化常数再做一次量化(每个权重约省 0.4 位)。")


def apply(model, spec, info):
    from peft import prepare_model_for_kbit_training

    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=spec.gradient_checkpointing)
    return peft_wrap(model, lora_config(spec))


METHODS.register("qlora", Method(apply, group=QloraSettings, reads=group_fields(LoraSettings), learning_rate=1e-3,
                                 quantized_base=True))
