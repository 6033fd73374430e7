"""Kind "pretrain": train one tiny causal LM from scratch on the lab's Shakespeare text and save it
as a normal Hugging Face folder (artifacts/model) that the other tabs load by path — the lab's own
full-precision model (the default SmolLM2 was shipped 4-bit).

    python -m lab spec pretrain > p.json && python -m lab run p.json --wait
"""
from dataclasses import dataclass

from lab.pretrain.fields import TinyModelFields
from lab.runs.distributed import ProcessSettings
from lab.specs import KINDS, Kind, Spec, compose, setting


@dataclass
@compose(ProcessSettings)  # processes: data-parallel ranks (lab/runs/distributed.py)
class PretrainSpec(TinyModelFields, Spec):
    kind = "pretrain"

    width: int = setting(128, minimum=32, maximum=8192,
                         en="Model width (hidden size), a multiple of 32.", zh="模型宽度(隐藏层维度),须为 32 的倍数。")
    depth: int = setting(3, minimum=1, maximum=128, en="Number of transformer blocks.", zh="Transformer 模块的层数。")
    heads: int = setting(4, minimum=1, maximum=128,
                         en="Attention heads; the width is split evenly between them.", zh="注意力头数;宽度在各头之间平均分配。")
    tokens: int = setting(300_000, minimum=1, maximum=10**12,
                          en="Training tokens D (rounded up to whole steps of batch_size × context).",
                          zh="训练 token 数 D(按 batch_size × context 向上取整到整步)。")
    save_model: bool = setting(True, en="Save the trained model as a Hugging Face folder other tabs can load.",
                               zh="把训练好的模型保存为其他页面可以加载的 Hugging Face 文件夹。")

    def validate(self):
        self.check_architecture()
        self.check_shape(self.width, self.depth, self.heads)


def run(spec: PretrainSpec, ctx) -> dict:
    from lab.modeling import training_log
    from lab.pretrain import recipe

    ctx.progress(0, 1, message="tokenizer and data", force=True)
    tokenizer, corpus = recipe.prepare(spec)
    log_every = max(1, spec.train_settings(spec.tokens, spec.seed).steps // 200)

    board = training_log.summary_writer(ctx)  # TensorBoard curves in the run folder (None without the package)

    def progress(step, steps, loss, lr):
        if step % log_every == 0 or step == steps:
            ctx.log_metrics(step=step, loss=round(loss, 4), lr=lr)
            if board is not None:
                board.add_scalar("train/loss", loss, step)
                board.add_scalar("train/learning_rate", lr, step)
        ctx.progress(step, steps, message=f"step {step}/{steps}", loss=round(loss, 4))

    try:
        model, figures = recipe.train_one(spec, tokenizer, corpus, spec.width, spec.depth, spec.heads, spec.tokens,
                                          spec.seed, progress=progress)
    finally:
        if board is not None:
            board.close()
    if not ctx.writer:  # another rank of a run of several processes: rank 0 samples and saves
        return {"world_size": figures["world_size"]}
    n, d = figures["n_params_non_embedding"], figures["tokens"]
    ctx.log(f"{figures['model_type']}: N = {n:,} non-embedding parameters ({figures['n_params']:,} in all), "
            f"D = {d:,} tokens, held-out loss {figures['held_out_loss']:.4f}")
    result = {"held_out_loss": figures["held_out_loss"], "train_loss": figures["train_loss"], "N": n,
              "n_params": figures["n_params"], "D": d, "C": 6.0 * n * d, "steps": figures["steps"],
              "epochs": figures["epochs"], "train_seconds": round(figures["seconds"], 2),
              "tokens_per_second": round(figures["tokens_per_second"], 1), "architecture": figures["model_type"],
              "world_size": figures["world_size"],
              "sample": recipe.sample_text(model, tokenizer, seed=spec.seed)}
    if spec.save_model:
        folder = recipe.save(model, tokenizer, ctx.artifact_dir / "model",
                             {"spec": spec.to_dict(), **{k: v for k, v in result.items() if k != "sample"}})
        result["model_dir"] = str(folder)
    return result


KINDS.register(PretrainSpec.kind, Kind(PretrainSpec, run))
