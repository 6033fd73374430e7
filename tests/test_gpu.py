"""CUDA paths: skipped without a GPU (bench/gpu_check.sh runs them on a GPU machine)."""
import json

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from tiny_models import make_tiny_model_dir

    return make_tiny_model_dir(tmp_path_factory.mktemp("gpu") / "tiny", train_steps=30)


def test_load_and_generate_on_cuda(tiny_dir):
    from lab.modeling.generation import generate
    from lab.modeling.models import load_model

    model, tokenizer, info = load_model(str(tiny_dir), device="cuda")
    assert info["device"].startswith("cuda") and info["dtype"] in ("bfloat16", "float16")
    results = generate(model, tokenizer, ["the cat", "the dog sat"], max_new_tokens=8, return_logprobs=True)
    assert all(r.new_tokens > 0 for r in results)


@pytest.mark.parametrize("method", ["qlora", "lora", "full"])
def test_finetune_on_cuda(method, tiny_dir, tmp_path, lab_home):
    from lab.runs.job_context import JobContext
    from lab.finetune import train as recipe
    from lab.specs import spec_from_dict

    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"instruction": "Say hi", "output": "hi cat"}) for _ in range(16)))
    spec = spec_from_dict({"kind": "finetune", "model": str(tiny_dir), "dataset": str(data), "method": method,
                           "max_steps": 6, "batch_size": 2, "eval_steps": 0, "save_steps": 0,
                           "accuracy_examples": 0, "learning_rate": 1e-2, "lr_scheduler": "constant"})
    (tmp_path / "run").mkdir()
    ctx = JobContext(tmp_path / "run")
    setup = recipe.prepare(spec, ctx)
    figures = recipe.train(setup, ctx)
    assert figures["train_loss_last"] < figures["train_loss_first"]
    assert figures["peak_memory_mb"] > 0
    if method == "qlora":
        import bitsandbytes as bnb

        assert any(isinstance(m, bnb.nn.Linear4bit) for m in setup.model.modules())
