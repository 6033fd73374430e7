"""The "evaluate" kind: spec checks name the bad value; every metric runs on a tiny model over a task."""
import json

import pytest
from tiny_models import trained_tiny_model_dir

from lab.runs.job_context import JobContext
from lab.errors import LabError
from lab.evaluate.metrics import METRICS
from lab.kinds.evaluate import EvaluateSpec, run
from lab.specs import example_spec, spec_from_dict


def test_example_is_complete():
    spec = example_spec("evaluate")
    assert spec.metric in METRICS and spec.task
    assert EvaluateSpec.help("metric", "zh") != EvaluateSpec.help("metric", "en")


@pytest.mark.parametrize("data, key, fragment", [
    ({"task": "arithmetic_2digit", "metric": "multiple_choice"}, "metric_needs_choices", "arithmetic_2digit"),
    ({"task": "no_such_task"}, "unknown_task", "no_such_task"),
    ({"metric": "bleu"}, "bad_choice", "metric must be one of"),
    ({"model": "bad name!"}, "bad_model_name", "bad name!"),
    ({"model": "smollm2-135m-instruct@plain"}, "unknown_variant", "plain"),
])
def test_spec_refuses_bad_input(data, key, fragment):
    with pytest.raises(LabError) as info:
        spec_from_dict({"kind": "evaluate", **data})
    assert info.value.key == key and fragment in str(info.value)


@pytest.fixture
def task_file(tmp_path):
    rows = [{"question": "the cat sat on the", "choices": ["mat", "log", "fox"], "answer": "A"},
            {"question": "the dog sat on the", "choices": ["mat", "log", "fox"], "answer": "B"},
            {"question": "the quick brown", "choices": ["cat", "fox", "log"], "answer": "B"}] * 3
    path = tmp_path / "tiny_task.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("metric", ["multiple_choice", "generation", "perplexity"])
def test_each_metric_runs_on_a_tiny_model(tmp_path, task_file, metric):
    (tmp_path / "run").mkdir()
    ctx = JobContext(tmp_path / "run", threads=1)
    spec = EvaluateSpec(model=str(trained_tiny_model_dir("llama")), task=str(task_file), metric=metric, n_questions=20,
                        shots=1, max_new_tokens=4, dtype="fp32", device="cpu")
    figures = run(spec, ctx)
    rows = [json.loads(x) for x in (ctx.artifact_dir / "evaluations.jsonl").read_text().splitlines()]
    assert len(rows) == figures.get("n", len(rows)) and rows
    if metric == "multiple_choice":
        assert 0 <= figures["accuracy"] <= 1 and figures["chance"] == pytest.approx(1 / 3, abs=1e-3)
        assert figures["accuracy"] == pytest.approx(sum(r["correct"] for r in rows) / len(rows), abs=1e-3)
    elif metric == "generation":
        assert 0 <= figures["no_answer_rate"] <= 1 and all("output" in r for r in rows)
    else:
        assert figures["perplexity"] > 1 and figures["tokens"] > 0


def test_numeric_upload_refuses_multiple_choice_in_the_job(tmp_path):
    path = tmp_path / "sums.jsonl"
    path.write_text("".join(json.dumps({"question": f"{i}+1", "answer": str(i + 1)}) + "\n" for i in range(8)))
    (tmp_path / "run").mkdir()
    spec = EvaluateSpec(model=str(trained_tiny_model_dir("llama")), task=str(path), metric="multiple_choice")
    with pytest.raises(LabError) as info:
        run(spec, JobContext(tmp_path / "run", threads=1))
    assert info.value.key == "metric_needs_choices"
