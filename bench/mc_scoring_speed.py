"""Multiple-choice scoring by log-likelihood: batched (lab.modeling.scoring.score_choices) vs one choice at a time.
Writes bench/out/mc_scoring_speed.json.

    .venv/bin/python bench/mc_scoring_speed.py [--questions 24] [--shots 2] [--threads 1] [--batch-size 16]

Three ways, same model (the offline default), same questions (the MMLU items of the mmlu_cot task, with `shots`
worked exemplars before each question, as a few-shot evaluation has), same run: the loop scores each
(question, choice) pair with its own forward pass, as a naive evaluation script does; "batched" pads all
pairs into batches (each choice still re-reads its context); "shared" (score_choices(share_context=True),
what the evaluate kind uses) runs each context once and scores its choices from the KV cache, batched. Both must pick the same answers; the figure that matters is the ratio.
Rounds alternate (loop, batched, loop, batched) so a change in machine load hits both.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def build_questions(count: int, shots: int):
    from lab.tasks import get_task

    task = get_task("mmlu_cot")
    prefix = "".join(f"Question: {e.question}\nAnswer: {e.answer_text}\n\n" for e in task.exemplars[:shots])
    items = task.questions[:count]
    return [f"{prefix}Question: {item.question}\nAnswer:" for item in items], \
           [[f" {choice}" for choice in item.choices] for item in items], [item.answer_index for item in items]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=24)
    parser.add_argument("--shots", type=int, default=5)  # MMLU is evaluated 5-shot
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--dtype", default="auto", choices=["auto", "fp32", "bf16"])
    args = parser.parse_args()
    os.environ.setdefault("LAB_HOME", "/tmp/lab-bench-mc")

    import torch

    from lab.modeling.models import DEFAULT_MODEL, load_model
    from lab.modeling.scoring import score_choices

    torch.set_num_threads(args.threads)
    model, tokenizer, info = load_model(DEFAULT_MODEL, dtype=args.dtype)
    contexts, choices, gold = build_questions(args.questions, args.shots)
    score_choices(model, tokenizer, contexts[:1], choices[:1])  # warm-up

    def one_at_a_time():
        picks = []
        for context, options in zip(contexts, choices):
            sums = [score_choices(model, tokenizer, [context], [[option]], batch_size=1)[0].logprob[0] for option in options]
            picks.append(max(range(len(sums)), key=sums.__getitem__))
        return picks

    def batched():
        return [s.pick for s in score_choices(model, tokenizer, contexts, choices, batch_size=args.batch_size)]

    def shared():  # batch_size counts questions here: all their choices share each context's KV cache
        return [s.pick for s in score_choices(model, tokenizer, contexts, choices, share_context=True,
                                              batch_size=max(1, args.batch_size // 4))]

    seconds = {"loop": [], "batched": [], "shared": []}
    picks = {}
    for _ in range(args.rounds):
        for name, fn in (("loop", one_at_a_time), ("batched", batched), ("shared", shared)):
            started = time.perf_counter()
            picks[name] = fn()
            seconds[name].append(time.perf_counter() - started)
    loop, padded, fast = min(seconds["loop"]), min(seconds["batched"]), min(seconds["shared"])
    n_choices = sum(len(c) for c in choices)
    figures = {
        "model": DEFAULT_MODEL, "dtype": info["dtype"], "device": info["device"], "threads": args.threads,
        "questions": len(contexts), "choices": n_choices, "shots": args.shots, "batch_size": args.batch_size,
        "context_tokens_mean": round(sum(len(tokenizer(c)["input_ids"]) for c in contexts) / len(contexts), 1),
        **{f"{name}_seconds": [round(x, 3) for x in values] for name, values in seconds.items()},
        "loop_choices_per_second": round(n_choices / loop, 2), "batched_choices_per_second": round(n_choices / padded, 2),
        "shared_choices_per_second": round(n_choices / fast, 2),
        "speedup_padded_batches": round(loop / padded, 2),  # every choice re-reads its context, in padded batches
        "speedup": round(loop / fast, 2),  # batched with the context run once per question (share_context=True)
        "same_picks": picks["loop"] == picks["batched"] == picks["shared"],  # fp32: identical; bf16 rounds by batch shape
        "shared_agrees_with_loop": round(sum(a == b for a, b in zip(picks["loop"], picks["shared"])) / len(gold), 4),
        "accuracy": round(sum(p == g for p, g in zip(picks["batched"], gold)) / len(gold), 4),
    }
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "mc_scoring_speed.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
