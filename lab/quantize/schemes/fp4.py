"""FP4: a 4-bit float (1 sign, 2 exponent, 1 mantissa bit) per weight, scaled by each block's absmax:
levels spaced like powers of two, not like a normal distribution — the comparison NF4 was built to win."""
from lab.quantize.schemes import Scheme, register_scheme
from lab.quantize.schemes import _bnb4 as bnb4

register_scheme(Scheme("fp4", load=bnb4.load, fake_quant=bnb4.fake_quant, variants=bnb4.variants_of("fp4"),
                       nominal_bits=4, needs_cuda=bnb4.needs_cuda, bitsandbytes=True,
                       paper="https://arxiv.org/abs/2305.14314"))
