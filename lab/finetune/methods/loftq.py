"""LoftQ: quantize the base to 4 bits and start LoRA from what the quantization lost (Li et al., 2023,
https://arxiv.org/abs/2310.08659).

It alternates: Q = quantize(W − BA), then B, A = the top-r SVD of W − Q, so Q + BA is closer to W than
QLoRA's Q + 0 is. peft 0.21 runs this on cuda/xpu only and quantizes a full-precision base itself, so the
lab loads the base in full precision and refuses LoftQ where there is no GPU.
"""
from dataclasses import dataclass

from lab.finetune.methods import METHODS, Method, peft_wrap
from lab.finetune.methods.lora import LoraSettings, lora_config
from lab.specs import group_fields, setting


@dataclass
class LoftqSettings:
    """How LoftQ quantizes and how often it alternates."""

    loftq_bits: int = setting(4, en="LoftQ: bits per weight of the quantized base.", zh="LoftQ:量化后基础模型每个权重的位数。",
                              choices=[2, 4, 8])
    loftq_iter: int = setting(1, en="LoftQ: alternating rounds of quantize / fit the error (1 is usually enough).",
                              zh="LoftQ:“量化/拟合误差”交替的轮数(通常 1 轮就够)。", minimum=1, maximum=10)


def apply(model, spec, info):
    from peft import LoftQConfig

    loftq = LoftQConfig(loftq_bits=spec.loftq_bits, loftq_iter=spec.loftq_iter)
    return peft_wrap(model, lora_config(spec, init_lora_weights="loftq", loftq_config=loftq))


def refuse(model, spec):
    from lab.errors import LabError

    if model is not None and not any(p.is_cuda for p in model.parameters()):
        return LabError("method_needs_gpu", method="loftq")
    return None


METHODS.register("loftq", Method(apply, group=LoftqSettings, reads=group_fields(LoraSettings), learning_rate=1e-3,
                                 refuse=refuse, needs_gpu=True))
