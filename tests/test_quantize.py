"""Quantize tab: RTN, honest memory, really-quantized layers, refusals, look-inside data and figures.

Everything runs on the tiny models of tests/tiny_models.py (every size a multiple of 32, as the
bitsandbytes CPU 4-bit kernels need) in a few seconds.
"""
import json

import pytest

torch = pytest.importorskip("torch")

from lab.errors import LabError  # noqa: E402
from lab.present.i18n import ASSETS, LANGUAGES  # noqa: E402
from lab.modeling.layers import linear_layers  # noqa: E402
from lab.quantize import inside, plots, rtn  # noqa: E402
from lab.quantize.memory import weight_memory  # noqa: E402
from lab.quantize.schemes import SCHEMES, Variant  # noqa: E402
from lab.specs import spec_from_dict  # noqa: E402


def quantize_spec(model, **extra):
    data = {"kind": "quantize", "model": str(model), "eval_chars": 1500, "questions": 4, "max_new_tokens": 4,
            "prompts": ["the cat"], "rtn_bits": [2, 4, 8], "rtn_group_sizes": [32], "outlier_texts": 2, "device": "cpu"}
    data.update(extra)
    return spec_from_dict(data)


@pytest.fixture(scope="module")
def tiny_dir():
    from tiny_models import trained_tiny_model_dir

    return trained_tiny_model_dir("llama")


@pytest.mark.parametrize("granularity,mode", [("per_tensor", "symmetric"), ("per_channel", "symmetric"),
                                               ("per_group", "symmetric"), ("per_channel", "asymmetric"),
                                               ("per_group", "asymmetric"), ("per_group", "minmax")])
def test_rtn_error_shrinks_as_bits_grow(granularity, mode):
    torch.manual_seed(0)
    weight = torch.randn(64, 128) * 0.02
    weight[3, 5] = 0.5  # one outlier: what per-tensor scales suffer from
    errors = [rtn.relative_error(weight, rtn.fake_quant(weight, b, granularity, 32, mode)) for b in range(2, 9)]
    # never worse with more bits; strictly better once the outlier's scale leaves levels for the rest
    assert all(later <= earlier for earlier, later in zip(errors, errors[1:])), errors
    assert all(later < earlier for earlier, later in zip(errors[2:], errors[3:])), errors
    assert errors[-1] < 0.1 < errors[0]


def test_rtn_uses_the_levels_it_claims():
    torch.manual_seed(1)
    weight = torch.randn(32, 64)
    for bits in (2, 3, 4):
        sym = rtn.fake_quant(weight, bits, "per_channel", mode="symmetric")
        asym = rtn.fake_quant(weight, bits, "per_channel", mode="asymmetric")
        for row in range(4):
            assert len(torch.unique(sym[row])) <= 2 ** bits - 1  # symmetric: zero in the middle, one level unused
            assert len(torch.unique(asym[row])) <= 2 ** bits
        assert float(sym.abs().amax(dim=1).sub(weight.abs().amax(dim=1)).abs().max()) < 1e-5  # absmax is a level


def test_rtn_smaller_groups_have_smaller_error_and_cost_more_bits():
    torch.manual_seed(2)
    weight = torch.randn(64, 256) * torch.rand(64, 256).pow(4)  # heavy tails
    err = {g: rtn.relative_error(weight, rtn.fake_quant(weight, 3, "per_group", g)) for g in (16, 64, 256)}
    assert err[16] < err[64] < err[256]
    assert rtn.bits_per_weight(4, "per_group", 32, "symmetric", (64, 256)) == pytest.approx(4 + 16 / 32)
    assert rtn.bits_per_weight(4, "per_group", 32, "asymmetric", (64, 256)) == pytest.approx(4 + 32 / 32)
    assert rtn.bits_per_weight(4, "per_channel", 0, "symmetric", (64, 256)) == pytest.approx(4 + 16 / 256)
    with pytest.raises(LabError) as caught:
        rtn.fake_quant(torch.randn(3, 7), 4, "per_group", 32)
    assert caught.value.key == "rtn_group_divides"


@pytest.mark.parametrize("label,scheme,layer_class,dtype", [
    ("int8", "int8", "Linear8bitLt", torch.int8), ("nf4", "nf4", "Linear4bit", torch.uint8),
    ("fp4+dq", "fp4", "Linear4bit", torch.uint8), ("bf16", "bf16", "Linear", torch.bfloat16)])
