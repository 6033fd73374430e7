"""Quantize and prune on CUDA: skipped without a GPU (bench/gpu_check.sh runs them on a GPU machine)."""
import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


@pytest.fixture(scope="module")
def tiny_dir():
    from tiny_models import trained_tiny_model_dir

    return trained_tiny_model_dir("llama")


def test_every_scheme_loads_quantized_on_cuda(tiny_dir):
    from lab.modeling.layers import linear_layers
    from lab.quantize.memory import weight_memory
    from lab.quantize.schemes import SCHEMES
    from lab.specs import spec_from_dict

    spec = spec_from_dict({"kind": "quantize", "model": str(tiny_dir), "device": "cuda", "double_quant": "both",
                           "compute_dtype": "fp16", "schemes": ["fp32", "bf16", "fp16", "int8", "nf4", "fp4"]})
    expected = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.int8,
                "nf4": torch.uint8, "nf4+dq": torch.uint8, "fp4": torch.uint8, "fp4+dq": torch.uint8}
    sizes = {}
    for variant in spec.variants():
        model, tokenizer, _ = SCHEMES.get(variant.scheme).load(str(tiny_dir), variant, "cuda")
        layers = linear_layers(model)
        assert all(m.weight.device.type == "cuda" and m.weight.dtype == expected[variant.label] for _, m in layers)
        with torch.inference_mode():
            logits = model(**tokenizer(["the cat sat"], return_tensors="pt").to("cuda")).logits
        assert torch.isfinite(logits.float()).all(), variant.label
        sizes[variant.label] = weight_memory(model)["linear_bytes"]
    assert sizes["nf4"] < sizes["int8"] < sizes["fp16"] < sizes["fp32"]


def test_quantize_kind_on_cuda_with_fp16(tiny_dir, tmp_path):
    from lab.runs.job_context import JobContext
    from lab.kinds.quantize import run
    from lab.specs import spec_from_dict

    spec = spec_from_dict({"kind": "quantize", "model": str(tiny_dir), "device": "cuda", "schemes": ["fp32", "fp16", "int8", "nf4"],
                           "compute_dtype": "bf16", "eval_chars": 1500, "questions": 4, "max_new_tokens": 4,
                           "prompts": ["the cat"], "outlier_texts": 2, "export_variant": "int8"})
    (tmp_path / "run").mkdir()
    figures = run(spec, JobContext(tmp_path / "run"))
    rows = {r["variant"]: r for r in figures["rows"]}
    assert rows["fp16"]["weight_dtype"] == "float16" and rows["int8"]["layer_class"] == "Linear8bitLt"
    assert all(r["memory_added_mb"] > 0 for r in rows.values())  # peak CUDA memory, per variant
    assert rows["int8"]["export_folder"]


def test_prune_sweep_on_cuda(tiny_dir, tmp_path):
    from lab.runs.job_context import JobContext
    from lab.kinds.prune import run
    from lab.specs import spec_from_dict

    spec = spec_from_dict({"kind": "prune", "model": str(tiny_dir), "device": "cuda", "sparsities": [0.0, 0.5],
                           "eval_chars": 1200, "questions": 4, "calibration_texts": 2})
    (tmp_path / "run").mkdir()
    rows = run(spec, JobContext(tmp_path / "run"))["rows"]
    assert all(abs(r["sparsity"] - (0.5 if r["pattern"] == "2:4" else r["target_sparsity"])) < 1e-3 for r in rows)
