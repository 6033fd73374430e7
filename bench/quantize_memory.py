"""Weight memory and generation speed of NF4 and int8 (and the other bitsandbytes variants) against fp32,
on the Quantize tab's default model, all in one run. Writes bench/out/quantize_memory.json.

    .venv/bin/python bench/quantize_memory.py [--threads 1] [--rounds 3] [--model lab-shakespeare-3m] [--device auto]

Memory: the linear layers (not the tied output layer), counted honestly — stored weights plus every
quant-state tensor (lab/quantize/memory.py) — and what model.get_memory_footprint() says, as a ratio
of fp32. Speed: greedy generation of the same prompts at batch 1 and batch 8, with the variants
interleaved over several rounds (a shared CPU drifts), median tokens/s as a ratio of fp32's.
Expected memory: int8 ≈ 1/4 (8 bits + a 32-bit scale per row), NF4 ≈ 4.5/32 ≈ 1/7 (a 32-bit absmax per
64 weights), NF4 + double quant ≈ 4.13/32 ≈ 1/7.75.
"""
import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PROMPTS = ["ROMEO.\n", "To be, or not to be", "KING.\nWhat news", "Friends, Romans,", "Now is the winter",
           "O, what a rogue", "HAMLET.\n", "All the world's"]
VARIANTS = ("fp32", "bf16", "int8", "nf4", "nf4+dq", "fp4")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--model", default="lab-shakespeare-3m")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    import logging

    import bitsandbytes  # noqa: F401  (imported before any clock starts: load times are the models', not imports')
    import torch
    import transformers  # noqa: F401

    from lab.modeling.generation import generate
    from lab.quantize.default_model import DEFAULT_QUANTIZE_MODEL, ensure_default_model, resolve
    from lab.quantize.memory import weight_memory
    from lab.quantize.schemes import SCHEMES
    from lab.specs import spec_from_dict

    torch.set_num_threads(args.threads)
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    if args.model == DEFAULT_QUANTIZE_MODEL:
        ensure_default_model()
    path = resolve(args.model)
    spec = spec_from_dict({"kind": "quantize", "model": args.model, "schemes": ["fp32", "bf16", "int8", "nf4", "fp4"],
                           "double_quant": "both", "device": args.device})
    device = spec.resolved_device()
    variants = {v.label: v for v in spec.variants() if v.label in VARIANTS}
    memory, load_seconds, speed = {}, {}, {label: {"b1": [], "batched": []} for label in variants}
    models = {}
    for label, variant in variants.items():
        started = time.time()
        model, tokenizer, _ = SCHEMES.get(variant.scheme).load(path, variant, device)
        load_seconds[label] = round(time.time() - started, 3)
        memory[label] = weight_memory(model)
        models[label] = (model, tokenizer)
    for _ in range(args.rounds):  # interleaved: each round times every variant once
        for label, (model, tokenizer) in models.items():
            one = generate(model, tokenizer, PROMPTS[:1], max_new_tokens=args.max_new_tokens, batch_size=1)
            many = generate(model, tokenizer, PROMPTS, max_new_tokens=args.max_new_tokens, batch_size=len(PROMPTS))
            speed[label]["b1"].append(one.tokens_per_second)
            speed[label]["batched"].append(many.tokens_per_second)
    base = memory["fp32"]
    rows = {}
    for label in variants:
        m = memory[label]
        b1, batched = statistics.median(speed[label]["b1"]), statistics.median(speed[label]["batched"])
        rows[label] = {
            "linear_mb": round(m["linear_bytes"] / 2**20, 4),
            "linear_ratio_vs_fp32": round(m["linear_bytes"] / base["linear_bytes"], 4),
            "linear_bits_per_weight": round(m["linear_bits_per_weight"], 3),
            "quant_state_mb": round(m["linear_state_bytes"] / 2**20, 4),
            "total_ratio_vs_fp32": round(m["total_bytes"] / base["total_bytes"], 4),
            "footprint_ratio_vs_fp32": round(m["footprint_bytes"] / base["footprint_bytes"], 4),
            "load_seconds": load_seconds[label],
            "tokens_per_second_b1": round(b1, 2), "tokens_per_second_batched": round(batched, 2),
            "speed_b1_vs_fp32": round(b1 / statistics.median(speed["fp32"]["b1"]), 3),
            "speed_batched_vs_fp32": round(batched / statistics.median(speed["fp32"]["batched"]), 3),
        }
    out = {"model": args.model, "device": device, "threads": args.threads, "rounds": args.rounds,
           "max_new_tokens": args.max_new_tokens, "torch": torch.__version__,
           "bitsandbytes": __import__("bitsandbytes").__version__, "linear_weights": base["linear_weights"],
           "variants": rows}
    folder = REPO / "bench" / "out"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "quantize_memory.json").write_text(json.dumps(out, indent=2))
    print(f"{'variant':8} {'linear×fp32':>11} {'bits/w':>7} {'footprint×':>10} {'tok/s b1 ×':>10} {'batched ×':>9}")
    for label, row in rows.items():
        print(f"{label:8} {row['linear_ratio_vs_fp32']:11.4f} {row['linear_bits_per_weight']:7.3f} "
              f"{row['footprint_ratio_vs_fp32']:10.4f} {row['speed_b1_vs_fp32']:10.3f} {row['speed_batched_vs_fp32']:9.3f}")


if __name__ == "__main__":
    main()
