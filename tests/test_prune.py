"""Pruning: magnitude and Wanda reach the requested sparsity exactly, 2:4 keeps 2 of every 4, Wanda
keeps weights on large-activation features, and the sweep on a tiny model measures what it prunes."""
import pytest

torch = pytest.importorskip("torch")

from lab.errors import LabError  # noqa: E402
from lab.prune import masks  # noqa: E402
from lab.prune.methods import METHODS  # noqa: E402
from lab.specs import spec_from_dict  # noqa: E402


def linear(rows=64, columns=96, seed=0):
    torch.manual_seed(seed)
    layer = torch.nn.Linear(columns, rows, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(rows, columns))  # no exact zeros to begin with
    return layer


@pytest.mark.parametrize("method", ["magnitude", "wanda"])
@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.37, 0.5, 0.7])
def test_methods_reach_the_requested_sparsity_exactly(method, sparsity):
    layer = linear()
    norm = torch.rand(layer.in_features) + 0.1
    METHODS.get(method).prune(layer, sparsity, norm, "unstructured")
    zeros = int((layer.weight == 0).sum())
    assert zeros == round(sparsity * layer.weight.numel())
    assert not any(name.endswith("_orig") or name.endswith("_mask") for name, _ in layer.named_parameters())


def test_wanda_prunes_within_each_row_and_rows_differ_by_at_most_one():
    layer = linear(rows=10, columns=30)
    METHODS.get("wanda").prune(layer, 0.37, torch.ones(30), "unstructured")  # 111 of 300: not a whole row count
    per_row = (layer.weight == 0).sum(dim=1).tolist()
    assert sum(per_row) == 111 and max(per_row) - min(per_row) <= 1


@pytest.mark.parametrize("method", ["magnitude", "wanda"])
def test_two_four_keeps_two_of_every_four(method):
    layer = linear(rows=32, columns=64)
    METHODS.get(method).prune(layer, 0.5, torch.rand(64) + 0.1, "2:4")
    groups = (layer.weight != 0).reshape(32, 16, 4).sum(dim=2)
    assert (groups == 2).all()
    with pytest.raises(LabError) as caught:
        masks.n_m_mask(torch.rand(4, 6), 2, 4, layer="x")
    assert caught.value.key == "prune_24_columns"


def test_wanda_keeps_small_weights_on_large_activation_features_magnitude_does_not():
    by_magnitude, by_wanda = linear(seed=1), linear(seed=1)
    with torch.no_grad():
        for layer in (by_magnitude, by_wanda):
            layer.weight[:, 7] *= 0.01  # tiny weights ...
    norm = torch.ones(by_wanda.in_features)
    norm[7] = 1e4  # ... on an outlier feature
    METHODS.get("magnitude").prune(by_magnitude, 0.5, None, "unstructured")
    METHODS.get("wanda").prune(by_wanda, 0.5, norm, "unstructured")
    assert (by_magnitude.weight[:, 7] == 0).all()
    assert (by_wanda.weight[:, 7] != 0).all()


def test_wanda_scores_are_weight_times_input_norm():
    from lab.prune.methods.wanda import scores

    weight = torch.tensor([[1.0, -2.0], [0.5, 4.0]])
    assert torch.equal(scores(weight, torch.tensor([3.0, 0.5])), torch.tensor([[3.0, 1.0], [1.5, 2.0]]))


def test_calibration_norms_are_the_l2_norm_of_each_input_feature():
    from lab.prune.calibrate import input_norms

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 32)

        def forward(self, input_ids):
            return self.layer(input_ids.float())

    class Tok:
        def __call__(self, text, return_tensors=None):
            return {"input_ids": torch.tensor([[[float(c) for c in text.split()]]])}

    model = Tiny()
    norms = input_norms(model, Tok(), ["1 2 3 4", "3 0 4 0"], [("layer", model.layer)])
    assert torch.allclose(norms["layer"], torch.tensor([10 ** 0.5, 2.0, 5.0, 4.0]))


def prune_spec(model, **extra):
    data = {"kind": "prune", "model": str(model), "sparsities": [0.0, 0.5, 0.7], "eval_chars": 1200, "questions": 4,
            "calibration_texts": 2, "device": "cpu"}
    data.update(extra)
    return spec_from_dict(data)


def test_sparsity_sweep_on_a_tiny_model_and_export(tmp_path):
    from tiny_models import REPEATED_TEXT, trained_tiny_model_dir

    from lab.runs.job_context import JobContext
    from lab.kinds.prune import run
    from lab.modeling.models import load_model
    from lab.quantize import view
    from lab.modeling.layers import linear_layers

    # evaluated on the text the tiny model was trained on, so the dense model is good and pruning shows
    spec = prune_spec(trained_tiny_model_dir("llama"), export_point="wanda@0.5", eval_text=REPEATED_TEXT)
    (tmp_path / "run").mkdir()
    figures = run(spec, JobContext(tmp_path / "run"))
    rows = {r["point"]: r for r in figures["rows"]}
    assert list(rows) == ["magnitude@0", "magnitude@0.5", "magnitude@0.7", "wanda@0", "wanda@0.5", "wanda@0.7",
                          "magnitude@2:4", "wanda@2:4"]
    for row in rows.values():
        # each layer prunes exactly round(s × its weights) (tested above), so the total is s to within a weight per layer
        assert row["sparsity"] == pytest.approx(0.5 if row["pattern"] == "2:4" else row["target_sparsity"], abs=1e-3)
    assert rows["wanda@0"]["ppl"] == rows["magnitude@0"]["ppl"]  # the dense model, measured once
    assert rows["magnitude@0.7"]["ppl"] > rows["magnitude@0"]["ppl"]
    model, _, _ = load_model(figures["export_folder"], dtype="fp32")
    zeros = sum(int((m.weight == 0).sum()) for _, m in linear_layers(model))
    total = sum(m.weight.numel() for _, m in linear_layers(model))
    assert zeros / total == pytest.approx(0.5)
    result = {"outputs": {"rows": figures["rows"]}, "metrics": {}, "spec": spec.to_dict()}
    figure = view.prune_figure(result, "en")
    wanda = next(t for t in figure.data if t.name == "wanda")
    assert list(wanda.y) == [rows[p]["ppl"] for p in ("wanda@0", "wanda@0.5", "wanda@0.7")]
    assert len(view.sweep_frame(result, "zh")) == len(rows)


@pytest.mark.parametrize("extra,key", [({"methods": ["snip"]}, "unknown_prune_method"),
                                       ({"sparsities": [1.2]}, "prune_bad_sparsity"), ({"sparsities": []}, "prune_no_sparsities"),
                                       ({"sparsities": [i / 100 for i in range(30)]}, "prune_too_many"),
                                       ({"export_point": "wanda@0.4"}, "prune_unknown_export")])
def test_bad_prune_specs_name_the_problem(extra, key):
    with pytest.raises(LabError) as caught:
        prune_spec("/tmp", **extra)
    assert caught.value.key == key


def test_method_registry_order():
    assert METHODS.names()[:2] == ["magnitude", "wanda"]
