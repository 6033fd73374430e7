"""The RL recipe GRPO and RLOO share (TRL's GRPOTrainer / RLOOTrainer, LoRA by default), top to bottom:

1. start: the policy is the base model with a fresh LoRA, or a fine-tune/DPO run whose adapter trains on
   (lab/align/dpo.py load_start: the same starts DPO accepts);
2. before: held-out prompts answered greedily, scored by the reward (and for accuracy where checkable);
3. train: every step samples `num_generations` answers per prompt, scores them, and moves the policy
   toward the answers better than their group; streamed: mean reward and spread, the share of groups whose
   rewards are all equal (no signal), completion length, TRL's KL (β ≠ 0) and the lab's own KL to the
   start on a fixed probe set (always: TRL measures none at β = 0), and a table of sampled answers;
4. after: the same held-out answers and scores, accuracy with Wilson intervals, a rule judge before/after;
5. save: the adapter in the Fine-tune tab's layout (Generate, Evaluate, DPO and the judge load it).
"""
import json
import time

from lab.align import common
from lab.align.dpo import Start, load_start, save_policy
from lab.align.kl import ReferenceKL
from lab.align.scorers import load_scorer
from lab.modeling import training_log
from lab.modeling.stats import wilson_interval

KL_PROBE = 4  # held-out prompts the lab's KL is measured on, each with its worked answer and the start's answer
TRL_NAMES = {"reward": "reward_mean", "reward_std": "reward_std", "frac_reward_zero_std": "trl_zero_std_share",
             "completions/mean_length": "completion_length", "kl": "trl_kl", "loss": "loss",
             "entropy": "entropy", "grad_norm": "grad_norm", "learning_rate": "learning_rate"}
SAMPLES = "samples.json"  # artifacts/: the table of sampled answers and rewards at chosen steps


def prompt_rows(tokenizer, examples: list[dict]) -> list[dict]:
    """Fine-tune examples -> RL prompts: the question in the policy's template, its gold answer ("" if none)
    and the worked answer (the probe's reference text)."""
    from lab.finetune import encode

    return [{"prompt": encode.prompt_for(tokenizer, e["messages"][0]["content"]), "question": e["messages"][0]["content"],
             "answer": e.get("answer") or "", "worked": e["messages"][-1]["content"]} for e in examples]


def greedy(model, tokenizer, rows: list[dict], max_new_tokens: int) -> list[str]:
    from lab.modeling.generation import generate

    tokenizer.padding_side = "left"
    return [r.text for r in generate(model, tokenizer, [r["prompt"] for r in rows], max_new_tokens=max_new_tokens,
                                     batch_size=8, use_chat_template=False, add_special_tokens=False)]


def held_out(model, tokenizer, rows, scorer, spec) -> dict:
    """Greedy answers to the held-out prompts, their rewards, and accuracy with a 95% Wilson interval."""
    from lab.align.rewards.correct import answer_is_correct

    answers = greedy(model, tokenizer, rows, spec.max_completion_length)
    rewards = scorer([r["question"] for r in rows], answers, [r["answer"] for r in rows])
    figures = {"answers": answers, "rewards": rewards, "reward": round(sum(rewards) / len(rewards), 4)}
    if all(r["answer"] for r in rows):
        correct = sum(answer_is_correct(a, r["answer"]) for a, r in zip(answers, rows))
        figures.update(accuracy=round(correct / len(rows), 4), accuracy_interval=list(wilson_interval(correct, len(rows))))
    return figures


class SampleTable:
    """Keeps the sampled answers and rewards of the steps chosen by `sample_every` (artifacts/samples.json)."""

    def __init__(self, ctx, every: int):
        self.ctx, self.every, self.rows = ctx, every, []

    def want(self, step: int) -> bool:
        return step == 0 or (step + 1) % self.every == 0  # TRL's global_step counts steps done: step+1 is this one

    def add(self, step: int, questions, completions, rewards) -> None:
        self.rows += [{"step": step + 1, "prompt": q, "completion": c, "reward": round(float(r), 4)}
                      for q, c, r in zip(questions, completions, rewards)]
        self.ctx.folder.write_artifact_text(SAMPLES, json.dumps(self.rows, ensure_ascii=False, indent=1))


class EqualGroups:
    """The share of prompt groups whose answers all got the same reward, from the reward's own scores.
    TRL's frac_reward_zero_std is measured after RLOO subtracts β·KL from each reward, so with β > 0 it reads
    ~0 even when all four answers are wrong (the KL term makes every reward differ): the lab counts it itself."""

    def __init__(self, size: int):
        self.size, self.pending, self.logged = size, [], []

    def add(self, rewards) -> None:
        if not rewards or len(rewards) % self.size:
            return
        groups = [rewards[i:i + self.size] for i in range(0, len(rewards), self.size)]
        self.pending.append(sum(max(g) - min(g) < 1e-9 for g in groups) / len(groups))

    def take(self) -> float | None:
        """The share over the batches scored since the last logged step (None if none)."""
        if not self.pending:
            return None
        share, self.pending = round(sum(self.pending) / len(self.pending), 6), []
        self.logged.append(share)
        return share


