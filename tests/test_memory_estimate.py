"""The memory estimate's parts on a tiny model, against a hand computation and the real parameter counts."""
import pytest

from lab.errors import LabError
from lab.finetune import memory_estimate as me

MB = 2 ** 20
TINY_LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
              "num_attention_heads": 2, "num_key_value_heads": 2, "vocab_size": 320, "tie_word_embeddings": False}


def test_parts_match_a_hand_computation():
    parts = me.estimate(TINY_LLAMA, method="lora", batch_size=2, max_length=16, lora_r=8)
    # parameters: per layer q,k,v,o 4·64·64 + gate,up,down 3·64·128 = 40,960; 2 layers; embeddings + head
    # 2·320·64 = 40,960; norms 2·(2·64) + 64 = 320  -> 123,200 (peft counts the same for this model)
    assert parts["parameters"] == 123_200
    assert parts["weights_mb"] == pytest.approx(123_200 * 4 / MB)
    # LoRA r=8 on q_proj and v_proj: 8·(64+64) each, 2 per layer, 2 layers = 4,096 (peft: 4,096)
    assert parts["trainable_params"] == 4096
    assert parts["trainable_mb"] == pytest.approx(4096 * (4 + 4 + 8) / MB)  # parameter + gradient + 2 moments
    # activations: 2·16 tokens × (12·64 + 4·64 + 4·128 = 1,536) + attention 2·2·16² = 1,024 per layer, fp32
    per_layer = 32 * 1536 + 2 * 2 * 16 ** 2
    assert parts["activations_mb"] == pytest.approx(2 * per_layer * 4 * me.ACTIVATION_FACTOR / MB)
    assert parts["logits_mb"] == pytest.approx(32 * 320 * 4 * me.LOGIT_COPIES / MB)
    assert parts["process_mb"] == me.PROCESS_MB and parts["bf16_copies_mb"] == 0
    named = [k for k in parts if k.endswith("_mb") and k != "total_mb"]
    assert parts["total_mb"] == pytest.approx(sum(parts[k] for k in named))


def test_methods_dtype_and_checkpointing_move_the_right_parts():
    lora = me.estimate(TINY_LLAMA, method="lora", batch_size=4, max_length=64)
    full = me.estimate(TINY_LLAMA, method="full", batch_size=4, max_length=64)
    assert full["trainable_params"] == full["parameters"]
    assert full["trainable_mb"] == pytest.approx(full["parameters"] * 12 / MB)  # weights counted once, in weights_mb
    qlora = me.estimate(TINY_LLAMA, method="qlora", batch_size=4, max_length=64)
    assert qlora["weights_mb"] < lora["weights_mb"] / 2 and qlora["trainable_mb"] == lora["trainable_mb"]
    checkpointed = me.estimate(TINY_LLAMA, method="lora", batch_size=4, max_length=64, gradient_checkpointing=True)
    assert checkpointed["activations_mb"] < lora["activations_mb"]
    bf16 = me.estimate(TINY_LLAMA, method="lora", batch_size=4, max_length=64, bf16=True)
    assert bf16["activations_mb"] == pytest.approx(lora["activations_mb"] / 2) and bf16["bf16_copies_mb"] > 0
    longer = me.estimate(TINY_LLAMA, method="lora", batch_size=4, max_length=128)
    assert longer["logits_mb"] == pytest.approx(2 * lora["logits_mb"])


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_parameter_count_matches_the_real_model(arch):
    import json

    from tiny_models import tiny_model_dir

    from lab.modeling.models import load_model

    folder = tiny_model_dir(arch)
    config = json.loads((folder / "config.json").read_text())
    model, _, _ = load_model(str(folder), dtype="fp32")
    assert me.parameter_count(me.shapes(config))[0] == sum(p.numel() for p in model.parameters())


def test_unknown_architectures_are_not_guessed(lab_home):
    with pytest.raises(LabError) as info:
        me.estimate({"model_type": "mamba", "hidden_size": 64})
    assert info.value.key == "memory_estimate_unknown" and "mamba" in str(info.value)
    result = me.estimate_for_spec({"model": "some-org/not-in-the-cache", "method": "lora"}, bf16=False)
    assert result["error"].key == "memory_estimate_no_config"


def test_the_default_model_estimate_is_read_without_the_converted_folder(lab_home):
    result = me.estimate_for_spec({"model": "smollm2-135m-instruct", "method": "lora", "batch_size": 4,
                                   "max_length": 128}, bf16=False)
    assert result["parameters"] == 134_515_008  # SmolLM2-135M, tied embeddings
    assert result["trainable_params"] == 460_800  # peft's count for LoRA r=8 on q_proj, v_proj
    assert 1500 < result["total_mb"] < 4000
    assert me.fits(1000, 1200) and not me.fits(1000, 1050)


def test_the_tab_shows_the_largest_estimate_next_to_free_memory_and_warns(lab_home):
    from lab.finetune import view

    fields = {"model": "smollm2-135m-instruct", "batch_size": 4, "max_length": 128, "dtype": "fp32"}
    roomy = {"gpus": [], "memory": {"available": 64 * 1024, "total": 64 * 1024}}
    text = view.estimate_markdown(fields, ["lora", "full"], "en", status=roomy)
    full = me.estimate_for_spec({**fields, "method": "full"})["total_mb"]
    assert f"{full / 1024:.2f} GB" in text and "Full fine-tuning" in text and "64.00 GB of RAM" in text
    assert "not fit" not in text
    tight = {"gpus": [], "memory": {"available": 1024, "total": 2048}}
    assert "will probably not fit" in view.estimate_markdown(fields, ["lora"], "en", status=tight)
    assert "放不下" in view.estimate_markdown(fields, ["lora"], "zh", status=tight)
    assert "Cannot estimate" in view.estimate_markdown({"model": "org/unknown"}, ["lora"], "en", status=roomy)
