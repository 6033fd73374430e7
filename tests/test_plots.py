"""Honest plots (issue 25, item 4): every loss/metric axis follows one rule (lab/present/plots.value_range),
a note says when differences are within noise, a scaling sweep's curves are one line per model; and the
Scaling tab's Predict (item 9) starts inside the data, warns when it extrapolates, and says why
"Train this model to verify" is off. Figures are checked as data, without a browser."""
import re

import pandas as pd
import pytest

from lab.present import plots
from lab.present.i18n import t


def test_value_range_never_goes_below_the_floor_and_is_never_a_hair_wide():
    low, high = plots.value_range([8.9383, 8.9385], floor=1.0)
    assert high - low >= 0.05 * 8.9385  # a 0.0002 difference no longer fills the axis
    assert low < 8.9383 < 8.9385 < high
    assert plots.value_range([0.4, 3.0])[0] == 0.0  # a loss near zero: the axis starts at 0, never below
    assert plots.value_range([2.1, 2.3])[0] > 0  # far from zero: a data-derived floor, not 0 and not negative
    assert plots.value_range([5.0])[0] >= 0  # one point: plotly would pad it to [4, 6] or wider; we stay >= 0
    assert plots.value_range([-1.0, 2.0])[0] < -1.0  # a reward can be negative: no floor then
    assert plots.value_range([0.2, 0.5], floor=0, ceiling=1.0)[0] == 0.0
    assert plots.value_range([], floor=0) is None


def test_log_ranges_span_the_data_and_get_labelled_ticks():
    low, high = plots.value_range([7.05, 7.25], log=True, min_span=3.0)
    assert 10 ** high / 10 ** low >= 4  # at least a factor 4 wide: not a 7.05-7.25 "log" axis
    assert 10 ** low < 7.05 and 10 ** high > 7.25
    assert plots.log_ticks(3.5, 14.5) == [4, 5, 6, 7, 8, 9, 10]
    assert plots.log_ticks(9, 900) == [10, 20, 50, 100, 200, 500]


def test_noise_note_present_only_when_points_differ_by_less_than_their_noise():
    import plotly.graph_objects as go

    close = go.Figure()
    assert plots.noise_note(close, [8.9383, 8.9385], "en")
    assert len(close.layout.annotations) == 1 and "noise" in close.layout.annotations[0].text
    apart = go.Figure()
    assert not plots.noise_note(apart, [8.9, 9.6], "en") and not apart.layout.annotations
    with_se = go.Figure()
    assert plots.noise_note(with_se, [8.90, 8.95], "zh", noise=0.08)  # 0.05 apart, standard error 0.08
    assert "0.08" in with_se.layout.annotations[0].text and "噪声" in with_se.layout.annotations[0].text
    assert not plots.noise_note(go.Figure(), [8.9], "en")  # one point is never "within noise"


def test_metric_curves_loss_axis_starts_at_zero_or_above():
    frame = pd.DataFrame({"step": [1, 2, 3, 4], "loss": [0.9, 0.5, 0.2, 0.05]})
    figure = plots.metric_curves({"run": frame}, "loss", "en")
    assert figure.layout.yaxis.range[0] == 0.0 and figure.layout.yaxis.range[1] > 0.9
    assert len(figure.data) == 1


def test_a_scaling_sweep_draws_one_line_per_model_not_a_sawtooth():
    records = [{"point": i + 1, "label": f"m{n}-D{d}", "N": n, "D": d, "C": 6.0 * n * d, "loss": 5 - n / 1e5 - d / 1e6}
               for i, (n, d) in enumerate((n, d) for n in (10_000, 40_000, 90_000) for d in (30_000, 80_000))]
    figure = plots.metric_curves({"sweep": pd.DataFrame(records)}, "loss", "en")
    assert len(figure.data) == 3  # one line per model size
    assert [list(trace.x) for trace in figure.data] == [[30_000, 80_000]] * 3  # each against its tokens D
    assert figure.data[0].name == "N=10k" and figure.layout.xaxis.type == "log"  # one run: named by model
    two = plots.metric_curves({"a": pd.DataFrame(records), "b": pd.DataFrame(records)}, "loss", "en")
    assert len(two.data) == 6 and two.data[3].name == "b · N=10k"  # several runs: which run, which model
    assert figure.layout.yaxis.range[0] >= 0
    assert "D" in figure.layout.xaxis.title.text


QUANTIZE_TABLE = pd.DataFrame([
    {"variant": "fp32", "scheme": "fp32", "linear_mb": 12.0, "ppl": 8.9383, "ppl_se": 0.05},
    {"variant": "int8 t6", "scheme": "int8", "linear_mb": 3.0, "ppl": 8.9385, "ppl_se": 0.05},
    {"variant": "int8 t0", "scheme": "int8", "linear_mb": 3.0, "ppl": 8.9384, "ppl_se": 0.05},
])


def test_quantize_memory_plot_has_a_meaningful_axis_and_a_noise_note():
    from lab.quantize import plots as qplots

    figure = qplots.memory_vs_quality(QUANTIZE_TABLE, "en")
    low, high = figure.layout.yaxis.range
    assert high - low > 0.4 and low >= 1.0  # not 8.9383-8.9385
    assert figure.layout.xaxis.range[0] == 0.0  # memory from zero: a quarter of the memory looks like a quarter
    notes = [a.text for a in figure.layout.annotations]
    assert len(notes) == 1 and "standard error" in notes[0]
    apart = QUANTIZE_TABLE.assign(ppl=[8.9, 9.6, 12.0], ppl_se=[0.01] * 3)
    assert not qplots.memory_vs_quality(apart, "en").layout.annotations
    old_run = QUANTIZE_TABLE.drop(columns=["ppl_se"])  # runs from before ppl_se: the 0.1 % rule alone
    assert len(qplots.memory_vs_quality(old_run, "en").layout.annotations) == 1


