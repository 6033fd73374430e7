"""RAFT, reward-ranked fine-tuning (Dong et al., 2023, https://arxiv.org/abs/2304.06767), from the lab's own
pieces: sample n answers per prompt (lab.modeling.generation), score them (a rule or a reward-model run),
keep the best answer of each prompt, fine-tune on the kept answers (lab/finetune/train.py), repeat.

No advantages, no reference model: it is supervised fine-tuning on the policy's own best samples (also
called rejection-sampling fine-tuning, or expert iteration). A round whose samples all score the same
for a prompt still keeps one (the first): unlike GRPO, RAFT learns from it, for better or worse.
"""
import json
import random
import time

from lab.align.dpo import save_policy
from lab.align.rl import held_out, policy_start, prompt_rows
from lab.align.scorers import load_scorer

KEPT = "raft_kept.json"  # artifacts/: the kept answers of every round


def best_per_prompt(rows: list[dict], completions: list[str], rewards: list[float], n: int) -> list[dict]:
    """completions/rewards hold n consecutive samples per row: per row, the highest-reward sample (first on ties)."""
    kept = []
    for index, row in enumerate(rows):
        group = list(zip(completions[index * n:(index + 1) * n], rewards[index * n:(index + 1) * n]))
        best = max(range(n), key=lambda k: (group[k][1], -k))
        kept.append({**row, "completion": group[best][0], "reward": group[best][1],
                     "all_equal": len({r for _, r in group}) == 1})
    return kept


class RoundContext:
    """The job context seen by one round's fine-tune: its steps continue the run's step count."""

    def __init__(self, ctx, offset: int, total: int):
        self._ctx, self._offset, self._total = ctx, offset, total

    def __getattr__(self, name):
        return getattr(self._ctx, name)

    def log_metrics(self, **figures):
        if "step" in figures:
            figures["step"] += self._offset
        self._ctx.log_metrics(**figures)

    def progress(self, done, total, message="", force=False, **live):
        self._ctx.progress(self._offset + done, self._total, message=f"RAFT fine-tune {message}", force=force, **live)


def finetune_round(spec, model, tokenizer, info, kept: list[dict], ctx, offset: int) -> dict:
    """One round's supervised fine-tune on the kept answers, with the Fine-tune tab's recipe (LoRA on)."""
    from lab.finetune import encode
    from lab.finetune.methods import METHODS
    from lab.finetune.train import Setup, count_parameters, train
    from lab.specs import spec_from_dict

    examples = [{"messages": [{"role": "user", "content": k["question"]},
                              {"role": "assistant", "content": k["completion"].strip() or "."}]} for k in kept]
    items = encode.encode_all(tokenizer, examples, 4096, answer_only=True, where="raft")
    method = "lora" if hasattr(model, "peft_config") else "full"
    finetune_spec = spec_from_dict({"kind": "finetune", "model": spec.model, "method": method, "dataset": "raft",
                                    "max_steps": spec.steps_per_round, "batch_size": spec.batch_size,
                                    "learning_rate": spec.learning_rate, "eval_steps": 0, "save_steps": 0,
                                    "accuracy_examples": 0, "dtype": spec.dtype, "seed": spec.seed})
    trainable, total = count_parameters(model)
    setup = Setup(finetune_spec, METHODS.get(method), model, tokenizer, info, items, [], [], False, trainable, total)
    return train(setup, RoundContext(ctx, offset, spec.rounds * spec.steps_per_round))


def train_raft(spec, ctx) -> dict:
    from peft import get_peft_model

    from lab.modeling.generation import generate

    started = time.time()
    from lab.finetune.datasets import load_examples

    train_examples, validation, _ = load_examples(spec.dataset, seed=spec.seed)
    scorer = load_scorer(spec, ctx)
    start = policy_start(spec, ctx)
    model = start.model if start.peft_config is None else get_peft_model(start.model, start.peft_config)
    tokenizer = start.tokenizer
    train_rows, eval_rows = prompt_rows(tokenizer, train_examples), prompt_rows(tokenizer, validation[: spec.eval_prompts])
    ctx.progress(0, 1, message=f"before: answering {len(eval_rows)} held-out prompts", force=True)
    before = held_out(model.eval(), tokenizer, eval_rows, scorer, spec)
    ctx.log_metrics(step=0, reward_mean=before["reward"])
    rng, all_kept, rounds = random.Random(spec.seed), [], []
    for round_index in range(spec.rounds):
        chosen = rng.sample(train_rows, min(spec.prompts_per_round, len(train_rows)))
        ctx.progress(round_index * spec.steps_per_round, spec.rounds * spec.steps_per_round, force=True,
                     message=f"round {round_index + 1}: sampling {spec.num_generations} answers for {len(chosen)} prompts")
        model.eval()
        tokenizer.padding_side = "left"
        repeated = [r["prompt"] for r in chosen for _ in range(spec.num_generations)]
        samples = generate(model, tokenizer, repeated, max_new_tokens=spec.max_completion_length, do_sample=True,
                           temperature=spec.temperature, seed=spec.seed * 1000 + round_index, batch_size=16,
                           use_chat_template=False, add_special_tokens=False)
        completions = [s.text for s in samples]
        rewards = scorer([r["question"] for r in chosen for _ in range(spec.num_generations)], completions,
                         [r["answer"] for r in chosen for _ in range(spec.num_generations)])
        kept = best_per_prompt(chosen, completions, rewards, spec.num_generations)
        figures = {"round": round_index + 1, "reward_mean": round(sum(rewards) / len(rewards), 4),
                   "reward_kept": round(sum(k["reward"] for k in kept) / len(kept), 4),
                   "zero_std_share": round(sum(k["all_equal"] for k in kept) / len(kept), 4)}
        ctx.log_metrics(step=round_index * spec.steps_per_round, **figures)
        ctx.log(f"RAFT round {round_index + 1}: mean sample reward {figures['reward_mean']}, kept {figures['reward_kept']}")
        all_kept += [{"round": round_index + 1, "prompt": k["question"], "completion": k["completion"],
                      "reward": k["reward"]} for k in kept]
        ctx.folder.write_artifact_text(KEPT, json.dumps(all_kept, ensure_ascii=False, indent=1))
        model.train()
        figures.update(finetune_round(spec, model, tokenizer, start.info, kept, ctx, round_index * spec.steps_per_round))
        rounds.append(figures)
    ctx.progress(1, 1, message="after: answering the same held-out prompts", force=True)
    after = held_out(model.eval(), tokenizer, eval_rows, scorer, spec)
    result = {"held_out_reward_before": before["reward"], "held_out_reward_after": after["reward"],
              "rounds": rounds, "kept_answers": len(all_kept), "held_out_prompts": len(eval_rows)}
    if "accuracy" in before:
        result.update(accuracy_before=before["accuracy"], accuracy_after=after["accuracy"],
                      accuracy_before_interval=before["accuracy_interval"],
                      accuracy_after_interval=after["accuracy_interval"])
    result["outputs"] = [{"prompt": r["question"], "before": b, "after": a, "answer": r["answer"]}
                         for r, b, a in zip(eval_rows, before["answers"], after["answers"])]
    result.update(save_policy(start, model, ctx, trained_by="raft"))
    result["wall_seconds"] = round(time.time() - started, 2)
    return result
