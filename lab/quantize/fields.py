"""Spec fields the "quantize" and "prune" kinds share: what quality is measured on (held-out text, the
continuation task) and where the job runs. A dataclass mixed into both specs (like
lab/pretrain/fields.py), so help texts and limits are written once."""
from dataclasses import dataclass

from lab.errors import LabError
from lab.specs import device_setting, setting


@dataclass
class MeasureFields:
    eval_chars: int = setting(20000, en="Characters of held-out text the perplexity is measured on (the same for every scheme or point).",
                              zh="测量困惑度所用的留出文本字符数(所有方案或点都相同)。", minimum=200, maximum=5_000_000)
    eval_text: str = setting("", en="Your own evaluation text (empty: the held-out Shakespeare the default model never trained on).",
                             zh="自己的评测文本(留空:默认模型从未训练过的莎士比亚留出文本)。")
    eval_window: int = setting(128, en="Perplexity window in tokens (capped at the model's context length).",
                               zh="计算困惑度的窗口长度(token 数,不超过模型的上下文长度)。", minimum=16, maximum=4096)
    eval_batch_size: int = setting(8, en="Windows scored together: more is faster and uses more memory.",
                                   zh="同时打分的窗口数:越多越快,也越占内存。", minimum=1, maximum=256)
    questions: int = setting(40, en="Continuation-choice questions: pick the real next 16 characters among 4 by likelihood (chance 25%). 0 skips accuracy.",
                             zh="续写选择题数量:在 4 个候选中按似然选出真实的后 16 个字符(随机猜为 25%)。0 表示不测准确率。", minimum=0, maximum=5000)
    device: str = device_setting()

    def check_measure(self) -> None:
        from lab.present.system_status import gpus  # nvidia-smi, no torch: the app validates specs too

        if self.eval_text and len(self.eval_text.strip()) < 200:
            raise LabError("quantize_eval_text_short", chars=len(self.eval_text.strip()))
        if self.device == "cuda" and not gpus():
            raise LabError("device_unavailable", device="cuda")

    def model_path(self, ctx) -> tuple:
        """(folder or hub id to load, quantized_source or None): the default model is trained on first use
        (the first 20 % of the progress bar); a model from a quantized file is logged with a warning."""
        from lab.modeling.models import resolve_model
        from lab.quantize.default_model import DEFAULT_QUANTIZE_MODEL, ensure_default_model, resolve

        if self.model == DEFAULT_QUANTIZE_MODEL:
            ensure_default_model(lambda done, total, message: ctx.progress(0.2 * done / total, 1.0, message=message))
        path = resolve(self.model)
        source = resolve_model(path).quantized_source
        if source:
            ctx.log(f"warning: {self.model} was expanded from a {source} file: its weights already sit on a 4-bit grid")
        return path, source

    def resolved_device(self) -> str:
        from lab.present.system_status import gpus

        return ("cuda" if gpus() else "cpu") if self.device == "auto" else self.device
