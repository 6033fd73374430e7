"""GPTQ, SmoothQuant and QAT as Quantize-tab schemes: spec refusals that name the value, a quantize run
with [fp32, rtn, gptq] that stores GPTQ's per-layer errors beside RTN's and exports a grid model, the
SmoothQuant and QAT loads, and the new figures. Tiny models (tests/tiny_models.py), a few seconds each.
(The algorithms themselves are tested in test_gptq.py, test_smoothquant.py and test_qat.py.)
"""
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from lab.errors import LabError  # noqa: E402
from lab.quantize import plots  # noqa: E402
from lab.quantize.schemes import SCHEMES, LoadJob  # noqa: E402
from lab.specs import spec_from_dict  # noqa: E402


def quantize_spec(model, **extra):
    data = {"kind": "quantize", "model": str(model), "eval_chars": 1500, "questions": 4, "max_new_tokens": 4,
            "prompts": ["the cat"], "rtn_bits": [2, 4], "rtn_granularity": ["per_group"], "rtn_group_sizes": [32],
            "gptq_bits": [2, 4], "gptq_group_size": 32, "qat_group_size": 32, "outlier_texts": 2, "calibration_texts": 2,
            "device": "cpu"}
    data.update(extra)
    return spec_from_dict(data)


@pytest.fixture(scope="module")
def tiny_dir():
    from tiny_models import trained_tiny_model_dir

    return trained_tiny_model_dir("llama")  # hidden 64, attention output 64, intermediate 128


def calibration(model_dir, pieces: int = 2):
    from transformers import AutoTokenizer

    from lab.quantize.evaldata import calibration_batches, training_text

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    text = training_text()[:512 * pieces]
    return calibration_batches(tokenizer, [text[i:i + 512] for i in range(0, len(text), 512)], 64)


@pytest.mark.parametrize("extra,key,named", [
    ({"schemes": ["fp32", "gptq"], "gptq_bits": [9]}, "gptq_bad_bits", "9"),
    ({"schemes": ["fp32", "gptq"], "gptq_group_size": 48}, "gptq_group_divides", "48"),
    ({"schemes": ["fp32", "gptq"], "gptq_bits": []}, "gptq_no_bits", "gptq_bits"),
    ({"schemes": ["fp32", "gptq"], "calibration_texts": 1}, "quantize_calibration_short", "1"),
    ({"schemes": ["fp32", "smoothquant"], "smoothquant_alphas": [1.5]}, "smoothquant_bad_alpha", "1.5"),
    ({"schemes": ["fp32", "smoothquant"], "smoothquant_activations": ["per_row"]}, "smoothquant_bad_activation", "per_row"),
    ({"schemes": ["fp32", "qat"], "qat_bits": [1]}, "qat_bad_bits", "1"),
    ({"schemes": ["fp32", "qat"], "qat_group_size": 48}, "qat_group_divides", "48"),
    ({"schemes": ["fp32", "qat"], "qat_method": "prefix"}, "bad_choice", "prefix")])
def test_bad_settings_are_refused_when_the_spec_is_built_naming_the_value(tiny_dir, extra, key, named):
    with pytest.raises(LabError) as caught:
        quantize_spec(tiny_dir, **extra)
    assert caught.value.key == key and named in str(caught.value)


def test_a_group_size_is_checked_only_for_the_chosen_schemes_and_the_layer_is_named(tiny_dir):
    quantize_spec(tiny_dir, schemes=["fp32", "rtn"], gptq_group_size=48)  # GPTQ not chosen: no refusal
    with pytest.raises(LabError) as caught:
        quantize_spec(tiny_dir, schemes=["fp32", "gptq"], gptq_group_size=96)  # divides nothing here
    assert "64" in str(caught.value)


def test_new_schemes_expand_into_labelled_variants_and_show_their_settings(tiny_dir):
    spec = quantize_spec(tiny_dir, schemes=["fp32", "gptq", "smoothquant", "qat"], gptq_act_order=True,
                         smoothquant_alphas=[0.5], smoothquant_activations=["per_tensor"], qat_bits=[3])
    assert [v.label for v in spec.variants()] == ["fp32", "gptq2 g32 ao", "gptq4 g32 ao", "w8a8 tensor",
                                                  "w8a8 sq0.5 tensor", "qat3 g32 full"]
    assert "gptq_group_size" in SCHEMES.settings_of(["gptq"]) and "rtn_mode" in SCHEMES.settings_of(["gptq"])
    assert "calibration_texts" in SCHEMES.settings_of(["smoothquant"])
    assert "qat_steps" in SCHEMES.settings_of(["qat"]) and "qat_steps" not in SCHEMES.settings_of(["gptq", "rtn"])


