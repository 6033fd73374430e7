"""bitsandbytes LLM.int8() (Dettmers et al., 2022, https://arxiv.org/abs/2208.07339): weights stored as int8
with one absmax scale per output row; at run time the input columns holding an |activation| above `threshold` (the rare
outlier features) are multiplied in 16 bits and all the rest in int8, then the two are added
(mixed-precision decomposition). threshold 0 turns the decomposition off (pure int8 matmul).
"""
from dataclasses import dataclass

from lab.quantize.schemes import SCHEMES, Scheme, Variant, load_plain
from lab.errors import LabError
from lab.specs import setting


@dataclass
class Int8Settings:
    """LLM.int8()'s outlier threshold."""

    int8_threshold: float = setting(6.0, en="LLM.int8: input features whose |activation| exceeds this are multiplied in 16 bits, the rest in int8 (0 turns the 16-bit part off).",
                                    zh="LLM.int8:输入中 |激活值| 超过该阈值的特征用 16 位相乘,其余用 int8(0 表示关闭 16 位部分)。", minimum=0.0, maximum=1000.0)
    int8_more_thresholds: list[float] = setting([], en="LLM.int8: further thresholds to measure in the same run, one per line (e.g. 0 beside 6: with and without the 16-bit outlier part). Each is one more int8 row.",
                                                zh="LLM.int8:在同一次运行中再测量的阈值,每行一个(例如在 6 之外再测 0:有无 16 位离群部分)。每个阈值多一行 int8 结果。")

    @staticmethod
    def check(spec):
        for value in spec.int8_more_thresholds:
            if not 0 <= float(value) <= 1000:
                raise LabError("int8_bad_threshold", value=value)


def thresholds(spec) -> list[float]:
    """int8_threshold, then each further threshold not already listed."""
    return list(dict.fromkeys([float(spec.int8_threshold), *(float(v) for v in spec.int8_more_thresholds)]))


def variants(spec):
    """One int8 row per threshold: labelled "int8" when there is one, "int8 t6", "int8 t0" when several."""
    chosen = thresholds(spec)
    if len(chosen) == 1:
        return [Variant("int8", "int8", {"threshold": chosen[0]})]
    return [Variant(f"int8 t{value:g}", "int8", {"threshold": value}) for value in chosen]


def load(path, variant, device):
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=float(variant.options["threshold"]))
    return load_plain(path, "fp32" if device == "cpu" else "fp16", device, config)


def fake_quant(weight, variant):
    """Row-wise absmax int8 exactly as Int8Params stores it: the weight cast to fp16, then
    CB = round(w * 127 / max|w_row|) and SCB = max|w_row|; it computes with CB * SCB / 127."""
    import torch

    w = weight.to(torch.float16)
    absmax = w.abs().amax(dim=1).float().clamp(min=1e-12)
    codes = torch.round(w * (127.0 / absmax[:, None])).clamp(-127, 127)
    return codes.float() * absmax[:, None] / 127


SCHEMES.register("int8", Scheme(load=load, fake_quant=fake_quant, variants=variants, nominal_bits=8, bitsandbytes=True,
                                group=Int8Settings))
