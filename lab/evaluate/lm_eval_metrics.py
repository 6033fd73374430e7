"""Scoring an lm-eval task YAML (lab/tasks/lm_eval_yaml.py) the way lm-eval 0.4 scores it.

    figures, rows = lm_eval_choice(task, items, model, tokenizer, options, progress)     # multiple_choice
    figures, rows = lm_eval_generate(task, items, model, tokenizer, options, progress)   # generate_until

Multiple choice: context = description + few-shot examples (doc_to_text + target_delimiter + target +
fewshot_delimiter each) + doc_to_text; each choice is scored as target_delimiter + choice; acc picks the
highest log-likelihood, acc_norm the highest per character of the choice (without the delimiter, as lm-eval).
Generation: the same context, greedy until one of `until`, then the filter pipeline (regex, take_first),
then exact_match against doc_to_target. The metric entries of metrics.py call these for such tasks.
"""
import re
import string


def _context(task, item, shots: int) -> str:
    settings = task.lm_eval
    shots = shots or settings["num_fewshot"]
    pool = task.exemplars[:shots]
    examples = "".join(f"{e.question}{settings['target_delimiter']}{e.answer_text}{settings['fewshot_delimiter']}"
                       for e in pool)
    description = settings["description"]
    return f"{description}{examples}{item.question}"


def lm_eval_choice(task, items, model, tokenizer, options, progress):
    from lab.modeling.scoring import score_choices
    from lab.modeling.stats import wilson_interval

    delimiter, batch, rows = task.lm_eval["target_delimiter"], options["batch_size"], []
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        scores = score_choices(model, tokenizer, [_context(task, item, options["shots"]) for item in chunk],
                               [[f"{delimiter}{c}" for c in item.choices] for item in chunk], batch_size=batch,
                               share_context=True)
        for item, score in zip(chunk, scores):
            per_char = [s / max(1, len(c)) for s, c in zip(score.logprob, item.choices)]
            pick_norm = max(range(len(per_char)), key=per_char.__getitem__)
            rows.append({"id": item.id, "question": item.question, "gold": item.answer_text,
                         "pick": item.choices[score.pick], "pick_norm": item.choices[pick_norm],
                         "correct": score.pick == item.answer_index, "correct_norm": pick_norm == item.answer_index,
                         "logprobs": [round(x, 5) for x in score.logprob]})
        progress(min(start + batch, len(items)), len(items))
    n = len(rows)
    low, high = wilson_interval(sum(r["correct"] for r in rows), n)
    return {"accuracy": sum(r["correct"] for r in rows) / n, "accuracy_low": low, "accuracy_high": high,
            "accuracy_norm": sum(r["correct_norm"] for r in rows) / n,
            "chance": sum(1 / len(item.choices) for item in items) / n, "n": n}, rows


def apply_filters(text: str, steps: list[dict]) -> str:
    """lm-eval's regex filter (findall, group_select, fallback "[invalid]") and take_first (one response each)."""
    for step in steps:
        if step["function"] == "regex":
            found = re.findall(step.get("regex_pattern", r"#### (\-?[0-9\.\,]+)"), text)
            select = step.get("group_select", 0)
            if found and -len(found) <= select < len(found):
                match = found[select]
                text = next((m for m in match if m), "") if isinstance(match, tuple) else match
                text = text.strip()
            else:
                text = step.get("fallback", "[invalid]")
    return text  # take_first: the lab keeps one response per question already


def exact_match(prediction: str, gold: str, ignore_case: bool, ignore_punctuation: bool) -> bool:
    if ignore_case:
        prediction, gold = prediction.lower(), gold.lower()
    if ignore_punctuation:
        table = str.maketrans("", "", string.punctuation)
        prediction, gold = prediction.translate(table), gold.translate(table)
    return prediction == gold


def lm_eval_generate(task, items, model, tokenizer, options, progress):
    from lab.modeling.generation import generate
    from lab.modeling.stats import wilson_interval

    settings = task.lm_eval
    results = generate(model, tokenizer, [_context(task, item, options["shots"]) for item in items],
                       max_new_tokens=settings["max_gen_toks"], batch_size=options["batch_size"], stop=settings["until"],
                       use_chat_template=False, on_batch=progress)
    rows = []
    for item, result in zip(items, results):
        text = result.text
        for stop in settings["until"]:  # lm-eval cuts at the first stop sequence
            text = text.split(stop)[0]
        found = apply_filters(text, settings["filters"])
        rows.append({"id": item.id, "question": item.question, "gold": item.answer, "output": result.text,
                     "extracted": found, "correct": exact_match(found, item.answer, settings["ignore_case"],
                                                                settings["ignore_punctuation"])})
    n, correct = len(rows), sum(r["correct"] for r in rows)
    low, high = wilson_interval(correct, n)
    return {"accuracy": correct / n, "accuracy_low": low, "accuracy_high": high, "exact_match": correct / n, "n": n}, rows
