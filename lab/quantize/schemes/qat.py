"""Quantization-aware training (LLM-QAT, Liu et al., 2023, https://arxiv.org/abs/2305.17888; the fake-quant
layer is lab/quantize/qat.py): a short fine-tune through the lab's fine-tune recipe (lab/finetune/train.py,
the same Trainer, callbacks and method registry) with every linear's weight on the RTN grid in the forward
pass and a straight-through gradient, then measured like every other variant. One variant per bit width.

- full: every weight trains; afterwards the weights are baked onto the grid (a plain fp32 model on it).
- lora: the fake-quantized base is frozen and LoRA trains on top (as QLoRA keeps its adapters in full
  precision); the base is baked onto the grid and the adapters merged in for measuring and saving, so
  those weights leave the grid by the (small) LoRA update.
Training text: the training part of the lab's Shakespeare (never the held-out text perplexity uses), in
windows of the model's context, `qat_steps` steps of `qat_batch_size` windows.
"""
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError
from lab.quantize import rtn
from lab.quantize.schemes import SCHEMES, Scheme, Variant, load_plain
from lab.specs import setting

QAT_BITS = range(2, 9)  # the bit widths QAT trains at (lab/quantize/qat.py checks the same)

QAT_METHODS = ("full", "lora")


@dataclass
class QatSettings:
    """How the quantization-aware fine-tune runs."""

    qat_bits: list[int] = setting([2, 3], en="QAT: the bit widths to train at (2 to 8), one per line; each is its own short training run.",
                                  zh="QAT:训练时使用的位宽(2 到 8),每行一个;每个位宽单独训练一次。")
    qat_group_size: int = setting(64, en="QAT: consecutive input columns sharing one scale (0: one scale per row); must divide every layer's input size.",
                                  zh="QAT:共用一个缩放因子的连续输入列数(0 表示每行一个);必须整除每一层的输入维度。",
                                  minimum=0, maximum=65536)
    qat_method: str = setting("full", choices=list(QAT_METHODS),
                              en="QAT: full (every weight trains, then sits on the grid) or lora (the quantized base stays frozen; a small full-precision LoRA update trains on top).",
                              zh="QAT:full(所有权重都训练,之后落在量化网格上)或 lora(量化后的基座冻结,只在其上训练一个小的全精度 LoRA 更新)。")
    qat_steps: int = setting(60, en="QAT: optimizer steps per bit width (each step one batch of training text).",
                             zh="QAT:每个位宽的优化器步数(每步一批训练文本)。", minimum=1, maximum=100_000)
    qat_batch_size: int = setting(8, en="QAT: windows of training text per step.", zh="QAT:每步的训练文本窗口数。",
                                  minimum=1, maximum=256)
    qat_learning_rate: float = setting(0.0002, en="QAT: the optimizer's step size (full: about 2e-4; lora: about 1e-3).",
                                       zh="QAT:优化器步长(full 约 2e-4;lora 约 1e-3)。", minimum=0.0, maximum=1.0)

    @staticmethod
    def check(spec):
        for bits in spec.qat_bits:
            if bits not in QAT_BITS:
                raise LabError("qat_bad_bits", bits=bits)
        if spec.qat_group_size < 0 or spec.qat_group_size == 1:
            raise LabError("qat_bad_group", group_size=spec.qat_group_size)
        if "qat" in spec.schemes:
            if not spec.qat_bits:
                raise LabError("qat_no_bits")
            from lab.quantize.model_shape import check_group_size

            check_group_size(spec.model, spec.qat_group_size, error="qat_group_divides")


def variants(spec):
    tag = f"g{spec.qat_group_size}" if spec.qat_group_size else "ch"
    return [Variant(f"qat{bits} {tag} {spec.qat_method}", "qat",
                    {"bits": bits, "group_size": spec.qat_group_size, "method": spec.qat_method, "steps": spec.qat_steps,
                     "batch_size": spec.qat_batch_size, "learning_rate": spec.qat_learning_rate})
            for bits in spec.qat_bits]


