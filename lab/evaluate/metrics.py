"""Automatic metrics over a task (lab/tasks): multiple-choice log-likelihood, generation accuracy, perplexity.

Entries of METRICS (each with two lessons, assets/lessons/<lang>/metric_<name>.md, and two labels,
`evaluate.metric.<name>`), each metric(task, items, model, tokenizer, options, progress) -> (figures, rows):

    multiple_choice  score every option's log-likelihood after the question (lab/modeling/scoring.py, the context
                     run once per question); accuracy by the raw sum, per token and per character
                     (lm-eval's acc / acc_norm): the raw sum favours short options
    generation       the model answers freely, prompted as the Prompting tab prompts (lab/prompting); the
                     task's filter extracts the answer (lab/modeling/filters.py)
    perplexity       exp(mean loss per token) of "question + worked answer" texts (lab/modeling/scoring.py)
"""
from dataclasses import dataclass
from typing import Callable

from lab.errors import LabError
from lab.registry import Registry


@dataclass(frozen=True)
class Metric:
    compute: Callable
    task_types: tuple  # task types it applies to


METRICS = Registry("metric", order=("multiple_choice", "generation", "perplexity"), lesson_prefix="metric_",
                   label_prefix="evaluate.metric.")


def as_metric(task_types=("numeric", "multiple_choice", "classification")) -> Callable:
    """The `wrap` of METRICS.decorator: a compute function becomes a Metric for these task types."""
    return lambda compute: Metric(compute, tuple(task_types))


def few_shot_prefix(task, shots: int) -> str:
    """Exemplars from the task's own pool (never its test questions) in the cloze form log-likelihood
    scoring uses ("Question: ... Answer: <option text>"), as lm-eval does; generation uses lab/prompting."""
    return "".join(f"Question: {task.prompt_text(e)}\nAnswer: {e.answer_text}\n\n" for e in task.exemplars[:shots])


@METRICS.decorator("multiple_choice", as_metric(task_types=("multiple_choice", "classification")))
def multiple_choice(task, items, model, tokenizer, options, progress):
    from lab.modeling.scoring import score_choices

    if task.template == "lm_eval":  # an lm-eval YAML: its own templates and delimiters
        from lab.evaluate.lm_eval_metrics import lm_eval_choice

        return lm_eval_choice(task, items, model, tokenizer, options, progress)
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
    from lab.modeling.stats import wilson_interval

    n = len(rows)
    low, high = wilson_interval(sum(r["correct"] for r in rows), n)
    return {"accuracy": sum(r["correct"] for r in rows) / n, "accuracy_low": low, "accuracy_high": high,
            "accuracy_per_token": sum(r["correct_per_token"] for r in rows) / n,
            "accuracy_norm": sum(r["correct_norm"] for r in rows) / n,
            "chance": sum(1 / len(item.choices) for item in items) / n, "n": n}, rows


@METRICS.decorator("generation", as_metric(("numeric", "multiple_choice", "classification", "free_text")))
def generation(task, items, model, tokenizer, options, progress):
    """Zero- or few-shot prompts built exactly as the Prompting tab builds them (lab/prompting), scored the same way."""
    if task.template == "lm_eval":  # an lm-eval YAML: raw context, stop strings, its filters and exact_match
        from lab.evaluate.lm_eval_metrics import lm_eval_generate

        return lm_eval_generate(task, items, model, tokenizer, options, progress)
    from lab.modeling.generation import generate
    from lab.prompting.prompts import STOP_PLAIN, PromptCraft, render
    from lab.modeling.stats import wilson_interval
    from lab.prompting.scoring import extract, gold_answer
    from lab.prompting.strategies import STRATEGIES

    strategy = STRATEGIES.get("few_shot" if options["shots"] else "zero_shot")
    craft = PromptCraft(chat_template=options["use_chat_template"])
    exemplars = task.exemplars[:options["shots"]]
    rendered = [render(tokenizer, task, item, exemplars, strategy, craft) for item in items]
    chat = rendered[0][1]
    results = generate(model, tokenizer, [text for text, _ in rendered], max_new_tokens=options["max_new_tokens"],
                       batch_size=options["batch_size"], stop=None if chat else STOP_PLAIN, use_chat_template=False,
                       add_special_tokens=False if chat else None, share_prefix=bool(exemplars), on_batch=progress)
    rows = []
    for item, result in zip(items, results):
        found = extract(result.text, task.filter, **task.filter_params)
        gold = gold_answer(item.answer, task.filter)
        rows.append({"id": item.id, "question": item.question, "gold": gold, "output": result.text,
                     "extracted": found["extracted"], "correct": found["extracted"] is not None and found["extracted"] == gold})
    n, correct = len(rows), sum(r["correct"] for r in rows)
    low, high = wilson_interval(correct, n)
    return {"accuracy": correct / n, "accuracy_low": low, "accuracy_high": high,
            "no_answer_rate": sum(r["extracted"] is None for r in rows) / n,
            "tokens_per_second": round(results.tokens_per_second, 2), "n": n}, rows


@METRICS.decorator("perplexity", as_metric())
def perplexity_metric(task, items, model, tokenizer, options, progress):
    from lab.modeling.scoring import perplexity

    texts = [f"Question: {task.prompt_text(item)}\nAnswer: {item.solution or item.answer_text}" for item in items]
    result = perplexity(model, tokenizer, texts, batch_size=options["batch_size"])
    progress(len(items), len(items))
    return {k: result[k] for k in ("perplexity", "nll_per_token", "tokens")}, \
           [{"id": item.id, "text": text} for item, text in zip(items, texts)]


def check_metric(metric: str, task_type: str, task: str) -> None:
    if task_type not in METRICS.get(metric).task_types:
        raise LabError("metric_needs_choices", metric=metric, task=task, task_type=task_type)
