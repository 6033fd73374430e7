"""The reward-model recipe: a scalar head on the language model, trained on preference pairs with TRL's
RewardTrainer (Bradley–Terry loss  -log σ(r(x, chosen) - r(x, rejected))), LoRA by default.

Setup (data, model with a fresh head), measure held-out pairs with the untrained head, train, measure
again, score the sample answers, save. Used by the "reward" job kind.
"""
import time
from lab.runs.folder import write_json
from lab.modeling import training_log
from lab.align import common
from lab.align.data import check_lengths, load_pairs, prompt_text, trl_rows

TRL_NAMES = {"loss": "loss", "accuracy": "reward_accuracy", "margin": "reward_margin", "mean_reward": "mean_reward",
             "grad_norm": "grad_norm", "learning_rate": "learning_rate"}


def score(model, tokenizer, prompts: list[str], answers: list[str], batch_size: int = 8) -> list[float]:
    """The reward of each (templated prompt, answer), tokenized as in training (answer + end of sequence)."""
    import torch

    eos = tokenizer.eos_token or ""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = next(model.parameters()).device
    rewards = []
    for start in range(0, len(prompts), batch_size):
        ids = [tokenizer(p + a + eos)["input_ids"] for p, a in zip(prompts[start:start + batch_size],
                                                                  answers[start:start + batch_size])]
        width = max(map(len, ids))
        input_ids = torch.tensor([row + [pad] * (width - len(row)) for row in ids], device=device)
        mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in ids], device=device)
        with torch.inference_mode():
            logits = model(input_ids=input_ids, attention_mask=mask).logits
        rewards.extend(float(x) for x in logits.float().squeeze(-1).cpu())
    return rewards


def pair_margins(model, tokenizer, pairs: list[dict]) -> list[float]:
    """r(chosen) - r(rejected) for each pair: above 0 means the model ranks the pair the way people did."""
    if not pairs:
        return []
    prompts = [prompt_text(tokenizer, pair) for pair in pairs]
    chosen = score(model, tokenizer, prompts, [pair["chosen"] for pair in pairs])
    rejected = score(model, tokenizer, prompts, [pair["rejected"] for pair in pairs])
    return [round(c - r, 6) for c, r in zip(chosen, rejected)]


def summary(margins: list[float]) -> dict:
    if not margins:
        return {"accuracy": 0.0, "margin_mean": 0.0}
    return {"accuracy": round(sum(m > 0 for m in margins) / len(margins), 4),
            "margin_mean": round(sum(margins) / len(margins), 4)}


def load_reward_model(spec, ctx):
    """The language model with a fresh one-number head (seeded, so a run is reproducible)."""
    from transformers import AutoModelForSequenceClassification, set_seed

    from lab.modeling.models import load_model

    set_seed(spec.seed)
    progress = lambda done, total, message: ctx.progress(0, 1, message=message, force=True)  # noqa: E731
    model, tokenizer, info = load_model(spec.model, dtype="fp32", trust_remote_code=spec.trust_remote_code,
                                        device="auto", progress=progress,
                                        model_class=AutoModelForSequenceClassification, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id  # the head reads the last token that is not padding
    return model, tokenizer, info


def train_reward_model(spec, ctx) -> dict:
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    started = time.time()
    train, held_out, _ = load_pairs(spec.dataset, seed=spec.seed)
    model, tokenizer, info = load_reward_model(spec, ctx)
    check_lengths(tokenizer, train + held_out, spec.max_length)
    evaluated = held_out[: spec.eval_pairs] if ctx.writer else []  # other ranks train; rank 0 measures and saves
    ctx.progress(0, 1, message=f"scoring {len(evaluated)} held-out pairs with the untrained head", force=True)
    margins_before = pair_margins(model.eval(), tokenizer, evaluated)

    peft_config = common.lora_config(spec, "SEQ_CLS", modules_to_save=["score"]) if spec.use_lora else None
    try:
        trainer = RewardTrainer(model=model, args=common.trl_config(RewardConfig, spec, ctx),
                                train_dataset=Dataset.from_list(trl_rows(tokenizer, train)), processing_class=tokenizer,
                                peft_config=peft_config, callbacks=[common.stream_callback(ctx, TRL_NAMES, "reward model")]
                                + training_log.trainer_callbacks(ctx))
    except ValueError as exc:
        raise common.peft_error(exc, spec) from None
    before = summary(margins_before)
    trainable, total, train_seconds = common.train(trainer, spec, ctx, f"reward model on {len(train)} pairs",
                                                   reward_accuracy=before["accuracy"], reward_margin=before["margin_mean"])
    if not ctx.writer:
        return {"world_size": trainer.args.world_size}

    model = trainer.model.eval()
    ctx.progress(1, 1, message="scoring held-out pairs and sample answers", force=True)
    margins_after = pair_margins(model, tokenizer, evaluated)
    write_json(ctx.artifact_dir / "margins.json", {"before": margins_before, "after": margins_after})
    sample_prompt = prompt_text(tokenizer, {"prompt": spec.sample_prompt})
    sample_rewards = score(model, tokenizer, [sample_prompt] * len(spec.sample_answers), spec.sample_answers)

    folder = ctx.artifact_dir / "reward_model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    write_json(folder / "lab_reward.json", {"base_model": spec.model, "base_location": info["location"],
                                                      "lora": spec.use_lora, "run_id": ctx.run_id})
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    after = summary(margins_after)
    return {
        "reward_accuracy_before": before["accuracy"], "reward_accuracy": after["accuracy"],
        "margin_mean_before": before["margin_mean"], "margin_mean": after["margin_mean"],
        "held_out_pairs": len(evaluated), "train_pairs": len(train),
        "trainable_params": trainable, "total_params": total,
        "train_loss_first": round(losses[0], 4) if losses else None,
        "train_loss_last": round(losses[-1], 4) if losses else None,
        "train_seconds": round(train_seconds, 2), "steps": trainer.state.global_step,
        "world_size": trainer.args.world_size, **common.precision_record(spec),
        "wall_seconds": round(time.time() - started, 2),
        "samples": [{"prompt": spec.sample_prompt, "answer": answer, "reward": round(reward, 4)}
                    for answer, reward in zip(spec.sample_answers, sample_rewards)],
    }
