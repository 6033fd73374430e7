"""Questions per second of the Prompting tab's batched path against a plain one-question-at-a-time loop.
Writes bench/out/prompt_speed.json.

    .venv/bin/python bench/prompt_speed.py [--questions 16] [--batch-size 8] [--threads 1] [--rounds 2]

Same model (the default, fp32), same prompts (few-shot, k = 4, arithmetic_1digit, through the chat
template), same greedy decoding and answer budget, in the same process. The baseline is the loop a
script would write: tokenizer(prompt) -> model.generate(...) per question, stopping at the end-of-turn
token. The lab's path is lab.modeling.generation.generate as the prompt kind calls it: prompts sorted by length,
left-padded batches, KV cache, each row stopping on its own, and the tokens all prompts share (the
system prompt and the k exemplars) run once, their KV cache copied into every batch (share_prefix).
"batched" is the same without the shared prefix, to show what each part gives. Rounds alternate (loop, batched, lab, loop, ...) so a change
of machine load hits both; the ratio uses the summed times. Answers are compared too: greedy decoding
should give the same extracted answers both ways (float rounding of padded rows aside).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from lab.modeling.generation import generate
    from lab.modeling.models import DEFAULT_MODEL, load_model
    from lab.prompting.prompts import PromptCraft, render
    from lab.prompting.scoring import extract
    from lab.prompting.strategies import STRATEGIES, choose_exemplars
    from lab.tasks import get_task

    torch.set_num_threads(args.threads)
    model, tokenizer, info = load_model(DEFAULT_MODEL, dtype="fp32")
    task = get_task("arithmetic_1digit")
    strategy = STRATEGIES.get("few_shot")
    questions = task.questions[:args.questions]
    prompts = [render(tokenizer, task, item, choose_exemplars(task.exemplars, 4, "first", False, item.question, i, 0),
                      strategy, PromptCraft())[0] for i, item in enumerate(questions)]

    def plain_loop():
        texts = []
        for prompt in prompts:
            encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
            with torch.inference_mode():
                out = model.generate(**encoded, max_new_tokens=args.max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
            texts.append(tokenizer.decode(out[0, encoded["input_ids"].shape[1]:], skip_special_tokens=True))
        return texts

    def batched():
        return [r.text for r in generate(model, tokenizer, prompts, max_new_tokens=args.max_new_tokens,
                                         batch_size=args.batch_size, add_special_tokens=False)]

    def lab_path():  # what the prompt kind runs: batched, and the shared exemplars' KV cache computed once
        return [r.text for r in generate(model, tokenizer, prompts, max_new_tokens=args.max_new_tokens,
                                         batch_size=args.batch_size, add_special_tokens=False, share_prefix=True)]

    generate(model, tokenizer, prompts[:2], max_new_tokens=2, add_special_tokens=False)  # warm-up
    seconds = {"loop": 0.0, "batched": 0.0, "lab": 0.0}
    outputs = {}
    for _ in range(args.rounds):
        for name, fn in (("loop", plain_loop), ("batched", batched), ("lab", lab_path)):
            started = time.perf_counter()
            outputs[name] = fn()
            seconds[name] += time.perf_counter() - started
    answers = {name: [extract(text, task.filter)["extracted"] for text in texts] for name, texts in outputs.items()}
    total = args.questions * args.rounds
    figures = {
        "model": DEFAULT_MODEL, "threads": args.threads, "batch_size": args.batch_size, "questions": args.questions,
        "rounds": args.rounds, "max_new_tokens": args.max_new_tokens, "torch": torch.__version__,
        "prompt_tokens_mean": round(sum(len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts)
                                    / len(prompts), 1),
        "loop_questions_per_second": round(total / seconds["loop"], 3),
        "batched_questions_per_second": round(total / seconds["batched"], 3),
        "lab_questions_per_second": round(total / seconds["lab"], 3),
        "speedup_batched": round(seconds["loop"] / seconds["batched"], 2),
        "speedup": round(seconds["loop"] / seconds["lab"], 2),  # the lab's path (batched + shared prefix) vs the loop
        "same_answers_batched": sum(a == b for a, b in zip(answers["loop"], answers["batched"])),
        "same_answers": sum(a == b for a, b in zip(answers["loop"], answers["lab"])),
        "load_average": os.getloadavg()[0],
    }
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "prompt_speed.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
