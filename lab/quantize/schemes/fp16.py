"""fp16 (IEEE half): 5 exponent bits, 10 mantissa bits — more precise than bf16 but a range that ends
at 65504, so large activations can overflow. Fast on GPUs; CPUs emulate it, so it needs CUDA here."""
from lab.quantize.schemes import SCHEMES, Scheme, load_plain, single


def fake_quant(weight, variant):
    import torch

    return weight.to(torch.float16).float()


SCHEMES.register("fp16", Scheme(load=lambda path, variant, device: load_plain(path, "fp16", device),
                                fake_quant=fake_quant, variants=single("fp16"), nominal_bits=16,
                                needs_cuda=lambda spec: True))
