"""The quantization schemes: one module each, registering a Scheme on import.

Adding a scheme is adding a file here with `register_scheme(Scheme(...))`; nothing else branches on
scheme names. A scheme says how to load a model in its format, how to quantize-dequantize one weight
matrix (for the per-layer error view), which variants a spec asks for (NF4 with and without double
quantization, RTN at several bit widths ...), and what it cannot do here (needs CUDA).
"""
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable, Optional

from lab.errors import LabError


@dataclass(frozen=True)
class Variant:
    """One measured configuration: a scheme with its options, under a label shown in the table."""

    label: str
    scheme: str
    options: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Scheme:
    name: str
    load: Callable  # load(model_path, variant, device) -> (model, tokenizer, info), quantized as the variant says
    fake_quant: Callable  # fake_quant(weight_fp32, variant) -> the weight as this scheme stores it, back in fp32
    variants: Callable = None  # variants(spec) -> [Variant]; default: one variant named after the scheme
    nominal_bits: float = 32.0  # bits per weight before any scales (for the legend)
    needs_cuda: Callable = field(default=lambda spec: False)  # True where this scheme (with these settings) needs a GPU
    packed_bits: Optional[Callable] = None  # packed_bits(variant, shape) -> bits per weight a packed format would take (fake-quant)
    real_speed: bool = True  # False for fake-quant: its speed is the fp32 speed, so it is not timed
    bitsandbytes: bool = False
    paper: str = ""

    def expand(self, spec) -> list:
        return self.variants(spec) if self.variants else [Variant(self.name, self.name)]


SCHEMES: dict[str, Scheme] = {}


def register_scheme(scheme: Scheme) -> Scheme:
    SCHEMES[scheme.name] = scheme
    return scheme


def schemes() -> dict[str, Scheme]:
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return SCHEMES


# The order schemes are listed and measured in: from full precision down.
ORDER = ("fp32", "bf16", "fp16", "int8", "nf4", "fp4", "rtn")


def scheme_names() -> list[str]:
    known = schemes()
    return [n for n in ORDER if n in known] + sorted(set(known) - set(ORDER))


def get_scheme(name: str) -> Scheme:
    known = schemes()
    if name not in known:
        raise LabError("unknown_scheme", scheme=name, schemes=", ".join(scheme_names()))
    return known[name]


def expand_variants(spec) -> list[Variant]:
    """Every variant the spec asks for, fp32 (the baseline) first, then in the spec's order."""
    out = []
    for name in sorted(spec.schemes, key=lambda n: n != "fp32"):
        out.extend(get_scheme(name).expand(spec))
    return out


def load_plain(model_path: str, dtype: str, device: str, quantization_config=None):
    from lab.modeling.models import load_model

    return load_model(model_path, dtype=dtype, device=device, quantization_config=quantization_config)


def torch_dtype(name: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]
