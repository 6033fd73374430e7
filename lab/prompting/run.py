"""The prompting run: every strategy on the same questions, with traces, accuracy and curves.

A run is a list of conditions (strategy, k, n): one per chosen strategy at the spec's k and n, plus one
per extra k of `k_values` for the strategies that show exemplars and answer once (the accuracy-vs-k
curve; self-consistency's would cost n times as much). The
accuracy-vs-n curve needs no extra generation: the vote over the first m of self-consistency's n paths,
for m = 1..n. Every condition asks the same questions, so the table compares like with like.

All generation goes through lab.modeling.generation.generate (batched, KV cache, left padding, per-row stop,
per-row seeded sampling). Prompts longer than the model's context minus the answer budget keep their
last tokens (the question stays) and are flagged: a warning in the log, in result["warnings"] and on
the trace line (truncated: true), never silently.
"""
import json
import time
from dataclasses import dataclass

from lab.prompting.prompts import STOP_PLAIN, PromptCraft, render
from lab.modeling.stats import wilson_interval
from lab.prompting.scoring import extract, gold_answer, majority_vote
from lab.prompting.strategies import STRATEGIES, choose_exemplars


@dataclass(frozen=True)
class Condition:
    strategy: str
    k: int  # exemplars shown (0 for zero-shot strategies)
    n: int  # sampled paths (1 unless the strategy votes)
    main: bool  # in the strategy table (False: an extra point of the accuracy-vs-k curve)


def plan(spec) -> list[Condition]:
    conditions = []
    for name in spec.strategies:
        strategy = STRATEGIES.get(name)
        k = spec.k if strategy.shots else 0
        n = spec.n_paths if strategy.paths else 1
        conditions.append(Condition(name, k, n, True))
        if strategy.shots and not strategy.paths:  # the k curve of a voting strategy would cost n times as much
            conditions += [Condition(name, extra, n, False) for extra in spec.k_values if extra != k]
    return conditions


def craft_of(spec) -> PromptCraft:
    return PromptCraft(system_prompt=spec.system_prompt, instruction=spec.instruction,
                       placement=spec.instruction_placement, output_format=spec.output_format,
                       chat_template=spec.use_chat_template)


def answer_filter(spec, task) -> tuple[str, dict]:
    if spec.answer_filter == "auto":
        return task.filter, dict(task.filter_params)
    if spec.answer_filter == "regex":
        return "regex", {"pattern": spec.regex_pattern}
    return spec.answer_filter, dict(task.filter_params) if spec.answer_filter == task.filter else {}


def context_length(model, tokenizer) -> int:
    config_length = getattr(model.config, "max_position_embeddings", None) or 2048
    tokenizer_length = getattr(tokenizer, "model_max_length", None) or config_length
    return int(min(config_length, tokenizer_length if tokenizer_length < 10**9 else config_length))


def build_prompts(spec, task, questions, condition, tokenizer, context: int, budget: int) -> list[dict]:
    """One record per question: the exact text sent, its tokens, the exemplars' ids, whether it was cut."""
    strategy = STRATEGIES.get(condition.strategy)
    craft = craft_of(spec)
    records = []
    for index, item in enumerate(questions):
        exemplars = choose_exemplars(task.exemplars, condition.k, spec.selection, spec.shuffle_order,
                                     item.question, index, spec.seed)
        text, chat = render(tokenizer, task, item, exemplars, strategy, craft)
        ids = tokenizer(text, add_special_tokens=not chat)["input_ids"]
        limit = max(1, context - budget)
        truncated = len(ids) > limit
        if truncated:  # keep the end: the question and the answer cue matter most
            text = tokenizer.decode(ids[-limit:], skip_special_tokens=False)
        records.append({"text": text, "chat": chat, "tokens": min(len(ids), limit), "prompt_tokens_full": len(ids),
                        "truncated": truncated, "exemplar_ids": [e.id for e in exemplars]})
    return records


