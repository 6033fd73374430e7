"""bench/alpacaeval_check.py on a small slice of AlpacaEval 2's published data (bench/data/alpaca_eval)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "alpacaeval_check.py"


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("alpacaeval_check", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def published(check):
    weights, board = check.load_weights(), check.load_leaderboard()
    return weights, board, check.models_with_both(weights, board)


def test_the_stored_reference_files(check, published):
    weights, board, models = published
    assert board[check.BASELINE]["lc_win_rate"] == 0.5 and board[check.BASELINE]["avg_length"] == check.BASELINE_LENGTH
    assert weights[check.BASELINE] == {"length": 0.0, "difficulty": 0.0, "not_gamed": 0.0}
    assert len(models) == 183 and check.BASELINE not in models
    assert board["gpt4_gamed"]["lc_win_rate"] == pytest.approx(0.12189, abs=1e-5)  # the terse model the issue names
    assert weights["gpt4_gamed"]["length"] < 0  # AlpacaEval's length term is baseline minus model: longer wins


def test_one_difficulty_distribution_reproduces_held_out_published_lc(check, published):
    # the lab's LC (mean over prompts of the prediction at zero length difference) with AlpacaEval's own coefficients
    weights, board, models = published
    chosen = models[::6]
    fit_on, held = chosen[:-6], chosen[-6:]
    theta = check.fit_difficulties([weights[m] for m in fit_on], np.array([board[m]["lc_win_rate"] for m in fit_on]))
    difficulty = check.difficulties(theta)
    predicted = check.published_formula([weights[m] for m in held], difficulty)
    truth = np.array([board[m]["lc_win_rate"] for m in held])
    assert np.max(np.abs(predicted - truth)) < 0.005  # half a point; the full 5-fold check is at 0.15 at worst
    plug_in = np.array([check._sigmoid(weights[m]["not_gamed"] + weights[m]["difficulty"] * difficulty.mean())
                        for m in held])
    assert np.mean(np.abs(plug_in - truth)) > 0.01  # the logistic at the average prompt is not the LC


def test_the_lab_fit_on_games_drawn_from_the_published_glm(check, published):
    weights, board, models = published
    chosen = check.spread_selection(models, 36)
    theta = [-1.295, 0.338, 0.731, 0.118]  # the distribution the full check fits (bench/out/alpacaeval_check.json)
    result = check.estimator_check(weights, board, chosen, theta, prompts=300, seed=1)
    rows = {r["model"]: r for r in result["per_model"]}
    assert set(rows) == set(chosen) and "gpt4_gamed" in rows
    assert result["drawn_vs_published"]["max_abs_diff_points"] < 0.5  # the draw is faithful to the published LC
    assert result["lab_vs_drawn"]["spearman"] >= 0.9
    assert result["lab_vs_drawn"]["max_abs_diff_points"] < 10  # 300 binary games: ~2.5 points of noise per model
    assert rows["gpt4_gamed"]["extrapolated"] and not rows[chosen[0]]["extrapolated"]
