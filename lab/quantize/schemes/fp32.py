"""fp32: the full-precision baseline every other scheme is compared with (32 bits per weight)."""
from lab.quantize.schemes import Scheme, load_plain, register_scheme

register_scheme(Scheme("fp32", load=lambda path, variant, device: load_plain(path, "fp32", device),
                       fake_quant=lambda weight, variant: weight.float(), nominal_bits=32))
