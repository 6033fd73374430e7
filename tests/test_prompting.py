"""Prompting: the exact prompt of each strategy, exemplar selection, votes and ties, intervals, spec
refusals, and whole runs on a tiny model (seeded sampling replays, traces, curves, truncation warning)."""
import json

import pytest

from lab import config
from lab.runs.job_context import JobContext
from lab.errors import LabError
from lab.kinds.prompt import PromptSpec
from lab.prompting.prompts import PromptCraft, build_messages, build_text, render
from lab.prompting.run import run_prompting
from lab.modeling.stats import wilson_interval
from lab.prompting.scoring import answer_span, extract, majority_vote
from lab.prompting.strategies import STRATEGIES, choose_exemplars
from lab.tasks import Task, TaskItem, get_task
from tiny_models import make_tokenizer, trained_tiny_model_dir

POOL = [TaskItem("e1", "Calculate 1 + 2.", "3", solution="1 + 2 = 3. The answer is 3.", split="exemplar"),
        TaskItem("e2", "Calculate 5 - 4.", "1", solution="5 - 4 = 1. The answer is 1.", split="exemplar")]
QUESTION = TaskItem("q1", "Calculate 2 + 2.", "4")
TASK = Task("toy", "numeric", "last_number", POOL, [QUESTION])
FORMAT = 'Finish with "The answer is" and the number.'
PLAIN = PromptCraft(chat_template=False)


def text(strategy, craft=PLAIN, k=2):
    return build_text(TASK, QUESTION, POOL[:k] if STRATEGIES.get(strategy).shots else [], STRATEGIES.get(strategy), craft)


def test_exact_plain_text_of_each_strategy():
    assert text("zero_shot") == f"Solve the problem. {FORMAT}\n\nQ: Calculate 2 + 2.\nA:"
    assert text("zero_shot_cot") == f"Solve the problem. {FORMAT}\n\nQ: Calculate 2 + 2.\nA: Let's think step by step."
    assert text("few_shot") == (f"Solve the problem. {FORMAT}\n\n"
                                "Q: Calculate 1 + 2.\nA: The answer is 3.\n\n"
                                "Q: Calculate 5 - 4.\nA: The answer is 1.\n\n"
                                "Q: Calculate 2 + 2.\nA:")
    worked = (f"Solve the problem. {FORMAT}\n\n"
              "Q: Calculate 1 + 2.\nA: 1 + 2 = 3. The answer is 3.\n\n"
              "Q: Calculate 5 - 4.\nA: 5 - 4 = 1. The answer is 1.\n\n"
              "Q: Calculate 2 + 2.\nA:")
    assert text("few_shot_cot") == worked
    assert text("self_consistency") == worked  # the same prompt as few-shot CoT, sampled n times


def test_prompt_craft_options_change_the_text_as_documented():
    after = PromptCraft(chat_template=False, placement="after", system_prompt="You are a careful teacher.")
    assert text("zero_shot", after) == f"You are a careful teacher.\n\nQ: Calculate 2 + 2.\nSolve the problem. {FORMAT}\nA:"
    bare = PromptCraft(chat_template=False, placement="none", output_format=False)
    assert text("zero_shot", bare) == "Q: Calculate 2 + 2.\nA:"
    own = PromptCraft(chat_template=False, instruction="Add or subtract.", output_format=False)
    assert text("zero_shot", own) == "Add or subtract.\n\nQ: Calculate 2 + 2.\nA:"
    format_only = PromptCraft(chat_template=False, placement="none")
    assert text("zero_shot", format_only) == f"Q: Calculate 2 + 2.\n{FORMAT}\nA:"