def run_condition(spec, task, questions, condition, model, tokenizer, context, on_batch) -> tuple[dict, list[dict], list]:
    """Generate, extract and score one condition: (summary row, trace lines, per-question path answers)."""
    from lab.modeling.generation import generate

    strategy = STRATEGIES.get(condition.strategy)
    budget = spec.cot_max_new_tokens if strategy.reasons else spec.max_new_tokens
    records = build_prompts(spec, task, questions, condition, tokenizer, context, budget)
    chat = records[0]["chat"]
    prompts = [r["text"] for r in records for _ in range(condition.n)]  # path j of question i at i * n + j
    results = generate(model, tokenizer, prompts, max_new_tokens=budget, do_sample=strategy.paths,
                       temperature=spec.temperature, top_p=spec.top_p, seed=spec.seed, batch_size=spec.batch_size,
                       stop=None if chat else STOP_PLAIN, use_chat_template=False,
                       add_special_tokens=False if chat else None, on_batch=on_batch,
                       share_prefix=True)  # the exemplars every prompt starts with are run once
    filter_name, params = answer_filter(spec, task)
    traces, path_answers, correct, tokens = [], [], 0, 0
    for index, (item, record) in enumerate(zip(questions, records)):
        outputs = results[index * condition.n:(index + 1) * condition.n]
        found = [extract(r.text, filter_name, **params) for r in outputs]
        answers = [f["extracted"] for f in found]
        extracted, votes = majority_vote(answers) if strategy.paths else (answers[0], {})
        gold = gold_answer(item.answer, filter_name)  # normalised as the prediction is
        is_correct = extracted is not None and extracted == gold
        correct += is_correct
        new_tokens = sum(r.new_tokens for r in outputs)
        tokens += new_tokens
        path_answers.append((answers, gold, [r.new_tokens for r in outputs]))
        line = {"strategy": condition.strategy, "k": condition.k, "n": condition.n, "main": condition.main,
                "question_index": index, "question_id": item.id, "question": item.question,
                "prompt": record["text"], "prompt_tokens": record["tokens"], "truncated": record["truncated"],
                "exemplar_ids": record["exemplar_ids"], "output": outputs[0].text, "span": found[0]["span"],
                "extracted": extracted, "gold": gold, "correct": is_correct, "new_tokens": new_tokens,
                "finish_reason": outputs[0].finish_reason}
        if strategy.paths:
            line["paths"] = [{"output": r.text, "extracted": f["extracted"], "new_tokens": r.new_tokens,
                              "finish_reason": r.finish_reason} for r, f in zip(outputs, found)]
            line["votes"] = votes
        traces.append(line)
    total = len(questions)
    low, high = wilson_interval(correct, total)
    summary = {"strategy": condition.strategy, "k": condition.k, "n": condition.n, "main": condition.main,
               "accuracy": round(correct / total, 4), "ci_low": low, "ci_high": high, "correct": correct,
               "total": total, "tokens_per_question": round(tokens / total, 2),
               "seconds": round(results.wall_seconds, 3), "truncated": sum(r["truncated"] for r in records),
               "prompt_tokens_mean": round(sum(r["tokens"] for r in records) / total, 1)}
    return summary, traces, path_answers


def n_curve(path_answers: list, strategy: str, k: int) -> list[dict]:
    """Accuracy of the vote over the first m paths, m = 1..n (the same samples: no extra generation)."""
    n = len(path_answers[0][0]) if path_answers else 0
    points = []
    for m in range(1, n + 1):
        correct = sum(majority_vote(answers[:m])[0] == gold for answers, gold, _ in path_answers)
        tokens = sum(sum(counts[:m]) for _, _, counts in path_answers) / len(path_answers)
        low, high = wilson_interval(correct, len(path_answers))
        points.append({"strategy": strategy, "k": k, "n": m, "accuracy": round(correct / len(path_answers), 4),
                       "ci_low": low, "ci_high": high, "tokens_per_question": round(tokens, 2)})
    return points