def test_quantized_layers_are_really_quantized(tiny_dir, label, scheme, layer_class, dtype):
    spec = quantize_spec(tiny_dir, double_quant="both")
    variant = next(v for v in SCHEMES.get(scheme).expand(spec) if v.label == label)
    model, tokenizer, _ = SCHEMES.get(scheme).load(str(tiny_dir), variant, "cpu")
    layers = linear_layers(model)
    assert layers and all(type(m).__name__ == layer_class and m.weight.dtype == dtype for _, m in layers)
    if scheme in ("nf4", "fp4"):
        assert all(m.weight.quant_state.quant_type == scheme for _, m in layers)
        assert all(m.weight.quant_state.nested == label.endswith("+dq") for _, m in layers)
    with torch.inference_mode():
        logits = model(**tokenizer(["the cat sat"], return_tensors="pt")).logits
    assert torch.isfinite(logits).all()


def test_rtn_load_puts_every_linear_weight_on_its_grid(tiny_dir):
    spec = quantize_spec(tiny_dir)
    variant = next(v for v in SCHEMES.get("rtn").expand(spec) if v.label == "rtn2 ch")
    model, _, _ = SCHEMES.get("rtn").load(str(tiny_dir), variant, "cpu")
    for _, module in linear_layers(model):
        assert all(len(torch.unique(row)) <= 3 for row in module.weight)  # 2-bit symmetric: -s, 0, s
    assert len(torch.unique(model.lm_head.weight[0])) > 3  # the output layer stays full precision


