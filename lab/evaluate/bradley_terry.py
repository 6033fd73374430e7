"""Bradley–Terry ratings: one strength per contestant from many pairwise games, as Chatbot Arena does.

    P(i beats j) = 1 / (1 + exp(-(theta_i - theta_j)))

theta is fit by maximum likelihood (Newton's method on the log-likelihood; a tie counts as half a
win for each side) and shown on an Elo-like scale: rating = 1000 + 400 / ln(10) * theta, with the
mean rating fixed at 1000, so 400 points apart means 10:1 odds. A tiny ridge penalty (RIDGE) keeps
the fit finite when one contestant won every game (the MLE would be +infinity). The 95% intervals
come from a seeded bootstrap over games: resample the games with replacement, refit, take the
2.5th and 97.5th percentiles.
"""
import math

import numpy as np

SCALE = 400 / math.log(10)  # Elo points per unit of theta
BASE = 1000.0
RIDGE = 1e-3  # penalty on sum(theta^2) / 2: a handful of virtual games' worth, negligible with data


def _matrices(games: list[dict], names: list[str], weights=None):
    """wins[i, j]: i's score against j (wins + half ties); count[i, j]: games between them."""
    index = {name: k for k, name in enumerate(names)}
    wins = np.zeros((len(names), len(names)))
    count = np.zeros_like(wins)
    for g, game in enumerate(games):
        w = 1.0 if weights is None else weights[g]
        if not w:
            continue
        i, j, s = index[game["a"]], index[game["b"]], game["score"]
        wins[i, j] += w * s
        wins[j, i] += w * (1 - s)
        count[i, j] += w
        count[j, i] += w
    return wins, count


def fit_theta(wins: np.ndarray, count: np.ndarray, ridge: float = RIDGE, iterations: int = 100) -> np.ndarray:
    """Maximum-likelihood strengths (mean 0) from the score and game-count matrices."""
    n = wins.shape[0]
    theta = np.zeros(n)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(theta[:, None] - theta[None, :])))  # p[i, j] = P(i beats j)
        gradient = (wins - count * p).sum(axis=1) - ridge * theta
        weight = count * p * (1 - p)
        hessian = -np.diag(weight.sum(axis=1)) + weight - ridge * np.eye(n)  # negative definite with the ridge
        step = np.linalg.solve(hessian, gradient)
        theta = theta - step
        if np.max(np.abs(step)) < 1e-10:
            break
    return theta - theta.mean()


def to_rating(theta: np.ndarray) -> np.ndarray:
    return BASE + SCALE * theta


def games_from_records(games: list[dict]) -> list[dict]:
    """Keep the valid games as {"a", "b", "score"} (a's score: 1 win, 0.5 tie, 0 loss)."""
    from lab.evaluate.outcomes import SCORE

    return [{"a": g["a"], "b": g["b"], "score": SCORE[g["outcome"]]} for g in games if g["outcome"] in SCORE]


def ratings(games: list[dict], names: list[str] | None = None, rounds: int = 200, seed: int = 0) -> list[dict]:
    """Leaderboard rows, best first: name, rating, low/high (bootstrap 95%), games.

    games: {"a", "b", "outcome"} with outcome in win / tie / loss (invalid games are dropped).
    rounds: bootstrap resamples (0: no intervals). The same seed gives the same intervals.
    """
    scored = games_from_records(games)
    names = sorted(names or {g[k] for g in scored for k in ("a", "b")})
    if len(names) < 2:
        return []
    wins, count = _matrices(scored, names)
    rating = to_rating(fit_theta(wins, count))
    low = high = [None] * len(names)
    if rounds and scored:
        rng = np.random.default_rng(seed)
        samples = np.empty((rounds, len(names)))
        for r in range(rounds):
            weights = rng.multinomial(len(scored), np.full(len(scored), 1 / len(scored)))
            samples[r] = to_rating(fit_theta(*_matrices(scored, names, weights)))
        low, high = np.percentile(samples, 2.5, axis=0), np.percentile(samples, 97.5, axis=0)
    played = count.sum(axis=1)
    rows = [{"name": name, "rating": round(float(rating[k]), 1),
             "low": None if low[k] is None else round(float(low[k]), 1),
             "high": None if high[k] is None else round(float(high[k]), 1),
             "games": int(played[k])} for k, name in enumerate(names)]
    return sorted(rows, key=lambda row: -row["rating"])


def win_probability(rating_i: float, rating_j: float) -> float:
    """P(i beats j) from two ratings on this scale."""
    return 1 / (1 + math.exp(-(rating_i - rating_j) / SCALE))
