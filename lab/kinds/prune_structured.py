"""Kind "prune_structured": remove whole attention heads (or key/value groups) and MLP channels from every
layer of a Llama-style model, save the smaller model as an ordinary folder, and measure what it cost.

    python -m lab spec prune_structured > s.json && python -m lab run s.json --wait

Its own kind, not an entry of the prune sweep: the sweep restores the same dense weights at every point
and masks them (the shape never changes), while this run changes the architecture, leaves one real model
folder behind, and times generation. Recipe: load fp32; measure the dense model (parameters, weight
memory, perplexity on held-out text, the continuation task, and the perplexity on the recovery file's
validation rows); score the groups (magnitude, or Taylor |w·∂L/∂w| on calibration text); slice
(lab/prune/structured.py); measure the pruned model the same way; time both, interleaved; save the folder
(reloaded and checked: a folder that does not load is a failed run, never a broken model in the list) and
the pre-training-text file a LoRA recovery trains on (lab/prune/structured_run.recovery_spec).
"""
import time
from dataclasses import dataclass

from lab.errors import LabError
from lab.modeling.models import check_model_name
from lab.prune.group_importance import IMPORTANCES, MODES
from lab.quantize.default_model import DEFAULT_QUANTIZE_MODEL
from lab.quantize.fields import MeasureFields
from lab.specs import KINDS, Kind, Spec, setting


@dataclass
class PruneStructuredSpec(MeasureFields, Spec):
    kind = "prune_structured"

    model: str = setting(DEFAULT_QUANTIZE_MODEL, en="The model to prune: the lab's full-precision default (trained once on first use), a local folder or a hub id (Llama-style).",
                         zh="要剪枝的模型:实验室的全精度默认模型(首次使用时训练一次)、本地文件夹或 Hub 模型 ID(Llama 结构)。")
    head_mode: str = setting("kv_groups", choices=list(MODES),
                             en="How heads go: kv_groups removes whole key/value heads with the query heads that read them; query_heads removes the same number of query heads from every group (keys/values stay).",
                             zh="如何删除注意力头:kv_groups 删除整个键/值头及读取它的查询头;query_heads 从每组删除相同数量的查询头(键/值保留)。")
    importance: str = setting("taylor", choices=list(IMPORTANCES),
                              en="How groups are ranked in each layer: magnitude (L2 norm of the group's weights, no data) or taylor (sum of |w · dL/dw| on calibration text, LLM-Pruner).",
                              zh="每层内如何给组排序:magnitude(组内权重的 L2 范数,无需数据)或 taylor(在校准文本上求 |w · dL/dw| 之和,LLM-Pruner)。")
    ratio: float = setting(0.33, en="Share of the heads (or key/value groups) and of the MLP channels removed from every layer (kept MLP width rounded to a multiple of 32).",
                           zh="每层删除的注意力头(或键/值组)和 MLP 通道的比例(保留的 MLP 宽度取整到 32 的倍数)。",
                           minimum=0.0, maximum=0.9)
    heads: int = setting(-1, en="Heads to remove from every layer instead of the ratio: key/value groups (kv_groups) or query heads per group (query_heads). -1: from the ratio.",
                         zh="每层删除的头数(代替比例):键/值组数(kv_groups)或每组的查询头数(query_heads)。-1:按比例。", minimum=-1)
    channels: int = setting(-1, en="MLP channels to remove from every layer instead of the ratio. -1: from the ratio.",
                            zh="每层删除的 MLP 通道数(代替比例)。-1:按比例。", minimum=-1)
    calibration_texts: int = setting(8, en="Pieces of training text (512 characters each) the Taylor importance takes gradients on.",
                                     zh="Taylor 重要性用来求梯度的训练文本段数(每段 512 个字符)。", minimum=1, maximum=256)
    new_tokens: int = setting(32, en="Tokens generated per speed measurement (greedy, batch 1).",
                              zh="每次测速生成的 token 数(贪心,批大小 1)。", minimum=4, maximum=512)
    speed_rounds: int = setting(3, en="Speed rounds, dense and pruned interleaved; the median is reported.",
                                zh="测速轮数,未剪枝与剪枝模型交替进行;报告中位数。", minimum=1, maximum=20)
    recovery_rows: int = setting(400, en="Pieces of pre-training text written for the LoRA recovery (a tenth held out to measure it).",
                                 zh="为 LoRA 恢复写出的预训练文本段数(留出十分之一用于测量)。", minimum=20, maximum=20000)

    def validate(self):
        from lab.prune.structured import check_request
        from lab.prune.structured_run import check_config, config_of, counts

        check_model_name(self.model)
        config = config_of(self.model)  # None: not there yet (a hub id, the untrained default): checked at run time
        if config is not None:
            check_config(config)
            heads, channels = counts(config, self)
            check_request(config, self.head_mode, heads, channels)
        self.check_measure()


