"""torch.compile as a fine-tuning lever on CPU: compiled against eager in ONE process, on the same rows and seed,
step by step. Writes bench/out/compile_speed.json.

    .venv/bin/python bench/compile_speed.py [--models tiny,default] [--steps 24] [--threads 1]

What is compiled: the decoder body (model.get_base_model().model, in place with nn.Module.compile, so parameter
names and the saved adapter are unchanged); the output layer and the loss stay eager (lab.finetune.loss computes
logits only at labelled positions, through a hook on the output layer, outside the compiled graph). That is what
the lab's `torch_compile` setting does (lab/finetune/train.py).

Three ways, every step of each on the same batch, their order rotated step by step (the machine is shared: a
burst of load hits all three alike), dropout seeded per step so the loss curves are comparable:
  eager            today's path: batches padded to their longest row;
  compile_dynamic  dynamic=True: one graph with symbolic sequence length (widths vary per batch);
  compile_buckets  dynamic=False with every batch padded up to a multiple of 32 tokens (at most max_length / 32
                   graphs); the extra padding is counted as work but not as tokens.
Per way: seconds of the first step (compiling included), compile overhead (its steps' total minus eager's total
for the steps they share, minus the steady saving), steady non-padding tokens/s (median of per-step rates over
the steps after the last recompile; `steady_from_step`), the loss curve and its largest difference from eager's,
and the break-even step count (overhead / saving per step). Models: "tiny" (the tests' 2-layer Llama from a
config, 64 wide) and "default" (the converted SmolLM2-135M-Instruct, as in bench/finetune_speed.py), LoRA r=8 on
q_proj,v_proj, batch 4, max_length 128, AdamW lr 2e-4, fp32, 1 thread by default.
"""
import argparse
import copy
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

SEED = 0
BUCKET = 32
WAYS = ("eager", "compile_dynamic", "compile_buckets")


def loadavg() -> list:
    return [round(x, 2) for x in os.getloadavg()]


def model_and_rows(which: str, max_length: int, work: Path):
    """(model folder, tokenizer, encoded training items that fit max_length)."""
    from transformers import AutoTokenizer

    from lab.finetune import encode
    if which == "tiny":
        from tiny_models import make_tiny_model_dir

        folder, dataset = make_tiny_model_dir(work / "tiny", arch="llama"), "arithmetic"
    else:
        from finetune_speed import find_model

        folder, dataset = find_model(convert=True), "chatterbot"
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    from lab.finetune.datasets import BUILTIN, _row_to_example

    examples = [_row_to_example(dict(row), dataset) for row in BUILTIN[dataset].load()]
    items = [encode.encode_example(tokenizer, e, max_length) for e in examples]
    items = [i for i in items if len(i["input_ids"]) <= max_length]
    return folder, tokenizer, items, dataset


def batches(items: list, tokenizer, steps: int, batch_size: int) -> list:
    from lab.finetune import encode

    rng = random.Random(SEED)
    order = list(range(len(items)))
    rng.shuffle(order)
    collate = encode.Collator(tokenizer.pad_token_id)
    chosen = [order[(s * batch_size + k) % len(order)] for s in range(steps) for k in range(batch_size)]
    return [collate([items[i] for i in chosen[s * batch_size:(s + 1) * batch_size]]) for s in range(steps)]


def bucketed(batch: dict, pad_id: int) -> dict:
    """The batch padded on the right up to a multiple of BUCKET tokens (padding: pad id, label -100, mask 0)."""
    import torch.nn.functional as F

    width = batch["input_ids"].shape[1]
    extra = -(-width // BUCKET) * BUCKET - width
    if not extra:
        return batch
    return {"input_ids": F.pad(batch["input_ids"], (0, extra), value=pad_id),
            "labels": F.pad(batch["labels"], (0, extra), value=-100),
            "attention_mask": F.pad(batch["attention_mask"], (0, extra), value=0)}


def lora_model(folder: Path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    torch.manual_seed(SEED)
    model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=16, lora_dropout=0.05,
                                             target_modules=["q_proj", "v_proj"]))
    model.train()
    return model


