"""Kind "quantize": one model under several quantization schemes, measured side by side in one run.

    python -m lab spec quantize > q.json && python -m lab run q.json --wait

Recipe: make sure the model is there (the default is trained once, ~3 minutes on a CPU core), check
memory, load it in fp32 for the look-inside views and to tokenize the calibration text, then load and
measure every variant in turn (lab/quantize/compare.py; GPTQ, SmoothQuant and QAT calibrate or train
on the way and hand back what they measured), write the table, the answers and the view data to
artifacts/, and export one variant as a model folder if asked. Unsupported combinations are refused
when the spec is built.
"""
import json
import time
from dataclasses import dataclass

from lab.errors import LabError
from lab.modeling.models import check_model_name
from lab.quantize.default_model import DEFAULT_QUANTIZE_MODEL
from lab.quantize.fields import MeasureFields
from lab.quantize.schemes import SCHEMES
from lab.specs import KINDS, Kind, Spec, compose, setting

DEFAULT_PROMPTS = ["ROMEO.\n", "To be, or not to be", "KING.\nWhat news"]


@dataclass
@compose(*SCHEMES.groups())  # each scheme's own options (lab/quantize/schemes/<name>.py), after these
class QuantizeSpec(MeasureFields, Spec):
    kind = "quantize"

    model: str = setting(DEFAULT_QUANTIZE_MODEL, en="The model to compress. The default is a full-precision model the lab pre-trains on Shakespeare (trained once on first use, ~3 minutes); a local folder or hub id also works. A model expanded from a 4-bit file (like the offline SmolLM2) gets a warning: its weights are already quantized.",
                         zh="要压缩的模型。默认是实验室在莎士比亚文本上预训练的全精度模型(首次使用时训练一次,约 3 分钟);也可以填本地文件夹或 Hub 模型 ID。由 4 位文件展开的模型(如离线 SmolLM2)会给出警告:它的权重早已被量化过。")
    schemes: list[str] = setting(["fp32", "bf16", "int8", "nf4", "fp4", "rtn"], en="Schemes to compare, one per line: fp32 (the baseline, required), bf16, fp16 (GPU), int8 (LLM.int8), nf4, fp4, rtn (the lab's round-to-nearest sweep below), gptq (calibrated rounding), smoothquant (8-bit weights and activations), qat (a short quantization-aware fine-tune).",
                                 zh="要比较的方案,每行一个:fp32(基线,必选)、bf16、fp16(需 GPU)、int8(LLM.int8)、nf4、fp4、rtn(下面设置的最近舍入扫描)、gptq(用校准数据的舍入)、smoothquant(权重和激活都用 8 位)、qat(简短的量化感知微调)。")
    prompts: list[str] = setting(DEFAULT_PROMPTS, en="Prompts every scheme answers (greedy), shown side by side; also used to time generation.",
                                 zh="每个方案都要回答的提示(贪心解码),并排显示;也用于测量生成速度。")
    max_new_tokens: int = setting(48, en="Tokens generated per prompt.", zh="每条提示生成的 token 数。", minimum=1, maximum=2048)
    use_chat_template: bool = setting(False, en="Wrap prompts as chat messages (for instruction-tuned models; the default model has no template).",
                                      zh="把提示包装成对话消息(用于指令微调模型;默认模型没有对话模板)。")
    inside_layer: str = setting("", en="Layer for the weight histogram, e.g. layers.2.mlp.down_proj (empty: a layer in the middle).",
                                zh="权重直方图所用的层,如 layers.2.mlp.down_proj(留空:取中间的一层)。")
    outlier_texts: int = setting(8, en="Sample texts (512 characters each) for the activation-outlier view.",
                                 zh="激活离群值视图所用的样本文本数(每段 512 个字符)。", minimum=1, maximum=256)
    export_variant: str = setting("", en="Save this variant (a label from the table, e.g. nf4+dq, int8, rtn4 g32) as a model folder other tabs can load (empty: none).",
                                  zh="把这个变体(表中的标签,如 nf4+dq、int8、rtn4 g32)保存为其他页面可加载的模型文件夹(留空:不保存)。")

    def validate(self):
        check_model_name(self.model)
        for name in self.schemes:
            SCHEMES.get(name)  # LabError unknown_scheme naming it
        if "fp32" not in self.schemes:
            raise LabError("quantize_needs_fp32")
        if len(set(self.schemes)) != len(self.schemes):
            raise LabError("quantize_duplicate_scheme", schemes=", ".join(self.schemes))
        self.check_measure()
        for index, prompt in enumerate(self.prompts):
            if not prompt.strip():
                raise LabError("empty_prompt", index=index)
        refusal = refuse(self)
        if refusal:
            raise refusal
        if self.export_variant and self.export_variant not in [v.label for v in self.variants()]:
            raise LabError("quantize_unknown_export", variant=self.export_variant,
                           variants=", ".join(v.label for v in self.variants()))

    def variants(self):
        from lab.quantize.schemes import expand_variants

        return expand_variants(self)


