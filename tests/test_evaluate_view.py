"""The Evaluate tab's tables and figures, built from a judge run's figures without a browser."""
import pandas as pd

import pytest

from lab.errors import LabError
from lab.classroom import presets
from lab.evaluate import plots, view
from lab.evaluate.report import summarise


def fake_result():
    contestants = ["base", "tuned"]
    answers = [{"prompt_index": i, "contestant": c, "text": "x" * (10 + 30 * i * (c == "tuned"))}
               for i in range(6) for c in contestants]
    verdicts = [("B", "A"), ("B", "A"), ("A", "A"), ("B", "B"), ("invalid", "A"), ("A", "B")]
    from lab.evaluate.outcomes import combine

    judgments = [{"prompt_index": i, "a": "base", "b": "tuned", "verdict_ab": ab, "verdict_ba": ba, "raw_ab": ab,
                  "raw_ba": ba, "outcome": combine(ab, ba)} for i, (ab, ba) in enumerate(verdicts)]
    figures = summarise(contestants, answers, judgments, baseline="base", rounds=30, seed=0)
    metrics = {k: v for k, v in figures.items() if isinstance(v, (int, float))}
    outputs = {k: v for k, v in figures.items() if k not in metrics}
    return {"metrics": metrics, "outputs": {**outputs, "contestants": contestants, "judge": "logprob",
                                            "labels": {"tuned": "LoRA run"}}}


def test_summary_counts_each_game_once_from_both_sides():
    result = fake_result()
    pair = result["outputs"]["pairs"][0]
    assert (pair["wins"], pair["ties"], pair["losses"], pair["invalid"]) == (1, 2, 2, 1)
    board = {r["name"]: r for r in result["outputs"]["leaderboard"]}
    assert board["tuned"]["wins"] == 2 and board["base"]["wins"] == 1 and board["tuned"]["invalid"] == 1
    assert result["metrics"]["invalid_games"] == 1 and result["metrics"]["games"] == 6
    bias = result["outputs"]["position_bias"]
    assert bias["n_A"] == 6 and bias["n_B"] == 5 and bias["n_invalid"] == 1


def test_tables_and_bias_text_in_both_languages():
    result = fake_result()
    frame = view.leaderboard_frame(result, "en")
    assert len(frame) == 2 and "LoRA run" in set(frame.iloc[:, 1])
    assert "6 of 11" in view.bias_markdown(result, "en") and "11 个" in view.bias_markdown(result, "zh")
    assert len(view.invalid_frame(result, "en")) == 1
    assert view.pairs_frame(result, "zh").columns[0] == "参赛者"
    assert view.leaderboard_frame(None, "en").empty and view.bias_markdown(None, "en") == ""


def test_figures_are_built_from_data():
    result = fake_result()
    heat = view.heatmap(result, "en")
    assert heat.data[0].type == "heatmap" and list(heat.data[0].x) == ["base", "LoRA run"]
    ratings = view.ratings_plot(result, "en")
    assert ratings.data[0].error_x.array is not None and len(ratings.data[0].x) == 2
    length = view.length_plot(result, "en")
    assert length.data and 0 <= min(length.data[0].y) <= max(length.data[0].y) <= 1
    assert plots.length_figure(pd.DataFrame(), "en").layout.annotations  # empty data: a "no data" note


def test_presets_for_each_sub_tab():
    judge = presets.choices("evaluate", "zh", "judge")
    assert judge and all(label and name for label, name in judge)
    preset = presets.load(judge[0][1])
    assert preset.specs[0]["kind"] == "judge" and presets.note(preset, "en")
    assert presets.choices("evaluate", "en", "evaluate")
    with pytest.raises(LabError):
        presets.load("evaluate/nope")