def run_prompting(spec, ctx) -> dict:
    import torch

    from lab.modeling.models import load_model
    from lab.runs.folder import append_jsonl
    from lab.tasks import get_task

    torch.set_num_threads(ctx.threads)
    started = time.time()

    def loading(done, total, message):  # conversion (first use only) and loading: the first 10% of the bar
        ctx.progress(0.1 * done / total if total else 0.0, 1.0, message=f"model: {message}", force=True)

    task = get_task(spec.task)
    questions = task.questions[:spec.questions] if spec.questions else task.questions
    model, tokenizer, info = load_model(spec.model, dtype=spec.dtype, device=spec.device,
                                        trust_remote_code=spec.trust_remote_code, progress=loading)
    (ctx.artifact_dir / "model_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    load_seconds = time.time() - started
    ctx.log(f"loaded {info['name']} in {load_seconds:.1f} s; task {task.name} ({task.type}), {len(questions)} questions")
    warnings = []
    if spec.use_chat_template and not info["has_chat_template"]:
        warnings.append("no_chat_template")
        ctx.log("warning: this tokenizer has no chat template: prompts are sent as plain text")
    context = context_length(model, tokenizer)
    conditions = plan(spec)
    total = sum(len(questions) * c.n for c in conditions)
    done_before = 0
    rows, k_curve, n_points = [], [], []
    traces_path = ctx.artifact_dir / "traces.jsonl"
    for number, condition in enumerate(conditions, start=1):
        label = f"{condition.strategy} k={condition.k}" + (f" n={condition.n}" if condition.n > 1 else "")

        def on_batch(done, _total, offset=done_before, label=label, number=number):
            ctx.progress(0.1 + 0.9 * (offset + done) / total, 1.0,
                         message=f"{number}/{len(conditions)} {label}: {done}/{_total} generations")

        summary, traces, path_answers = run_condition(spec, task, questions, condition, model, tokenizer,
                                                      context, on_batch)
        done_before += len(questions) * condition.n
        for line in traces:
            append_jsonl(traces_path, line)
        if summary["truncated"]:
            warnings.append(f"truncated:{label}:{summary['truncated']}")
            ctx.log(f"warning: {summary['truncated']} prompts of {label} were longer than the context "
                    f"({context} tokens minus the answer budget) and lost their beginning")
        ctx.log(f"{label}: accuracy {summary['accuracy']:.2f} [{summary['ci_low']:.2f}, {summary['ci_high']:.2f}], "
                f"{summary['tokens_per_question']:.0f} tokens/question, {summary['seconds']:.1f} s")
        ctx.log_metrics(condition=number, **{key: summary[key] for key in ("strategy", "k", "n", "accuracy", "tokens_per_question")})
        (rows if condition.main else k_curve).append(summary)
        if condition.main and condition.n > 1:
            n_points += n_curve(path_answers, condition.strategy, condition.k)
    shots = {c.strategy for c in conditions if not c.main}
    k_curve = sorted([r for r in rows if r["strategy"] in shots and spec.k_values] + k_curve,
                     key=lambda r: (r["strategy"], r["k"]))
    filter_name, params = answer_filter(spec, task)
    from lab.modeling.filters import FILTERS

    return {
        **{f"accuracy_{row['strategy']}": row["accuracy"] for row in rows},
        "run_id": ctx.run_id, "task": task.name, "task_type": task.type, "n_questions": len(questions), "model": info["name"],
        "answer_filter": filter_name, "filter_params": params,
        "filter_description": FILTERS.get(filter_name).description,
        "normalisation": (FILTERS.get(filter_name).normalise.__doc__ or "").strip(),
        "normaliser": FILTERS.get(filter_name).normalise.__name__,
        "strategies": rows, "k_curve": k_curve, "n_curve": n_points, "warnings": warnings,
        "context_length": context, "load_seconds": round(load_seconds, 3),
        "wall_seconds": round(time.time() - started, 3), "parameters": info["parameters"],
    }
