"""OWL as a prune method: through the prune kind on a tiny Llama the layer sparsities average to the
target and stay within s ± 2λ, each layer's masks reach its own share exactly; OWL has no 2:4 point;
its settings are the method's own and bad ones are refused at validation; the bar chart shows the plan."""
import pytest

torch = pytest.importorskip("torch")

from lab.errors import LabError  # noqa: E402
from lab.prune.methods import METHODS  # noqa: E402
from lab.specs import spec_from_dict  # noqa: E402


def prune_spec(model, **extra):
    data = {"kind": "prune", "model": str(model), "methods": ["wanda", "owl"], "sparsities": [0.0, 0.6],
            "eval_chars": 1200, "questions": 4, "calibration_texts": 2, "device": "cpu", "owl_lambda": 0.1}
    data.update(extra)
    return spec_from_dict(data)


def test_owl_is_a_registered_whole_model_method_owning_its_settings():
    from lab.kinds.prune import PruneSpec

    owl = METHODS.get("owl")
    assert owl.prune_model is not None and owl.needs_calibration and owl.patterns == ("unstructured",)
    assert owl.settings == ("owl_m", "owl_lambda")
    spec = PruneSpec()
    assert (spec.owl_m, spec.owl_lambda) == (5.0, 0.08)  # the paper's defaults
    assert METHODS.names()[:3] == ["magnitude", "wanda", "owl"]


def test_owl_through_the_prune_kind_on_a_tiny_llama(tmp_path):
    from tiny_models import REPEATED_TEXT, trained_tiny_model_dir

    from lab.kinds.prune import run
    from lab.modeling.models import load_model
    from lab.prune.owl import decoder_blocks
    from lab.quantize.inside import linear_layers
    from lab.runs.job_context import JobContext

    spec = prune_spec(trained_tiny_model_dir("llama"), export_point="owl@0.6", eval_text=REPEATED_TEXT)
    (tmp_path / "run").mkdir()
    figures = run(spec, JobContext(tmp_path / "run"))
    rows = {r["point"]: r for r in figures["rows"]}
    assert list(rows) == ["wanda@0", "wanda@0.6", "owl@0", "owl@0.6", "wanda@2:4"]  # no owl@2:4
    layers = rows["owl@0.6"]["layers"]
    sparsities = [layer["sparsity"] for layer in layers]
    assert len(layers) == 2 and sum(sparsities) / 2 == pytest.approx(0.6, abs=1e-6)
    assert all(0.6 - 0.2 - 1e-9 <= s <= 0.6 + 0.2 + 1e-9 for s in sparsities)
    assert max(sparsities) - min(sparsities) == pytest.approx(0.2, abs=1e-6)  # two layers: they span 2λ
    assert rows["owl@0.6"]["sparsity"] == pytest.approx(0.6, abs=2e-3)  # every layer the same size here
    assert "layers" not in rows["wanda@0.6"]
    # the exported OWL model: every sublayer of block l has exactly its planned sparsity
    model, _, _ = load_model(figures["export_folder"], dtype="fp32")
    for (index, members), planned in zip(decoder_blocks(linear_layers(model)).items(), layers):
        assert planned["layer"] == index
        for _, module in members:
            zeros = int((module.weight == 0).sum())
            assert zeros == round(planned["sparsity"] * module.weight.numel())
    more, less = sorted(layers, key=lambda layer: layer["outlier_ratio_pct"], reverse=True)
    if more["outlier_ratio_pct"] > less["outlier_ratio_pct"]:
        assert more["sparsity"] < less["sparsity"]  # more outliers -> pruned less


@pytest.mark.parametrize("extra, key, value", [
    ({"owl_lambda": 0.3, "sparsities": [0.0, 0.2, 0.6]}, "prune_owl_lambda", "0.3"),  # λ > the 0.2 target
    ({"owl_lambda": 0.1, "sparsities": [0.85]}, "prune_owl_too_high", "0.85"),  # 0.85 + 2λ could empty a layer
    ({"owl_m": 0.0}, "prune_owl_m", "0.0"),
    ({"owl_lambda": 0.08, "sparsities": [0.0, 0.1, 0.7]}, "prune_owl_low_target", "0.1"),  # 0.1 − 0.16 < 0 possible
])
def test_bad_owl_settings_are_refused_at_validation(extra, key, value):
    with pytest.raises(LabError) as caught:
        prune_spec("/tmp", **extra)
    assert caught.value.key == key and value in str(caught.value) and value in caught.value.message("zh")


def test_owl_settings_are_not_checked_when_owl_is_not_chosen():
    spec = prune_spec("/tmp", methods=["wanda"], owl_lambda=0.5, sparsities=[0.1])
    assert spec.owl_lambda == 0.5


def test_owl_plot_shows_the_layer_sparsities_and_outlier_ratios():
    import pandas as pd

    from lab.prune import plots, view

    layers = [{"layer": 0, "sparsity": 0.66, "outlier_ratio_pct": 0.5}, {"layer": 1, "sparsity": 0.74, "outlier_ratio_pct": 0.1}]
    figure = plots.owl_layers(pd.DataFrame(layers), 0.7, "en")
    bars, line = figure.data
    assert list(bars.y) == pytest.approx([66.0, 74.0]) and list(bars.x) == [0, 1]
    assert list(line.y) == [0.5, 0.1] and line.yaxis == "y2"
    assert "70" in figure.layout.title.text
    result = {"outputs": {"rows": [{"point": "owl@0.5", "method": "owl", "target_sparsity": 0.5, "layers": layers},
                                   {"point": "owl@0.7", "method": "owl", "target_sparsity": 0.7, "layers": layers[::-1]}]}}
    shown = view.owl_figure(result, "zh")
    assert list(shown.data[0].x) == [1, 0]  # the highest target's plan
    assert view.owl_figure({"outputs": {"rows": [{"point": "wanda@0.5", "method": "wanda"}]}}, "en") is None
