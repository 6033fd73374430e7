"""bf16 (bfloat16): fp32's 8 exponent bits with only 7 mantissa bits — same range, ~3 decimal digits
(Kalamkar et al., 2019, https://arxiv.org/abs/1905.12322).

Half the memory of fp32 and no scales to store; on CPUs without bf16 instructions it is slower than fp32.
"""
from lab.quantize.schemes import SCHEMES, Scheme, load_plain, single


def fake_quant(weight, variant):
    import torch

    return weight.to(torch.bfloat16).float()


SCHEMES.register("bf16", Scheme(load=lambda path, variant, device: load_plain(path, "bf16", device),
                                fake_quant=fake_quant, variants=single("bf16"), nominal_bits=16))
