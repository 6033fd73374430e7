"""The scaling kinds end to end: "scaling" through the runner on the shipped CSV, a tiny
"scaling_sweep" through the runner and refitted from its run, every shipped preset, and every plot
built from a run's result in both languages."""
import json

import plotly.graph_objects as go
import pytest

from lab import config
from lab.runs import runner
from lab.runs.folder import RunFolder
from lab.errors import LabError
from lab.pretrain.recipe import counts
from lab.scaling import plots, view
from lab.scaling.data import frontier_points, points_from_records, read_points_file
from lab.scaling.report import bootstrap_from_outputs, fit_from_outputs, kaplan_fits_from_outputs
from lab.specs import example_spec, spec_from_dict

PRESETS = sorted((config.REPO / "assets" / "presets" / "scaling").glob("*.json"))
TINY_SWEEP = {"kind": "scaling_sweep", "models": [{"width": 32, "depth": 1, "heads": 2}, {"width": 64, "depth": 1, "heads": 2},
                                                  {"width": 64, "depth": 2, "heads": 2}],
              "token_budgets": [2048, 4096], "context": 32, "batch_size": 8, "eval_tokens": 1024,
              "bootstrap_samples": 10, "device": "cpu"}


@pytest.mark.parametrize("path", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_shipped_preset_is_a_valid_spec(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    spec = spec_from_dict(data)
    assert spec.kind == "scaling_sweep" and spec.name
    sizes = [counts(spec, **m)["non_embedding"] for m in spec.models]
    assert max(sizes) / min(sizes) >= 25  # the issue: about 30x in non-embedding parameters
    assert len(spec.models) * len(spec.token_budgets) >= 12


def test_presets_include_a_cpu_and_a_gpu_one():
    assert {"cpu_10min", "gpu"} <= {p.stem for p in PRESETS}
    gpu = spec_from_dict(json.loads((config.REPO / "assets/presets/scaling/gpu.json").read_text()))
    assert gpu.device == "auto" and gpu.precision == "bf16"


@pytest.mark.parametrize("kind", ["pretrain", "scaling", "scaling_sweep"])
def test_example_specs_build_and_round_trip(kind):
    spec = example_spec(kind)
    assert spec_from_dict(json.loads(spec.to_json())) == spec


def test_scaling_through_the_runner_on_the_shipped_csv(lab_home):
    spec = spec_from_dict({"kind": "scaling", "bootstrap_samples": 30, "predict_n": 1e9, "predict_d": 2e10})
    run_id = runner.submit(spec)
    row = runner.wait(run_id, timeout=120)
    assert row["status"] == "succeeded", row["error"]
    result = runner.result(run_id)
    metrics, outputs = result["metrics"], result["outputs"]
    for name in ("A", "B", "E", "alpha", "beta", "objective"):
        assert name in metrics
    for name in ("A", "B", "E", "alpha", "beta"):
        assert metrics[f"{name}_ci_low"] <= metrics[name] <= metrics[f"{name}_ci_high"], name
        assert metrics[f"{name}_se"] > 0
    # the CSV was drawn from Epoch's replication of Chinchilla, with 1.5 % noise
    assert abs(metrics["alpha"] - 0.3478) < 0.08 and abs(metrics["beta"] - 0.3658) < 0.08
    assert abs(metrics["E"] - 1.8172) < 0.15
    assert metrics["prediction_ci_low"] < metrics["prediction"] < metrics["prediction_ci_high"]
    assert outputs["converged"] is True and len(outputs["points"]) == 56
    assert (RunFolder(run_id).path / "artifacts" / "points.csv").exists()
    assert row["metrics"]["alpha"] == metrics["alpha"]  # the key figures reach the runs table


def test_scaling_refuses_a_bad_csv_with_its_reason(lab_home, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("params,tokens,loss\n1e8,2e9,3.1\n2e8,lots,2.9\n")
    run_id = runner.submit(spec_from_dict({"kind": "scaling", "csv": str(bad)}))
    row = runner.wait(run_id, timeout=120)
    result = runner.result(run_id)
    assert row["status"] == "failed" and result["error_key"] == "scaling_not_a_number"
    assert "'tokens', row 3" in result["error"]


@pytest.mark.parametrize("fields, key", [
    ({"source": "sweep"}, "scaling_no_sweep"),
    ({"csv": " "}, "scaling_no_csv"),
    ({"predict_n": 1e9}, "scaling_predict_pair"),
])
def test_scaling_spec_validation(fields, key):
    with pytest.raises(LabError) as info:
        spec_from_dict({"kind": "scaling", **fields})
    assert info.value.key == key


@pytest.mark.parametrize("fields, key", [
    ({"models": [{"width": 32, "depth": 1, "heads": 2}]}, "sweep_too_small"),
    ({"token_budgets": [1000]}, "sweep_too_small"),
    ({"models": [{"width": 32, "depth": 1}, {"width": 64, "depth": 1, "heads": 2}]}, "sweep_bad_model"),
    ({"models": [{"width": 32, "depth": 1, "heads": 2, "layers": 3}, {"width": 64, "depth": 1, "heads": 2}]}, "sweep_bad_model"),
    ({"models": [{"width": 48, "depth": 1, "heads": 2}, {"width": 64, "depth": 1, "heads": 2}]}, "pretrain_width_multiple"),
    ({"token_budgets": [0, 1000]}, "sweep_bad_budget"),
])
def test_sweep_spec_validation(fields, key):
    with pytest.raises(LabError) as info:
        spec_from_dict({**TINY_SWEEP, **fields})
    assert info.value.key == key and "{" not in info.value.message("en")


def test_tiny_sweep_through_the_runner_then_refit_from_its_run(lab_home, monkeypatch):
    monkeypatch.setenv("LAB_LAUNCH", "spawn")  # a fresh worker imports torch only, not the whole warm stack
    sweep_id = runner.submit(spec_from_dict(TINY_SWEEP))
    row = runner.wait(sweep_id, timeout=300)
    assert row["status"] == "succeeded", row["error"]
    result = runner.result(sweep_id)
    records = [r for r in runner.metrics(sweep_id) if "N" in r]
    assert len(records) == 6 and len({r["N"] for r in records}) == 3 and len({r["D"] for r in records}) == 2
    assert all(r["C"] == 6 * r["N"] * r["D"] for r in records)
    points = read_points_file(RunFolder(sweep_id).path / "artifacts" / "points.csv")
    assert len(points) == 6 and result["metrics"]["n_points"] == 6
    for name in ("A", "B", "E", "alpha", "beta", "objective", "alpha_ci_low", "alpha_ci_high"):
        assert name in result["metrics"]

    refit_id = runner.submit(spec_from_dict({"kind": "scaling", "source": "sweep", "sweep_run": sweep_id,
                                             "bootstrap_samples": 10}))
    row = runner.wait(refit_id, timeout=120)
    assert row["status"] == "succeeded", row["error"]
    assert runner.result(refit_id)["metrics"]["objective"] == pytest.approx(result["metrics"]["objective"], rel=1e-6)

    wrong = runner.submit(spec_from_dict({"kind": "scaling", "source": "sweep", "sweep_run": refit_id}))
    runner.wait(wrong, timeout=120)
    assert runner.result(wrong)["error_key"] == "scaling_not_a_sweep"

    # what the tab offers next: the sweep in its list, and a verify run with the sweep's own settings
    assert sweep_id in [value for _, value in view.sweep_choices()]
    verify = spec_from_dict(view.verify_spec(refit_id, 60_000, 4096))
    assert verify.kind == "pretrain" and verify.tokens == 4096 and verify.context == 32 and verify.batch_size == 8
    assert abs(counts(verify, verify.width, verify.depth, verify.heads)["non_embedding"] / 60_000 - 1) < 0.35
    finished = {"spec": verify.to_dict(), "metrics": {"N": 61_000, "n_params": 70_000, "D": 4096, "held_out_loss": 3.3}}
    assert view.verified_point(finished) == (refit_id, 61_000.0, 4096.0, 3.3)
    with pytest.raises(LabError) as info:
        view.verify_spec(refit_id, 5e8, 1e9)
    assert info.value.key == "scaling_verify_too_big"
    csv_fit = runner.submit(spec_from_dict({"kind": "scaling", "bootstrap_samples": 0}))
    runner.wait(csv_fit, timeout=120)
    with pytest.raises(LabError) as info:
        view.verify_spec(csv_fit, 60_000, 4096)
    assert info.value.key == "scaling_verify_needs_sweep"


@pytest.fixture(scope="module")
def example_outputs():
    from lab.kinds.scaling import EXAMPLE_CSV
    from lab.scaling.report import fit_report

    points = read_points_file(config.REPO / EXAMPLE_CSV)
    return fit_report(points, bootstrap_samples=20)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_plot_builds_from_a_result(example_outputs, lang):
    metrics, outputs = json.loads(json.dumps(example_outputs, default=float))  # as stored in result.json
    fit, boot = fit_from_outputs(outputs), bootstrap_from_outputs(outputs)
    points = points_from_records(outputs["points"])
    kaplan = kaplan_fits_from_outputs(outputs)
    figures = [plots.loss_vs_n(points, fit, lang), plots.loss_vs_d(points, fit, lang), plots.isoflop(points, fit, lang),
               plots.frontier(fit, boot, lang), plots.residuals(points, fit, lang),
               plots.kaplan({v: frontier_points(points, v) for v in kaplan}, kaplan, lang),
               plots.prediction(points, fit, boot, 1e9, 2e10, measured=2.6, lang=lang)]
    for figure in figures:
        assert isinstance(figure, go.Figure) and len(figure.data) >= 2
        assert figure.layout.font.size >= 18 and figure.layout.title.text
        if lang == "zh":
            assert any("\u4e00" <= ch <= "\u9fff" for ch in figure.layout.title.text)
    assert fit.params["alpha"] == pytest.approx(metrics["alpha"])
    assert boot.samples == metrics["bootstrap_samples"]
    # the tab's own view of the same result
    result = {"metrics": metrics, "outputs": outputs, "spec": {"kind": "scaling"}}
    table = view.parameter_table(metrics, lang)
    assert len(table) == 10 and table.iloc[0, 0] == view.t("scaling.param.E", lang)
    assert view.summary(result, lang) and "{" not in view.summary(result, lang)
    assert "**" in view.predict_text(result, 1e9, 2e10, lang)
    shown = view.figures(result, lang, 1e9, 2e10, measured=2.6)
    assert len(shown) == len(view.FIGURES) and all(isinstance(f, go.Figure) for f in shown)
