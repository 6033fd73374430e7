"""Kind "prune": a sparsity sweep of magnitude pruning and Wanda on the same model and text.

    python -m lab spec prune > p.json && python -m lab run p.json --wait

Recipe: make sure the model is there (the default full-precision model is trained once), load it in
fp32, collect Wanda's input norms on calibration text, then for every method × sparsity restore the
dense weights, prune, and measure perplexity and accuracy (lab/prune/sweep.py); optionally save one
pruned point as a model folder other tabs load.
"""
import time
from dataclasses import dataclass

from lab.errors import LabError
from lab.modeling.models import check_model_name
from lab.prune.methods import METHODS
from lab.quantize.default_model import DEFAULT_QUANTIZE_MODEL
from lab.quantize.fields import MeasureFields
from lab.specs import KINDS, Kind, Spec, compose, setting

MAX_POINTS = 40


@dataclass
@compose(*METHODS.groups())  # each method's own settings (lab/prune/methods/<name>.py: OWL's M and λ)
class PruneSpec(MeasureFields, Spec):
    kind = "prune"

    model: str = setting(DEFAULT_QUANTIZE_MODEL, en="The model to prune: the lab's full-precision default (trained once on first use), a local folder or a hub id.",
                         zh="要剪枝的模型:实验室的全精度默认模型(首次使用时训练一次)、本地文件夹或 Hub 模型 ID。")
    methods: list[str] = setting(["magnitude", "wanda"], en="Pruning methods, one per line: magnitude (smallest |W| per layer), wanda (|W| × input activation norm, per output row), owl (Wanda with a sparsity per layer from its outlier ratio).",
                                 zh="剪枝方法,每行一个:magnitude(每层删去 |W| 最小的权重)、wanda(按 |W| × 输入激活范数,在每个输出行内比较)、owl(Wanda,但每层稀疏度按其离群值比例分配)。")
    sparsities: list[float] = setting([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], en="Shares of the weights set to zero, one per line (0 is the dense model).",
                                      zh="置零的权重比例,每行一个(0 表示未剪枝的模型)。")
    two_four: bool = setting(True, en="Also prune 2:4 with each method: in every 4 consecutive weights the 2 lowest scores go (50%, the pattern sparse GPU kernels run fast).",
                             zh="同时用每种方法做 2:4 剪枝:每 4 个连续权重中去掉得分最低的 2 个(50%,稀疏 GPU 内核能加速的模式)。")
    calibration_texts: int = setting(16, en="Pieces of training text (512 characters each) whose activations Wanda measures.",
                                     zh="Wanda 用来测量激活值的训练文本段数(每段 512 个字符)。", minimum=1, maximum=1024)
    export_point: str = setting("", en="Save one pruned model, written METHOD@SPARSITY (e.g. wanda@0.5, magnitude@2:4), as a folder other tabs load (empty: none).",
                                zh="保存一个剪枝后的模型,写成 方法@稀疏度(如 wanda@0.5、magnitude@2:4),保存为其他页面可加载的文件夹(留空:不保存)。")

    def validate(self):
        from lab.prune.sweep import point_label, points

        check_model_name(self.model)
        for name in self.methods:
            METHODS.get(name)  # LabError unknown_prune_method naming it
        if not self.sparsities:
            raise LabError("prune_no_sparsities")
        for value in self.sparsities:
            if not 0 <= value <= 0.95:
                raise LabError("prune_bad_sparsity", sparsity=value)
        count = len(points(self))
        if count > MAX_POINTS:
            raise LabError("prune_too_many", points=count, limit=MAX_POINTS)
        if self.export_point and self.export_point not in {point_label(*p) for p in points(self)}:
            raise LabError("prune_unknown_export", point=self.export_point, methods=", ".join(self.methods),
                           sparsities=", ".join(f"{s:g}" for s in self.sparsities) + (", 2:4" if self.two_four else ""))
        self.check_measure()


def run(spec: PruneSpec, ctx) -> dict:
    import torch

    from lab.modeling.models import load_model
    from lab.prune.sweep import point_label, prune_model, restore, run_sweep
    from lab.quantize import evaldata, export, guard
    from lab.runs.folder import write_json

    torch.set_num_threads(ctx.threads)
    started = time.time()
    path, source = spec.model_path(ctx)
    guard.check_memory(path, 1)
    model, tokenizer, info = load_model(path, dtype="fp32", device=spec.resolved_device())
    data = evaldata.build(spec.eval_chars, 512 * spec.calibration_texts, spec.questions, spec.seed, spec.eval_text)

    def progress(done, total, label):
        ctx.progress(0.2 + 0.8 * done / total, 1.0, message=f"{label} ({done + 1}/{total})", force=True)

    with guard.memory_hint("the sparsity sweep"):
        rows, dense, norms = run_sweep(model, tokenizer, spec, data, progress=progress, log=ctx.log,
                                on_point=lambda i, row, m: ctx.log_metrics(step=i + 1, **{
                                    k: v for k, v in row.items() if isinstance(v, (int, float))}))
    write_json(ctx.artifact_dir / "sweep.json", rows)
    figures = {"rows": rows, "quantized_source": source or "", "model_path": path, "points": len(rows),
               "wall_seconds": round(time.time() - started, 2)}
    for row in rows:  # headline numbers for the Runs table
        if row["pattern"] == "unstructured" and row["target_sparsity"] == 0.5:
            figures[f"{row['method']}_ppl_at_50"] = row["ppl"]
    if spec.export_point:  # prune the dense weights again at the chosen point, and save
        method, _, amount = spec.export_point.partition("@")
        pattern, sparsity = ("2:4", 0.5) if amount == "2:4" else ("unstructured", float(amount))
        restore(model, dense)
        prune_model(model, method, sparsity, pattern, norms, spec)
        figures["export_folder"] = str(export.save_model(model, tokenizer, ctx.artifact_dir / "export", spec.model,
                                                         extra={"pruned": point_label(method, sparsity, pattern)}))
    return figures


KINDS.register(PruneSpec.kind, Kind(PruneSpec, run))