def test_quantize_summary_names_only_the_schemes_that_ran():
    from lab.quantize import view

    rows = [dict(r, ppl=p) for r, p in zip(QUANTIZE_TABLE.to_dict("records"), (8.94, 8.95, 9.40))]
    line = view.measured_line(rows, "en")
    assert "int8 t6 8.95" in line and "int8 t0 9.4" in line and "+5.15%" in line
    assert "NF4" not in line and "nf4" not in line and "–" not in line
    assert view.measured_line(rows[:1], "en").endswith("in fp32.")
    assert view.measured_line([], "en") == ""


def test_int8_threshold_preset_runs_both_thresholds():
    from lab.classroom import presets
    from lab.quantize.schemes import SCHEMES

    spec = presets.load("quantize/int8_threshold").build()[0]
    labels = [v.label for v in SCHEMES.get("int8").variants(spec)]
    assert labels == ["int8 t6", "int8 t0"]
    assert [v.options["threshold"] for v in SCHEMES.get("int8").variants(spec)] == [6.0, 0.0]
    default = presets.load("quantize/compare_cpu").build()[0]
    assert [v.label for v in SCHEMES.get("int8").variants(default)] == ["int8"]  # one threshold: the old label


def test_int8_extra_threshold_out_of_range_is_refused_naming_it():
    from lab.errors import LabError
    from lab.specs import spec_from_dict

    with pytest.raises(LabError) as raised:
        spec_from_dict({"kind": "quantize", "schemes": ["fp32", "int8"], "int8_more_thresholds": [2000.0]})
    assert "2000" in raised.value.message("en")


def test_prompting_cost_axis_spans_the_data_and_labels_points_by_strategy():
    from lab.prompting import view

    result = {"outputs": {"strategies": [
        {"strategy": "zero_shot", "k": 0, "n": 1, "accuracy": 0.3, "ci_low": 0.1, "ci_high": 0.5, "tokens_per_question": 7.05},
        {"strategy": "few_shot", "k": 4, "n": 1, "accuracy": 0.5, "ci_low": 0.3, "ci_high": 0.7, "tokens_per_question": 7.25}]}}
    figure = view.cost_figure(result, "en")
    low, high = figure.layout.xaxis.range
    assert figure.layout.xaxis.type == "log" and 10 ** high / 10 ** low >= 4
    assert len(figure.layout.xaxis.tickvals) >= 3 and "log" in figure.layout.xaxis.title.text
    assert [list(trace.text) for trace in figure.data] == [[figure.data[0].name], [figure.data[1].name]]
    assert "text" in figure.data[0].mode
    assert figure.layout.yaxis.range[0] == 0.0 and figure.layout.yaxis.range[1] >= 1.0


def test_finetune_quality_plot_has_no_axis_below_zero():
    from lab.finetune.compare import quality_vs_parameters

    frame = pd.DataFrame({"method": ["lora"], "trainable_params": [4096], "eval_loss": [0.4]})
    figure = quality_vs_parameters(frame, "en")
    assert figure.layout.yaxis.range[0] >= 0


def _fit_result(tmp_path):
    from lab.scaling.data import read_points_file
    from lab.scaling.report import fit_report
    from lab.kinds.scaling import EXAMPLE_CSV
    from lab import config

    points = read_points_file(config.REPO / EXAMPLE_CSV)
    metrics, outputs = fit_report(points, bootstrap_samples=0, seed=0)
    return points, {"status": "succeeded", "metrics": metrics, "outputs": outputs, "spec": {"kind": "scaling"}}


def test_predict_defaults_sit_inside_the_data_and_extrapolation_is_named(tmp_path):
    from lab.scaling import view

    points, result = _fit_result(tmp_path)
    n, d = view.predict_defaults(points)
    assert points["N"].min() < n < points["N"].max() and points["D"].min() < d < points["D"].max()
    assert view.extrapolation(points, n, d, "en") == ""
    text = view.predict_text(result, 1e6, 2e6, "en")
    assert re.search(r"N is 20× below the smallest model fitted \(20.1M\)", text), text
    assert "D is 259× below the fewest tokens fitted" in text
    assert "外推" in view.predict_text(result, 1e6, 2e6, "zh")
    figure = view.prediction_figure(result, "en", 1e6, 2e6)
    names = [trace.name or "" for trace in figure.data]
    assert any("Predicted" in name for name in names) and any("fit" in name for name in names)  # marker + curve
    assert any("Extrapolation" in (a.text or "") for a in figure.layout.annotations)
    assert all(len(line) <= 60 for a in figure.layout.annotations for line in (a.text or "").split("<br>"))
    inside = view.prediction_figure(result, "en", n, d)
    assert not any("Extrapolation" in (a.text or "") for a in inside.layout.annotations)


def test_verify_is_off_with_a_reason_without_a_sweep_fit(tmp_path, monkeypatch):
    from lab.scaling import view

    assert view.verify_reason(None, 1e6, 1e6, "en") == t("error.scaling_no_fit_yet", "en")
    _, result = _fit_result(tmp_path)

    class Folder:
        def __init__(self, run_id):
            self.run_id = run_id

        def read_result(self):
            return result

        def read_spec(self):
            return {}

    monkeypatch.setattr(view, "RunFolder", Folder)
    assert view.verify_reason("fit1", 1e6, 1e6, "en") == t("error.scaling_verify_needs_sweep", "en")  # a CSV's fit
    assert "predict_n" in view.verify_reason("fit1", 0, 1e6, "en")