def measure(which: str, steps: int, threads: int, batch_size: int, max_length: int, work: Path) -> dict:
    import torch

    from lab.finetune import loss as losses
    from lab.finetune.train import compile_body

    torch.set_num_threads(threads)
    torch._dynamo.reset()
    folder, tokenizer, items, dataset = model_and_rows(which, max_length, work)
    plain = batches(items, tokenizer, steps, batch_size)
    start = lora_model(folder)
    models, optimizers = {}, {}
    for way in WAYS:
        model = copy.deepcopy(start)
        if way != "eager":
            compile_body(model, dynamic=way == "compile_dynamic")
        models[way] = model
        optimizers[way] = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    seconds = {way: [] for way in WAYS}
    curves = {way: [] for way in WAYS}
    tokens = []
    load_before = loadavg()
    for step, batch in enumerate(plain):
        tokens.append(int(batch["attention_mask"].sum()))
        order = WAYS[step % 3:] + WAYS[:step % 3]
        for way in order:
            inputs = bucketed(batch, tokenizer.pad_token_id) if way == "compile_buckets" else batch
            torch.manual_seed(SEED + step)  # the same dropout masks in every way
            began = time.perf_counter()
            loss = losses.labelled_loss(models[way], dict(inputs, use_cache=False))
            loss.backward()
            optimizers[way].step()
            optimizers[way].zero_grad(set_to_none=True)
            seconds[way].append(time.perf_counter() - began)
            curves[way].append(round(loss.item(), 6))
        print(f"{which} step {step + 1}/{steps} " + " ".join(f"{w}={seconds[w][-1]:.3f}s" for w in WAYS), flush=True)
    out = {"model": which, "model_folder": str(folder), "dataset": dataset, "rows": len(items), "steps": steps,
           "threads": threads, "batch_size": batch_size, "max_length": max_length,
           "parameters": sum(p.numel() for p in start.parameters()), "loadavg_before": load_before,
           "loadavg_after": loadavg(), "batch_widths": [int(b["input_ids"].shape[1]) for b in plain],
           "non_padding_tokens_per_step": round(statistics.mean(tokens), 1), "ways": {}}
    eager = seconds["eager"]
    # steady: after the slowest first steps of every way (compiles and recompiles): from the step after the last
    # step where any compiled way took over 3x its own median
    last_compile = 0
    for way in WAYS[1:]:
        typical = statistics.median(seconds[way])
        slow = [i for i, s in enumerate(seconds[way]) if s > 3 * typical]
        last_compile = max([last_compile] + [i + 1 for i in slow])
    out["steady_from_step"] = last_compile + 1
    for way in WAYS:
        rates = [t / s for t, s in zip(tokens[last_compile:], seconds[way][last_compile:])]
        row = {"first_step_seconds": round(seconds[way][0], 2), "total_seconds": round(sum(seconds[way]), 2),
               "steady_median_tokens_per_second": round(statistics.median(rates), 1) if rates else None,
               "steady_seconds_per_step": round(statistics.median(seconds[way][last_compile:]), 4) if rates else None,
               "whole_run_tokens_per_second": round(sum(tokens) / sum(seconds[way]), 1),
               "loss_curve": curves[way],
               "max_abs_loss_difference_from_eager": round(max(abs(a - b) for a, b in zip(curves[way], curves["eager"])), 6),
               "step_seconds": [round(s, 3) for s in seconds[way]]}
        if way != "eager" and rates:
            ratio = [e / c for e, c in zip(eager[last_compile:], seconds[way][last_compile:])]
            row["steady_speedup_vs_eager_median"] = round(statistics.median(ratio), 3)
            saving = statistics.median(eager[last_compile:]) - statistics.median(seconds[way][last_compile:])
            overhead = sum(seconds[way][:last_compile]) - sum(eager[:last_compile]) + saving * last_compile
            row["compile_overhead_seconds"] = round(overhead, 1)
            row["break_even_steps"] = round(overhead / saving, 1) if saving > 0 else None
            row["whole_run_speedup_vs_eager"] = round(sum(eager) / sum(seconds[way]), 3)
        out["ways"][way] = row
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="tiny,default", help="comma-separated: tiny, default")
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()
    import torch

    from finetune_speed import cpu_fast_bf16, cpu_model

    figures = {"benchmark": "compile_speed", "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "machine": {"cpus": os.cpu_count(), "cpu": cpu_model(), "native_bf16": cpu_fast_bf16(),
                           "torch": torch.__version__, "loadavg_start": loadavg()},
               "results": []}
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    asked = [m.strip() for m in args.models.split(",")]
    if (out / "compile_speed.json").is_file():  # keep the other models' results of an earlier run, marked as such
        earlier = json.loads((out / "compile_speed.json").read_text())
        for result in earlier.get("results", []):
            if result["model"] not in asked:
                result.setdefault("from_earlier_run", {"started_at": earlier.get("started_at"),
                                                       "machine": earlier.get("machine")})
                figures["results"].append(result)
    with tempfile.TemporaryDirectory(prefix="compile-speed-") as work:
        for which in asked:
            figures["results"].append(measure(which, args.steps, args.threads, args.batch_size,
                                              args.max_length, Path(work)))
            (out / "compile_speed.json").write_text(json.dumps(figures, indent=2))
    figures["machine"]["loadavg_end"] = loadavg()
    (out / "compile_speed.json").write_text(json.dumps(figures, indent=2))
    for result in figures["results"]:
        print(result["model"], json.dumps({w: {k: v for k, v in r.items() if k not in ("loss_curve", "step_seconds")}
                                           for w, r in result["ways"].items()}, indent=1))
    print(f"wrote {out / 'compile_speed.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
