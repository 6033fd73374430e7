"""Training tokens/s of the same fine-tune at 1 and at N data-parallel processes (torchrun; gloo on a CPU,
NCCL on GPUs), through the lab's own runner: what `processes` buys on this machine. Writes
bench/out/ddp_speed.json.

    .venv/bin/python bench/ddp_speed.py                         # a small Llama built here, 1 vs 2 processes
    .venv/bin/python bench/ddp_speed.py --model smollm2-135m-instruct --processes 1,2,4 --steps 20   # a GPU box

Rounds are interleaved (1, 2, 1, 2, ...) so both settings see the same background load; the load average
is recorded before and after each run. The global batch is the same at every process count (each of N
processes takes batch / N), so the loss curves match and only the speed differs. On a 2-core CPU expect
little or nothing: two processes share two cores that also serve everything else, and gloo's all-reduce
of the gradients is paid every step.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def small_llama(folder: Path, width: int, depth: int) -> Path:
    """A Llama of the given width and depth with the tests' tiny tokenizer (random weights: speed only)."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    from tiny_models import make_tokenizer

    torch.manual_seed(0)
    tokenizer = make_tokenizer()
    config = LlamaConfig(hidden_size=width, intermediate_size=2 * width, num_hidden_layers=depth,
                         num_attention_heads=max(1, width // 64), num_key_value_heads=max(1, width // 64),
                         max_position_embeddings=256, vocab_size=-(-len(tokenizer) // 32) * 32,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run_once(model: str, processes: int, args) -> dict:
    from lab.runs import runner
    from lab.specs import spec_from_dict

    spec = spec_from_dict(dict(kind="finetune", model=model, method=args.method, dataset="arithmetic",
                               max_steps=args.steps, batch_size=args.batch, max_length=128, eval_steps=0,
                               save_steps=0, accuracy_examples=0, dtype=args.dtype, processes=str(processes),
                               lr_scheduler="constant", warmup_ratio=0.0, seed=0))
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    run_id = runner.submit(spec)
    row = runner.wait(run_id, timeout=3600)
    result = runner.result(run_id)
    if row["status"] != "succeeded":
        raise SystemExit(f"{run_id} {row['status']}: {row['error']}")
    metrics = result["metrics"]
    return {"run_id": run_id, "processes": processes, "world_size": metrics.get("world_size"),
            "tokens_per_second": metrics["tokens_per_second"], "train_seconds": metrics["train_seconds"],
            "end_to_end_seconds": round(time.perf_counter() - started, 1), "train_loss_last": metrics["train_loss_last"],
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="a model name or folder (default: a small Llama built here)")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--processes", default="1,2", help="process counts to compare, e.g. 1,2,4")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8, help="the global batch (split over the processes)")
    parser.add_argument("--method", default="full")
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "ddp_speed.json"))
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="ddp-speed-"))
    os.environ.update(LAB_HOME=str(home), LAB_IDLE_EXIT="60", GRADIO_ANALYTICS_ENABLED="False",
                      HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    model = args.model or str(small_llama(home / "small-llama", args.width, args.depth))
    counts = [int(n) for n in args.processes.split(",")]
    runs = []
    for round_index in range(args.rounds):
        for count in counts:  # interleaved: every count sees the same background load
            record = run_once(model, count, args)
            record["round"] = round_index
            runs.append(record)
            print(json.dumps(record), flush=True)
    summary = {}
    for count in counts:
        speeds = [r["tokens_per_second"] for r in runs if r["processes"] == count]
        summary[str(count)] = {"tokens_per_second_median": statistics.median(speeds), "runs": len(speeds)}
    base = summary[str(counts[0])]["tokens_per_second_median"]
    for count in counts:
        summary[str(count)]["speedup_vs_first"] = round(summary[str(count)]["tokens_per_second_median"] / base, 3)
    import torch

    report = {"model": args.model or f"small llama width {args.width} depth {args.depth}", "method": args.method,
              "steps": args.steps, "global_batch": args.batch, "dtype": args.dtype, "cpu_count": os.cpu_count(),
              "cuda_devices": torch.cuda.device_count() if torch.cuda.is_available() else 0,
              "summary": summary, "runs": runs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
