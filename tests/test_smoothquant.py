"""SmoothQuant (lab/quantize/smoothquant.py): folding keeps the function, flattens activation outliers,
and makes simulated W8A8 closer to full precision on a model with outlier channels."""
import pytest
import torch

from lab.errors import LabError
from lab.quantize import smoothquant
from tiny_models import REPEATED_TEXT, load_tiny


def _batches(tokenizer):
    ids = tokenizer(REPEATED_TEXT, return_tensors="pt")["input_ids"]
    return [ids[:, :48], ids[:, 48:96]]


def _logits(model, batches):
    with torch.no_grad():
        return torch.cat([model(input_ids=b).logits for b in batches], dim=1)


def _with_outliers(model):
    """Give a few hidden channels large activations (what real LLMs show, Dettmers et al. 2022)."""
    with torch.no_grad():
        for layer in model.model.layers:
            for norm in (layer.input_layernorm, layer.post_attention_layernorm):
                norm.weight[[3, 17, 40]] *= 40
    return model


def test_norm_groups_are_qkv_and_gate_up_of_every_layer():
    model, tokenizer, _ = load_tiny()
    groups = smoothquant.norm_groups(model, _batches(tokenizer)[0])
    found = {name: [n.rsplit(".", 1)[-1] for n, _ in linears] for name, _, linears in groups}
    assert found == {f"model.layers.{i}.{norm}": names for i in range(2) for norm, names in
                     (("input_layernorm", ["q_proj", "k_proj", "v_proj"]), ("post_attention_layernorm", ["gate_proj", "up_proj"]))}


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.85, 1.0])
def test_folded_model_computes_the_same_logits_in_full_precision(alpha):
    model, tokenizer, _ = load_tiny()
    batches = _batches(tokenizer)
    before = _logits(model, batches)
    q_weight = model.model.layers[0].self_attn.q_proj.weight.clone()
    scales = smoothquant.smooth_model(model, batches, alpha)
    assert len(scales) == 4
    if alpha > 0:
        assert not torch.allclose(model.model.layers[0].self_attn.q_proj.weight, q_weight)  # something was moved
    assert torch.allclose(_logits(model, batches), before, atol=1e-4, rtol=1e-4)


def test_outlier_view_after_equals_what_the_folded_model_reads():
    model, tokenizer, _ = load_tiny()
    _with_outliers(model)
    batches = _batches(tokenizer)
    view = smoothquant.outlier_view(model, batches, alpha=0.5)
    first = view[view["layer"] == "model.layers.0.self_attn.q_proj+k_proj+v_proj"]
    assert len(first) == 64
    smoothquant.smooth_model(model, batches, 0.5)
    measured = smoothquant.activation_absmax(model, batches)["model.layers.0.self_attn.q_proj"]
    assert torch.allclose(torch.tensor(first["after"].values, dtype=torch.float32), measured, rtol=1e-3)
    # the outliers are flattened: the largest channel is much closer to the median one
    ratio = lambda column: first[column].max() / first[column].median()
    assert ratio("after") < ratio("before") / 3


def test_activation_fake_quant_is_on_a_per_token_grid():
    x = torch.randn(2, 5, 64) * torch.linspace(0.1, 10, 64)
    q = smoothquant.fake_quant_activations(x, "per_token")
    scale = x.abs().amax(dim=-1, keepdim=True) / 127
    assert torch.allclose(q / scale, (q / scale).round(), atol=1e-3)
    assert len(torch.unique(smoothquant.fake_quant_activations(x, "per_tensor") / (x.abs().max() / 127)).round()) <= 255


@pytest.mark.parametrize("activation", ["per_token", "per_tensor"])
def test_smoothing_brings_w8a8_closer_to_full_precision_on_outlier_channels(activation):
    reference_model, tokenizer, _ = load_tiny()
    batches = _batches(tokenizer)
    reference = _logits(_with_outliers(reference_model), batches)

    def w8a8_error(alpha):
        model, _, _ = load_tiny()
        _with_outliers(model)
        if alpha is not None:
            smoothquant.smooth_model(model, batches, alpha)
        handles = smoothquant.apply_w8a8(model, activation, activation_bits=6)  # 6-bit inputs: the effect shows on 64 dims
        error = float((_logits(model, batches) - reference).pow(2).mean())
        for h in handles:
            h.remove()
        return error

    assert w8a8_error(0.5) < w8a8_error(None)


@pytest.mark.parametrize("alpha", [-0.1, 1.5])
def test_alpha_outside_0_1_is_refused_naming_it(alpha):
    with pytest.raises(LabError) as caught:
        smoothquant.check_alpha(alpha)
    assert caught.value.key == "smoothquant_bad_alpha" and str(alpha) in str(caught.value)


def test_unknown_activation_granularity_is_refused():
    model, _, _ = load_tiny()
    weight = model.model.layers[0].self_attn.q_proj.weight.clone()
    with pytest.raises(LabError) as caught:
        smoothquant.apply_w8a8(model, "per_channel")
    assert "per_channel" in str(caught.value)
    assert torch.equal(model.model.layers[0].self_attn.q_proj.weight, weight)  # nothing changed before refusing
