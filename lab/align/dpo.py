"""The DPO recipe (Rafailov et al., 2023) on TRL's DPOTrainer, top to bottom:

1. start: the base model with a fresh LoRA adapter, or a fine-tune (SFT) run from the Runs tab — its
   LoRA-style adapter trains on (a frozen copy is the reference), or a fully fine-tuned model gets a LoRA;
2. before: held-out pairs scored (log-probabilities of chosen and rejected) and held-out prompts answered;
3. train: loss, reward accuracy, chosen/rejected rewards and the KL to the reference streamed every step;
4. after: the same scoring and answers, a rule judge on checkable answers (before vs after);
5. save: the policy's adapter in the Fine-tune tab's layout, so Generate and Evaluate load it like a fine-tune.
"""
import shutil
import time
from dataclasses import dataclass
from lab.runs.folder import write_json
from lab.modeling import training_log
from lab.align import common
from lab.align.data import check_lengths, load_pairs, prompt_text, trl_rows
from lab.align.judging import rule_win_rate
from lab.align.kl import ReferenceKL
from lab.errors import LabError

# The spec's loss_type -> TRL's loss_type list (and weights): "rpo" adds the chosen answer's next-token loss
# (Pang et al., 2024), which keeps the chosen answer likely while the margin grows.
LOSSES = {"sigmoid": (["sigmoid"], None), "ipo": (["ipo"], None), "hinge": (["hinge"], None),
          "rpo": (["sigmoid", "sft"], [1.0, 1.0])}
KL_PAIRS = 2  # held-out pairs the KL to the reference is measured on after every step (4 short sequences)
TRL_NAMES = {"loss": "loss", "rewards/accuracies": "reward_accuracy", "rewards/margins": "reward_margin",
             "rewards/chosen": "reward_chosen", "rewards/rejected": "reward_rejected", "logps/chosen": "logp_chosen",
             "logps/rejected": "logp_rejected", "grad_norm": "grad_norm", "learning_rate": "learning_rate"}


@dataclass
class Start:
    """The policy before DPO (it is also the reference), and what its saved adapter will record."""

    model: object
    tokenizer: object
    info: dict
    method: str  # the Fine-tune method of the saved adapter ("lora", or the SFT run's own method)
    base_model: str  # what lab/finetune/load.py loads before applying the adapter
    peft_config: object  # a fresh LoRA, or None when the SFT run's adapter trains on


def load_start(spec, ctx) -> Start:
    from lab.finetune.load import adapter_folder, describe, is_whole_model
    from lab.finetune.methods import METHODS
    from lab.modeling.models import load_model

    progress = lambda done, total, message: ctx.progress(0, 1, message=message, force=True)  # noqa: E731

    def load(name):
        return load_model(name, dtype="fp32", trust_remote_code=spec.trust_remote_code, device="auto", progress=progress)

    if not spec.start_from:
        model, tokenizer, info = load(spec.model)
        return Start(model, tokenizer, info, "lora", spec.model, common.lora_config(spec))
    folder = adapter_folder(spec.start_from)
    about = describe(spec.start_from)
    if is_whole_model(folder):  # full fine-tuning left a whole model: it is the new base
        model, tokenizer, info = load(str(folder))
        return Start(model, tokenizer, info, "lora", str(folder), common.lora_config(spec))
    from peft import PeftConfig, PeftModel

    if METHODS.get(about["method"]).load is not None or PeftConfig.from_pretrained(str(folder)).is_prompt_learning:
        raise LabError("align_cannot_continue", run_id=spec.start_from, method=about["method"])
    model, tokenizer, info = load(about["base_model"])
    model = PeftModel.from_pretrained(model, str(folder), is_trainable=True)  # DPOTrainer keeps a frozen copy as "ref"
    ctx.log(f"continuing the {about['method']} adapter of {spec.start_from}; the LoRA settings of this run do not apply")
    return Start(model, tokenizer, dict(info, location=about.get("base_location", info["location"])),
                 about["method"], about["base_model"], None)


def pair_logps(model, tokenizer, pairs: list[dict]) -> list[tuple[float, float]]:
    """(log π(chosen | prompt), log π(rejected | prompt)) per pair, answers ending in the end-of-sequence token."""
    from lab.modeling.scoring import score_choices

    if not pairs:
        return []
    eos = tokenizer.eos_token or ""
    scores = score_choices(model, tokenizer, [prompt_text(tokenizer, p) for p in pairs],
                           [[p["chosen"] + eos, p["rejected"] + eos] for p in pairs], batch_size=8)
    return [(round(s.logprob[0], 4), round(s.logprob[1], 4)) for s in scores]


def answer(model, tokenizer, pairs: list[dict], max_new_tokens: int, ctx=None, stage: str = "") -> list[str]:
    """Greedy answers to the pairs' prompts (the same template as training), reporting each batch."""
    from lab.modeling.generation import generate

    def batch_done(done, total):
        if ctx is not None:
            ctx.progress(0 if stage == "before" else 1, 1, message=f"{stage}: answered {done}/{total} prompts", force=True)

    tokenizer.padding_side = "left"
    prompts = [prompt_text(tokenizer, p) for p in pairs]
    return [r.text for r in generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=8,
                                     use_chat_template=False, on_batch=batch_done)]