def refuse(spec: QuantizeSpec):
    """A LabError for a combination this machine cannot run (CUDA-only on a CPU), before the job starts."""
    if spec.resolved_device() == "cpu":
        for name in spec.schemes:
            if SCHEMES.get(name).needs_cuda(spec):
                return LabError("quantize_needs_cuda", scheme=name, compute_dtype=spec.compute_dtype)
    return None


def run(spec: QuantizeSpec, ctx) -> dict:
    import torch

    from lab.modeling.models import context_length
    from lab.quantize import compare, evaldata, export, guard, inside
    from lab.quantize.schemes import LoadJob
    from lab.runs.folder import write_json

    torch.set_num_threads(ctx.threads)
    started = time.time()
    device = spec.resolved_device()
    path, source = spec.model_path(ctx)
    variants = spec.variants()
    guard.check_memory(path, len(variants))
    data = evaldata.build(spec.eval_chars, 512 * max(spec.outlier_texts, spec.calibration_texts), spec.questions,
                          spec.seed, spec.eval_text)
    steps = len(variants) + 1
    ctx.progress(0.2, 1.0, message="fp32 model: look inside", force=True)
    rows, answers, calibrated, outliers = [], {}, [], []
    job = LoadJob(log=ctx.log, context=ctx, seed=spec.seed)
    for index, variant in enumerate(variants):
        message = f"measuring {variant.label} ({index + 1}/{len(variants)})"
        ctx.progress(0.2 + 0.8 * (index + 1) / steps, 1.0, message=message, force=True)
        job.extras = {}
        job.progress = lambda fraction, text, index=index, message=message: ctx.progress(
            0.2 + 0.8 * (index + 1 + fraction) / steps, 1.0, message=f"{message}: {text}")
        with guard.memory_hint(variant.label):
            row, texts, model, tokenizer = compare.measure(path, variant, device, data, spec, log=ctx.log, job=job)
            if index == 0:  # fp32 comes first: the look-inside views use its weights, calibration its tokenizer
                views = compare.look_inside(model, tokenizer, variants, data, spec)
                _save_views(ctx.artifact_dir / "inside", views)
                window = min(spec.eval_window, context_length(model) or spec.eval_window)
                job.calibration = evaldata.calibration_batches(tokenizer, data.calibration_texts[:spec.calibration_texts],
                                                               window)
            if spec.export_variant == variant.label:
                row["export_folder"] = str(export.save_model(model, tokenizer, ctx.artifact_dir / "export", spec.model,
                                                             quantized_source=variant.label))
        calibrated += job.extras.get("layer_errors", [])
        if "outliers" in job.extras:
            outliers.append(job.extras["outliers"])
        row.update(job.extras.get("figures", {}))
        rows.append(row)
        answers[variant.label] = texts
        ctx.log_metrics(step=index + 1, **{k: v for k, v in row.items() if isinstance(v, (int, float))})
        del model, tokenizer
    if calibrated:  # GPTQ's per-layer errors beside RTN's, on the same heatmap
        views["errors"] = inside.with_calibrated_errors(views["errors"], calibrated)
        views["errors"].to_csv(ctx.artifact_dir / "inside" / "layer_errors.csv", index=False)
    if outliers:  # SmoothQuant's outlier view, before and after smoothing at each alpha
        import pandas as pd

        pd.concat(outliers, ignore_index=True).to_csv(ctx.artifact_dir / "inside" / "smoothquant_outliers.csv", index=False)
    rows = compare.add_ratios(rows)
    write_json(ctx.artifact_dir / "table.json", rows)
    write_json(ctx.artifact_dir / "answers.json", {"prompts": spec.prompts, "answers": answers})
    by_label = {r["variant"]: r for r in rows}
    figures = {"run_id": ctx.run_id, "rows": rows, "answers": answers, "prompts": spec.prompts, "quantized_source": source or "",
               "model_path": path, "inside_layer": views["layer"], "variants": len(rows),
               "prequantized_spike_share": round(views["spikes"], 4), "wall_seconds": round(time.time() - started, 2)}
    for label in ("int8", "nf4", "nf4+dq", "fp4", "bf16"):  # headline ratios for the Runs table
        if label in by_label and by_label[label].get("linear_vs_fp32"):
            figures[f"{label.replace('+', '_')}_linear_vs_fp32"] = by_label[label]["linear_vs_fp32"]
    return figures


def _save_views(folder, views) -> None:
    folder.mkdir(exist_ok=True)
    views["errors"].to_csv(folder / "layer_errors.csv", index=False)
    views["outliers"].to_csv(folder / "outliers.csv", index=False)
    for name, frame in views["histograms"].items():
        frame.to_csv(folder / f"histogram_{name}.csv", index=False)
    (folder / "about.json").write_text(json.dumps({"layer": views["layer"], "spikes": views["spikes"]}), encoding="utf-8")


KINDS.register(QuantizeSpec.kind, Kind(QuantizeSpec, run))
