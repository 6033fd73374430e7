"""GPTQ (lab/quantize/gptq.py, gptq_model.py): on the grid, never worse than RTN on its own data, RTN
exactly with an identity Hessian, act-order permuted back, the paper's unbatched OBS form reproduced."""
import pytest
import torch

from lab.errors import LabError
from lab.quantize import rtn
from lab.quantize.gptq import Hessian, gptq_quantize, output_error, rtn_quantize
from lab.quantize.gptq_reference import paper_gptq
from tiny_models import REPEATED_TEXT, load_tiny


def layer_and_inputs(rows=48, columns=64, tokens=512, seed=0, dtype=torch.float32):
    """A weight and correlated inputs with a few outlier features (what makes GPTQ beat RTN)."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(columns, columns, generator=g) / columns ** 0.5
    x = torch.randn(tokens, columns, generator=g) @ (torch.eye(columns) + 2 * mix)
    x[:, :4] *= 8  # outlier input channels
    hessian = Hessian(columns)
    for chunk in x.split(100):  # in several batches: the running mean must equal the one-shot one
        hessian.add(chunk)
    weight = torch.randn(rows, columns, generator=g) * 0.1
    return weight.to(dtype), hessian.matrix.to(dtype), x


def test_hessian_is_two_x_xt_over_tokens_and_error_is_mean_output_error():
    weight, hessian, x = layer_and_inputs()
    assert torch.allclose(hessian, 2 * x.t() @ x / x.shape[0], rtol=1e-4, atol=1e-3)
    quantized = rtn_quantize(weight, 3)
    direct = float(((x @ (weight - quantized).t()) ** 2).sum() / x.shape[0])
    assert output_error(weight, quantized, hessian) == pytest.approx(direct, rel=1e-3)


@pytest.mark.parametrize("mode", rtn.MODES)
@pytest.mark.parametrize("bits", [3, 4])
def test_per_channel_weights_lie_on_the_rtn_grid_of_each_row(mode, bits):
    weight, hessian, _ = layer_and_inputs()
    quantized = gptq_quantize(weight, hessian, bits, 0, mode)
    grid_mode, qmax, scale, offset = rtn.grid_of(weight, bits, mode)
    if mode == "symmetric":
        codes = quantized / scale
    elif mode == "minmax":
        codes = (quantized - offset) / scale
    else:
        codes = quantized / scale + offset
    assert torch.allclose(codes, codes.round(), atol=1e-3)
    low = -qmax if mode == "symmetric" else 0
    assert codes.round().min() >= low and codes.round().max() <= qmax
    assert not torch.equal(quantized, rtn_quantize(weight, bits, 0, mode))  # the error feedback moved some codes


@pytest.mark.parametrize("static", [False, True])
def test_grouped_weights_use_at_most_2_to_the_bits_levels_per_group(static):
    weight, hessian, _ = layer_and_inputs()
    quantized = gptq_quantize(weight, hessian, 3, 16, "asymmetric", static_groups=static)
    for group in quantized.reshape(-1, 16):
        assert len(torch.unique(group)) <= 8
    if static:  # static grids come from the original weights: every value is a code of its group's grid
        _, qmax, scale, zero = rtn.grid_of(weight.reshape(-1, 16), 3, "asymmetric")
        codes = quantized.reshape(-1, 16) / scale + zero
        assert torch.allclose(codes, codes.round(), atol=1e-3)


@pytest.mark.parametrize("group_size", [0, 16])
@pytest.mark.parametrize("act_order", [False, True])
@pytest.mark.parametrize("bits", [2, 3, 4])
def test_gptq_output_error_is_below_rtn_on_the_same_layer_and_data(group_size, act_order, bits):
    weight, hessian, _ = layer_and_inputs(seed=bits)
    gptq = output_error(weight, gptq_quantize(weight, hessian, bits, group_size, act_order=act_order), hessian)
    plain = output_error(weight, rtn_quantize(weight, bits, group_size), hessian)
    assert gptq < 0.8 * plain


@pytest.mark.parametrize("mode", rtn.MODES)
@pytest.mark.parametrize("group_size", [0, 16])
def test_identity_hessian_gives_rtn_exactly(mode, group_size):
    weight, _, _ = layer_and_inputs()
    for bits in range(2, 9):
        expected = rtn_quantize(weight, bits, group_size, mode)
        assert torch.equal(gptq_quantize(weight, torch.eye(64), bits, group_size, mode), expected)
        assert torch.equal(gptq_quantize(weight, torch.eye(64), bits, group_size, mode, act_order=True,
                                         static_groups=True), expected)


@pytest.mark.parametrize("group_size,static", [(0, None), (16, False)])
def test_act_order_equals_a_manual_run_on_permuted_columns_permuted_back(group_size, static):
    weight, hessian, _ = layer_and_inputs()
    perm = torch.argsort(torch.diag(hessian), descending=True)
    assert not torch.equal(perm, torch.arange(64))
    manual = gptq_quantize(weight[:, perm], hessian[perm][:, perm], 3, group_size)[:, torch.argsort(perm)]
    ordered = gptq_quantize(weight, hessian, 3, group_size, act_order=True, static_groups=static)
    assert torch.allclose(ordered, manual, atol=1e-6)
    assert not torch.allclose(ordered, gptq_quantize(weight, hessian, 3, group_size), atol=1e-6)


@pytest.mark.parametrize("block_size", [1, 5, 128])
def test_matches_the_papers_unbatched_obs_form(block_size):
    """Same rounding decisions as eq. 2-3 applied naively (lab/quantize/gptq_reference.py), any block size."""
    weight, hessian, _ = layer_and_inputs(dtype=torch.float64)
    expected = paper_gptq(weight, hessian, 3)
    assert torch.allclose(gptq_quantize(weight, hessian, 3, 0, block_size=block_size), expected, atol=1e-9)


def test_dead_inputs_are_zeroed_and_nothing_is_nan():
    weight, hessian, _ = layer_and_inputs()
    hessian[5, :] = 0
    hessian[:, 5] = 0
    quantized = gptq_quantize(weight, hessian, 4, 16, "asymmetric")
    assert torch.isfinite(quantized).all()
    assert torch.equal(quantized[:, 5], torch.zeros(48))  # asymmetric grids keep zero exact


@pytest.mark.parametrize("bits", [1, 9])
def test_bits_outside_2_to_8_are_refused_naming_the_value(bits):
    weight, hessian, _ = layer_and_inputs()
    with pytest.raises(LabError) as caught:
        gptq_quantize(weight, hessian, bits)
    assert caught.value.key == "gptq_bad_bits" and str(bits) in str(caught.value)


def test_group_size_not_dividing_is_refused_naming_it():
    weight, hessian, _ = layer_and_inputs()
    with pytest.raises(LabError) as caught:
        gptq_quantize(weight, hessian, 4, 48)
    assert caught.value.key == "gptq_group_divides" and "48" in str(caught.value)


def _calibration(tokenizer):
    ids = tokenizer(REPEATED_TEXT, return_tensors="pt")["input_ids"]
    return [ids[:, :64], ids[:, 64:128]]


def test_model_driver_quantizes_every_decoder_linear_sequentially():
    from lab.quantize.gptq_model import gptq_quantize_model, linear_names

    model, tokenizer, _ = load_tiny()
    batches = _calibration(tokenizer)
    with torch.no_grad():
        reference = torch.cat([model(input_ids=b).logits for b in batches], dim=1)
    rtn_model, _, _ = load_tiny()
    with torch.no_grad():
        for _, module in linear_names(rtn_model):
            module.weight.copy_(rtn_quantize(module.weight, 3, 32))
        rtn_logits = torch.cat([rtn_model(input_ids=b).logits for b in batches], dim=1)
    lm_head = model.lm_head.weight.clone()
    stats = gptq_quantize_model(model, batches, bits=3, group_size=32)
    assert [s["layer"] for s in stats][:4] == ["0.self_attn.q_proj", "0.self_attn.k_proj", "0.self_attn.v_proj",
                                               "0.self_attn.o_proj"]
    assert len(stats) == len(linear_names(model)) == 14
    assert all(s["gptq_error"] < s["rtn_error"] for s in stats)
    assert torch.equal(model.lm_head.weight, lm_head)  # lm_head is not a decoder linear
    with torch.no_grad():
        gptq_logits = torch.cat([model(input_ids=b).logits for b in batches], dim=1)
    assert (gptq_logits - reference).pow(2).mean() < (rtn_logits - reference).pow(2).mean()


def test_model_driver_refuses_a_group_size_that_does_not_divide_a_layer():
    from lab.quantize.gptq_model import gptq_quantize_model

    model, tokenizer, _ = load_tiny()
    with pytest.raises(LabError) as caught:
        gptq_quantize_model(model, _calibration(tokenizer), bits=4, group_size=96)
    assert caught.value.key == "gptq_group_divides" and "96" in str(caught.value)