def held_out_figures(before: list, after: list, beta: float) -> dict:
    """DPO's implicit reward r = β·log(π/π_ref) on held-out pairs: accuracy (r_chosen > r_rejected), mean
    margin, and the mean log-ratio log(π/π_ref) over both answers (negative: probability was pushed off them)."""
    rewards = [(beta * (a[0] - b[0]), beta * (a[1] - b[1])) for a, b in zip(after, before)]
    n = len(rewards)
    return {
        "margin_before": round(sum(c - r for c, r in before) / n, 4),
        "margin_after": round(sum(c - r for c, r in after) / n, 4),
        "pair_accuracy_before": round(sum(c > r for c, r in before) / n, 4),
        "pair_accuracy_after": round(sum(c > r for c, r in after) / n, 4),
        "held_out_reward_accuracy": round(sum(c > r for c, r in rewards) / n, 4),
        "held_out_reward_margin": round(sum(c - r for c, r in rewards) / n, 4),
        "held_out_log_ratio": round(sum(c + r for c, r in rewards) / (2 * n * beta), 4),
    }


def save_policy(start: Start, model, ctx, trained_by: str = "dpo") -> dict:
    """artifacts/adapter/ exactly as a fine-tune leaves it (lab_finetune.json + the adapter), and its zip."""
    from lab.finetune.methods import METHODS
    from lab.finetune.train import folder_mb, save_result_model

    if "ref" in getattr(model, "peft_config", {}):
        model.delete_adapter("ref")  # TRL's frozen reference copy: not part of the result
    folder = ctx.artifact_dir / "adapter"
    save_result_model(model, start.tokenizer, METHODS.get(start.method), folder)
    write_json(folder / "lab_finetune.json", {"method": start.method, "base_model": start.base_model,
                                                        "base_location": start.info["location"], "run_id": ctx.run_id,
                                                        "trained_by": trained_by})
    shutil.make_archive(str(ctx.artifact_dir / "adapter"), "zip", folder)
    shutil.rmtree(ctx.folder.checkpoint_dir, ignore_errors=True)
    return {"adapter_mb": folder_mb(folder)}


def train_dpo(spec, ctx) -> dict:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    started = time.time()
    train, held_out, checkable = load_pairs(spec.dataset, seed=spec.seed)
    start = load_start(spec, ctx)
    model, tokenizer = start.model, start.tokenizer
    check_lengths(tokenizer, train + held_out, spec.max_length)
    evaluated, asked = held_out[: spec.eval_pairs], held_out[: spec.answer_prompts]

    ctx.progress(0, 1, message=f"before: scoring {len(evaluated)} held-out pairs, answering {len(asked)} prompts",
                 force=True)
    model.eval()
    if not ctx.writer:  # another rank of a run of several processes: it trains, rank 0 measures and saves
        evaluated, asked = [], []
    logps_before = pair_logps(model, tokenizer, evaluated)
    answers_before = answer(model, tokenizer, asked, spec.max_new_tokens, ctx, "before") if asked else []

    kl_to_reference = ReferenceKL(model, tokenizer, held_out[:KL_PAIRS])

    def derive(record, policy):  # after each logged step: the KL on the held-out pairs
        kl = kl_to_reference(policy) if policy is not None else None
        return {} if kl is None else {"kl": round(kl, 6)}

    loss_types, loss_weights = LOSSES[spec.loss_type]
    args = common.trl_config(DPOConfig, spec, ctx, beta=spec.beta, loss_type=loss_types, loss_weights=loss_weights)
    try:
        trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(trl_rows(tokenizer, train)),
                             processing_class=tokenizer, peft_config=start.peft_config,
                             callbacks=[common.stream_callback(ctx, TRL_NAMES, "DPO", derive)]
                             + training_log.trainer_callbacks(ctx))
    except ValueError as exc:  # a continued adapter DPO cannot copy (AdaLoRA), or target modules the model lacks
        if spec.start_from:
            raise LabError("align_cannot_continue", run_id=spec.start_from, method=start.method) from None
        raise common.peft_error(exc, spec) from None
    trainable, total, train_seconds = common.train(trainer, spec, ctx, f"DPO on {len(train)} pairs, beta {spec.beta}",
                                                   reward_accuracy=0.0, reward_margin=0.0, kl=0.0)
    if not ctx.writer:
        return {"world_size": trainer.args.world_size}

    policy = trainer.model.eval()
    ctx.progress(1, 1, message="after: scoring held-out pairs and answering the same prompts", force=True)
    logps_after = pair_logps(policy, tokenizer, evaluated)
    answers_after = answer(policy, tokenizer, asked, spec.max_new_tokens, ctx, "after") if asked else []
    write_json(ctx.artifact_dir / "held_out_logps.json", {"before": logps_before, "after": logps_after})

    figures = held_out_figures(logps_before, logps_after, spec.beta)
    figures["kl_final"] = round(kl_to_reference(policy) or 0.0, 6)
    logged = [h for h in trainer.state.log_history if "loss" in h]
    figures.update(train_loss_first=round(logged[0]["loss"], 4) if logged else None,
                   train_loss_last=round(logged[-1]["loss"], 4) if logged else None,
                   train_reward_accuracy_last=round(logged[-1].get("rewards/accuracies", 0.0), 4) if logged else None,
                   steps=trainer.state.global_step, train_seconds=round(train_seconds, 2),
                   trainable_params=trainable, total_params=total, held_out_pairs=len(evaluated),
                   train_pairs=len(train), world_size=trainer.args.world_size, **common.precision_record(spec))
    outputs = [{"prompt": p["prompt"], "before": b, "after": a} for p, b, a in zip(asked, answers_before, answers_after)]
    if checkable and asked:
        judged = rule_win_rate(answers_before, answers_after, [p["answer"] for p in asked])
        figures.update(judged)
        for item, pair in zip(outputs, asked):
            item["answer"] = pair["answer"]
    figures.update(save_policy(start, policy, ctx))
    figures["wall_seconds"] = round(time.time() - started, 2)
    figures["outputs"] = outputs
    return {k: v for k, v in figures.items() if v is not None}
