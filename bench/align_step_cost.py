"""What a preference step costs: seconds per optimizer step of the lab's DPO and reward-model recipes
against its SFT (LoRA fine-tune) recipe, same model, same arithmetic data, same batch, in one run.
Writes bench/out/align_step_cost.json with the ratios (DPO / SFT, reward / SFT).

    .venv/bin/python bench/align_step_cost.py [--steps 4] [--threads 1] [--model smollm2-135m-instruct]

A DPO step runs the policy forward and backward on 2 sequences per pair (chosen, rejected), the
reference forward on both, and the lab's KL probe forward on 2 held-out pairs; a reward step runs
2 sequences per pair forward and backward; an SFT step 1 sequence per example. The recipes run in
turn (SFT, DPO, reward, then SFT again) so a change of machine load shows as two different SFT figures.
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


def run(kind: str, fields: dict, threads: int) -> dict:
    from lab.runs.job_context import JobContext
    from lab.specs import KINDS, spec_from_dict

    folder = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    started = time.time()
    figures = KINDS.get(kind).run(spec_from_dict({"kind": kind, **fields}), JobContext(folder, threads))
    return {"seconds_per_step": round(figures["train_seconds"] / figures["steps"], 3), "steps": figures["steps"],
            "wall_seconds": round(time.time() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    args = parser.parse_args()
    os.environ.setdefault("LAB_HOME", tempfile.mkdtemp(prefix="lab-bench-"))

    import torch

    torch.set_num_threads(args.threads)
    common = {"model": args.model, "dataset": "arithmetic", "max_steps": args.steps, "batch_size": 4, "dtype": "fp32"}
    sft = {**common, "method": "lora", "max_length": 128, "eval_steps": 0, "save_steps": 0, "accuracy_examples": 0,
           "eval_examples": 1}
    figures = {"model": args.model, "threads": args.threads, "batch_size": 4, "steps": args.steps}
    figures["sft"] = run("finetune", sft, args.threads)
    figures["dpo"] = run("dpo", {**common, "eval_pairs": 2, "answer_prompts": 0}, args.threads)
    figures["reward"] = run("reward", {**common, "eval_pairs": 2, "learning_rate": 5e-4}, args.threads)
    figures["sft_again"] = run("finetune", sft, args.threads)
    baseline = (figures["sft"]["seconds_per_step"] + figures["sft_again"]["seconds_per_step"]) / 2
    figures["dpo_over_sft"] = round(figures["dpo"]["seconds_per_step"] / baseline, 2)
    figures["reward_over_sft"] = round(figures["reward"]["seconds_per_step"] / baseline, 2)
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "align_step_cost.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
