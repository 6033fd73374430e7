"""The lab's round-to-nearest fake-quant (lab/quantize/rtn.py) at every bits × granularity the spec
lists: weights of every linear layer (not the output layer) rounded and written back in fp32, so
quality can be measured at 2..8 bits; its speed is fp32's, so it is not timed."""
from lab.quantize import rtn
from lab.quantize.schemes import Scheme, Variant, load_plain, register_scheme
from lab.quantize.memory import is_linear

SHORT = {"per_tensor": "t", "per_channel": "ch"}
SUFFIX = {"symmetric": "", "asymmetric": " asym", "minmax": " minmax"}


def variants(spec):
    out = []
    for bits in spec.rtn_bits:
        for granularity in spec.rtn_granularity:
            sizes = spec.rtn_group_sizes if granularity == "per_group" else [0]
            for size in sizes:
                tag = f"g{size}" if granularity == "per_group" else SHORT[granularity]
                label = f"rtn{bits} {tag}" + SUFFIX[spec.rtn_mode]
                out.append(Variant(label, "rtn", {"bits": bits, "granularity": granularity, "group_size": size or 128,
                                                  "mode": spec.rtn_mode}))
    return out


def fake_quant(weight, variant):
    o = variant.options
    return rtn.fake_quant(weight, o["bits"], o["granularity"], o["group_size"], o["mode"])


def load(path, variant, device):
    import torch

    model, tokenizer, info = load_plain(path, "fp32", device)
    with torch.no_grad():
        for name, module in model.named_modules():
            if is_linear(module) and not name.endswith("lm_head"):
                module.weight.copy_(fake_quant(module.weight, variant))
    return model, tokenizer, info


def bits_per_weight(variant, shape) -> float:
    o = variant.options
    return rtn.bits_per_weight(o["bits"], o["granularity"], o["group_size"], o["mode"], tuple(shape))


register_scheme(Scheme("rtn", load=load, fake_quant=fake_quant, variants=variants, nominal_bits=4, real_speed=False, packed_bits=bits_per_weight,
                       paper="https://arxiv.org/abs/2206.01861"))
