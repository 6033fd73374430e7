"""Bradley–Terry recovery from simulated games, seeded bootstrap, and the length-controlled win rate."""
import math

import numpy as np
import pytest

from lab.evaluate import bradley_terry, length_control
from lab.evaluate.bradley_terry import SCALE


def simulate(strengths: dict, games_per_pair: int, seed: int, tie_rate: float = 0.0) -> list[dict]:
    rng = np.random.default_rng(seed)
    names, games = list(strengths), []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            p = 1 / (1 + math.exp(-(strengths[a] - strengths[b])))
            for _ in range(games_per_pair):
                if rng.random() < tie_rate:
                    outcome = "tie"
                else:
                    outcome = "win" if rng.random() < p else "loss"
                games.append({"a": a, "b": b, "outcome": outcome})
    return games


def test_recovers_known_strengths():
    truth = {"weak": -1.0, "mid": 0.0, "strong": 1.2, "best": 2.0}
    rows = bradley_terry.ratings(simulate(truth, 400, seed=1), rounds=0)
    fitted = {row["name"]: (row["rating"] - 1000) / SCALE for row in rows}
    centred = {k: v - np.mean(list(truth.values())) for k, v in truth.items()}
    for name in truth:
        assert fitted[name] == pytest.approx(centred[name], abs=0.15)
    assert [row["name"] for row in rows] == ["best", "strong", "mid", "weak"]
    assert np.mean([row["rating"] for row in rows]) == pytest.approx(1000, abs=1e-6)


def test_ties_pull_ratings_together_and_invalid_games_are_ignored():
    games = [{"a": "x", "b": "y", "outcome": "win"}] * 6 + [{"a": "x", "b": "y", "outcome": "loss"}] * 2
    apart = {r["name"]: r["rating"] for r in bradley_terry.ratings(games, rounds=0)}
    tied = games + [{"a": "x", "b": "y", "outcome": "tie"}] * 8
    together = {r["name"]: r["rating"] for r in bradley_terry.ratings(tied, rounds=0)}
    assert 0 < together["x"] - together["y"] < apart["x"] - apart["y"]
    # 6 wins of 8: the rating gap is the log-odds log(3) on this scale
    assert apart["x"] - apart["y"] == pytest.approx(SCALE * math.log(3), rel=0.01)
    noisy = games + [{"a": "y", "b": "x", "outcome": "invalid"}] * 20
    assert {r["name"]: r["rating"] for r in bradley_terry.ratings(noisy, rounds=0)} == apart


def test_a_clean_sweep_stays_finite():
    rows = bradley_terry.ratings([{"a": "x", "b": "y", "outcome": "win"}] * 10, rounds=50, seed=0)
    assert all(math.isfinite(r["rating"]) for r in rows) and rows[0]["name"] == "x"


def test_bootstrap_is_deterministic_under_a_seed():
    games = simulate({"a": 0.0, "b": 0.5, "c": 1.0}, 30, seed=3, tie_rate=0.2)
    first = bradley_terry.ratings(games, rounds=100, seed=7)
    again = bradley_terry.ratings(games, rounds=100, seed=7)
    other = bradley_terry.ratings(games, rounds=100, seed=8)
    assert first == again
    assert [(r["low"], r["high"]) for r in first] != [(r["low"], r["high"]) for r in other]
    for row in first:
        assert row["low"] < row["rating"] < row["high"]


def test_intervals_shrink_with_more_games():
    few = bradley_terry.ratings(simulate({"a": 0.0, "b": 1.0}, 20, seed=4), rounds=200, seed=0)
    many = bradley_terry.ratings(simulate({"a": 0.0, "b": 1.0}, 500, seed=4), rounds=200, seed=0)
    width = lambda rows: rows[0]["high"] - rows[0]["low"]  # noqa: E731
    assert width(many) < width(few) / 2


def test_length_controlled_win_rate_removes_a_known_length_bias():
    rng = np.random.default_rng(0)
    n, b0, b1 = 4000, 0.2, 2.0  # true win rate at equal length: sigmoid(0.2) = 0.55; longer answers win more
    differences = rng.normal(150, 200, n)  # the model usually writes longer answers than the baseline
    scale = differences.std()
    p = 1 / (1 + np.exp(-(b0 + b1 * np.tanh(differences / scale))))
    scores = (rng.random(n) < p).astype(float)
    fitted = length_control.fit(scores, differences)
    assert fitted["win_rate"] > 0.7  # the raw win rate is inflated by length
    assert fitted["lc_win_rate"] == pytest.approx(1 / (1 + math.exp(-b0)), abs=0.04)
    assert fitted["length_coefficient"] == pytest.approx(b1, abs=0.3)


def test_length_control_without_length_bias_keeps_the_win_rate():
    rng = np.random.default_rng(1)
    differences = rng.normal(0, 100, 3000)
    scores = (rng.random(3000) < 0.3).astype(float)
    fitted = length_control.fit(scores, differences)
    assert fitted["lc_win_rate"] == pytest.approx(0.3, abs=0.03) and abs(fitted["length_coefficient"]) < 0.3
    assert length_control.fit([], [])["lc_win_rate"] is None