def test_chat_messages_turn_exemplars_into_user_and_assistant_turns():
    craft = PromptCraft(system_prompt="Be brief.")
    messages = build_messages(TASK, QUESTION, POOL, STRATEGIES.get("few_shot_cot"), craft)
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": f"Solve the problem. {FORMAT}\n\nCalculate 1 + 2."},
        {"role": "assistant", "content": "1 + 2 = 3. The answer is 3."},
        {"role": "user", "content": "Calculate 5 - 4."},
        {"role": "assistant", "content": "5 - 4 = 1. The answer is 1."},
        {"role": "user", "content": "Calculate 2 + 2."},
    ]
    cot = build_messages(TASK, QUESTION, [], STRATEGIES.get("zero_shot_cot"), PromptCraft(placement="after"))
    assert cot == [{"role": "user", "content": f"Calculate 2 + 2.\nSolve the problem. {FORMAT}\nLet's think step by step."}]


def test_render_uses_the_tokenizers_chat_template_or_plain_text():
    tokenizer = make_tokenizer()
    rendered, chat = render(tokenizer, TASK, QUESTION, [], STRATEGIES.get("zero_shot"), PromptCraft())
    assert chat and rendered == f"<s>user: Solve the problem. {FORMAT}\n\nCalculate 2 + 2.\n<s>assistant: "
    tokenizer.chat_template = None
    rendered, chat = render(tokenizer, TASK, QUESTION, [], STRATEGIES.get("zero_shot"), PromptCraft())
    assert not chat and rendered == text("zero_shot")


def test_multiple_choice_and_classification_prompts():
    mmlu = get_task("mmlu_cot")
    item = mmlu.questions[0]
    prompt = build_text(mmlu, item, mmlu.exemplars[:1], STRATEGIES.get("few_shot"), PLAIN)
    assert f"A: The answer is ({mmlu.exemplars[0].answer})." in prompt and "\nA. " in prompt and "\nB. " in prompt
    sentiment = get_task("tweet_sentiment")
    prompt = build_text(sentiment, sentiment.questions[0], [], STRATEGIES.get("zero_shot"), PLAIN)
    assert prompt.startswith("Classify the text as one of: negative, neutral, positive. ")


def test_exemplar_selection_first_random_similar_and_shuffle():
    pool = [TaskItem(f"e{i}", q, str(i), split="exemplar") for i, q in
            enumerate(["apples and pears", "the cat sat", "red apples fell", "boats and ships", "a dog ran"])]
    assert [e.id for e in choose_exemplars(pool, 2, "first", False, "x", 0, 0)] == ["e0", "e1"]
    first = [e.id for e in choose_exemplars(pool, 3, "random", False, "x", 0, seed=1)]
    assert first == [e.id for e in choose_exemplars(pool, 3, "random", False, "x", 0, seed=1)]  # seeded
    draws = {tuple(e.id for e in choose_exemplars(pool, 3, "random", False, "x", i, seed=1)) for i in range(6)}
    assert len(draws) > 1  # a fresh draw per question
    similar = [e.id for e in choose_exemplars(pool, 2, "similar", False, "green apples", 0, 0)]
    assert set(similar) == {"e0", "e2"} and similar[-1] == "e0" or similar[-1] == "e2"
    assert similar[-1] in ("e0", "e2") and similar == [e.id for e in choose_exemplars(pool, 2, "similar", False, "green apples", 5, 9)]
    orders = {tuple(e.id for e in choose_exemplars(pool, 4, "first", True, "x", i, 0)) for i in range(8)}
    assert all(sorted(o) == ["e0", "e1", "e2", "e3"] for o in orders) and len(orders) > 1
    assert choose_exemplars(pool, 0, "first", False, "x", 0, 0) == []
    with pytest.raises(LabError, match="exemplar pool"):
        choose_exemplars(pool, 6, "first", False, "x", 0, 0)


def test_majority_vote_and_the_first_reached_tie_rule():
    assert majority_vote(["4", "5", "4"]) == ("4", {"4": 2, "5": 1})
    assert majority_vote(["5", "4", "4", "5"])[0] == "5"  # tie 2-2: "5" was reached first
    assert majority_vote(["4", "5", "5", "4"])[0] == "4"
    assert majority_vote([None, "7", None]) == ("7", {"7": 1})  # no answer casts no vote
    assert majority_vote([None, None]) == (None, {})


