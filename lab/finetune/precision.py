"""Which number format a training run uses, and why: one choice shared by fine-tuning, DPO and reward training.

Two paths:
  fp32  every weight and every product in fp32 (the path of a CPU without native bf16, where a bf16 matmul is
        emulated and ~10-100x slower than fp32: PLATFORM.md);
  bf16  the frozen base stored in bf16 (half the memory, no cast per step), the trainable parameters kept in fp32
        (the optimizer updates fp32 values), products under bf16 autocast. LLaMA-Factory does the same when bf16
        is on. Full fine-tuning has no frozen weights, so there it is fp32 weights under bf16 autocast.
"auto" takes bf16 only where the hardware multiplies bf16 natively (lab.modeling.models.cpu_has_fast_bf16:
AVX512-BF16 or AMX; a GPU that supports bf16); a user can force either. The run's result records the choice and
the reason. The method is applied to the fp32 model first, so both paths create the same trainable parameters
with the same initial values; only then are the frozen weights cast.
"""
from dataclasses import dataclass

PATH_FP32 = "fp32 weights, fp32 compute"
PATH_BF16 = "bf16 frozen base, fp32 trainable parameters, bf16 autocast"
PATH_AUTOCAST = "fp32 weights, bf16 autocast"  # DPO and reward training: they score before and after on fp32 weights


@dataclass(frozen=True)
class Precision:
    dtype: str  # "bf16" or "fp32"
    reason: str  # one line: what decided it

    @property
    def bf16(self) -> bool:
        return self.dtype == "bf16"

    @property
    def path(self) -> str:
        return PATH_BF16 if self.bf16 else PATH_FP32

    def record(self, path: str | None = None) -> dict:
        """The figures a run's result keeps about its number format (path: another path than the fine-tune's)."""
        return {"train_dtype": self.dtype, "train_path": (path if self.bf16 else None) or self.path,
                "train_dtype_reason": self.reason}


def choose(setting: str, cuda: bool, native_cpu_bf16: bool | None = None) -> Precision:
    """The training precision for a spec's dtype setting ("auto", "bf16", "fp32") on this hardware."""
    if native_cpu_bf16 is None and not cuda:
        from lab.modeling.models import cpu_has_fast_bf16

        native_cpu_bf16 = cpu_has_fast_bf16()
    if cuda:
        import torch

        native = torch.cuda.is_bf16_supported()
        hardware = "the GPU supports bf16" if native else "the GPU has no bf16"
    else:
        native = bool(native_cpu_bf16)
        hardware = ("native bf16 detected (AVX512-BF16/AMX)" if native
                    else "no native bf16 on this CPU (bf16 would be emulated, ~10-100x slower than fp32)")
    if setting == "fp32":
        return Precision("fp32", "fp32: forced by the dtype setting")
    if setting == "bf16":
        return Precision("bf16", "bf16: forced by the dtype setting" + ("" if native else f"; {hardware}"))
    return Precision("bf16" if native else "fp32", f"{'bf16' if native else 'fp32'}: {hardware}")


def cast_frozen(model, precision: Precision) -> dict:
    """On the bf16 path: frozen floating-point parameters -> bf16, trainable ones -> fp32 (4-bit storage and
    buffers untouched). Returns the parameter counts by role and dtype, for the run's log."""
    import torch

    counts = {"frozen_bf16": 0, "frozen_other": 0, "trainable_fp32": 0}
    for parameter in model.parameters():
        if parameter.requires_grad:
            if precision.bf16 and parameter.dtype != torch.float32:
                parameter.data = parameter.data.float()
            counts["trainable_fp32"] += parameter.numel()
        elif precision.bf16 and parameter.dtype == torch.float32:
            parameter.data = parameter.data.to(torch.bfloat16)
            counts["frozen_bf16"] += parameter.numel()
        else:
            key = "frozen_bf16" if parameter.dtype == torch.bfloat16 else "frozen_other"
            counts[key] += parameter.numel()
    return counts
