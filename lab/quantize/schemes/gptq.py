"""GPTQ (Frantar et al., 2022, https://arxiv.org/abs/2210.17323; the algorithm is lab/quantize/gptq.py,
the layer-by-layer driver lab/quantize/gptq_model.py): every decoder linear quantized column by column
on calibration text, the remaining columns absorbing each column's rounding error. One variant per bit
width, on the same grids as round-to-nearest (rtn_mode), so GPTQ and RTN compare exactly.

The load leaves per-layer errors in the job's extras: the weight error ||W − Ŵ|| / ||W|| (what the heatmap
shows for every scheme) and the output error ||WX − ŴX||² / ||WX||² on the calibration inputs, for GPTQ
and for RTN at the same bits and group size on the same inputs (the error GPTQ minimises).
"""
from dataclasses import dataclass

from lab.errors import LabError
from lab.quantize import gptq, rtn
from lab.quantize.schemes import SCHEMES, Scheme, Variant, load_plain
from lab.quantize.schemes.rtn import SUFFIX
from lab.specs import setting

MIN_CALIBRATION_TEXTS = 2  # 1,024 characters: fewer leaves H = 2XXᵀ/N far from full rank on any real layer


@dataclass
class GptqSettings:
    """GPTQ's bit widths, grouping, column order, dampening, and the calibration text (SmoothQuant reads it too)."""

    gptq_bits: list[int] = setting([2, 3, 4], en="GPTQ: the bit widths to try (2 to 8), one per line; each is one variant.",
                                   zh="GPTQ:要尝试的位宽(2 到 8),每行一个;每个位宽是一个变体。")
    gptq_group_size: int = setting(gptq.DEFAULT_GROUP_SIZE, en="GPTQ: consecutive input columns sharing one scale (0: one scale per row). Must divide every layer's input size: 64 fits the default model and SmolLM2, 128 does not.",
                                   zh="GPTQ:共用一个缩放因子的连续输入列数(0 表示每行一个)。必须整除每一层的输入维度:64 适合默认模型和 SmolLM2,128 不行。",
                                   minimum=0, maximum=65536)
    gptq_act_order: bool = setting(False, en="GPTQ act-order: quantize the most active input columns first, while the most columns remain to absorb their error.",
                                   zh="GPTQ 按激活排序:先量化最活跃的输入列,此时剩下最多的列来吸收它们的误差。")
    gptq_damp_percent: float = setting(0.01, en="GPTQ dampening: this share of the mean diagonal of H is added to it, so it can be inverted (usually 0.01; raise it if GPTQ fails).",
                                       zh="GPTQ 阻尼:把 H 对角线均值的这个比例加到对角线上,使其可逆(通常 0.01;失败时调大)。",
                                       minimum=0.0, maximum=1.0)
    calibration_texts: int = setting(4, en="GPTQ and SmoothQuant: pieces of training text (512 characters each) whose activations they measure. Held-out text is never used.",
                                     zh="GPTQ 与 SmoothQuant:用来测量激活值的训练文本段数(每段 512 个字符)。从不使用留出文本。",
                                     minimum=1, maximum=256)

    @staticmethod
    def check(spec):
        for bits in spec.gptq_bits:
            if bits not in gptq.BITS:
                raise LabError("gptq_bad_bits", bits=bits)
        gptq.check_settings(2, spec.gptq_group_size, spec.gptq_damp_percent, spec.rtn_mode)
        if "gptq" in spec.schemes:
            if not spec.gptq_bits:
                raise LabError("gptq_no_bits")
            from lab.quantize.model_shape import check_group_size

            check_group_size(spec.model, spec.gptq_group_size)
        if {"gptq", "smoothquant"} & set(spec.schemes) and spec.calibration_texts < MIN_CALIBRATION_TEXTS:
            raise LabError("quantize_calibration_short", texts=spec.calibration_texts, minimum=MIN_CALIBRATION_TEXTS,
                           chars=512 * spec.calibration_texts)


def label(bits: int, group_size: int, act_order: bool, mode: str) -> str:
    return f"gptq{bits} {f'g{group_size}' if group_size else 'ch'}" + (" ao" if act_order else "") + SUFFIX[mode]


def variants(spec):
    return [Variant(label(bits, spec.gptq_group_size, spec.gptq_act_order, spec.rtn_mode), "gptq",
                    {"bits": bits, "group_size": spec.gptq_group_size, "act_order": spec.gptq_act_order,
                     "percdamp": spec.gptq_damp_percent, "mode": spec.rtn_mode})
            for bits in spec.gptq_bits]


def rtn_twin(variant) -> tuple:
    """(label, options) of round-to-nearest at GPTQ's bits, grouping and grid, as the RTN scheme labels it."""
    o = variant.options
    tag = f"g{o['group_size']}" if o["group_size"] else "ch"
    return f"rtn{o['bits']} {tag}{SUFFIX[o['mode']]}", {
        "bits": o["bits"], "granularity": "per_group" if o["group_size"] else "per_channel",
        "group_size": o["group_size"] or 128, "mode": o["mode"]}


def load(path, variant, device, job):
    import torch

    from lab.quantize.gptq_model import decoder_layers, gptq_quantize_model

    model, tokenizer, info = load_plain(path, "fp32", device)
    o = variant.options
    originals = {name: m.weight.detach().clone() for name, m in model.named_modules()
                 if isinstance(m, torch.nn.Linear)}
    stats = gptq_quantize_model(model, job.calibration, bits=o["bits"], group_size=o["group_size"], mode=o["mode"],
                                act_order=o["act_order"], percdamp=o["percdamp"],
                                progress=lambda done, total, message: job.progress(done / total, message))
    prefix = next(name for name, module in model.named_modules() if module is decoder_layers(model))
    modules = dict(model.named_modules())
    twin, twin_options = rtn_twin(variant)
    rows = []
    for row in stats:
        name = f"{prefix}.{row['layer']}"
        weight, quantized = originals[name], modules[name].weight.detach()
        energy = max(row["output_energy"], 1e-30)
        rows.append({"layer": name.removeprefix("model."), "variant": variant.label, "rel_error": rtn.relative_error(weight, quantized),
                     "output_error": row["gptq_error"] / energy, "twin": twin, "twin_output_error": row["rtn_error"] / energy,
                     "twin_rel_error": rtn.relative_error(weight, rtn.fake_quant(weight, **twin_options)),
                     "gptq_seconds": row["gptq_seconds"], "hessian_seconds": row["hessian_seconds"]})
    job.extras["layer_errors"] = rows
    job.extras["figures"] = {"gptq_seconds": round(sum(r["gptq_seconds"] + r["hessian_seconds"] for r in stats), 3),
                             "calibration_tokens": sum(int(b.numel()) for b in job.calibration)}
    return model, tokenizer, info


def bits_per_weight(variant, shape) -> float:
    _, options = rtn_twin(variant)  # GPTQ stores exactly RTN's format: codes plus fp16 scales per group
    return rtn.bits_per_weight(options["bits"], options["granularity"], options["group_size"], options["mode"], tuple(shape))


SCHEMES.register("gptq", Scheme(load=load, fake_quant=lambda weight, variant: None, variants=variants, nominal_bits=4,
                                real_speed=False, packed_bits=bits_per_weight, group=GptqSettings, reads=("rtn_mode",),
                                calibrated=True))