def test_answer_span_and_extraction_show_the_normalisation():
    assert answer_span("3 + 4 = 7, and 10. So the answer is 1,000.") == " 1,000."
    assert extract("2 + 2 = 4. The answer is 4.", "last_number") == {"span": "4.", "extracted": "4"}
    assert extract("I think it's 12", "last_number")["extracted"] == "12"
    assert extract("The answer (C) is wrong. The answer is (B).", "choice_letter")["extracted"] == "B"
    assert extract("no idea", "last_number")["extracted"] is None


def test_wilson_interval():
    assert wilson_interval(0, 20)[0] == 0.0 and 0.15 < wilson_interval(0, 20)[1] < 0.17
    low, high = wilson_interval(10, 20)
    assert low == pytest.approx(0.2993, abs=1e-3) and high == pytest.approx(0.7007, abs=1e-3)
    assert wilson_interval(20, 20)[1] == 1.0 and wilson_interval(0, 0) == (0.0, 0.0)


@pytest.mark.parametrize("changes, key", [
    ({"n_paths": 0}, "too_small"),
    ({"k": 25}, "too_large"),
    ({"k_values": [0, 30]}, "k_too_large"),
    ({"strategies": ["zero_shot", "tree_of_thought"]}, "unknown_strategy"),
    ({"strategies": []}, "no_strategies"),
    ({"strategies": ["few_shot", "few_shot"]}, "duplicate_strategy"),
    ({"task": "tweet_sentiment", "strategies": ["few_shot_cot"]}, "no_worked_solutions"),
    ({"task": "no_such_task"}, "unknown_task"),
    ({"answer_filter": "regex", "regex_pattern": "(unclosed"}, "bad_regex"),
    ({"selection": "best"}, "bad_choice"),
])
def test_out_of_range_settings_are_refused_with_the_reason(changes, key):
    with pytest.raises(LabError) as caught:
        PromptSpec(**changes)
    assert caught.value.key == key
    assert "error." not in str(caught.value)  # a real message, not the bare key


def test_example_spec_is_valid_and_small():
    spec = PromptSpec.example()
    assert spec.task == "arithmetic_1digit" and spec.questions <= 20 and "self_consistency" not in spec.strategies


def toy_task_file(tmp_path, count=6):
    rows = [{"question": f"the cat sat {i}", "answer": str(i), "solution": f"the dog sat. The answer is {i}.",
             "split": "exemplar" if i < 3 else "test"} for i in range(count + 3)]
    path = tmp_path / "toy.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return str(path)


def run_tiny(tmp_path, name="run", **changes):
    spec = PromptSpec(model=str(trained_tiny_model_dir("llama")), task=toy_task_file(tmp_path), dtype="fp32",
                      max_new_tokens=6, cot_max_new_tokens=8, batch_size=4, **changes)
    folder = tmp_path / name
    folder.mkdir()
    ctx = JobContext(folder)
    result = run_prompting(spec, ctx)
    traces = [json.loads(line) for line in (folder / "artifacts" / "traces.jsonl").read_text().splitlines()]
    return result, traces


def test_a_run_on_a_tiny_model_writes_traces_table_and_curves(tmp_path):
    result, traces = run_tiny(tmp_path, strategies=["zero_shot", "few_shot", "self_consistency"], k=2,
                              k_values=[0, 1], n_paths=3, temperature=1.0, questions=4)
    rows = {r["strategy"]: r for r in result["strategies"]}
    assert list(rows) == ["zero_shot", "few_shot", "self_consistency"]
    for row in rows.values():
        assert row["total"] == 4 and 0 <= row["ci_low"] <= row["accuracy"] <= row["ci_high"] <= 1
    assert rows["self_consistency"]["n"] == 3 and rows["few_shot"]["k"] == 2 and rows["zero_shot"]["k"] == 0
    # every condition asked the same four questions
    by_condition = {}
    for line in traces:
        by_condition.setdefault((line["strategy"], line["k"]), []).append(line["question_id"])
    assert len(set(map(tuple, by_condition.values()))) == 1 and len(by_condition) == 3 + 2
    assert sorted((r["strategy"], r["k"]) for r in result["k_curve"]) == [("few_shot", 0), ("few_shot", 1), ("few_shot", 2)]
    assert [p["n"] for p in result["n_curve"]] == [1, 2, 3]
    assert result["n_curve"][-1]["accuracy"] == rows["self_consistency"]["accuracy"]
    sc = [line for line in traces if line["strategy"] == "self_consistency" and line["main"]]
    for line in sc:
        assert len(line["paths"]) == 3 and sum(line["votes"].values()) == sum(p["extracted"] is not None for p in line["paths"])
        assert line["extracted"] == majority_vote([p["extracted"] for p in line["paths"]])[0]
        assert line["correct"] == (line["extracted"] == line["gold"])
    zero = next(line for line in traces if line["strategy"] == "zero_shot")
    assert zero["prompt"].startswith("<s>user: Solve the problem.") and zero["exemplar_ids"] == []
    assert result["normalisation"] and result["answer_filter"] == "last_number"
    assert result["accuracy_few_shot"] == rows["few_shot"]["accuracy"]  # a flat figure for the Runs tab


