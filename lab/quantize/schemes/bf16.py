"""bf16 (bfloat16): fp32's 8 exponent bits with only 7 mantissa bits — same range, ~3 decimal digits.

Half the memory of fp32 and no scales to store; on CPUs without bf16 instructions it is slower than fp32.
"""
from lab.quantize.schemes import Scheme, load_plain, register_scheme


def fake_quant(weight, variant):
    import torch

    return weight.to(torch.bfloat16).float()


register_scheme(Scheme("bf16", load=lambda path, variant, device: load_plain(path, "bf16", device),
                       fake_quant=fake_quant, nominal_bits=16, paper="https://arxiv.org/abs/1905.12322"))