def reward_function(scorer, table: SampleTable, equal: EqualGroups):
    """The callable TRL calls with every generation batch (extra dataset columns arrive as keyword lists)."""

    def reward(prompts, completions, question=None, answer=None, trainer_state=None, **kwargs):
        questions = question or prompts
        rewards = scorer(questions, completions, answer or [""] * len(completions))
        equal.add([float(r) for r in rewards])
        step = trainer_state.global_step if trainer_state is not None else 0
        if table.want(step):
            table.add(step, questions, completions, rewards)
        return rewards

    reward.__name__ = f"reward_{scorer.name}"  # TRL names its per-function curves after it
    return reward


def policy_start(spec, ctx) -> Start:
    """DPO's starts (base + fresh LoRA, or a run's adapter trained on); use_lora off trains every weight."""
    from dataclasses import replace

    start = load_start(spec, ctx)
    if not spec.use_lora and start.peft_config is not None:
        return replace(start, method="full", peft_config=None)
    return start


def rl_config(config_class, spec, ctx, **extra):
    return common.trl_config(config_class, spec, ctx, num_generations=spec.num_generations,
                             max_completion_length=spec.max_completion_length, temperature=spec.temperature,
                             beta=spec.beta, disable_dropout=True, **extra)


def train_rl(spec, ctx, config_class, trainer_class, label: str, **config_extra) -> dict:
    from datasets import Dataset

    from lab.finetune.datasets import load_examples

    started = time.time()
    train_examples, validation, _ = load_examples(spec.dataset, seed=spec.seed)
    scorer = load_scorer(spec, ctx)
    start: Start = policy_start(spec, ctx)
    model, tokenizer = start.model, start.tokenizer
    train_rows = prompt_rows(tokenizer, train_examples)
    eval_rows = prompt_rows(tokenizer, validation[: spec.eval_prompts])

    ctx.progress(0, 1, message=f"before: answering {len(eval_rows)} held-out prompts", force=True)
    model.eval()
    before = held_out(model, tokenizer, eval_rows, scorer, spec)
    probe = [{"prompt": r["question"], "chosen": r["worked"], "rejected": a or r["worked"]}
             for r, a in zip(eval_rows[:KL_PROBE], before["answers"])]  # the worked answer and the start's own
    kl_to_start = ReferenceKL(model, tokenizer, probe)

    equal = EqualGroups(spec.num_generations)

    def derive(record, policy):  # after each logged step: the lab's KL to the start on the probe, equal groups
        kl = kl_to_start(policy) if policy is not None else None
        share = equal.take()
        return {**({} if kl is None else {"kl": round(kl, 6)}), **({} if share is None else {"zero_std_share": share})}

    table = SampleTable(ctx, spec.sample_every)
    args = rl_config(config_class, spec, ctx, **config_extra)
    dataset = Dataset.from_list([{k: r[k] for k in ("prompt", "question", "answer")} for r in train_rows])
    try:
        trainer = trainer_class(model=model, reward_funcs=[reward_function(scorer, table, equal)], args=args,
                                train_dataset=dataset, processing_class=tokenizer, peft_config=start.peft_config,
                                callbacks=[common.stream_callback(ctx, TRL_NAMES, label, derive)]
                                + training_log.trainer_callbacks(ctx))
    except ValueError as exc:  # target modules the model lacks
        raise common.peft_error(exc, spec) from None
    step0 = {"reward_mean": before["reward"], "kl": 0.0}
    trainable, total, train_seconds = common.train(
        trainer, spec, ctx, f"{label} on {len(train_rows)} prompts, {spec.num_generations} answers each, reward "
        f"{spec.reward}, beta {spec.beta}", **step0)

    policy = trainer.model.eval()
    ctx.progress(1, 1, message="after: answering the same held-out prompts", force=True)
    after = held_out(policy, tokenizer, eval_rows, scorer, spec)
    logged = [h for h in trainer.state.log_history if "reward" in h]
    zero_std = equal.logged  # the lab's own count, per logged step (see EqualGroups)
    steps = trainer.state.global_step
    figures = {
        "held_out_reward_before": before["reward"], "held_out_reward_after": after["reward"],
        "train_reward_first": round(logged[0]["reward"], 4) if logged else None,
        "train_reward_last": round(logged[-1]["reward"], 4) if logged else None,
        "zero_std_share_mean": round(sum(zero_std) / len(zero_std), 4) if zero_std else None,
        "kl_final": round(kl_to_start(policy) or 0.0, 6), "steps": steps, "train_seconds": round(train_seconds, 2),
        "seconds_per_step": round(train_seconds / steps, 3) if steps else None,
        "trainable_params": trainable, "total_params": total, "train_prompts": len(train_rows),
        "held_out_prompts": len(eval_rows),
    }
    if "accuracy" in before:
        figures.update(accuracy_before=before["accuracy"], accuracy_after=after["accuracy"],
                       accuracy_before_interval=before["accuracy_interval"],
                       accuracy_after_interval=after["accuracy_interval"])
    outputs = [{"prompt": r["question"], "before": b, "after": a, "reward_before": rb, "reward_after": ra}
               for r, b, a, rb, ra in zip(eval_rows, before["answers"], after["answers"], before["rewards"],
                                          after["rewards"])]
    if "accuracy" in before:
        from lab.align.judging import rule_win_rate

        figures.update(rule_win_rate(before["answers"], after["answers"], [r["answer"] for r in eval_rows]))
        for item, row in zip(outputs, eval_rows):
            item["answer"] = row["answer"]
    figures.update(save_policy(start, policy, ctx, trained_by=spec.kind))
    figures["wall_seconds"] = round(time.time() - started, 2)
    figures["outputs"] = outputs
    return {k: v for k, v in figures.items() if v is not None}