def test_seeded_sampling_replays_and_another_seed_differs(tmp_path):
    settings = dict(strategies=["self_consistency"], k=1, n_paths=4, temperature=1.5, top_p=1.0, questions=3)
    _, first = run_tiny(tmp_path, "a", seed=3, **settings)
    _, again = run_tiny(tmp_path, "b", seed=3, **settings)
    _, other = run_tiny(tmp_path, "c", seed=4, **settings)
    outputs = lambda traces: [p["output"] for line in traces for p in line["paths"]]  # noqa: E731
    assert outputs(first) == outputs(again)
    assert outputs(first) != outputs(other)
    assert len(set(outputs(first))) > 1  # the paths of one question differ from each other


def test_a_prompt_longer_than_the_context_is_truncated_with_a_warning(tmp_path):
    # the tiny model has 128 positions; 3 worked exemplars in the chat template do not fit
    long_system = "You are a very careful teacher who checks every step twice. " * 4
    result, traces = run_tiny(tmp_path, strategies=["few_shot_cot"], k=3, questions=2, system_prompt=long_system)
    assert any(w.startswith("truncated:few_shot_cot") for w in result["warnings"])
    assert all(line["truncated"] and line["prompt_tokens"] <= 128 - 8 for line in traces)
    assert result["strategies"][0]["truncated"] == 2


@pytest.mark.parametrize("name", sorted(STRATEGIES.names()))
def test_every_strategy_has_a_lesson_in_both_languages(name):
    for lang in ("en", "zh"):
        path = config.REPO / "assets" / "lessons" / lang / f"strategy_{name}.md"
        assert path.is_file(), path
        body = path.read_text(encoding="utf-8")
        assert len(body) > 400 and ("Predict" in body or "预测" in body)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_a_shared_prefix_run_once_gives_the_same_answers(arch):
    from lab.modeling.generation import generate
    from tiny_models import load_tiny

    model, tokenizer, _ = load_tiny(arch)
    shared = "the cat sat on the mat. the dog sat on the log. " * 3  # every prompt starts with it
    prompts = [shared + own for own in ("the cat", "the dog sat on", "one", "the quick brown fox jumps", "A B")]
    for sampling in ({}, {"do_sample": True, "temperature": 1.3, "seed": 5}):
        plain = generate(model, tokenizer, prompts, max_new_tokens=10, batch_size=3, **sampling)
        cached = generate(model, tokenizer, prompts, max_new_tokens=10, batch_size=3, share_prefix=True, **sampling)
        assert [r.text for r in cached] == [r.text for r in plain]
        assert [r.new_tokens for r in cached] == [r.new_tokens for r in plain]


def test_the_form_reads_k_values_as_whole_numbers():
    from lab.present.form_fields import to_spec

    assert to_spec("prompt", {"k_values": "0, 1\n2"}).k_values == [0, 1, 2]
    with pytest.raises(LabError) as caught:
        to_spec("prompt", {"k_values": "0, two"})
    assert caught.value.key == "not_whole_number" and "two" in str(caught.value)
