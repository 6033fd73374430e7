"""QAT (lab/quantize/qat.py): the forward uses RTN grid weights, gradients reach the latent weights
(full fine-tuning) or the LoRA matrices (peft on top), and unwrapping bakes the grid weights in."""
import pytest
import torch

from lab.errors import LabError
from lab.quantize import qat, rtn
from tiny_models import REPEATED_TEXT, load_tiny


def _ids(tokenizer):
    return tokenizer(REPEATED_TEXT, return_tensors="pt")["input_ids"][:, :64]


def _rtn_copy(bits, group_size):
    model, _, _ = load_tiny()
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear) and not name.endswith("lm_head"):
                module.weight.copy_(rtn.fake_quant(module.weight, bits, "per_group", group_size))
    return model


@pytest.mark.parametrize("bits", [2, 4])
def test_forward_equals_the_model_with_rtn_weights(bits):
    model, tokenizer, _ = load_tiny()
    ids = _ids(tokenizer)
    with torch.no_grad():
        full = model(input_ids=ids).logits
    assert qat.wrap_linears(model, bits, group_size=32) == 14  # 2 layers × 7, lm_head left out
    assert type(model.lm_head) is torch.nn.Linear
    with torch.no_grad():
        wrapped = model(input_ids=ids).logits
        expected = _rtn_copy(bits, 32)(input_ids=ids).logits
    assert torch.allclose(wrapped, expected, atol=1e-5)
    assert not torch.allclose(wrapped, full, atol=1e-3)


def test_full_finetuning_gradients_reach_the_latent_weights_and_training_moves_them():
    model, tokenizer, _ = load_tiny()
    ids = _ids(tokenizer)
    qat.wrap_linears(model, 3, group_size=32)
    q_proj = model.model.layers[0].self_attn.q_proj
    latent = q_proj.weight.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    assert q_proj.weight.grad is not None and q_proj.weight.grad.abs().sum() > 0
    optimizer.step()
    assert not torch.equal(q_proj.weight.detach(), latent)  # the latent weight moved...
    assert len(torch.unique(q_proj.quantized_weight().detach().reshape(-1, 32)[0])) <= 7  # ...the forward stays on 7 levels


def test_lora_on_top_gets_gradients_and_the_base_stays_frozen():
    from peft import LoraConfig, get_peft_model

    model, tokenizer, _ = load_tiny()
    ids = _ids(tokenizer)
    qat.wrap_linears(model, 3, group_size=32)
    model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                             init_lora_weights=False))
    model(input_ids=ids, labels=ids).loss.backward()
    lora = [(n, p) for n, p in model.named_parameters() if "lora_" in n]
    assert lora and all(p.grad is not None and p.grad.abs().sum() > 0 for _, p in lora)
    base = model.base_model.model.model.layers[0].self_attn.q_proj.base_layer
    assert isinstance(base, qat.FakeQuantLinear) and base.weight.grad is None


def test_unwrap_bakes_grid_weights_and_restores_plain_linears():
    model, tokenizer, _ = load_tiny()
    ids = _ids(tokenizer)
    qat.wrap_linears(model, 4, group_size=32)
    with torch.no_grad():
        wrapped = model(input_ids=ids).logits
    assert qat.unwrap_linears(model, bake=True) == 14
    assert all(type(m) is not qat.FakeQuantLinear for m in model.modules())
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, wrapped, atol=1e-5)


@pytest.mark.parametrize("bits", [1, 9])
def test_bits_outside_2_to_8_are_refused_naming_the_value(bits):
    model, _, _ = load_tiny()
    with pytest.raises(LabError) as caught:
        qat.wrap_linears(model, bits)
    assert caught.value.key == "qat_bad_bits" and str(bits) in str(caught.value)


def test_group_size_not_dividing_is_refused():
    model, _, _ = load_tiny()
    with pytest.raises(LabError) as caught:
        qat.wrap_linears(model, 4, group_size=48)
    assert caught.value.key == "gptq_group_divides" and "48" in str(caught.value)
