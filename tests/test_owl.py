"""OWL: layer sparsities average exactly to the target and stay within s ± 2λ, the layer with the most
outliers is pruned least, every sublayer's mask has exactly its layer's sparsity, bad settings are refused."""
import random

import pytest

torch = pytest.importorskip("torch")

from lab.errors import LabError  # noqa: E402
from lab.prune import owl  # noqa: E402
from tiny_models import SENTENCES, load_tiny  # noqa: E402


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("sparsity, lam", [(0.7, 0.08), (0.5, 0.2), (0.3, 0.01)])
def test_layer_sparsities_average_to_the_target_within_two_lambda(seed, sparsity, lam):
    rng = random.Random(seed)
    ratios = [rng.uniform(0, 0.05) for _ in range(rng.randint(2, 30))]
    out = owl.layer_sparsities(ratios, sparsity, lam)
    assert sum(out) / len(out) == pytest.approx(sparsity, abs=1e-12)
    assert all(sparsity - 2 * lam - 1e-12 <= s <= sparsity + 2 * lam + 1e-12 for s in out)
    assert max(out) - min(out) == pytest.approx(2 * lam)  # min-max scaling spans the whole 2λ
    most, least = ratios.index(max(ratios)), ratios.index(min(ratios))
    assert out[most] == min(out) and out[least] == max(out)  # more outliers -> pruned less


def test_equal_outlier_ratios_give_every_layer_the_target():
    assert owl.layer_sparsities([0.01, 0.01, 0.01], 0.6, 0.08) == [0.6, 0.6, 0.6]


@pytest.mark.parametrize("sparsity, lam, m, key, value", [
    (0.05, 0.08, 5.0, "prune_owl_lambda", "0.08"),  # λ larger than the target
    (1.0, 0.08, 5.0, "prune_owl_sparsity", "1.0"),
    (-0.1, 0.0, 5.0, "prune_owl_sparsity", "-0.1"),
    (0.5, 0.08, 0.0, "prune_owl_m", "0.0"),
])
def test_bad_settings_are_refused_naming_the_value(sparsity, lam, m, key, value):
    with pytest.raises(LabError) as caught:
        owl.check_settings(sparsity, lam, m)
    assert caught.value.key == key and value in str(caught.value) and value in caught.value.message("zh")


def test_a_layer_sparsity_outside_zero_one_is_refused():
    # spread 2λ = 0.2 around 0.1 with one outlier-heavy layer: that layer would get 0.1 - 0.133 < 0
    with pytest.raises(LabError) as caught:
        owl.layer_sparsities([0.0, 0.0, 1.0], 0.1, 0.1)
    assert caught.value.key == "prune_owl_layer_sparsity" and caught.value.params["layer"] == 2
    with pytest.raises(LabError):
        owl.layer_sparsities([0.0, 1.0], 0.96, 0.05)  # the outlier-poor layer would get 1.01
    assert owl.layer_sparsities([0.0, 1.0], 0.9, 0.04) == pytest.approx([0.94, 0.86])


def test_outlier_ratio_counts_scores_above_m_times_the_mean():
    scores = [torch.ones(10, 10), torch.tensor([[100.0, 1.0]])]  # mean ≈ 1.97: only the 100 is above 5x
    assert owl.outlier_ratio(scores, 5.0) == pytest.approx(1 / 102)
    assert owl.outlier_ratio(scores, 0.1) == 1.0


def test_owl_on_a_tiny_llama_prunes_each_layer_exactly_at_its_planned_sparsity():
    from lab.prune.calibrate import input_norms
    from lab.quantize.inside import linear_layers

    model, tokenizer, _ = load_tiny()
    layers = linear_layers(model)
    norms = input_norms(model, tokenizer, SENTENCES, layers)
    plan = owl.owl_plan(model, norms, sparsity=0.6, m=owl.DEFAULT_M, lam=0.05)
    assert [p.index for p in plan] == [0, 1]
    assert all(len(p.names) == 7 for p in plan)  # q, k, v, o, gate, up, down of each decoder layer
    assert sum(p.sparsity for p in plan) / len(plan) == pytest.approx(0.6)
    assert {round(p.sparsity, 6) for p in plan} == {0.55, 0.65}  # two layers with different D: ±λ
    modules = dict(layers)
    assert all(int((modules[n].weight == 0).sum()) == 0 for p in plan for n in p.names)
    owl.owl_prune(model, norms, plan)
    for layer in plan:
        for name in layer.names:
            weight = modules[name].weight
            assert int((weight == 0).sum()) == round(layer.sparsity * weight.numel()), name
    assert int((model.lm_head.weight == 0).sum()) == 0  # the output layer is not pruned
    rows = owl.plan_rows(plan)
    assert [r["layer"] for r in rows] == [0, 1] and all(r["outlier_ratio_pct"] >= 0 for r in rows)


def test_an_outlier_heavy_layer_is_pruned_least():
    from lab.prune.calibrate import input_norms
    from lab.quantize.inside import linear_layers

    model, tokenizer, _ = load_tiny()
    layers = linear_layers(model)
    norms = input_norms(model, tokenizer, SENTENCES[:3], layers)
    for name in norms:  # layer 1's inputs get a few huge features: many scores far above the mean
        if name.startswith("layers.1."):
            norms[name] = norms[name].clone()
            norms[name][:3] *= 1e3
    plan = owl.owl_plan(model, norms, sparsity=0.7)
    assert plan[1].outlier_ratio > plan[0].outlier_ratio
    assert plan[1].sparsity == pytest.approx(0.7 - owl.DEFAULT_LAMBDA)
    assert plan[0].sparsity == pytest.approx(0.7 + owl.DEFAULT_LAMBDA)
