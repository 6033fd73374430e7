"""bitsandbytes LLM.int8() (Dettmers et al., 2022): weights stored as int8 with one absmax scale per
output row; at run time the input columns holding an |activation| above `threshold` (the rare
outlier features) are multiplied in 16 bits and all the rest in int8, then the two are added
(mixed-precision decomposition). threshold 0 turns the decomposition off (pure int8 matmul).
"""
from lab.quantize.schemes import Scheme, Variant, load_plain, register_scheme


def variants(spec):
    return [Variant("int8", "int8", {"threshold": spec.int8_threshold})]


def load(path, variant, device):
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=float(variant.options["threshold"]))
    return load_plain(path, "fp32" if device == "cpu" else "fp16", device, config)


def fake_quant(weight, variant):
    """Row-wise absmax int8 exactly as Int8Params stores it: the weight cast to fp16, then
    CB = round(w * 127 / max|w_row|) and SCB = max|w_row|; it computes with CB * SCB / 127."""
    import torch

    w = weight.to(torch.float16)
    absmax = w.abs().amax(dim=1).float().clamp(min=1e-12)
    codes = torch.round(w * (127.0 / absmax[:, None])).clamp(-127, 127)
    return codes.float() * absmax[:, None] / 127


register_scheme(Scheme("int8", load=load, fake_quant=fake_quant, variants=variants, nominal_bits=8,
                       bitsandbytes=True, paper="https://arxiv.org/abs/2208.07339"))
