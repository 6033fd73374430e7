"""The lab's round-to-nearest fake-quant (lab/quantize/rtn.py; as the RTN baseline of ZeroQuant,
Yao et al., 2022, https://arxiv.org/abs/2206.01861) at every bits × granularity the spec
lists: weights of every linear layer (not the output layer) rounded and written back in fp32, so
quality can be measured at 2..8 bits; its speed is fp32's, so it is not timed."""
from dataclasses import dataclass

from lab.errors import LabError
from lab.quantize import rtn
from lab.quantize.memory import is_linear
from lab.quantize.rtn import GRANULARITIES, MODES
from lab.quantize.schemes import SCHEMES, Scheme, Variant, load_plain
from lab.specs import setting

SHORT = {"per_tensor": "t", "per_channel": "ch"}
SUFFIX = {"symmetric": "", "asymmetric": " asym", "minmax": " minmax"}


@dataclass
class RtnSettings:
    """The sweep: every bits × granularity (× group size) combination is one variant."""

    rtn_bits: list[int] = setting([2, 3, 4, 8], en="Round-to-nearest: the bit widths to try (2 to 8), one per line.",
                                  zh="最近舍入:要尝试的位宽(2 到 8),每行一个。")
    rtn_granularity: list[str] = setting(["per_channel", "per_group"], en="Round-to-nearest: who shares one scale — per_tensor (the whole matrix), per_channel (each output row), per_group (each group of consecutive weights). One per line.",
                                         zh="最近舍入:多少权重共用一个缩放因子——per_tensor(整个矩阵)、per_channel(每个输出行)、per_group(每组连续权重)。每行一个。")
    rtn_group_sizes: list[int] = setting([32, 128], en="Round-to-nearest per_group: group sizes to try. Smaller groups follow the weights more closely but store more scales.",
                                         zh="最近舍入 per_group:要尝试的组大小。组越小越贴合权重,但要存更多缩放因子。")
    rtn_mode: str = setting("symmetric", choices=list(MODES),
                            en="Round-to-nearest levels: symmetric around zero; asymmetric from each group's min to max with an integer zero point; minmax with the group's min itself as offset (GGUF Q4_1's format).",
                            zh="最近舍入的级别:symmetric 以零为中心对称;asymmetric 从每组最小值到最大值,零点为整数;minmax 直接以组的最小值为偏移(GGUF Q4_1 的格式)。")

    @staticmethod
    def check(spec):
        for bits in spec.rtn_bits:
            if not 2 <= bits <= 8:
                raise LabError("rtn_bad_bits", bits=bits)
        for granularity in spec.rtn_granularity:
            if granularity not in GRANULARITIES:
                raise LabError("bad_choice", field="rtn_granularity", value=granularity, choices=", ".join(GRANULARITIES))
        for size in spec.rtn_group_sizes:
            if size < 2 or size > 65536:
                raise LabError("rtn_bad_group", group_size=size)
        if "rtn" in spec.schemes and not (spec.rtn_bits and spec.rtn_granularity):
            raise LabError("rtn_empty_sweep")
        if "per_group" in spec.rtn_granularity and not spec.rtn_group_sizes:
            raise LabError("rtn_empty_sweep")


def variants(spec):
    out = []
    for bits in spec.rtn_bits:
        for granularity in spec.rtn_granularity:
            sizes = spec.rtn_group_sizes if granularity == "per_group" else [0]
            for size in sizes:
                tag = f"g{size}" if granularity == "per_group" else SHORT[granularity]
                label = f"rtn{bits} {tag}" + SUFFIX[spec.rtn_mode]
                out.append(Variant(label, "rtn", {"bits": bits, "granularity": granularity, "group_size": size or 128,
                                                  "mode": spec.rtn_mode}))
    return out


def fake_quant(weight, variant):
    o = variant.options
    return rtn.fake_quant(weight, o["bits"], o["granularity"], o["group_size"], o["mode"])


def load(path, variant, device):
    import torch

    model, tokenizer, info = load_plain(path, "fp32", device)
    with torch.no_grad():
        for name, module in model.named_modules():
            if is_linear(module) and not name.endswith("lm_head"):
                module.weight.copy_(fake_quant(module.weight, variant))
    return model, tokenizer, info


def bits_per_weight(variant, shape) -> float:
    o = variant.options
    return rtn.bits_per_weight(o["bits"], o["granularity"], o["group_size"], o["mode"], tuple(shape))


SCHEMES.register("rtn", Scheme(load=load, fake_quant=fake_quant, variants=variants, nominal_bits=4, real_speed=False,
                               packed_bits=bits_per_weight, group=RtnSettings))
