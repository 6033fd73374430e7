"""The "generate" job kind: its spec validates, and its recipe runs on a tiny model in a run folder."""
import json
import subprocess
import sys

import pytest
from tiny_models import trained_tiny_model_dir

from lab.runs.job_context import JobContext
from lab.errors import LabError
from lab.kinds.generate import GenerateSpec, run
from lab.specs import example_spec, spec_from_dict


def test_module_imports_no_torch():
    code = "import lab.kinds.generate, sys; assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_default_spec_and_help():
    spec = example_spec("generate")
    assert spec.model == "smollm2-135m-instruct" and spec.prompts == ["What is the capital of France?"]
    assert spec.use_chat_template and not spec.do_sample and spec.deterministic
    for field in ("model", "prompts", "temperature", "top_p", "dtype"):
        assert GenerateSpec.help(field, "en") and GenerateSpec.help(field, "zh") != GenerateSpec.help(field, "en")


@pytest.mark.parametrize("data, key, fragment", [
    ({"prompts": ["ok", "  "]}, "empty_prompt", "Prompt number 1"),
    ({"prompts": []}, "no_prompts", "at least one prompt"),
    ({"stop": [""]}, "empty_stop", "Stop string number 0"),
    ({"model": "bad name!"}, "bad_model_name", "'bad name!' is not a model name"),
    ({"model": "./not/a/folder"}, None, None),  # path-like: whether it exists is checked when the job loads it
    ({"model": "a\nb"}, "bad_model_name", "not a model name"),
    ({"temperature": 0}, "too_small", "temperature (0.0) must be at least 0.01"),
    ({"dtype": "int4"}, "bad_choice", "dtype must be one of"),
])
def test_spec_validation(data, key, fragment):
    if key is None:
        spec_from_dict({"kind": "generate", **data})
        return
    with pytest.raises(LabError) as info:
        spec_from_dict({"kind": "generate", **data})
    assert info.value.key == key and fragment in str(info.value)


def test_run_writes_generations_and_returns_figures(tmp_path):
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    ctx = JobContext(run_dir, threads=1)
    spec = GenerateSpec(model=str(trained_tiny_model_dir("llama")), prompts=["the cat", "the dog sat on the"],
                        max_new_tokens=8, batch_size=2, dtype="fp32", device="cpu", stop=["log"])
    figures = run(spec, ctx)
    assert figures["n_prompts"] == 2 and figures["new_tokens"] > 0 and figures["tokens_per_second"] > 0
    assert figures["peak_memory_mb"] > 0 and figures["load_seconds"] >= 0
    numbers = {k: v for k, v in figures.items() if k != "outputs"}
    assert all(isinstance(v, (int, float)) for v in numbers.values())
    assert [o["prompt"] for o in figures["outputs"]] == spec.prompts
    lines = [json.loads(line) for line in (ctx.artifact_dir / "generations.jsonl").read_text().splitlines()]
    assert [line["text"] for line in lines] == [o["text"] for o in figures["outputs"]]
    assert "log" not in lines[1]["text"] and lines[1]["finish_reason"] == "stop"
    progress = json.loads((run_dir / "progress.json").read_text())
    assert progress["done"] == progress["total"] == 2
    assert json.loads((ctx.artifact_dir / "model_info.json").read_text())["kind"] == "local"