def training_windows(tokenizer, window: int, count: int) -> list:
    """`count` windows of `window` tokens from the training text (cycled if it runs short), labels = inputs."""
    from lab.quantize.evaldata import training_text

    ids = tokenizer(training_text()[: min(4_000_000, count * window * 6)], add_special_tokens=False)["input_ids"]
    windows = [ids[i:i + window] for i in range(0, len(ids) - window + 1, window)]
    if not windows:
        raise LabError("qat_no_text", window=window)
    return [{"input_ids": windows[i % len(windows)], "labels": windows[i % len(windows)]} for i in range(count)]


class _TrainingContext:
    """The job context as the fine-tune recipe sees it during one QAT run: its step records are tagged with
    the variant (they do not mix with the comparison's rows) and its progress is the variant's share."""

    def __init__(self, job, label: str, scratch: Path):
        from lab.runs.folder import RunFolder

        self._job, self._label = job, label
        base = job.context
        self.folder = RunFolder.at(scratch) if base is None else base.folder
        self.run_dir = self.folder.path
        self.run_id = getattr(base, "run_id", "qat")

    @property
    def cancel_requested(self) -> bool:
        return bool(getattr(self._job.context, "cancel_requested", False))

    def log(self, message: str) -> None:
        self._job.log(message)

    def log_metrics(self, **record) -> None:
        if self._job.context is not None:
            self._job.context.log_metrics(qat_variant=self._label, **{f"qat_{k}": v for k, v in record.items()})

    def progress(self, done, total, message: str = "", force: bool = False, **live) -> None:
        self._job.progress(0.9 * done / max(1, total), f"{self._label}: training {message}")


def load(path, variant, device, job):
    from lab.finetune.methods import METHODS
    from lab.finetune.train import Setup, count_parameters, train
    from lab.kinds.finetune import FinetuneSpec
    from lab.modeling.models import context_length

    o = variant.options
    model, tokenizer, info = load_plain(path, "fp32", device)
    from lab.quantize import qat  # torch: imported in the job, never by the app

    qat.wrap_linears(model, o["bits"], o["group_size"])
    method = METHODS.get(o["method"])
    window = min(128, context_length(model) or 128)
    spec = FinetuneSpec(model=path, method=o["method"], dataset="shakespeare-train", max_steps=o["steps"],
                        batch_size=o["batch_size"], max_length=window, learning_rate=o["learning_rate"],
                        lr_scheduler="constant", warmup_ratio=0.0, eval_steps=0, accuracy_examples=0, save_steps=0,
                        dtype="fp32", seed=job.seed, answer_only=False)
    model = method.apply(model, spec, info)
    trainable, total = count_parameters(model)
    items = training_windows(tokenizer, window, o["steps"] * o["batch_size"])
    scratch = Path(tempfile.mkdtemp(prefix="lab-qat-")) if job.context is None else None
    context = _TrainingContext(job, variant.label, scratch)
    try:
        figures = train(Setup(spec, method, model, tokenizer, info, items, [], [], False, trainable, total), context)
    finally:
        shutil.rmtree(context.folder.checkpoint_dir, ignore_errors=True)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    model.eval()
    from lab.quantize import qat

    qat.unwrap_linears(model, bake=True)  # the weights it trained with, on the grid
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    job.extras["figures"] = {"train_loss_first": figures.get("train_loss_first"),
                             "train_loss_last": figures.get("train_loss_last"),
                             "train_seconds": figures.get("train_seconds"), "trainable_params": trainable}
    job.progress(0.95, f"{variant.label}: trained {figures.get('steps')} steps in {figures.get('train_seconds')} s")
    return model, tokenizer, info


def bits_per_weight(variant, shape) -> float:
    o = variant.options
    return rtn.bits_per_weight(o["bits"], "per_group" if o["group_size"] else "per_channel", o["group_size"] or 128,
                               "symmetric", tuple(shape))


SCHEMES.register("qat", Scheme(load=load, fake_quant=lambda weight, variant: None, variants=variants, nominal_bits=3,
                               real_speed=False, packed_bits=bits_per_weight, group=QatSettings, calibrated=True))
