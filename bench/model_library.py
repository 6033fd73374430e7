"""Speed of the model library on the default model: GGUF conversion, load, generation, scoring.
Writes bench/out/model_library.json.

    .venv/bin/python bench/model_library.py [--threads 1] [--home /tmp/bench_home]

Converts into a fresh LAB_HOME (unless --home already holds the converted folder), then loads the
folder again (the load every job pays), and generates 32 new tokens for 8 prompts at batch 1 and 8.
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

PROMPTS = ["What is the capital of France?", "Name three colours.", "What is 12 times 3?",
           "Write a haiku about the sea.", "Who wrote Hamlet?", "What is photosynthesis?",
           "Translate 'good morning' into French.", "Give one tip for learning to code."]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--home", default=None)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    os.environ["LAB_HOME"] = args.home or tempfile.mkdtemp(prefix="lab-bench-")

    import torch

    from lab.modeling.generation import generate
    from lab.modeling.models import DEFAULT_MODEL, load_model
    from lab.modeling.scoring import perplexity

    torch.set_num_threads(args.threads)
    figures = {"threads": args.threads, "model": DEFAULT_MODEL, "torch": torch.__version__}
    started = time.time()
    _, _, info = load_model(DEFAULT_MODEL)
    figures["first_load_seconds"] = round(time.time() - started, 2)
    figures["conversion_seconds"] = info["conversion_seconds"]
    started = time.time()
    model, tokenizer, info = load_model(DEFAULT_MODEL)
    figures["load_converted_seconds"] = round(time.time() - started, 2)
    generate(model, tokenizer, PROMPTS[:1], max_new_tokens=4, use_chat_template=True)  # warm-up
    for batch_size in (1, 8):
        results = generate(model, tokenizer, PROMPTS, max_new_tokens=args.max_new_tokens, batch_size=batch_size,
                           use_chat_template=True)
        figures[f"tokens_per_second_batch_{batch_size}"] = round(results.tokens_per_second, 1)
        figures[f"new_tokens_batch_{batch_size}"] = results.new_tokens
    figures["answer"] = results[0].text
    started = time.time()
    ppl = perplexity(model, tokenizer, [" ".join(PROMPTS) * 4], max_length=128)
    figures["perplexity_seconds"] = round(time.time() - started, 2)
    figures["perplexity_tokens"] = ppl["tokens"]
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "model_library.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
