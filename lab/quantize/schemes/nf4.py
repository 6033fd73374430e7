"""NF4 (4-bit NormalFloat, Dettmers et al., 2023 — QLoRA, https://arxiv.org/abs/2305.14314): 16 levels
at the quantiles of a normal distribution, scaled by each block's absmax, so the levels are dense where
most weights are (near zero)."""
from lab.quantize.schemes import SCHEMES, Scheme
from lab.quantize.schemes import _bnb4 as bnb4

SCHEMES.register("nf4", Scheme(load=bnb4.load, fake_quant=bnb4.fake_quant, variants=bnb4.variants_of("nf4"),
                               nominal_bits=4, needs_cuda=bnb4.needs_cuda, bitsandbytes=True, group=bnb4.Bnb4Settings))
