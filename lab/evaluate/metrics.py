"""Automatic metrics over a task (lab/tasks): multiple-choice log-likelihood, generation accuracy, perplexity.

Registered entries, each metric(task, items, model, tokenizer, options, progress) -> (figures, rows):

    multiple_choice  score every option's log-likelihood after the question (lab/scoring.py, the context
                     run once per question); accuracy by the raw sum, per token and per character
                     (lm-eval's acc / acc_norm): the raw sum favours short options
    generation       the model answers freely; the task's filter extracts the answer (lab/filters.py)
    perplexity       exp(mean loss per token) of "question + worked answer" texts (lab/scoring.py)
"""
from dataclasses import dataclass
from typing import Callable

from lab.errors import LabError


@dataclass(frozen=True)
class Metric:
    name: str
    compute: Callable
    task_types: tuple  # task types it applies to


METRICS: dict[str, Metric] = {}


def register_metric(name: str, task_types=("numeric", "multiple_choice", "classification")):
    def wrap(compute):
        METRICS[name] = Metric(name, compute, tuple(task_types))
        return compute
    return wrap


def few_shot_prefix(task, shots: int) -> str:
    """Worked exemplars from the task's own exemplar pool (never its test questions), Q/A style."""
    return "".join(f"Question: {task.prompt_text(e)}\nAnswer: {e.answer_text}\n\n" for e in task.exemplars[:shots])


@register_metric("multiple_choice", task_types=("multiple_choice", "classification"))
def multiple_choice(task, items, model, tokenizer, options, progress):
    from lab.scoring import score_choices

    prefix = few_shot_prefix(task, options["shots"])
    rows = []
    batch = options["batch_size"]
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        contexts = [f"{prefix}Question: {item.question}\nAnswer:" for item in chunk]
        scores = score_choices(model, tokenizer, contexts, [[f" {c}" for c in item.choices] for item in chunk],
                               batch_size=batch, share_context=True)
        for item, score in zip(chunk, scores):
            rows.append({"id": item.id, "question": item.question, "gold": item.answer_text,
                         "pick": item.choices[score.pick], "pick_norm": item.choices[score.pick_per_char],
                         "correct": score.pick == item.answer_index,
                         "correct_per_token": score.pick_per_token == item.answer_index,
                         "correct_norm": score.pick_per_char == item.answer_index,
                         "logprobs": [round(x, 3) for x in score.logprob]})
        progress(min(start + batch, len(items)), len(items))
    n = len(rows)
    return {"accuracy": sum(r["correct"] for r in rows) / n,
            "accuracy_per_token": sum(r["correct_per_token"] for r in rows) / n,
            "accuracy_norm": sum(r["correct_norm"] for r in rows) / n,
            "chance": sum(1 / len(item.choices) for item in items) / n, "n": n}, rows


@register_metric("generation")
def generation(task, items, model, tokenizer, options, progress):
    from lab.filters import apply_filter
    from lab.generation import generate

    prefix = few_shot_prefix(task, options["shots"])
    prompts = [f"{prefix}Question: {task.prompt_text(item)}\nAnswer:" if prefix else task.prompt_text(item)
               for item in items]
    results = generate(model, tokenizer, prompts, max_new_tokens=options["max_new_tokens"],
                       batch_size=options["batch_size"], use_chat_template=options["use_chat_template"],
                       stop=["\nQuestion:"] if prefix else None, on_batch=progress)
    rows = []
    for item, result in zip(items, results):
        found = apply_filter(task.filter, result.text, **task.filter_params)
        rows.append({"id": item.id, "question": item.question, "gold": task.gold(item), "output": result.text,
                     "extracted": found, "correct": found is not None and found == task.gold(item)})
    n = len(rows)
    return {"accuracy": sum(r["correct"] for r in rows) / n,
            "no_answer_rate": sum(r["extracted"] is None for r in rows) / n,
            "tokens_per_second": round(results.tokens_per_second, 2), "n": n}, rows


@register_metric("perplexity")
def perplexity_metric(task, items, model, tokenizer, options, progress):
    from lab.scoring import perplexity

    texts = [f"Question: {task.prompt_text(item)}\nAnswer: {item.solution or item.answer_text}" for item in items]
    result = perplexity(model, tokenizer, texts, batch_size=options["batch_size"])
    progress(len(items), len(items))
    return {k: result[k] for k in ("perplexity", "nll_per_token", "tokens")}, \
           [{"id": item.id, "text": text} for item, text in zip(items, texts)]


def check_metric(metric: str, task_type: str, task: str) -> None:
    if task_type not in METRICS[metric].task_types:
        raise LabError("metric_needs_choices", metric=metric, task=task, task_type=task_type)
