"""Does RL raise held-out accuracy from a start that half-solves the task? A weak SFT run (few steps) on
one-digit arithmetic, then GRPO and RLOO from it with the "correct" rule reward, seeds apart; held-out
accuracy (Wilson 95%) and reward before/after, the share of groups with equal rewards, the mean training
reward over the first and last steps, KL to the start, seconds per step. Each stage is its own process
(run RL stages side by side once the SFT stage is done) and writes bench/out/rl_rise/<stage>.json;
`--combine` gathers them into bench/out/rl_rise.json.

    .venv/bin/python bench/rl_rise.py --stage sft --sft-steps 6
    .venv/bin/python bench/rl_rise.py --stage grpo --sft-steps 6 --seed 0 --rl-steps 16 &
    .venv/bin/python bench/rl_rise.py --stage rloo --sft-steps 6 --seed 0 --rl-steps 16 &
    .venv/bin/python bench/rl_rise.py --combine
"""
import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
OUT = REPO / "bench" / "out" / "rl_rise"
HOME = REPO / "bench" / "out" / "rl_rise_home"  # sft<N>/: one lab home per SFT start, the RL stages read its run
SFT_ID = "20260101-000000-finetune-rlrise"
KEEP = ("held_out_reward_before", "held_out_reward_after", "accuracy_before", "accuracy_after",
        "accuracy_before_interval", "accuracy_after_interval", "wins", "ties", "losses", "zero_std_share_mean",
        "train_reward_first", "train_reward_last", "kl_final", "steps", "seconds_per_step", "wall_seconds")


def first_last(run_id: str, n: int = 4) -> dict:
    """Mean training reward over the first and last n steps (one step's 8 answers are noisy)."""
    from lab import config

    lines = (config.runs_dir() / run_id / "metrics.jsonl").read_text().splitlines()
    rewards = [r["reward_mean"] for r in map(json.loads, lines) if r.get("step", 0) >= 1 and "reward_mean" in r]
    zero = [r["zero_std_share"] for r in map(json.loads, lines) if r.get("step", 0) >= 1 and "zero_std_share" in r]
    return {"train_reward_first_n": round(sum(rewards[:n]) / n, 4), "train_reward_last_n": round(sum(rewards[-n:]) / n, 4),
            "zero_std_share_first_n": round(sum(zero[:n]) / n, 4), "zero_std_share_last_n": round(sum(zero[-n:]) / n, 4),
            "n": n, "rewards": rewards}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stage", choices=("sft", "grpo", "rloo"))
    parser.add_argument("--sft-steps", type=int, default=6)
    parser.add_argument("--rl-steps", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--combine", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.combine:
        stages = {p.stem: json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))}
        (OUT.parent / "rl_rise.json").write_text(json.dumps(stages, indent=2))
        print(json.dumps(stages, indent=2))
        return
    os.environ["LAB_HOME"] = str(HOME / f"sft{args.sft_steps}")
    import torch

    from rl_lifecycle import run

    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    if args.stage == "sft":
        sft = run("finetune", {"model": args.model, "dataset": "arithmetic_1digit", "method": "lora",
                               "max_steps": args.sft_steps, "batch_size": 4, "eval_steps": 0, "save_steps": 0,
                               "accuracy_examples": 20, "dtype": "auto", "seed": 0}, args.threads, SFT_ID)
        figures = {k: sft.get(k) for k in ("task_accuracy", "train_seconds", "steps", "train_loss_last", "wall_seconds")}
        name = f"sft{args.sft_steps}"
    else:
        run_id = f"20260101-0000{args.seed:02d}-{args.stage}-rlrise"
        spec = {"model": args.model, "start_from": SFT_ID, "dataset": "arithmetic_1digit", "reward": "correct",
                "num_generations": 4, "batch_size": 8, "max_steps": args.rl_steps, "eval_prompts": 20,
                "dtype": "auto", "seed": args.seed}
        result = run(args.stage, spec, args.threads, run_id)
        figures = {k: result.get(k) for k in KEEP} | first_last(run_id)
        name = f"sft{args.sft_steps}_{args.stage}_seed{args.seed}"
    figures.update(threads=args.threads, load_average_start=load_start, load_average_end=os.getloadavg(),
                   sft_steps=args.sft_steps)
    (OUT / f"{name}.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2), flush=True)


if __name__ == "__main__":
    main()
