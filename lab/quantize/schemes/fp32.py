"""fp32: the full-precision baseline every other scheme is compared with (32 bits per weight)."""
from lab.quantize.schemes import SCHEMES, Scheme, load_plain, single

SCHEMES.register("fp32", Scheme(load=lambda path, variant, device: load_plain(path, "fp32", device),
                                fake_quant=lambda weight, variant: weight.float(), variants=single("fp32"),
                                nominal_bits=32))
