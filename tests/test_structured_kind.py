"""The structured-pruning kind: a run on a tiny Llama writes a smaller model folder that loads with the
expected shapes and reports parameters, memory, speed and perplexities before/after; the recovery
fine-tune spec built from that run validates and names its model folder and data; refusals before the
job starts (heads that empty a layer, an architecture the code cannot map)."""
import json

import pytest

torch = pytest.importorskip("torch")

from lab.errors import LabError  # noqa: E402
from lab.specs import spec_from_dict  # noqa: E402


def structured_spec(model, **extra):
    data = {"kind": "prune_structured", "model": str(model), "importance": "taylor", "ratio": 0.33,
            "eval_chars": 1200, "questions": 4, "calibration_texts": 2, "new_tokens": 4, "speed_rounds": 1,
            "recovery_rows": 60, "device": "cpu"}
    data.update(extra)
    return spec_from_dict(data)


def test_structured_run_writes_a_loadable_smaller_folder_and_recovery_spec_validates(lab_home):
    from tiny_models import REPEATED_TEXT, trained_tiny_model_dir

    from lab.kinds.prune_structured import run
    from lab.modeling.models import load_model
    from lab.prune import view
    from lab.prune.structured_run import recovery_spec
    from lab.runs import store
    from lab.runs.folder import RunFolder
    from lab.runs.job_context import JobContext
    from lab.runs.worker import _split_outputs

    source = trained_tiny_model_dir("llama")  # 2 layers, 2 heads = 2 key/value heads, MLP 128
    spec = structured_spec(source, eval_text=REPEATED_TEXT)
    run_id = "20250101-000000-prune_structured-abcd"
    folder = RunFolder(run_id).create()
    folder.write_spec(spec)
    store.insert_run(run_id, "prune_structured", "", "", False, spec.spec_hash(), "v", status="running")
    figures = run(spec, JobContext(folder.path))
    dense, pruned = figures["rows"]
    assert figures["pruning"]["after"] == {"heads": 1, "kv_heads": 1, "intermediate_size": 96}
    assert pruned["parameters"] < dense["parameters"] and pruned["weights_mb"] < dense["weights_mb"]
    assert pruned["parameters_vs_dense"] == pytest.approx(pruned["parameters"] / dense["parameters"], abs=1e-4)
    for row in (dense, pruned):
        assert row["tokens_per_second"] > 0 and row["ppl"] > 1 and row["continuation_ppl"] > 1
    model, _, _ = load_model(figures["model_folder"], dtype="fp32")
    layer = model.model.layers[0]
    assert model.config.num_attention_heads == 1 and model.config.intermediate_size == 96
    assert tuple(layer.self_attn.q_proj.weight.shape) == (32, 64) and tuple(layer.mlp.down_proj.weight.shape) == (64, 96)
    assert json.loads((folder.artifact_dir / "model" / "lab_pruned.json").read_text())["source_model"] == str(source)
    metrics, outputs = _split_outputs(figures)
    result = folder.write_result("succeeded", metrics=metrics, outputs=outputs, spec=spec.to_dict())
    store.update_run(run_id, status="succeeded")

    recovery = recovery_spec(run_id, steps=5)
    assert recovery.kind == "finetune" and recovery.method == "lora" and recovery.max_steps == 5
    assert recovery.model == str(folder.artifact_dir / "model") and recovery.dataset.endswith("recovery.jsonl")
    assert "down_proj" in recovery.target_modules and recovery.seed == spec.seed

    result = folder.read_result()
    frame = view.structured_frame(result, {"status": "succeeded", "metrics": {"eval_perplexity": 3.5}}, "en")
    assert len(frame) == 3 and frame.iloc[2, -1] == "3.5"
    figure = view.recovery_figure(result, None, "zh")
    assert [round(v, 4) for v in figure.data[0].y] == [dense["continuation_ppl"], pruned["continuation_ppl"]]
    assert "→" in view.structured_summary(result, None, "en")


def test_recovery_is_refused_for_a_run_that_is_not_structured_pruning(lab_home):
    from lab.prune.structured_run import recovery_spec
    from lab.runs import store
    from lab.runs.folder import RunFolder

    run_id = "20250101-000000-prune-abcd"
    folder = RunFolder(run_id).create()
    folder.write_spec(spec_from_dict({"kind": "prune", "model": "/tmp"}))
    store.insert_run(run_id, "prune", "", "", False, "h", "v", status="succeeded")
    with pytest.raises(LabError) as caught:
        recovery_spec(run_id)
    assert caught.value.key == "prune_recovery_not_structured"


@pytest.mark.parametrize("extra, key", [
    ({"heads": 2}, "prune_structured_kv_groups"),  # both key/value heads of a layer
    ({"channels": 128}, "prune_structured_channels"),  # every MLP channel
    ({"head_mode": "query_heads", "heads": 1}, "prune_structured_query_heads"),  # 1 query head per group: empties it
])
def test_requests_that_empty_a_layer_are_refused_at_validation(extra, key):
    from tiny_models import tiny_model_dir

    with pytest.raises(LabError) as caught:
        structured_spec(tiny_model_dir("llama"), **extra)
    assert caught.value.key == key


def test_an_architecture_whose_heads_cannot_be_mapped_is_refused_at_validation():
    from tiny_models import tiny_model_dir

    with pytest.raises(LabError) as caught:
        structured_spec(tiny_model_dir("gpt2"))
    assert caught.value.key == "prune_structured_arch" and "gpt2" in str(caught.value)


def test_head_counts_that_do_not_divide_the_hidden_size_are_refused_and_the_ratio_avoids_them():
    """The Quantize tab's default model has 4 heads on a hidden size of 256: 3 heads left is a config
    transformers refuses, so removing 1 is refused at validation and the ratio picks 0 or 2 instead."""
    from types import SimpleNamespace

    from lab.prune import structured

    config = SimpleNamespace(num_attention_heads=4, num_key_value_heads=4, hidden_size=256, intermediate_size=704,
                             head_dim=64)
    with pytest.raises(LabError) as caught:
        structured.check_request(config, "kv_groups", 1, 0)
    assert caught.value.key == "prune_structured_hidden" and "256" in str(caught.value) and "0, 2, 3" in str(caught.value)
    assert structured.valid_head_counts(config, "kv_groups") == [0, 2, 3]
    assert structured.counts_for_ratio(config, 0.33) == (2, 224)  # 2 of 4 is nearer 0.33 than 0
    structured.check_request(config, "kv_groups", 2, 224)  # accepted
    smol = SimpleNamespace(num_attention_heads=9, num_key_value_heads=3, hidden_size=576, intermediate_size=1536)
    assert structured.counts_for_ratio(smol, 0.33) == (1, 512)  # one key/value group of 3 = 3 of 9 query heads
