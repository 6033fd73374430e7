"""What NF4 and FP4 share: bitsandbytes 4-bit weights in blocks of 64, one absmax per block, optionally
double-quantized (the fp32 absmax values themselves stored in 8 bits, blocks of 256), computed in
`compute_dtype` (weights are dequantized block by block into it for each matmul)."""
from dataclasses import dataclass

from lab.quantize.schemes import Variant, load_plain, torch_dtype
from lab.specs import setting

BLOCK_SIZE = 64  # bitsandbytes' default 4-bit block


@dataclass
class Bnb4Settings:
    """The options NF4 and FP4 share."""

    double_quant: str = setting("both", en="NF4/FP4: also quantize the per-block scales to 8 bits (saves ~0.37 bits per weight). both measures with and without.",
                                zh="NF4/FP4:把每块的缩放因子也量化为 8 位(每个权重约省 0.37 位)。both 表示开、关各测一次。", choices=["off", "on", "both"])
    compute_dtype: str = setting("fp32", en="NF4/FP4: the format weights are expanded into for each multiplication: fp32 (fastest on this CPU), bf16, fp16 (GPU).",
                                 zh="NF4/FP4:每次乘法前权重展开成的格式:fp32(在本机 CPU 上最快)、bf16、fp16(需 GPU)。", choices=["fp32", "bf16", "fp16"])


def variants_of(quant_type: str):
    def variants(spec):
        flags = {"off": [False], "on": [True], "both": [False, True]}[spec.double_quant]
        return [Variant(quant_type + ("+dq" if dq else ""), quant_type,
                        {"quant_type": quant_type, "double_quant": dq, "compute_dtype": spec.compute_dtype})
                for dq in flags]
    return variants


def load(path, variant, device):
    from transformers import BitsAndBytesConfig

    options = variant.options
    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=options["quant_type"],
                                bnb_4bit_use_double_quant=bool(options["double_quant"]),
                                bnb_4bit_compute_dtype=torch_dtype(options["compute_dtype"]))
    return load_plain(path, "fp32" if device == "cpu" else options["compute_dtype"], device, config)


def fake_quant(weight, variant):
    """Quantize-dequantize with bitsandbytes' own functions, so the error is the stored model's error."""
    import bitsandbytes.functional as F

    w = weight.float().contiguous()
    packed, state = F.quantize_4bit(w, blocksize=BLOCK_SIZE, quant_type=variant.options["quant_type"],
                                    compress_statistics=bool(variant.options["double_quant"]))
    return F.dequantize_4bit(packed, state).float().reshape(w.shape)


def needs_cuda(spec) -> bool:
    return spec.compute_dtype == "fp16"  # CPUs emulate fp16 matmuls
