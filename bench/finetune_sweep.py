"""Measure a sweep on the default model: the "learning-rate sweep" class preset (CPU seconds per run, to keep
it under ~6 CPU minutes) and a learning rate × LoRA rank grid (does the rank matter less than the rate?).

    LAB_HOME=/tmp/x .venv/bin/python bench/finetune_sweep.py [--grid-steps 12] [--skip-preset] [--skip-grid]

Runs in one process, one run after another, through the fine-tuning recipe itself (lab/finetune/train.py),
one thread; records per run the process CPU seconds, the wall seconds, the final training loss and the eval
loss. Writes bench/out/finetune_sweep.json. CPU seconds are what the preset's "minutes" claim is about:
wall time on a shared machine depends on the load (recorded).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def run_one(fields: dict) -> dict:
    import secrets

    from lab import config
    from lab.finetune.train import finetune
    from lab.runs.folder import RunFolder
    from lab.runs.job_context import JobContext
    from lab.specs import spec_from_dict

    spec = spec_from_dict(fields)
    run_id = time.strftime("%Y%m%d-%H%M%S") + f"-finetune-{secrets.token_hex(3)}"
    RunFolder(run_id).create().write_spec(spec)
    ctx = JobContext(config.runs_dir() / run_id, threads=1)
    cpu, wall = time.process_time(), time.time()
    figures = finetune(spec, ctx)
    return {"run_id": run_id, "cpu_seconds": round(time.process_time() - cpu, 1), "wall_seconds": round(time.time() - wall, 1),
            "load_average": os.getloadavg()[0], **{k: figures.get(k) for k in ("train_loss_first", "train_loss_last",
                                                                                  "eval_loss", "trainable_percent")}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grid-steps", type=int, default=12)
    parser.add_argument("--skip-preset", action="store_true")
    parser.add_argument("--skip-grid", action="store_true")
    parser.add_argument("--ranks", default="1,64", help="LoRA ranks of the grid, comma-separated")
    parser.add_argument("--rates", default="1e-4,1e-3,1e-2", help="learning rates of the grid, comma-separated")
    parser.add_argument("--batch-size", type=int, default=4, help="the grid's batch size")
    parser.add_argument("--seeds", default="0", help="seeds of the grid, comma-separated (repeats show run-to-run noise)")
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "finetune_sweep.json"))
    args = parser.parse_args()
    import torch  # noqa: F401  (imported before the clocks start)
    import peft  # noqa: F401
    import transformers  # noqa: F401

    from lab.classroom import presets

    out = {"preset": [], "grid": []}
    if not args.skip_preset:
        for spec in presets.load("finetune/learning_rate_sweep").build():
            row = {"learning_rate": spec.learning_rate, **run_one(spec.to_dict())}
            out["preset"].append(row)
            print(json.dumps(row), flush=True)
        out["preset_cpu_minutes"] = round(sum(r["cpu_seconds"] for r in out["preset"]) / 60, 2)
    if not args.skip_grid:
        base = {"kind": "finetune", "method": "lora", "dataset": "arithmetic", "max_steps": args.grid_steps,
                "batch_size": args.batch_size, "max_length": 96, "eval_steps": 0, "eval_examples": 16, "accuracy_examples": 0,
                "save_steps": 0, "seed": 0, "lora_alpha": 16}
        ranks = [int(r) for r in args.ranks.split(",")]
        rates = [float(r) for r in args.rates.split(",")]
        seeds = [int(s) for s in args.seeds.split(",")]
        # seeds outermost: one seed's whole grid runs before the next, so a load change hits every cell alike
        for seed in seeds:
            for rank in ranks:
                for rate in rates:
                    row = {"lora_r": rank, "learning_rate": rate, "seed": seed,
                           **run_one({**base, "lora_r": rank, "learning_rate": rate, "seed": seed,
                                      "name": f"r={rank} lr={rate:g} seed={seed}"})}
                    out["grid"].append(row)
                    print(json.dumps(row), flush=True)
        out["grid_cpu_minutes"] = round(sum(r["cpu_seconds"] for r in out["grid"]) / 60, 2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