@pytest.fixture(scope="module")
def wider_dir(tmp_path_factory):
    """A one-block Llama of width 256: layers of 64k+ weights. (Double quantization keeps a 256-entry fp32
    code book per layer, 1 KB: on the 4k-weight layers of the tiny model that outweighs its saving.)"""
    from transformers import AutoModelForCausalLM, LlamaConfig

    from tiny_models import make_tokenizer

    torch.manual_seed(0)
    tokenizer = make_tokenizer()
    config = LlamaConfig(hidden_size=256, intermediate_size=512, num_hidden_layers=1, num_attention_heads=4,
                         num_key_value_heads=4, max_position_embeddings=64, vocab_size=320,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    folder = tmp_path_factory.mktemp("wider") / "model"
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_double_quant_is_smaller_than_plain_nf4_under_honest_counting(wider_dir):
    tiny_dir = wider_dir
    spec = quantize_spec(tiny_dir, double_quant="both")
    plain, nested = SCHEMES.get("nf4").expand(spec)
    counts = {}
    for variant in (plain, nested):
        model, _, _ = SCHEMES.get("nf4").load(str(tiny_dir), variant, "cpu")
        counts[variant.label] = weight_memory(model)
    fp32_model, _, _ = SCHEMES.get("fp32").load(str(tiny_dir), Variant("fp32", "fp32"), "cpu")
    fp32 = weight_memory(fp32_model)
    assert counts["nf4+dq"]["linear_bytes"] < counts["nf4"]["linear_bytes"]
    assert counts["nf4+dq"]["linear_state_bytes"] < counts["nf4"]["linear_state_bytes"]
    # plain NF4: 4 bits + one fp32 absmax per 64 weights (+ the 16-value code book) = ~4.5 bits per weight
    assert counts["nf4"]["linear_bits_per_weight"] == pytest.approx(4.5, abs=0.15)
    assert counts["nf4+dq"]["linear_bits_per_weight"] < 4.35
    assert fp32["linear_bits_per_weight"] == pytest.approx(32)
    # get_memory_footprint does not see the absmax tensors: the honest count is larger
    assert counts["nf4"]["total_bytes"] > counts["nf4"]["footprint_bytes"]


def test_int8_memory_counts_the_row_scales(tiny_dir):
    spec = quantize_spec(tiny_dir)
    model, _, _ = SCHEMES.get("int8").load(str(tiny_dir), SCHEMES.get("int8").expand(spec)[0], "cpu")
    memory = weight_memory(model)
    rows = sum(m.out_features for _, m in linear_layers(model))
    assert memory["linear_state_bytes"] == 4 * rows  # one fp32 scale (SCB) per output row
    assert memory["linear_bits_per_weight"] == pytest.approx(8 + 32 * rows / memory["linear_weights"])


def _no_gpu(monkeypatch):
    import lab.present.system_status

    monkeypatch.setattr(lab.present.system_status, "gpus", lambda: ())


def test_cuda_only_combinations_are_refused_when_the_spec_is_built(monkeypatch, tiny_dir):
    _no_gpu(monkeypatch)
    with pytest.raises(LabError) as caught:
        quantize_spec(tiny_dir, schemes=["fp32", "fp16"], device="auto")
    assert caught.value.key == "quantize_needs_cuda" and "fp16" in str(caught.value)
    with pytest.raises(LabError) as caught:
        quantize_spec(tiny_dir, schemes=["fp32", "nf4"], compute_dtype="fp16")
    assert caught.value.key == "quantize_needs_cuda"
    with pytest.raises(LabError) as caught:
        quantize_spec(tiny_dir, device="cuda")
    assert caught.value.key == "device_unavailable"


@pytest.mark.parametrize("extra,key", [
    ({"schemes": ["nf4"]}, "quantize_needs_fp32"), ({"schemes": ["fp32", "int4"]}, "unknown_scheme"),
    ({"rtn_bits": [1]}, "rtn_bad_bits"), ({"rtn_granularity": ["per_row"]}, "bad_choice"),
    ({"export_variant": "nf5"}, "quantize_unknown_export"), ({"eval_text": "too short"}, "quantize_eval_text_short"),
    ({"schemes": ["fp32", "fp32"]}, "quantize_duplicate_scheme")])
def test_bad_specs_name_the_problem(tiny_dir, extra, key):
    with pytest.raises(LabError) as caught:
        quantize_spec(tiny_dir, **extra)
    assert caught.value.key == key


def test_variants_expand_in_table_order_with_fp32_first(tiny_dir):
    spec = quantize_spec(tiny_dir, schemes=["nf4", "fp32", "rtn"], double_quant="both",
                         rtn_granularity=["per_channel", "per_group"], rtn_bits=[3, 4])
    labels = [v.label for v in spec.variants()]
    assert labels == ["fp32", "nf4", "nf4+dq", "rtn3 ch", "rtn3 g32", "rtn4 ch", "rtn4 g32"]


def test_a_sweep_too_large_for_memory_fails_with_a_hint(tiny_dir):
    from lab.quantize import guard

    with pytest.raises(LabError) as caught:
        guard.check_memory(str(tiny_dir), 5, available_mb=0.01)
    assert caught.value.key == "quantize_too_big" and "MB" in str(caught.value)
    guard.check_memory(str(tiny_dir), 5, available_mb=10_000)  # fits: no error
    with pytest.raises(LabError) as caught:
        with guard.memory_hint("nf4"):
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 10 GB")
    assert caught.value.key == "quantize_out_of_memory"


def test_layer_errors_match_the_loaded_models_own_weights(tiny_dir):
    """The heatmap's NF4 and int8 cells equal the error of the weights bitsandbytes actually stored."""
    import bitsandbytes.functional as F

    spec = quantize_spec(tiny_dir, schemes=["fp32", "int8", "nf4"], double_quant="on")
    fp32, _, _ = SCHEMES.get("fp32").load(str(tiny_dir), Variant("fp32", "fp32"), "cpu")
    variants = spec.variants()
    errors = inside.layer_errors(fp32, variants, SCHEMES.get).set_index(["layer", "variant"])["rel_error"]
    dense = {name: m.weight.detach().float() for name, m in linear_layers(fp32)}
    nf4_model, _, _ = SCHEMES.get("nf4").load(str(tiny_dir), variants[2], "cpu")
    int8_model, _, _ = SCHEMES.get("int8").load(str(tiny_dir), variants[1], "cpu")
    for name, module in linear_layers(nf4_model):
        stored = F.dequantize_4bit(module.weight.data, module.weight.quant_state).float().reshape(dense[name].shape)
        assert errors[(name, "nf4+dq")] == pytest.approx(rtn.relative_error(dense[name], stored), rel=1e-4)
    for name, module in linear_layers(int8_model):
        stored = module.weight.data.float() * module.weight.SCB.float()[:, None] / 127
        assert errors[(name, "int8")] == pytest.approx(rtn.relative_error(dense[name], stored), rel=1e-5)
    assert (errors.xs("fp32", level="variant") == 0).all()
    figure = plots.error_heatmap(errors.reset_index(), "en")
    layers = list(dict.fromkeys(errors.reset_index()["layer"]))
    assert list(figure.data[0].y) == layers
    assert figure.data[0].z[0][list(figure.data[0].x).index("nf4+dq")] == pytest.approx(errors[(layers[0], "nf4+dq")])


def test_histogram_and_code_points_match_the_layer():
    torch.manual_seed(3)
    weight = (torch.randn(64, 128) * 0.05).numpy()
    hist = inside.weight_histogram(weight, "absmax64", bins=101)
    assert int(hist["count"].sum()) == weight.size
    assert hist["center"].min() > -1 and hist["center"].max() < 1
    points = inside.code_points("absmax64")
    assert list(points[points["format"] == "nf4"]["value"]) == list(inside.NF4_LEVELS)
    assert len(points[points["format"] == "int8"]) == 255
    figure = plots.weight_histogram(hist, points, "layers.0.mlp.up_proj", "en")
    assert list(figure.data[0].y) == list(hist["count"])
    nf4_trace = next(trace for trace in figure.data if trace.name == "nf4")
    assert list(nf4_trace.x) == list(inside.NF4_LEVELS)
    # a weight already on a 4-bit group-32 grid (as a Q4_1 file stores it) shows as 16 spikes
    grid = rtn.fake_quant(torch.from_numpy(weight), 4, "per_group", 32, mode="minmax").numpy()
    assert inside.spikes(inside.weight_histogram(grid, "minmax32")) > 0.99
    assert inside.spikes(inside.weight_histogram(weight, "minmax32")) < 0.5


def test_activation_outliers_find_a_planted_outlier_feature(tiny_dir):
    from lab.modeling.models import load_model

    model, tokenizer, _ = load_model(str(tiny_dir), dtype="fp32")
    with torch.no_grad():
        model.model.layers[0].input_layernorm.weight[17] = 60.0  # feature 17 becomes an outlier into q/k/v
    frame = inside.activation_outliers(model, tokenizer, ["the cat sat on the mat", "the dog sat on the log"])
    q = frame[frame["layer"] == "layers.0.self_attn.q_proj"]
    assert len(q) == model.config.hidden_size and int(q.loc[q["max_abs"].idxmax(), "dim"]) == 17
    assert "layers.0.self_attn.k_proj" not in set(frame["layer"])  # reads the same tensor as q_proj: one row
    summary = inside.outlier_summary(frame, 6.0)
    assert int(summary.set_index("layer").loc["layers.0.self_attn.q_proj", "outlier_dims"]) >= 1
    figure = plots.outlier_heatmap(frame, 6.0, "en")
    row = list(figure.data[0].y).index("layers.0.self_attn.q_proj")
    assert figure.data[0].customdata[row][17] == pytest.approx(float(q["max_abs"].max()))


def test_quantize_kind_end_to_end_exports_a_folder_other_tabs_load(tiny_dir, tmp_path):
    from lab.runs.job_context import JobContext
    from lab.kinds.quantize import run
    from lab.modeling.models import load_model, resolve_model

    spec = quantize_spec(tiny_dir, schemes=["fp32", "int8", "nf4", "rtn"], double_quant="both",
                         export_variant="nf4+dq")
    (tmp_path / "run").mkdir()
    figures = run(spec, JobContext(tmp_path / "run"))
    rows = {r["variant"]: r for r in figures["rows"]}
    assert list(rows) == [v.label for v in spec.variants()]
    assert rows["nf4"]["layer_class"] == "Linear4bit" and rows["int8"]["weight_dtype"] == "int8"
    assert rows["nf4"]["linear_mb"] < rows["int8"]["linear_mb"] < rows["fp32"]["linear_mb"]
    assert rows["int8"]["linear_vs_fp32"] == pytest.approx(rows["int8"]["linear_mb"] / rows["fp32"]["linear_mb"], rel=1e-3)
    assert "tokens_per_second_batched" in rows["nf4"] and "tokens_per_second_batched" not in rows["rtn2 ch"]
    assert rows["rtn8 ch"]["packed_bits_per_weight"] < 9
    assert all(r["ppl"] > 1 for r in rows.values()) and all(0 <= r["accuracy"] <= 1 for r in rows.values())
    assert set(figures["answers"]) == set(rows)
    folder = rows["nf4+dq"]["export_folder"]
    assert resolve_model(folder).quantized_source == "nf4+dq"
    reloaded, _, _ = load_model(folder, dtype="fp32")
    assert type(reloaded.model.layers[0].self_attn.q_proj).__name__ == "Linear4bit"
    # the tab's figures are drawn from exactly these rows and the saved frames
    from lab.quantize import view

    result = {"status": "succeeded", "outputs": {k: v for k, v in figures.items() if not isinstance(v, (int, float))},
              "metrics": {k: v for k, v in figures.items() if isinstance(v, (int, float))}, "spec": spec.to_dict()}
    table = view.rows_frame(result)
    memory = plots.memory_vs_quality(table, "en")
    nf4_points = next(t for t in memory.data if t.name == "nf4")
    assert list(nf4_points.y) == [rows["nf4"]["ppl"], rows["nf4+dq"]["ppl"]]
    rtn_plot = plots.rtn_curve(table, "en")
    channel = next(t for t in rtn_plot.data if t.name == "ch")
    assert list(channel.x) == [2, 4, 8] and list(channel.y) == [rows[f"rtn{b} ch"]["ppl"] for b in (2, 4, 8)]
    assert len(view.table_frame(result, "zh")) == len(rows)
    assert len(view.answers_frame(result, "en")) == len(rows) * len(spec.prompts)


def test_every_scheme_and_method_has_its_lesson_in_both_languages():
    from lab.prune.methods import METHODS

    for name in [SCHEMES.lesson_name(s) for s in SCHEMES] + [METHODS.lesson_name(m) for m in METHODS]:
        for lang in LANGUAGES:
            path = ASSETS / "lessons" / lang / f"{name}.md"
            assert path.is_file(), path
            text = path.read_text(encoding="utf-8")
            assert "Predict, then run" in text or "先预测,再运行" in text, path
            assert "arxiv.org" in text or "IEEE" in text, path


@pytest.mark.parametrize("path", sorted((ASSETS / "presets" / "quantize").glob("*.json")), ids=lambda p: p.stem)
def test_every_shipped_preset_is_a_valid_spec(path):
    spec = spec_from_dict(json.loads(path.read_text(encoding="utf-8")))
    assert spec.kind in ("quantize", "prune", "prune_structured", "pretrain")


def test_the_default_model_preset_is_sized_for_bitsandbytes():
    from lab.quantize.default_model import pretrain_spec

    spec = pretrain_spec()
    assert spec.width % 32 == 0 and spec.save_model and spec.precision == "fp32"


def test_minmax_rtn_reproduces_weights_already_on_a_q4_1_grid():
    """A Q4_1 file stores w = min + d * q (q in 0..15) per block of 32: min-max RTN at 4 bits, groups of
    32, gives those weights back exactly; the integer zero point of asymmetric RTN does not."""
    torch.manual_seed(4)
    low, step = torch.randn(64 * 4, 1) * 0.1, torch.rand(64 * 4, 1) * 0.01 + 0.001
    codes = torch.randint(0, 16, (64 * 4, 32)).float()
    codes[:, 0], codes[:, 1] = 0, 15  # every block uses its whole range, as a min-max quantizer makes it
    weight = (low + step * codes).reshape(64, 128)
    assert rtn.relative_error(weight, rtn.fake_quant(weight, 4, "per_group", 32, "minmax")) < 1e-6
    assert rtn.relative_error(weight, rtn.fake_quant(weight, 4, "per_group", 32, "asymmetric")) > 1e-3


@pytest.mark.integration
def test_default_model_through_the_runner(lab_home_default_model):
    """The tab's default model (trained once into the models folder, ~3 minutes if missing) under fp32 and
    NF4 through the real runner: a full-precision model, so NF4 really changes its weights."""
    from lab.runs import runner

    spec = spec_from_dict({"kind": "quantize", "schemes": ["fp32", "nf4"], "double_quant": "on", "eval_chars": 2000,
                           "questions": 8, "max_new_tokens": 8, "prompts": ["ROMEO.\n"], "outlier_texts": 2,
                           "device": "cpu"})
    run_id = runner.submit(spec)
    runner.wait(run_id, timeout=900)
    result = runner.result(run_id)
    assert result["status"] == "succeeded", result.get("error")
    rows = {r["variant"]: r for r in result["outputs"]["rows"]}
    assert rows["nf4+dq"]["layer_class"] == "Linear4bit" and rows["fp32"]["weight_dtype"] == "float32"
    assert rows["nf4+dq"]["linear_vs_fp32"] < 0.14 and not result["outputs"]["quantized_source"]
    assert result["metrics"]["prequantized_spike_share"] < 0.5  # a full-precision model: no 4-bit grid