def test_quantize_run_with_gptq_stores_its_layer_errors_beside_rtn_and_exports_a_grid_model(tiny_dir, tmp_path):
    from lab.kinds.quantize import run
    from lab.modeling.models import load_model, resolve_model
    from lab.quantize import view
    from lab.runs.job_context import JobContext

    spec = quantize_spec(tiny_dir, schemes=["fp32", "rtn", "gptq"], export_variant="gptq2 g32")
    (tmp_path / "run").mkdir()
    ctx = JobContext(tmp_path / "run")
    figures = run(spec, ctx)
    rows = {r["variant"]: r for r in figures["rows"]}
    assert list(rows) == ["fp32", "rtn2 g32", "rtn4 g32", "gptq2 g32", "gptq4 g32"]
    assert rows["gptq2 g32"]["bits"] == 2 and rows["gptq2 g32"]["packed_bits_per_weight"] == rows["rtn2 g32"]["packed_bits_per_weight"]
    assert rows["gptq4 g32"]["gptq_seconds"] > 0 and rows["gptq4 g32"]["calibration_tokens"] >= 64
    assert all(r["ppl"] > 1 for r in rows.values())

    errors = pd.read_csv(ctx.artifact_dir / "inside" / "layer_errors.csv")
    decoder = [n.removeprefix("model.") for n, m in load_model(str(tiny_dir), dtype="fp32")[0].named_modules()
               if isinstance(m, torch.nn.Linear) and ".layers." in n]
    for bits in (2, 4):
        mine = errors[errors["variant"] == f"gptq{bits} g32"].set_index("layer")
        twin = errors[errors["variant"] == f"rtn{bits} g32"].set_index("layer")
        assert sorted(mine.index) == sorted(decoder)  # every decoder linear, under the heatmap's names
        assert mine["output_error"].notna().all() and twin.loc[decoder, "output_error"].notna().all()
        # GPTQ minimises the output error on the calibration inputs: below RTN's in total, and in most layers
        assert mine["output_error"].sum() < twin.loc[mine.index, "output_error"].sum()
        assert (mine["output_error"] <= twin.loc[mine.index, "output_error"] * 1.001).mean() >= 0.75
    assert errors[errors["variant"] == "fp32"]["output_error"].isna().all()

    exported = rows["gptq2 g32"]["export_folder"]
    assert resolve_model(exported).quantized_source == "gptq2 g32"
    reloaded, _, _ = load_model(exported, dtype="fp32")
    weight = reloaded.model.layers[0].mlp.down_proj.weight.detach().reshape(-1, 32)
    assert max(len(torch.unique(group)) for group in weight) <= 3  # 2-bit symmetric: at most 3 levels per group

    result = {"status": "succeeded", "outputs": {k: v for k, v in figures.items() if not isinstance(v, (int, float))},
              "metrics": {k: v for k, v in figures.items() if isinstance(v, (int, float))}, "spec": spec.to_dict()}
    heat = plots.error_heatmap(errors, "en", "output_error").data[0]
    assert set(heat.x) == {"rtn2 g32", "rtn4 g32", "gptq2 g32", "gptq4 g32"}  # fp32 has no output error
    assert "gptq2 g32" in set(plots.error_heatmap(errors, "en").data[0].x)  # and its weight error beside the rest
    gptq_line = next(t for t in plots.bits_by_method(view.rows_frame(result), "en").data if t.name == "gptq g32")
    assert list(gptq_line.x) == [2, 4] and list(gptq_line.y) == [rows["gptq2 g32"]["ppl"], rows["gptq4 g32"]["ppl"]]


def test_smoothquant_load_keeps_the_outlier_view_and_quantizes_activations(tiny_dir):
    spec = quantize_spec(tiny_dir, schemes=["fp32", "smoothquant"], smoothquant_alphas=[0.5],
                         smoothquant_activations=["per_tensor"])
    smoothed = next(v for v in spec.variants() if v.options.get("alpha") == 0.5)
    job = LoadJob(calibration=calibration(tiny_dir))
    model, tokenizer, _ = SCHEMES.get("smoothquant").open(str(tiny_dir), smoothed, "cpu", job)
    view = job.extras["outliers"]
    assert set(view.columns) == {"layer", "dim", "before", "after", "alpha"} and (view["alpha"] == 0.5).all()
    assert view["layer"].str.startswith("layers.").all()
    # after smoothing at α = 0.5 the channels are more even: the largest / median ratio shrinks
    ratio = lambda s: float(s.max() / s.median())  # noqa: E731
    assert ratio(view["after"]) < ratio(view["before"])
    seen = []
    q_proj = model.model.layers[0].self_attn.q_proj
    handle = q_proj.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    try:
        model(input_ids=job.calibration[0])
    finally:
        handle.remove()
    # W8A8's hook runs first (registered first): q_proj's inputs lie on a 255-level grid
    assert len(torch.unique(seen[0])) <= 255
    figure = plots.smoothing_view(view, "en")
    assert figure.data[0].type == "bar" and len(figure.data) == 2


