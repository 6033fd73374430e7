"""Kind "quantize": one model under several quantization schemes, measured side by side in one run.

    python -m lab spec quantize > q.json && python -m lab run q.json --wait

Recipe: make sure the model is there (the default is trained once, ~3 minutes on a CPU core), check
memory, load it in fp32 for the look-inside views, then load and measure every variant in turn
(lab/quantize/compare.py), write the table, the answers and the view data to artifacts/, and export
one variant as a model folder if asked. Unsupported combinations are refused when the spec is built.
"""
import json
import time
from dataclasses import dataclass

from lab.errors import LabError
from lab.modeling.models import check_model_name
from lab.quantize.default_model import DEFAULT_QUANTIZE_MODEL
from lab.quantize.fields import MeasureFields
from lab.quantize.rtn import GRANULARITIES, MODES
from lab.quantize.schemes import scheme_names
from lab.specs import KINDS, Kind, Spec, setting

DEFAULT_PROMPTS = ["ROMEO.\n", "To be, or not to be", "KING.\nWhat news"]


@dataclass
class QuantizeSpec(MeasureFields, Spec):
    kind = "quantize"

    model: str = setting(DEFAULT_QUANTIZE_MODEL, en="The model to compress. The default is a full-precision model the lab pre-trains on Shakespeare (trained once on first use, ~3 minutes); a local folder or hub id also works. A model expanded from a 4-bit file (like the offline SmolLM2) gets a warning: its weights are already quantized.",
                         zh="要压缩的模型。默认是实验室在莎士比亚文本上预训练的全精度模型(首次使用时训练一次,约 3 分钟);也可以填本地文件夹或 Hub 模型 ID。由 4 位文件展开的模型(如离线 SmolLM2)会给出警告:它的权重早已被量化过。")
    schemes: list[str] = setting(["fp32", "bf16", "int8", "nf4", "fp4", "rtn"], en="Schemes to compare, one per line: fp32 (the baseline, required), bf16, fp16 (GPU), int8 (LLM.int8), nf4, fp4, rtn (the lab's round-to-nearest sweep below).",
                                 zh="要比较的方案,每行一个:fp32(基线,必选)、bf16、fp16(需 GPU)、int8(LLM.int8)、nf4、fp4、rtn(下面设置的最近舍入扫描)。")
    int8_threshold: float = setting(6.0, en="LLM.int8: input features whose |activation| exceeds this are multiplied in 16 bits, the rest in int8 (0 turns the 16-bit part off).",
                                    zh="LLM.int8:输入中 |激活值| 超过该阈值的特征用 16 位相乘,其余用 int8(0 表示关闭 16 位部分)。", minimum=0.0, maximum=1000.0)
    double_quant: str = setting("both", en="NF4/FP4: also quantize the per-block scales to 8 bits (saves ~0.37 bits per weight). both measures with and without.",
                                zh="NF4/FP4:把每块的缩放因子也量化为 8 位(每个权重约省 0.37 位)。both 表示开、关各测一次。", choices=["off", "on", "both"])
    compute_dtype: str = setting("fp32", en="NF4/FP4: the format weights are expanded into for each multiplication: fp32 (fastest on this CPU), bf16, fp16 (GPU).",
                                 zh="NF4/FP4:每次乘法前权重展开成的格式:fp32(在本机 CPU 上最快)、bf16、fp16(需 GPU)。", choices=["fp32", "bf16", "fp16"])
    rtn_bits: list[int] = setting([2, 3, 4, 8], en="Round-to-nearest: the bit widths to try (2 to 8), one per line.",
                                  zh="最近舍入:要尝试的位宽(2 到 8),每行一个。")
    rtn_granularity: list[str] = setting(["per_channel", "per_group"], en="Round-to-nearest: who shares one scale — per_tensor (the whole matrix), per_channel (each output row), per_group (each group of consecutive weights). One per line.",
                                         zh="最近舍入:多少权重共用一个缩放因子——per_tensor(整个矩阵)、per_channel(每个输出行)、per_group(每组连续权重)。每行一个。")
    rtn_group_sizes: list[int] = setting([32, 128], en="Round-to-nearest per_group: group sizes to try. Smaller groups follow the weights more closely but store more scales.",
                                         zh="最近舍入 per_group:要尝试的组大小。组越小越贴合权重,但要存更多缩放因子。")
    rtn_mode: str = setting("symmetric", choices=list(MODES),
                            en="Round-to-nearest levels: symmetric around zero; asymmetric from each group's min to max with an integer zero point; minmax with the group's min itself as offset (GGUF Q4_1's format).",
                            zh="最近舍入的级别:symmetric 以零为中心对称;asymmetric 从每组最小值到最大值,零点为整数;minmax 直接以组的最小值为偏移(GGUF Q4_1 的格式)。")
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
        known = scheme_names()
        for name in self.schemes:
            if name not in known:
                raise LabError("unknown_scheme", scheme=name, schemes=", ".join(known))
        if "fp32" not in self.schemes:
            raise LabError("quantize_needs_fp32")
        if len(set(self.schemes)) != len(self.schemes):
            raise LabError("quantize_duplicate_scheme", schemes=", ".join(self.schemes))
        for bits in self.rtn_bits:
            if not 2 <= bits <= 8:
                raise LabError("rtn_bad_bits", bits=bits)
        for granularity in self.rtn_granularity:
            if granularity not in GRANULARITIES:
                raise LabError("bad_choice", field="rtn_granularity", value=granularity, choices=", ".join(GRANULARITIES))
        for size in self.rtn_group_sizes:
            if size < 2 or size > 65536:
                raise LabError("rtn_bad_group", group_size=size)
        if "rtn" in self.schemes and not (self.rtn_bits and self.rtn_granularity):
            raise LabError("rtn_empty_sweep")
        if "per_group" in self.rtn_granularity and not self.rtn_group_sizes:
            raise LabError("rtn_empty_sweep")
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
    from lab.quantize.schemes import get_scheme

    if spec.resolved_device() == "cpu":
        for name in spec.schemes:
            if get_scheme(name).needs_cuda(spec):
                return LabError("quantize_needs_cuda", scheme=name, compute_dtype=spec.compute_dtype)
    return None


