"""SmoothQuant W8A8 (Xiao et al., 2022, https://arxiv.org/abs/2211.10438; lab/quantize/smoothquant.py):
weights AND activations of every decoder linear on 8-bit grids (simulated in float), without smoothing
and with the activation outliers moved into the weights at each α. One variant per activation
granularity × (no smoothing, α ...).

The load leaves the outlier view in the job's extras: per input channel of every norm-fed layer group,
max |x| before and after smoothing at α (computed on the calibration text before the model changes).
"""
from dataclasses import dataclass

from lab.errors import LabError
from lab.quantize import rtn, smoothquant
from lab.quantize.schemes import SCHEMES, Scheme, Variant, load_plain
from lab.specs import setting

SHORT = {"per_token": "tok", "per_tensor": "tensor"}


@dataclass
class SmoothQuantSettings:
    """The α values to smooth with, and how activations are scaled."""

    smoothquant_alphas: list[float] = setting([0.5, 0.75], en="SmoothQuant: migration strengths α to try (0 to 1), one per line; W8A8 without smoothing is always measured too. 0.5 splits the difficulty evenly; larger moves more of it into the weights.",
                                              zh="SmoothQuant:要尝试的迁移强度 α(0 到 1),每行一个;不做平滑的 W8A8 也总会测量。0.5 表示难度平分;越大,越多难度移到权重上。")
    smoothquant_activations: list[str] = setting(["per_token", "per_tensor"], en="SmoothQuant: how activations get their 8-bit scale — per_token (one per token, easier) or per_tensor (one for the whole input, cheaper, where outliers hurt most). One per line.",
                                                 zh="SmoothQuant:激活值的 8 位缩放方式——per_token(每个 token 一个,较容易)或 per_tensor(整个输入一个,更省,离群值伤害最大)。每行一个。")

    @staticmethod
    def check(spec):
        for alpha in spec.smoothquant_alphas:
            smoothquant.check_alpha(alpha)
        for granularity in spec.smoothquant_activations:
            if granularity not in smoothquant.ACTIVATION_GRANULARITIES:
                raise LabError("smoothquant_bad_activation", granularity=granularity,
                               choices=", ".join(smoothquant.ACTIVATION_GRANULARITIES))
        if "smoothquant" in spec.schemes and not spec.smoothquant_activations:
            raise LabError("smoothquant_no_activations")


def variants(spec):
    out = []
    for granularity in spec.smoothquant_activations:
        for alpha in [None] + list(dict.fromkeys(spec.smoothquant_alphas)):
            smoothing = "" if alpha is None else f" sq{alpha:g}"
            out.append(Variant(f"w8a8{smoothing} {SHORT[granularity]}", "smoothquant",
                               {"alpha": alpha, "activation": granularity, "bits": 8}))
    return out


def load(path, variant, device, job):
    model, tokenizer, info = load_plain(path, "fp32", device)
    alpha, activation = variant.options["alpha"], variant.options["activation"]
    if alpha is not None:
        job.progress(0.1, f"SmoothQuant: outlier channels before and after smoothing at α = {alpha:g}")
        view = smoothquant.outlier_view(model, job.calibration, alpha)
        view["layer"] = view["layer"].str.removeprefix("model.")  # the short names of the other views
        view["alpha"] = alpha
        job.extras["outliers"] = view
        job.progress(0.5, f"SmoothQuant: folding the scales at α = {alpha:g}")
        smoothquant.smooth_model(model, job.calibration, alpha)
    smoothquant.apply_w8a8(model, activation)  # forward pre-hooks quantize every decoder linear's input
    return model, tokenizer, info


def fake_quant(weight, variant):
    """Only without smoothing is the stored weight a function of the weight alone (8-bit, per output row)."""
    return rtn.fake_quant(weight, 8, "per_channel") if variant.options["alpha"] is None else None


SCHEMES.register("smoothquant", Scheme(load=load, fake_quant=fake_quant, variants=variants, nominal_bits=8,
                                       real_speed=False, group=SmoothQuantSettings, reads=("calibration_texts",),
                                       packed_bits=lambda variant, shape: rtn.bits_per_weight(8, "per_channel", 0, "symmetric", tuple(shape)),
                                       calibrated=True))