def test_qat_trains_through_the_finetune_recipe_and_leaves_grid_weights(tiny_dir):
    spec = quantize_spec(tiny_dir, schemes=["fp32", "qat"], qat_bits=[2], qat_steps=3, qat_batch_size=2)
    variant = spec.variants()[1]
    before = {n: p.detach().clone() for n, p in
              __import__("lab.modeling.models", fromlist=["load_model"]).load_model(str(tiny_dir), dtype="fp32")[0].named_parameters()}
    job = LoadJob()
    model, _, _ = SCHEMES.get("qat").open(str(tiny_dir), variant, "cpu", job)
    assert job.extras["figures"]["train_loss_first"] is not None and job.extras["figures"]["trainable_params"] > 0
    assert all(type(m) is not __import__("lab.quantize.qat", fromlist=["x"]).FakeQuantLinear for m in model.modules())
    weight = model.model.layers[1].self_attn.o_proj.weight.detach()
    assert max(len(torch.unique(group)) for group in weight.reshape(-1, 32)) <= 3  # on the 2-bit grid
    trained = dict(model.named_parameters())
    assert not torch.equal(trained["model.embed_tokens.weight"], before["model.embed_tokens.weight"])  # it trained


def test_bits_chart_groups_methods_and_skips_other_schemes():
    table = pd.DataFrame([
        {"variant": "fp32", "scheme": "fp32", "bits": None, "ppl": 9.0},
        {"variant": "rtn2 g64", "scheme": "rtn", "bits": 2, "ppl": 12.0},
        {"variant": "rtn3 g64", "scheme": "rtn", "bits": 3, "ppl": 9.6},
        {"variant": "gptq3 g64", "scheme": "gptq", "bits": 3, "ppl": 9.2},
        {"variant": "gptq2 g64", "scheme": "gptq", "bits": 2, "ppl": 9.9},
        {"variant": "qat2 g64 full", "scheme": "qat", "bits": 2, "ppl": 9.4},
        {"variant": "w8a8 tok", "scheme": "smoothquant", "bits": 8, "ppl": 9.0}])
    figure = plots.bits_by_method(table, "zh")
    lines = {t.name: (list(t.x), list(t.y)) for t in figure.data}
    assert lines["gptq g64"] == ([2, 3], [9.9, 9.2])  # sorted by bits
    assert lines["rtn g64"] == ([2, 3], [12.0, 9.6]) and lines["qat g64 full"] == ([2], [9.4])
    assert lines["fp32"][1] == [9.0, 9.0] and not any("w8a8" in name for name in lines)
    assert plots.bits_by_method(table[table["scheme"] == "fp32"], "en").data == ()  # nothing to draw: empty figure


def test_error_heatmap_metrics_and_the_strongest_outlier_layer():
    errors = pd.DataFrame({"layer": ["a", "a", "b", "b"], "variant": ["rtn2 g64", "gptq2 g64"] * 2,
                           "rel_error": [0.1, 0.2, 0.3, 0.4], "output_error": [0.05, 0.01, None, 0.02]})
    weight = plots.error_heatmap(errors, "en")
    assert weight.data[0].z == ((0.1, 0.2), (0.3, 0.4)) or [list(r) for r in weight.data[0].z] == [[0.1, 0.2], [0.3, 0.4]]
    output = plots.error_heatmap(errors, "en", "output_error")
    assert list(output.data[0].x) == ["rtn2 g64", "gptq2 g64"] and "output" in output.layout.title.text.lower()
    outliers = pd.DataFrame({"layer": ["x"] * 4 + ["y"] * 4, "dim": [0, 1, 2, 3] * 2, "alpha": 0.5,
                             "before": [1, 1, 1, 1, 1, 1, 30, 1], "after": [1, 1, 1, 1, 2, 2, 5, 2]})
    assert plots.strongest_layer(outliers) == "y"
    assert "y" in plots.smoothing_view(outliers, "en").layout.title.text
