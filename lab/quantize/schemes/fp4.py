"""FP4: a 4-bit float (1 sign, 2 exponent, 1 mantissa bit) per weight, scaled by each block's absmax:
levels spaced like powers of two, not like a normal distribution — the comparison NF4 was built to win
(Dettmers et al., 2023, https://arxiv.org/abs/2305.14314)."""
from lab.quantize.schemes import SCHEMES, Scheme
from lab.quantize.schemes import _bnb4 as bnb4

SCHEMES.register("fp4", Scheme(load=bnb4.load, fake_quant=bnb4.fake_quant, variants=bnb4.variants_of("fp4"),
                               nominal_bits=4, needs_cuda=bnb4.needs_cuda, bitsandbytes=True, group=bnb4.Bnb4Settings))
