"""Does RL help a small model that half-solves a task, within a CPU budget? SFT on one-digit arithmetic,
then GRPO from that run with the "correct" rule reward; held-out accuracy (Wilson 95%) and reward before
and after, the share of groups with equal rewards, and seconds per RL step against an SFT step. Then the
effect of generations per prompt: short GRPO runs with 2, 4 and 8 answers per prompt (same 8 completions
per step). Writes bench/out/rl_lifecycle.json after every stage (a cut-short run keeps what it measured).

    .venv/bin/python bench/rl_lifecycle.py [--sft-steps 30] [--rl-steps 30] [--sweep-steps 8] [--threads 1]
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out" / "rl_lifecycle.json"


def run(kind: str, fields: dict, threads: int, run_id: str) -> dict:
    from lab import config
    from lab.runs.job_context import JobContext
    from lab.specs import KINDS, spec_from_dict

    folder = config.runs_dir() / run_id
    folder.mkdir(parents=True)
    started = time.time()
    figures = KINDS.get(kind).run(spec_from_dict({"kind": kind, **fields}), JobContext(folder, threads))
    figures.pop("outputs", None)
    figures["wall_seconds"] = round(time.time() - started, 1)
    return figures


def save(figures: dict) -> None:
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sft-steps", type=int, default=30)
    parser.add_argument("--rl-steps", type=int, default=30)
    parser.add_argument("--sweep-steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--resume", action="store_true", help="keep the figures (and SFT run) already in the output file")
    args = parser.parse_args()
    os.environ.setdefault("LAB_HOME", tempfile.mkdtemp(prefix="lab-bench-"))

    import torch

    torch.set_num_threads(args.threads)
    figures = {"model": args.model, "threads": args.threads, "load_average_start": os.getloadavg()}
    sft_id = "20260101-000000-finetune-rlbench"
    if args.resume and OUT.is_file():
        figures = {**json.loads(OUT.read_text()), "load_average_resumed": os.getloadavg()}
    else:
        sft = run("finetune", {"model": args.model, "dataset": "arithmetic_1digit", "method": "lora",
                               "max_steps": args.sft_steps, "batch_size": 4, "eval_steps": 0, "save_steps": 0,
                               "accuracy_examples": 20, "dtype": "auto"}, args.threads, sft_id)
        figures["sft"] = {k: sft.get(k) for k in ("task_accuracy", "train_seconds", "steps", "train_loss_last")}
        figures["sft"]["seconds_per_step"] = round(sft["train_seconds"] / sft["steps"], 3)
        save(figures)
    rl = {"model": args.model, "start_from": sft_id, "dataset": "arithmetic_1digit", "reward": "correct",
          "batch_size": 8, "max_steps": args.rl_steps, "eval_prompts": 20, "dtype": "auto"}
    figures["grpo"] = run("grpo", {**rl, "num_generations": 4}, args.threads, "20260101-000001-grpo-rlbench")
    figures["grpo_over_sft_step"] = round(figures["grpo"]["seconds_per_step"] / figures["sft"]["seconds_per_step"], 2)
    save(figures)
    for index, generations in enumerate((2, 4, 8)):
        result = run("grpo", {**rl, "num_generations": generations, "max_steps": args.sweep_steps, "eval_prompts": 1},
                     args.threads, f"20260101-00001{index}-grpo-rlsweep")
        figures[f"generations_{generations}"] = {k: result.get(k) for k in (
            "zero_std_share_mean", "seconds_per_step", "train_reward_first", "train_reward_last", "kl_final")}
        save(figures)
    figures["load_average_end"] = os.getloadavg()
    save(figures)


if __name__ == "__main__":
    main()
