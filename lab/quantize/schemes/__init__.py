"""The quantization schemes: one module each, registering a Scheme in SCHEMES on import.

Adding a scheme is adding a file here with `SCHEMES.register("name", Scheme(...))`, plus its two
lessons (assets/lessons/<lang>/scheme_<name>.md) and two labels (`quantize.lesson.scheme_<name>`);
nothing else branches on scheme names. A scheme says how to load a model in its format, how to
quantize-dequantize one weight matrix (for the per-layer error view), which variants a spec asks for
(NF4 with and without double quantization, RTN at several bit widths ...), what it cannot do here
(needs CUDA), and owns its options as a small dataclass (`group`, composed into QuantizeSpec, flat).

Calibrated or trained schemes (GPTQ, SmoothQuant, QAT: `calibrated=True`) also get a LoadJob: the
calibration batches the job tokenized once, a progress callback, and `extras`, where the load leaves
what it measured on the way (GPTQ's per-layer errors, SmoothQuant's outlier view, QAT's training) for
the run's artifacts. Their `fake_quant` may return None: their result is not a function of one weight.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

from lab.registry import Registry
from lab.specs import group_fields


@dataclass(frozen=True)
class Variant:
    """One measured configuration: a scheme with its options, under a label shown in the table."""

    label: str
    scheme: str
    options: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Scheme:
    load: Callable  # load(model_path, variant, device) -> (model, tokenizer, info), quantized as the variant says
    fake_quant: Callable  # fake_quant(weight_fp32, variant) -> the weight as this scheme stores it, back in fp32
    variants: Callable  # variants(spec) -> [Variant]; `single(name)` for a scheme with no options
    nominal_bits: float = 32.0  # bits per weight before any scales (for the legend)
    needs_cuda: Callable = field(default=lambda spec: False)  # True where this scheme (with these settings) needs a GPU
    packed_bits: Optional[Callable] = None  # packed_bits(variant, shape) -> bits per weight a packed format would take (fake-quant)
    real_speed: bool = True  # False for fake-quant: its speed is the fp32 speed, so it is not timed
    bitsandbytes: bool = False
    group: Optional[type] = None  # dataclass of the QuantizeSpec options this scheme reads (NF4 and FP4 share one)
    reads: tuple = ()  # options owned by another scheme's group that this one reads too
    calibrated: bool = False  # load(model_path, variant, device, job) with a LoadJob (calibration text, progress, extras)

    @property
    def settings(self) -> tuple:
        return group_fields(self.group) + tuple(self.reads)

    def open(self, model_path: str, variant, device: str, job=None):
        """(model, tokenizer, info) of the variant: load, with the job's calibration where the scheme needs it."""
        if self.calibrated:
            return self.load(model_path, variant, device, job if job is not None else LoadJob())
        return self.load(model_path, variant, device)

    def expand(self, spec) -> list:
        return self.variants(spec)


@dataclass
class LoadJob:
    """What a calibrated scheme's load gets from the running job, and what it hands back (extras)."""

    calibration: list = field(default_factory=list)  # input_ids tensors (1, tokens) of training text, no padding
    progress: Callable = field(default=lambda fraction, message: None)  # fraction of this variant done, message
    log: Callable = field(default=print)
    context: object = None  # the job context (QAT's Trainer writes its checkpoints under it); None: a scratch folder
    seed: int = 0
    extras: dict = field(default_factory=dict)  # what the load measured, by name (see lab/kinds/quantize.py)


# Listed and measured from full precision down; QuantizeSpec composes the option groups in this order.
SCHEMES = Registry("quantization scheme", package="lab.quantize.schemes", order=("fp32", "bf16", "fp16", "int8", "nf4", "fp4", "rtn", "gptq", "smoothquant", "qat"),
                   lesson_prefix="scheme_", label_prefix="quantize.lesson.scheme_", error="unknown_scheme")


def single(name: str) -> Callable:
    """The variants of a scheme without options: one, labelled with the scheme's name."""
    return lambda spec: [Variant(name, name)]


def expand_variants(spec) -> list[Variant]:
    """Every variant the spec asks for, fp32 (the baseline) first, then in the spec's order."""
    out = []
    for name in sorted(spec.schemes, key=lambda n: n != "fp32"):
        out.extend(SCHEMES.get(name).expand(spec))
    return out


def load_plain(model_path: str, dtype: str, device: str, quantization_config=None):
    from lab.modeling.models import load_model

    return load_model(model_path, dtype=dtype, device=device, quantization_config=quantization_config)


def torch_dtype(name: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]
