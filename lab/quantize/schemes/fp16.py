"""fp16 (IEEE half): 5 exponent bits, 10 mantissa bits — more precise than bf16 but a range that ends
at 65504, so large activations can overflow. Fast on GPUs; CPUs emulate it, so it needs CUDA here."""
from lab.quantize.schemes import Scheme, load_plain, register_scheme


def fake_quant(weight, variant):
    import torch

    return weight.to(torch.float16).float()


register_scheme(Scheme("fp16", load=lambda path, variant, device: load_plain(path, "fp16", device),
                       fake_quant=fake_quant, nominal_bits=16, needs_cuda=lambda spec: True))