def measure(model, tokenizer, data, spec, recovery_file, window: int) -> dict:
    from lab.modeling.scoring import perplexity
    from lab.prune.structured import parameter_count
    from lab.prune.structured_run import continuation_ppl, weights_mb
    from lab.quantize.evaldata import accuracy

    model.eval()
    acc = accuracy(model, tokenizer, data, batch_size=spec.eval_batch_size)
    return {"parameters": parameter_count(model), "weights_mb": weights_mb(model),
            "ppl": round(perplexity(model, tokenizer, data.eval_texts, max_length=window,
                                    batch_size=spec.eval_batch_size)["perplexity"], 4),
            "accuracy": None if acc is None else round(acc, 4),
            "continuation_ppl": continuation_ppl(model, tokenizer, recovery_file, spec.seed)}


def run(spec: PruneStructuredSpec, ctx) -> dict:
    import copy
    import shutil

    import torch

    from lab.modeling.models import context_length, load_model
    from lab.prune.structured import check_architecture, check_request, prune_structured, save_pruned
    from lab.prune.structured_run import check_config, counts, timed, write_recovery_data
    from lab.quantize import evaldata, guard
    from lab.runs.folder import write_json

    torch.set_num_threads(ctx.threads)
    torch.manual_seed(spec.seed)
    started = time.time()
    path, source = spec.model_path(ctx)
    guard.check_memory(path, 2)  # the dense copy is kept for the interleaved timing
    model, tokenizer, info = load_model(path, dtype="fp32", device=spec.resolved_device())
    check_config(model.config)
    check_architecture(model)
    heads, channels = counts(model.config, spec)
    check_request(model.config, spec.head_mode, heads, channels)
    data = evaldata.build(spec.eval_chars, 512 * spec.calibration_texts, spec.questions, spec.seed, spec.eval_text)
    window = min(spec.eval_window, context_length(model) or spec.eval_window)
    recovery_file = write_recovery_data(ctx.artifact_dir / "recovery.jsonl", spec.seed, spec.recovery_rows)

    ctx.progress(0.25, 1.0, message="measuring the dense model", force=True)
    dense_row = {"stage": "dense", **measure(model, tokenizer, data, spec, recovery_file, window)}
    ctx.log(f"dense: {dense_row}")
    dense = copy.deepcopy(model)
    ctx.progress(0.45, 1.0, message=f"scoring groups ({spec.importance}) and slicing", force=True)
    report = prune_structured(model, heads, channels, mode=spec.head_mode, importance=spec.importance,
                              tokenizer=tokenizer, texts=data.calibration_texts, max_length=window)
    report.pop("kept")
    ctx.progress(0.6, 1.0, message="measuring the pruned model", force=True)
    pruned_row = {"stage": "pruned", **measure(model, tokenizer, data, spec, recovery_file, window)}
    ctx.log(f"pruned: {pruned_row}")
    ctx.progress(0.75, 1.0, message="timing generation, dense and pruned interleaved", force=True)
    rates = timed({"dense": dense.eval(), "pruned": model.eval()}, tokenizer, spec.new_tokens, spec.speed_rounds)
    del dense
    dense_row["tokens_per_second"], pruned_row["tokens_per_second"] = rates["dense"], rates["pruned"]
    ctx.progress(0.9, 1.0, message="saving and reloading the pruned model", force=True)
    folder = ctx.artifact_dir / "model"
    try:
        save_pruned(model, tokenizer, folder)
    except LabError:
        shutil.rmtree(folder, ignore_errors=True)  # never a broken model in the list
        raise
    write_json(folder / "lab_pruned.json", {"source_model": spec.model, "pruning": report, "run_id": ctx.run_id})
    rows = [dense_row, pruned_row]
    for row in rows:
        row["parameters_vs_dense"] = round(row["parameters"] / dense_row["parameters"], 4)
        row["speed_vs_dense"] = round(row["tokens_per_second"] / dense_row["tokens_per_second"], 3)
    return {"rows": rows, "pruning": report, "model_folder": str(folder), "recovery_data": str(recovery_file),
            "quantized_source": source or "", "parameters_removed_share": report["parameters_removed_share"],
            "dense_ppl": dense_row["ppl"], "pruned_ppl": pruned_row["ppl"], "speedup": pruned_row["speed_vs_dense"],
            "wall_seconds": round(time.time() - started, 2)}


KINDS.register(PruneStructuredSpec.kind, Kind(PruneStructuredSpec, run))
