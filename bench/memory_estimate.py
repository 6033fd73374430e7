"""The memory estimate (lab/finetune/memory_estimate.py) against the measured peak of real fine-tunes.

    LAB_HOME=/tmp/x .venv/bin/python bench/memory_estimate.py [--model smollm2-135m-instruct] [--steps 2]

Runs each configuration (methods × batch × length, gradient checkpointing) as a real "finetune" job on
the default model, through the runner, one at a time, and reads its peak_memory_mb (the worker's peak
resident memory on a CPU; torch's max_memory_allocated on a GPU, which has no process cost). Packing is
on so every sequence is exactly max_length long (the estimate's length is an upper bound; padded
batches of short examples use less). Writes bench/out/memory_estimate.json: per configuration the
estimate's parts, the measured peak and estimate/measured; the target is within ±25%.
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CONFIGS = [  # (method, batch_size, max_length, gradient_checkpointing)
    ("lora", 2, 128, False),
    ("lora", 4, 256, False),
    ("lora", 8, 128, False),
    ("lora", 4, 256, True),
    ("full", 2, 128, False),
    ("ia3", 4, 128, False),
    ("pissa", 4, 128, False),
    ("vera", 8, 64, False),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "memory_estimate.json"))
    args = parser.parse_args()

    from lab.finetune.memory_estimate import estimate_for_spec
    from lab.runs import runner
    from lab.runs.folder import RunFolder
    from lab.specs import spec_from_dict

    rows = []
    for method, batch, length, checkpointing in CONFIGS:
        fields = {"kind": "finetune", "model": args.model, "method": method, "batch_size": batch,
                  "max_length": length, "packing": True, "gradient_checkpointing": checkpointing,
                  "max_steps": args.steps, "eval_steps": 0, "eval_examples": 4, "accuracy_examples": 0,
                  "save_steps": 0, "seed": 0, "name": f"memory {method} b{batch} L{length}"}
        run_id = runner.submit(spec_from_dict(fields), owner="cli")
        started = time.time()
        row = runner.wait(run_id)
        result = RunFolder(run_id).read_result()
        metrics = result.get("metrics") or {}
        estimate = estimate_for_spec(fields)
        measured = metrics.get("peak_memory_mb")
        record = {"method": method, "batch_size": batch, "max_length": length,
                  "gradient_checkpointing": checkpointing, "run_id": run_id, "status": row["status"],
                  "measured_mb": measured, "estimate": {k: v for k, v in estimate.items() if k != "error"},
                  "seconds": round(time.time() - started, 1)}
        if measured and "total_mb" in estimate:
            record["ratio"] = round(estimate["total_mb"] / measured, 3)
        rows.append(record)
        print(json.dumps({k: record.get(k) for k in ("method", "batch_size", "max_length", "gradient_checkpointing",
                                                     "status", "measured_mb", "ratio")}), flush=True)
    ratios = [r["ratio"] for r in rows if "ratio" in r]
    summary = {"model": args.model, "steps": args.steps, "machine": platform.processor() or platform.machine(),
               "load_average": os.getloadavg(), "within_25_percent": sum(abs(r - 1) <= 0.25 for r in ratios),
               "configurations": len(rows), "worst_ratio": max(ratios, key=lambda r: abs(r - 1)) if ratios else None,
               "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{summary['within_25_percent']} of {len(ratios)} within ±25%; worst estimate/measured {summary['worst_ratio']}")


if __name__ == "__main__":
    main()
