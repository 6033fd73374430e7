"""AlpacaEval 2's length-controlled win rate with difficulties estimated from the run (length_control.fit_many)."""
import numpy as np
import pytest

from lab.evaluate import length_control, view
from lab.evaluate.report import length_controlled


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def simulate(contestants: dict, prompts: int, seed: int = 0):
    """contestants: name -> (intercept, length slope, mean length difference, its spread); shared difficulties."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, 1, prompts)
    games, truth = [], {}
    for name, (a, b, mean, spread) in contestants.items():
        d = rng.normal(mean, spread, prompts)
        p = _sigmoid(a + b * np.tanh(d / d.std()) + difficulty)
        y = (rng.random(prompts) < p).astype(float)
        truth[name] = float(np.mean(_sigmoid(a + difficulty)))  # the win rate at equal length
        games += [{"contestant": name, "prompt": i, "score": y[i], "length_difference": d[i]} for i in range(prompts)]
    return games, truth


FIELD = {"strong": (1.0, 1.5, 300, 300), "weak": (-0.8, 1.5, 100, 300), "even": (0.0, 1.5, 0, 250),
         "verbose": (0.3, 1.5, 500, 350)}


def test_known_parameters_are_recovered():
    games, truth = simulate(FIELD, 400, seed=0)
    fitted = length_control.fit_many(games)
    for name, lc in truth.items():
        assert fitted[name]["model"] == "joint" and fitted[name]["games"] == 400
        assert fitted[name]["lc_win_rate"] == pytest.approx(lc, abs=0.05), name  # ~2 binomial SEs at 400 games
        assert fitted[name]["length_coefficient"] == pytest.approx(1.5, abs=0.45), name
    assert fitted["verbose"]["win_rate"] > truth["verbose"] + 0.1  # raw win rate inflated by length, LC is not


def test_a_contestant_identical_to_the_baseline_gets_one_half():
    games, _ = simulate(FIELD, 200, seed=1)
    games += [{"contestant": "twin", "prompt": i, "score": 0.5, "length_difference": 0} for i in range(200)]
    fitted = length_control.fit_many(games)
    assert fitted["twin"]["lc_win_rate"] == pytest.approx(0.5, abs=1e-6)
    assert fitted["twin"]["extrapolated"] is False


def test_one_contestant_falls_back_to_the_minimal_model():
    games, _ = simulate({"only": (0.4, 1.0, 200, 300)}, 300, seed=2)
    fitted = length_control.fit_many(games)["only"]
    minimal = length_control.fit([g["score"] for g in games], [g["length_difference"] for g in games])
    assert fitted["model"] == "minimal" and fitted["difficulty_coefficient"] is None
    assert fitted["lc_win_rate"] == minimal["lc_win_rate"] and fitted["win_rate"] == minimal["win_rate"]


def test_a_terse_contestant_of_equal_quality_is_not_punished_or_inflated():
    # "gamed": as good as the baseline (intercept 0) but every answer far shorter, so its length slope cannot be
    # told from its intercept; the others reveal the judge's length bias and the difficulties
    games, truth = simulate({**FIELD, "gamed": (0.0, 1.5, -900, 150)}, 400, seed=3)
    fitted = length_control.fit_many(games)["gamed"]
    alone = length_control.fit([g["score"] for g in games if g["contestant"] == "gamed"],
                               [g["length_difference"] for g in games if g["contestant"] == "gamed"])
    assert fitted["win_rate"] < 0.3 and fitted["extrapolated"] is True and fitted["longer_share"] < 0.1
    assert fitted["lc_win_rate"] == pytest.approx(truth["gamed"], abs=0.06)
    assert abs(fitted["lc_win_rate"] - truth["gamed"]) < abs(alone["lc_win_rate"] - truth["gamed"])


def test_continuous_preferences_are_weighted_targets():
    games, _ = simulate(FIELD, 150, seed=4)
    soft = [{**g, "score": 0.75 if g["score"] == 1 else 0.25} for g in games]  # a less sure judge, same order
    hard, fitted = length_control.fit_many(games), length_control.fit_many(soft)
    for name in FIELD:
        assert 0.25 <= fitted[name]["win_rate"] <= 0.75
        assert (fitted[name]["lc_win_rate"] - 0.5) * (hard[name]["lc_win_rate"] - 0.5) > 0  # same side of even
        assert abs(fitted[name]["lc_win_rate"] - 0.5) < abs(hard[name]["lc_win_rate"] - 0.5)


def test_the_judge_report_and_tab_show_the_joint_fit_and_its_notes():
    judgments, lengths = [], {}
    rng = np.random.default_rng(5)
    for i in range(30):
        lengths[(i, "base")], lengths[(i, "long")], lengths[(i, "short")] = 100, 400 + i, 10 + i % 3
        for other in ("long", "short"):
            outcome = "win" if rng.random() < (0.8 if other == "long" else 0.3) else "loss"
            judgments.append({"prompt_index": i, "a": other, "b": "base", "outcome": outcome})
    rows = length_controlled(["base", "long", "short"], "base", judgments, lengths)
    assert [r["contestant"] for r in rows] == ["long", "short"] and all(r["model"] == "joint" for r in rows)
    frame = view.length_control_frame({"outputs": {"length_controlled": rows}}, "en")
    assert "extrapolated" in frame.iloc[0, -1] and "longer" in frame.iloc[0, -1] and "shorter" in frame.iloc[1, -1]
    one = length_controlled(["base", "long"], "base", [j for j in judgments if j["a"] == "long"], lengths)
    zh = view.length_control_frame({"outputs": {"length_controlled": one}}, "zh")
    assert one[0]["model"] == "minimal" and "最简模型" in zh.iloc[0, -1]
