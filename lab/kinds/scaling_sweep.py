"""Kind "scaling_sweep": train a grid of tiny models (every model × every token budget) from scratch
in this one worker process, record (N, D, C, held-out loss) per point, then fit the scaling laws.

Each point is its own run with a cosine schedule that ends at its own last step (a shared schedule
cut early would overstate short runs' loss). Points land in the run's metrics records and artifacts/points.csv
as they finish, so a cancelled sweep still leaves usable data; the "scaling" kind can refit them.
Presets: assets/presets/scaling/*.json are complete specs (cpu_10min.json, gpu.json).

    python -m lab run assets/presets/scaling/cpu_10min.json --wait
"""
from dataclasses import dataclass

from lab.errors import LabError
from lab.pretrain.fields import TinyModelFields
from lab.specs import KINDS, Kind, Spec, setting

DEFAULT_MODELS = [{"width": 32, "depth": 1, "heads": 2}, {"width": 64, "depth": 1, "heads": 2},
                  {"width": 64, "depth": 2, "heads": 2}, {"width": 96, "depth": 2, "heads": 3}]
DEFAULT_BUDGETS = [40_000, 100_000, 250_000]


@dataclass
class ScalingSweepSpec(TinyModelFields, Spec):
    kind = "scaling_sweep"

    models: list[dict] = setting(DEFAULT_MODELS,
                                 en='Model shapes to train, e.g. [{"width": 64, "depth": 2, "heads": 2}]; span ~30x in non-embedding parameters.',
                                 zh='要训练的模型形状,例如 [{"width": 64, "depth": 2, "heads": 2}];非嵌入参数量最好跨越约 30 倍。')
    token_budgets: list[int] = setting(DEFAULT_BUDGETS,
                                       en="Training tokens D for every model; each (model, budget) pair is one point of the fit.",
                                       zh="每个模型的训练 token 数 D;每一对(模型,预算)是拟合中的一个数据点。")
    parameter_count: str = setting("non_embedding", choices=["non_embedding", "total"],
                                   en="What N counts: non-embedding parameters (Kaplan et al.) or all of them (Hoffmann et al.). Part of why their laws disagree.",
                                   zh="N 计哪些参数:非嵌入参数(Kaplan 等)或全部参数(Hoffmann 等)。这是两者结论不同的原因之一。")
    huber_delta: float = setting(1e-3, minimum=1e-8, maximum=10.0,
                                 en="Huber δ of the fit on log loss (Hoffmann et al.: 1e-3).", zh="对数损失拟合的 Huber δ(Hoffmann 等取 1e-3)。")
    bootstrap_samples: int = setting(200, minimum=0, maximum=5000,
                                     en="Bootstrap refits for the intervals (0: none).", zh="用于置信区间的自助法重拟合次数(0 表示不做)。")
    save_models: bool = setting(False, en="Also save every trained model as a Hugging Face folder.",
                                zh="同时把每个训练好的模型保存为 Hugging Face 文件夹。")

    def validate(self):
        self.check_architecture()
        for i, model in enumerate(self.models):
            shown = ", ".join(f"{k}={v}" for k, v in model.items())
            for key in ("width", "depth", "heads"):
                if not isinstance(model.get(key), int) or isinstance(model.get(key), bool):
                    raise LabError("sweep_bad_model", index=i + 1, field=key, model=shown)
            unknown = sorted(set(model) - {"width", "depth", "heads"})
            if unknown:
                raise LabError("sweep_bad_model", index=i + 1, field=unknown[0], model=shown)
            self.check_shape(model["width"], model["depth"], model["heads"], where=f"models[{i + 1}]: ")
        if any(b < 1 for b in self.token_budgets):
            raise LabError("sweep_bad_budget", budgets=self.token_budgets)
        distinct_models = {(m["width"], m["depth"], m["heads"]) for m in self.models}
        if len(distinct_models) < 2 or len(set(self.token_budgets)) < 2:
            raise LabError("sweep_too_small", models=len(distinct_models), budgets=len(set(self.token_budgets)))


def run(spec: ScalingSweepSpec, ctx) -> dict:
    from lab.modeling import training_log
    from lab.runs.folder import write_atomic
    from lab.pretrain import recipe
    from lab.scaling.data import points_from_records
    from lab.scaling.report import fit_report

    ctx.progress(0, 1, message="tokenizer and data", force=True)
    tokenizer, corpus = recipe.prepare(spec)
    grid = [(m, d) for m in sorted(spec.models, key=lambda m: recipe.counts(spec, **m)["total"])
            for d in sorted(spec.token_budgets)]
    work = [recipe.counts(spec, **m)["total"] * d for m, d in grid]  # progress in FLOPs, so the ETA is fair
    board = training_log.summary_writer(ctx)  # TensorBoard: one training curve per point, and loss per point
    try:
        records = _sweep(spec, ctx, recipe, tokenizer, corpus, grid, work, board, write_atomic)
    finally:
        if board is not None:
            board.close()

    ctx.progress(sum(work), sum(work), message="fitting", force=True)
    metrics, outputs = fit_report(points_from_records(records), delta=spec.huber_delta,
                                  bootstrap_samples=spec.bootstrap_samples, seed=spec.seed)
    outputs["records"] = records
    return {**metrics, **outputs}


def _sweep(spec, ctx, recipe, tokenizer, corpus, grid, work, board, write_atomic) -> list[dict]:
    """Train every (model, budget) point of the grid, smallest first; one record each."""
    from lab.scaling.data import points_from_records, points_to_csv

    total_work, done_work = float(sum(work)), 0.0
    records = []
    for index, ((model_shape, budget), cost) in enumerate(zip(grid, work), start=1):
        label = f"w{model_shape['width']}-d{model_shape['depth']}-h{model_shape['heads']}-D{budget}"

        def progress(step, steps, loss, lr, _done=done_work, _cost=cost, _label=label, _index=index):
            if board is not None and (step % max(1, steps // 100) == 0 or step == steps):
                board.add_scalar(f"train_loss/{_label}", loss, step)
            ctx.progress(_done + _cost * step / steps, total_work, message=f"{_index}/{len(grid)} {_label}: step {step}/{steps}",
                         loss=round(loss, 4), point=_index, points=len(grid))

        model, figures = recipe.train_one(spec, tokenizer, corpus, tokens=budget, seed=spec.seed, progress=progress,
                                          **model_shape)
        n = figures["n_params_non_embedding"] if spec.parameter_count == "non_embedding" else figures["n_params"]
        record = {"point": index, "label": label, "N": n, "D": figures["tokens"], "C": 6.0 * n * figures["tokens"],
                  "loss": figures["held_out_loss"], "train_loss": figures["train_loss"],
                  "n_params": figures["n_params"], "n_params_non_embedding": figures["n_params_non_embedding"],
                  **model_shape, "seconds": round(figures["seconds"], 2)}
        records.append(record)
        ctx.log_metrics(**record)
        if board is not None:
            board.add_scalar("held_out_loss/by_point", figures["held_out_loss"], index)
        ctx.log(f"[{index}/{len(grid)}] {label}: N={n:,} D={figures['tokens']:,} loss={figures['held_out_loss']:.4f} "
                f"({figures['seconds']:.1f} s)")
        write_atomic(ctx.artifact_dir / "points.csv", points_to_csv(points_from_records(records)))
        if spec.save_models:
            recipe.save(model, tokenizer, ctx.artifact_dir / "models" / label, {"spec": spec.to_dict(), **record})
        done_work += cost
    return records


KINDS.register(ScalingSweepSpec.kind, Kind(ScalingSweepSpec, run))
