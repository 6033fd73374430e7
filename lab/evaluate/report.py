"""From a judge run's answers and verdicts to the figures the tab and the run's result show.

    figures = summarise(contestants, answers, judgments, baseline=contestants[0], rounds=200, seed=0)

answers: {"prompt_index", "contestant", "text"}; judgments: {"prompt_index", "a", "b", "verdict_ab",
"verdict_ba", "outcome", ...} with a shown first in verdict_ab. Pure data in, pure data out.
"""
from itertools import combinations

from lab.evaluate import bradley_terry, length_control
from lab.evaluate.outcomes import SCORE, consistency, position_bias, tally

MAX_POINTS = 2000  # length-vs-win points kept in the run's result


def pair_rows(contestants: list[str], games: list[dict]) -> list[dict]:
    records = tally(games)
    rows = []
    for a, b in combinations(contestants, 2):
        record = records.get((a, b))
        if record is None:
            continue
        interval = record.interval()
        rows.append({"a": a, "b": b, "wins": record.wins, "ties": record.ties, "losses": record.losses,
                     "invalid": record.invalid, "n": record.n,
                     "win_rate": None if record.win_rate is None else round(record.win_rate, 4),
                     "low": None if interval is None else round(interval[0], 4),
                     "high": None if interval is None else round(interval[1], 4)})
    return rows


def matrix(contestants: list[str], games: list[dict]) -> list[list]:
    """matrix[i][j]: contestant i's win rate against j (None on the diagonal or without games)."""
    records = tally(games)
    return [[None if a == b or (a, b) not in records or records[(a, b)].win_rate is None
             else round(records[(a, b)].win_rate, 4) for b in contestants] for a in contestants]


def length_points(games: list[dict], lengths: dict) -> list[dict]:
    """One point per valid game and side: the answer's length minus the opponent's, and its score."""
    points = []
    for game in games:
        if game["outcome"] not in SCORE:
            continue
        la, lb = lengths[(game["prompt_index"], game["a"])], lengths[(game["prompt_index"], game["b"])]
        points.append({"contestant": game["a"], "length_difference": la - lb, "score": SCORE[game["outcome"]]})
        points.append({"contestant": game["b"], "length_difference": lb - la, "score": 1 - SCORE[game["outcome"]]})
    return points


def length_controlled(contestants: list[str], baseline: str, games: list[dict], lengths: dict) -> list[dict]:
    """Every contestant's games against the baseline, fitted together (length_control.fit_many), so the prompts'
    difficulty is estimated from all of them."""
    played = []
    for name in contestants:
        if name == baseline:
            continue
        for game in games:
            if game["outcome"] not in SCORE or {game["a"], game["b"]} != {name, baseline}:
                continue
            i = game["prompt_index"]
            played.append({"contestant": name, "prompt": i,
                           "score": SCORE[game["outcome"]] if game["a"] == name else 1 - SCORE[game["outcome"]],
                           "length_difference": lengths[(i, name)] - lengths[(i, baseline)]})
    fitted = length_control.fit_many(played)
    empty = length_control.fit([], [])
    return [{"contestant": name, "baseline": baseline,
             **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in fitted.get(name, empty).items()}}
            for name in contestants if name != baseline]


def summarise(contestants: list[str], answers: list[dict], judgments: list[dict], baseline: str,
              rounds: int = 200, seed: int = 0) -> dict:
    lengths = {(row["prompt_index"], row["contestant"]): len(row["text"]) for row in answers}
    mean_length = {name: sum(v for (_, c), v in lengths.items() if c == name) /
                   max(1, sum(1 for (_, c) in lengths if c == name)) for name in contestants}
    records = tally(judgments)
    board = bradley_terry.ratings(judgments, names=contestants, rounds=rounds, seed=seed)
    for row in board:
        mine = [r for (a, _), r in records.items() if a == row["name"]]
        row.update(wins=sum(r.wins for r in mine), ties=sum(r.ties for r in mine),
                   losses=sum(r.losses for r in mine), invalid=sum(r.invalid for r in mine),
                   mean_chars=round(mean_length[row["name"]], 1))
    verdicts = [j[k] for j in judgments for k in ("verdict_ab", "verdict_ba")]
    invalid = [{"prompt_index": j["prompt_index"], "a": j["a"], "b": j["b"], "order": order, "raw": j[f"raw_{order}"]}
               for j in judgments for order in ("ab", "ba") if j[f"verdict_{order}"] == "invalid"]
    return {
        "leaderboard": board,
        "pairs": pair_rows(contestants, judgments),
        "matrix": matrix(contestants, judgments),
        "position_bias": {**position_bias(verdicts),
                          **consistency([(j["verdict_ab"], j["verdict_ba"]) for j in judgments])},
        "length_controlled": length_controlled(contestants, baseline, judgments, lengths),
        "length_points": length_points(judgments, lengths)[:MAX_POINTS],
        "invalid_games": sum(1 for j in judgments if j["outcome"] == "invalid"),
        "invalid_examples": invalid[:20],
        "games": len(judgments),
    }