def run(spec: QuantizeSpec, ctx) -> dict:
    import torch

    from lab.quantize import compare, evaldata, export, guard
    from lab.runs.run_files import write_json

    torch.set_num_threads(ctx.threads)
    started = time.time()
    device = spec.resolved_device()
    path, source = spec.model_path(ctx)
    variants = spec.variants()
    guard.check_memory(path, len(variants))
    data = evaldata.build(spec.eval_chars, 512 * spec.outlier_texts, spec.questions, spec.seed, spec.eval_text)
    steps = len(variants) + 1
    ctx.progress(0.2, 1.0, message="fp32 model: look inside", force=True)
    rows, answers = [], {}
    for index, variant in enumerate(variants):
        ctx.progress(0.2 + 0.8 * (index + 1) / steps, 1.0, message=f"measuring {variant.label} ({index + 1}/{len(variants)})",
                     force=True)
        with guard.memory_hint(variant.label):
            row, texts, model, tokenizer = compare.measure(path, variant, device, data, spec, log=ctx.log)
            if index == 0:  # fp32 comes first: the look-inside views use its weights
                views = compare.look_inside(model, tokenizer, variants, data, spec)
                _save_views(ctx.artifact_dir / "inside", views)
            if spec.export_variant == variant.label:
                row["export_folder"] = str(export.save_model(model, tokenizer, ctx.artifact_dir / "export", spec.model,
                                                             quantized_source=variant.label))
        rows.append(row)
        answers[variant.label] = texts
        ctx.log_metrics(step=index + 1, **{k: v for k, v in row.items() if isinstance(v, (int, float))})
        del model, tokenizer
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
