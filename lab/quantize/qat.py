"""Quantization-aware training (QAT): train with the weights fake-quantized in the forward pass, so the
model learns weights that still work once rounded to the grid.

LLM-QAT: Liu, Oguz, Zhao, Chang, Stock, Mehdad, Shi, Krishnamoorthi, Chandra 2023, "LLM-QAT: Data-Free
Quantization Aware Training for Large Language Models", arXiv 2305.17888 (weights fake-quantized with
a symmetric min-max grid per channel, gradients through the rounding by the straight-through estimator;
the paper's data-free distillation is not reproduced here: this trains on the recipe's own data).
Straight-through estimator: Bengio, Léonard, Courville 2013, arXiv 1308.3432.

    wrap_linears(model, bits=3, group_size=64)   # every nn.Linear except lm_head -> FakeQuantLinear
    ... train (full fine-tuning, or LoRA on top: peft sees an nn.Linear and wraps it as usual) ...
    unwrap_linears(model, bake=True)            # plain nn.Linear again, holding the grid weights

Forward: y = x · Q(W)ᵀ + b, Q = the lab's RTN fake-quant (lab/quantize/rtn.py). Backward: round() has
zero gradient almost everywhere, so the STE treats Q as the identity: ∂L/∂W := ∂L/∂Q(W), written as
W + (Q(W) − W).detach(). The full-precision W stays the trained ("latent") weight. With LoRA the frozen
base is fake-quantized and the LoRA matrices (kept in full precision, as QLoRA keeps its adapters) get
their gradients through the quantized base's outputs.
"""
import torch

from lab.errors import LabError
from lab.quantize import rtn

from lab.quantize.schemes.qat import QAT_BITS  # noqa: E402  (one definition, torch-free)


class FakeQuantLinear(torch.nn.Linear):
    """An nn.Linear whose forward uses its weight rounded to an RTN grid, with a straight-through gradient.
    A subclass of nn.Linear, so peft's LoRA wraps it like any linear layer."""

    bits: int = 4
    group_size: int = 0  # 0: one grid per output row
    mode: str = "symmetric"  # LLM-QAT's weight grid: symmetric min-max per channel

    def quantized_weight(self):
        granularity = "per_group" if self.group_size else "per_channel"
        grid = rtn.fake_quant(self.weight, self.bits, granularity, self.group_size or self.in_features, self.mode)
        return self.weight + (grid.to(self.weight.dtype) - self.weight).detach()  # straight-through

    def forward(self, x):
        return torch.nn.functional.linear(x, self.quantized_weight(), self.bias)

    def extra_repr(self):
        return f"{super().extra_repr()}, bits={self.bits}, group_size={self.group_size}, mode={self.mode}"


def _swap(model, name: str, new) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def wrap_linears(model, bits: int, group_size: int = 0, mode: str = "symmetric", skip=("lm_head",)) -> int:
    """Replace every plain nn.Linear (not lm_head) by a FakeQuantLinear sharing its parameters; returns how
    many. Call before adding LoRA adapters."""
    if bits not in QAT_BITS:
        raise LabError("qat_bad_bits", bits=bits)
    if mode not in rtn.MODES:
        raise LabError("gptq_bad_mode", mode=mode, modes=", ".join(rtn.MODES))
    targets = [(name, m) for name, m in model.named_modules()
               if type(m) is torch.nn.Linear and not any(name.endswith(s) for s in skip)]
    if not targets:
        raise LabError("qat_nothing_to_wrap")
    from lab.quantize.gptq import check_group_divides

    check_group_divides(targets, group_size)
    for name, module in targets:
        wrapped = FakeQuantLinear.__new__(FakeQuantLinear)
        # a shallow copy of the state: the same Parameter objects, so the latent weight stays the model's
        # weight and an optimizer built before or after still holds it
        wrapped.__dict__ = module.__dict__.copy()
        wrapped.bits, wrapped.group_size, wrapped.mode = bits, group_size, mode
        _swap(model, name, wrapped)
    return len(targets)


def unwrap_linears(model, bake: bool = True) -> int:
    """Turn every FakeQuantLinear back into a plain nn.Linear; with bake, its weight is set to the grid
    weights it trained with (the quantized model to evaluate or export). Returns how many."""
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, FakeQuantLinear)]
    for name, module in found:
        if bake:
            with torch.no_grad():
                module.weight.copy_(module.quantized_weight())
        plain = torch.nn.Linear.__new__(torch.nn.Linear)
        plain.__dict__ = module.__dict__.copy()
        for attribute in ("bits", "group_size", "mode"):
            plain.__dict__.pop(attribute, None)
        _swap(model, name, plain)
    return len(found)
