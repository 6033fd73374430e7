"""The "judge" kind: its spec refuses bad input by name, and its recipe runs end to end on a tiny model."""
import json
import subprocess
import sys

import pytest
from tiny_models import trained_tiny_model_dir

from lab.runs.job_context import JobContext
from lab.errors import LabError
from lab.evaluate.judges import JUDGES
from lab.evaluate.prompt_sets import PROMPT_SETS, load_prompts
from lab.kinds.judge import JudgeSpec, run
from lab.specs import example_spec, spec_from_dict


def test_module_imports_no_torch():
    code = "import lab.kinds.judge, lab.kinds.evaluate, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_example_runs_on_the_default_model_alone():
    spec = example_spec("judge")
    assert len(spec.contestants) == 2 and spec.judge in JUDGES and spec.prompt_set in PROMPT_SETS
    assert JudgeSpec.help("contestants", "zh") != JudgeSpec.help("contestants", "en")


@pytest.mark.parametrize("data, key, fragment", [
    ({"contestants": ["smollm2-135m-instruct"]}, "too_few_contestants", "at least two"),
    ({"contestants": ["smollm2-135m-instruct", "  "]}, "too_few_contestants", "at least two"),
    ({"contestants": ["x", "x"]}, "duplicate_contestant", "'x'"),
    ({"contestants": ["smollm2-135m-instruct", "smollm2-135m-instruct@loud"]}, "unknown_variant", "loud"),
    ({"contestants": ["smollm2-135m-instruct", "bad name!"]}, "bad_model_name", "bad name!"),
    ({"prompt_set": "no-such-set"}, "prompt_set_not_found", "no-such-set"),
    ({"baseline": "someone"}, "baseline_not_contestant", "someone"),
    ({"judge": "oracle"}, "bad_choice", "judge must be one of"),
])
def test_spec_refuses_bad_input(data, key, fragment):
    with pytest.raises(LabError) as info:
        spec_from_dict({"kind": "judge", **data})
    assert info.value.key == key and fragment in str(info.value)


def test_upload_without_a_prompt_names_the_line(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "What is 2+2?", "answer": "4"}\n\n{"question": "ok"}\n{"text": "no prompt"}\n')
    with pytest.raises(LabError) as info:
        load_prompts(str(path), 10)
    assert info.value.key == "prompt_missing" and "prompts.jsonl line 4" in str(info.value) and "text" in str(info.value)
    path.write_text('{"prompt": "What is 2+2?", "answer": "4"}\n{"prompt": "What is 3+3?"}\n')
    with pytest.raises(LabError) as info:
        load_prompts(str(path), 10, needs="answer")
    assert info.value.key == "prompt_needs_field" and "line 2" in str(info.value) and "answer" in str(info.value)
    path.write_text('{"prompt": "What is 2+2?"\n')
    with pytest.raises(LabError) as info:
        load_prompts(str(path), 10)
    assert "line 1" in str(info.value)


def test_builtin_prompt_sets_load():
    chat, _, _ = load_prompts("chatterbot", 5, needs="reference")
    sums, answer_filter, _ = load_prompts("arithmetic", 5, needs="answer")
    assert len(chat) == 5 and len({p["prompt"] for p in chat}) == 5
    assert answer_filter == "last_number" and all(p["answer"].lstrip("-").isdigit() for p in sums)
    moods, mood_filter, params = load_prompts("tweet_sentiment", 3, needs="answer")  # a task of lab/tasks
    assert mood_filter == "match_label" and params["labels"] and all(p["answer"] in params["labels"] for p in moods)


@pytest.fixture
def prompt_file(tmp_path):
    path = tmp_path / "sums.jsonl"
    rows = [{"prompt": f"the cat sat on the {w}", "reference": "the cat sat on the mat.", "answer": "2"}
            for w in ("mat", "log", "dog")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("judge", ["logprob", "llm", "reference", "rule"])
def test_run_judges_every_pair_in_both_orders(tmp_path, prompt_file, judge):
    model = str(trained_tiny_model_dir("llama"))
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    ctx = JobContext(run_dir, threads=1)
    spec = JudgeSpec(contestants=[model, f"{model}@plain", f"{model}@sampled"], prompt_set=str(prompt_file),
                     judge=judge, judge_model=model, max_new_tokens=6, bootstrap_rounds=20, dtype="fp32", device="cpu")
    figures = run(spec, ctx)
    answers = [json.loads(x) for x in (ctx.artifact_dir / "answers.jsonl").read_text().splitlines()]
    judgments = [json.loads(x) for x in (ctx.artifact_dir / "judgments.jsonl").read_text().splitlines()]
    assert len(answers) == 3 * 3 and len(judgments) == 3 * 3  # 3 pairs x 3 prompts, each judged twice
    assert all({"verdict_ab", "verdict_ba", "raw_ab", "raw_ba"} <= set(j) for j in judgments)
    pairs = figures["pairs"]
    assert len(pairs) == 3 and all(p["n"] + p["invalid"] == 3 for p in pairs)
    assert sum(p["invalid"] for p in pairs) == figures["invalid_games"]
    assert len(figures["leaderboard"]) == 3 and figures["position_bias"]["verdicts"] == 18
    if judge == "llm":  # a tiny random judge writes no verdict: every game is invalid, none is a win
        invalid = sum(1 for j in judgments if "invalid" in (j["verdict_ab"], j["verdict_ba"]))
        assert figures["invalid_games"] == invalid and len(figures["invalid_examples"]) > 0
    if judge in ("reference", "rule"):  # judges that cannot see the order have no position bias
        assert figures["position_bias"]["consistent_rate"] == 1.0
    if judge == "logprob":
        assert figures["invalid_games"] == 0 and figures["first_slot_rate"] is not None


def test_human_judge_only_prepares_answers(tmp_path, prompt_file):
    model = str(trained_tiny_model_dir("llama"))
    (tmp_path / "run-2").mkdir()
    ctx = JobContext(tmp_path / "run-2", threads=1)
    figures = run(JudgeSpec(contestants=[model, f"{model}@plain"], prompt_set=str(prompt_file), judge="human",
                            max_new_tokens=4, dtype="fp32", device="cpu"), ctx)
    assert figures["arena"] and (ctx.artifact_dir / "answers.jsonl").is_file()
    assert not (ctx.artifact_dir / "judgments.jsonl").exists()


@pytest.mark.integration
def test_judge_runs_through_the_runner_on_the_default_model(lab_home_default_model, monkeypatch):
    """A rule-judged comparison on the default model, end to end through the runner and a worker."""
    from lab.runs import runner

    monkeypatch.setenv("LAB_IDLE_EXIT", "60")
    spec = spec_from_dict({"kind": "judge", "contestants": ["smollm2-135m-instruct", "smollm2-135m-instruct@plain"],
                           "prompt_set": "arithmetic", "n_prompts": 4, "judge": "rule", "max_new_tokens": 24,
                           "bootstrap_rounds": 50})
    run_id = runner.submit(spec)
    row = runner.wait(run_id, timeout=900)
    assert row["status"] == "succeeded", runner.result(run_id)
    result = runner.result(run_id)
    assert result["metrics"]["games"] == 4 and len(result["outputs"]["leaderboard"]) == 2
    assert result["outputs"]["position_bias"]["consistent_rate"] == 1.0
