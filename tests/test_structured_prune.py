"""Structured pruning: removing heads/channels whose weights were zeroed beforehand leaves the logits
unchanged (both importances pick them, both GQA modes), the saved smaller model loads with the expected
shapes and the same outputs, grouped-query attention stays consistent, bad requests are refused."""
import pytest

torch = pytest.importorskip("torch")

from lab.errors import LabError  # noqa: E402
from lab.prune import structured  # noqa: E402
from lab.prune.group_importance import head_layout  # noqa: E402
from tiny_models import SENTENCES, make_config, make_tokenizer  # noqa: E402

HEAD_DIM = 16  # 6 query heads in 2 key/value groups of 3 (SmolLM2-135M: 9 in 3 groups of 3)


def gqa_model(seed=0):
    """A tiny Llama with grouped-query attention; every size a multiple of 32 (tests/tiny_models.py)."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    tokenizer = make_tokenizer()
    config = make_config("llama", tokenizer)
    config.update(dict(hidden_size=96, intermediate_size=128, num_hidden_layers=3, num_attention_heads=6,
                       num_key_value_heads=2, head_dim=HEAD_DIM))
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    return model, tokenizer


def rows(heads):
    return [h * HEAD_DIM + i for h in heads for i in range(HEAD_DIM)]


def zero_groups(model, q_heads, kv_heads, channels):
    """Zero every weight of the given query heads, key/value heads and MLP channels in every layer."""
    with torch.no_grad():
        for layer in model.model.layers:
            attn, mlp = layer.self_attn, layer.mlp
            attn.q_proj.weight[rows(q_heads)] = 0
            attn.o_proj.weight[:, rows(q_heads)] = 0
            attn.k_proj.weight[rows(kv_heads)] = 0
            attn.v_proj.weight[rows(kv_heads)] = 0
            mlp.gate_proj.weight[channels] = 0
            mlp.up_proj.weight[channels] = 0
            mlp.down_proj.weight[:, channels] = 0


def logits(model, tokenizer, text=SENTENCES[7]):
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits


CHANNELS = [3, 40, 41, 77, 127]


@pytest.mark.parametrize("importance", ["magnitude", "taylor"])
@pytest.mark.parametrize("mode, q_heads, kv_heads", [
    ("kv_groups", [3, 4, 5], [1]),  # the whole second group: its 3 query heads and its k/v head
    ("query_heads", [1, 5], []),  # one query head from each group; k/v stay
])
def test_removing_zeroed_groups_keeps_the_logits(importance, mode, q_heads, kv_heads):
    model, tokenizer = gqa_model()
    zero_groups(model, q_heads, kv_heads, CHANNELS)
    before = logits(model, tokenizer)
    report = structured.prune_structured(model, heads=1, channels=len(CHANNELS), mode=mode, importance=importance,
                                         tokenizer=tokenizer, texts=SENTENCES[:4])
    for kept in report["kept"]:  # the zeroed groups score lowest, so they are the ones removed
        assert not set(kept["q_heads"]) & set(q_heads)
        assert not set(kept["channels"]) & set(CHANNELS)
    after = logits(model, tokenizer)
    assert after.shape == before.shape
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)
    assert report["parameters_after"] < report["parameters_before"]


def test_removing_live_groups_changes_the_logits():
    model, tokenizer = gqa_model()
    before = logits(model, tokenizer)
    structured.prune_structured(model, heads=1, channels=32, mode="kv_groups")
    assert not torch.allclose(logits(model, tokenizer), before, atol=1e-4)


@pytest.mark.parametrize("mode, heads, want", [("kv_groups", 1, (3, 1, 96)), ("query_heads", 2, (2, 2, 96))])
def test_saved_model_loads_with_the_expected_shapes_and_outputs(tmp_path, mode, heads, want):
    from transformers import AutoModelForCausalLM

    model, tokenizer = gqa_model(seed=1)
    report = structured.prune_structured(model, heads=heads, channels=32, mode=mode)
    q_heads, kv_heads, intermediate = want
    hidden = model.config.hidden_size
    expected_removed = 3 * ((6 - q_heads) * HEAD_DIM * hidden * 2 + (2 - kv_heads) * HEAD_DIM * hidden * 2
                            + 32 * hidden * 3)  # per layer: q + o, k + v, gate + up + down
    assert report["parameters_before"] - report["parameters_after"] == expected_removed
    assert report["after"] == {"heads": q_heads, "kv_heads": kv_heads, "intermediate_size": intermediate}
    structured.save_pruned(model, tokenizer, tmp_path / "pruned")
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "pruned", dtype=torch.float32).eval()
    config = loaded.config
    assert (config.num_attention_heads, config.num_key_value_heads, config.intermediate_size) == want
    assert config.head_dim == HEAD_DIM  # kept: hidden_size / heads would now say 96 / 3 = 32
    for layer in loaded.model.layers:
        attn = layer.self_attn
        assert tuple(attn.q_proj.weight.shape) == (q_heads * HEAD_DIM, hidden)
        assert tuple(attn.k_proj.weight.shape) == (kv_heads * HEAD_DIM, hidden)
        assert tuple(attn.o_proj.weight.shape) == (hidden, q_heads * HEAD_DIM)
        assert tuple(layer.mlp.down_proj.weight.shape) == (hidden, intermediate)
        assert attn.num_key_value_groups == q_heads // kv_heads
    torch.testing.assert_close(logits(loaded, tokenizer), logits(model, tokenizer))


@pytest.mark.parametrize("mode", ["kv_groups", "query_heads"])
def test_gqa_stays_consistent_and_generation_runs(mode):
    model, tokenizer = gqa_model()
    report = structured.prune_structured(model, heads=1, channels=0, mode=mode)
    heads, kv_heads, per_group, _ = head_layout(model.config)
    assert heads == kv_heads * per_group
    for kept in report["kept"]:
        groups = [h // (6 // 2) for h in kept["q_heads"]]  # the original group of every kept query head
        assert sorted(set(groups)) == kept["kv_heads"]  # each kept query head still reads its own k/v head
        assert all(groups.count(g) == per_group for g in kept["kv_heads"])
    for layer in model.model.layers:
        assert layer.self_attn.num_key_value_groups == per_group
    out = model.generate(**tokenizer("The cat", return_tensors="pt"), max_new_tokens=4, do_sample=False)
    assert out.shape[1] > 2


@pytest.mark.parametrize("mode, heads, channels, key, value", [
    ("kv_groups", 2, 0, "prune_structured_kv_groups", "2"),  # both groups of 2: no attention left
    ("query_heads", 3, 0, "prune_structured_query_heads", "3"),  # a whole group of 3
    ("kv_groups", -1, 0, "prune_structured_kv_groups", "-1"),
    ("kv_groups", 0, 128, "prune_structured_channels", "128"),  # every MLP channel
    ("heads", 0, 0, "prune_structured_mode", "heads"),
])
def test_bad_requests_are_refused_naming_the_value(mode, heads, channels, key, value):
    model, _ = gqa_model()
    with pytest.raises(LabError) as caught:
        structured.prune_structured(model, heads=heads, channels=channels, mode=mode)
    assert caught.value.key == key and value in str(caught.value) and value in caught.value.message("zh")
    assert model.config.num_attention_heads == 6  # nothing was sliced


def test_unknown_importance_missing_text_and_unmapped_architecture_are_refused():
    from tiny_models import load_tiny

    model, tokenizer = gqa_model()
    with pytest.raises(LabError) as caught:
        structured.prune_structured(model, heads=1, channels=0, importance="random")
    assert caught.value.key == "prune_structured_importance" and "random" in str(caught.value)
    with pytest.raises(LabError) as caught:
        structured.prune_structured(model, heads=1, channels=0, importance="taylor", tokenizer=tokenizer, texts=[])
    assert caught.value.key == "prune_structured_no_text"
    gpt2, _, _ = load_tiny("gpt2", trained=False)
    with pytest.raises(LabError) as caught:
        structured.prune_structured(gpt2, heads=1, channels=0)
    assert caught.value.key == "prune_structured_arch" and "GPT2LMHeadModel" in str(caught.value)


def test_counts_for_ratio_keep_one_of_each_and_multiples_of_32():
    model, _ = gqa_model()
    assert structured.counts_for_ratio(model.config, 0.5) == (1, 64)
    assert structured.counts_for_ratio(model.config, 0.99) == (1, 96)  # kept 32: never the whole MLP
    assert structured.counts_for_ratio(model.config, 0.34, mode="query_heads") == (1, 32)
    assert structured.counts_for_ratio(model.config, 0.0) == (0, 0)
