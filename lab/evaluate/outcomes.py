"""From a judge's verdicts to games, win rates and the judge's position bias.

Every pair of answers is judged twice, once in each order (FastChat's MT-Bench rule):

    first order  (a shown as A, b as B) -> "A" | "B" | "tie" | "invalid"
    second order (b shown as A, a as B) -> "A" | "B" | "tie" | "invalid"

The game's outcome, from a's side, is "win" when both orders prefer a, "loss" when both prefer b,
"tie" when they disagree (a verdict that flips with the order is a tie) or both say tie, and
"invalid" when either reply could not be parsed: an invalid game is counted and shown, never
turned into a win, and it is left out of win rates and ratings.
"""
from dataclasses import dataclass

SLOTS = ("A", "B", "tie", "invalid")
SCORE = {"win": 1.0, "tie": 0.5, "loss": 0.0}  # a's score in one game: ties count half a win


def _winner(verdict: str, first: str, second: str) -> str | None:
    """The contestant a verdict prefers: first, second, "tie", or None (invalid)."""
    return {"A": first, "B": second, "tie": "tie"}.get(verdict)


def combine(verdict_ab: str, verdict_ba: str) -> str:
    """a's outcome from the verdict with a in slot A (verdict_ab) and the one with b in slot A (verdict_ba)."""
    for verdict in (verdict_ab, verdict_ba):
        if verdict not in SLOTS:
            raise ValueError(f"unknown verdict {verdict!r}")
    first, second = _winner(verdict_ab, "a", "b"), _winner(verdict_ba, "b", "a")
    if first is None or second is None:
        return "invalid"
    if first == second:
        return {"a": "win", "b": "loss", "tie": "tie"}[first]
    return "tie"  # inconsistent across orders (or one order said tie)


def flip(outcome: str) -> str:
    """The same game from the other side."""
    return {"win": "loss", "loss": "win"}.get(outcome, outcome)


@dataclass
class PairRecord:
    a: str
    b: str
    wins: int = 0
    ties: int = 0
    losses: int = 0
    invalid: int = 0

    @property
    def n(self) -> int:
        """Valid games (invalid ones are counted apart)."""
        return self.wins + self.ties + self.losses

    @property
    def win_rate(self) -> float | None:
        """(wins + 0.5 ties) / valid games, from a's side; None with no valid game."""
        return (self.wins + 0.5 * self.ties) / self.n if self.n else None

    def interval(self, z: float = 1.96) -> tuple[float, float] | None:
        """Wilson score interval (95% for z = 1.96) on the win rate, ties counted as half a win."""
        return wilson(self.win_rate, self.n, z) if self.n else None


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of the Prompting tab's accuracies, for a score p over n games."""
    from lab.modeling.stats import wilson_interval

    return wilson_interval(p * n, n, z)


def tally(games: list[dict]) -> dict[tuple[str, str], PairRecord]:
    """games: {"a", "b", "outcome"} (a's outcome) -> one record per ordered pair, both directions filled."""
    records: dict[tuple[str, str], PairRecord] = {}
    for game in games:
        for a, b, outcome in ((game["a"], game["b"], game["outcome"]), (game["b"], game["a"], flip(game["outcome"]))):
            record = records.setdefault((a, b), PairRecord(a, b))
            if outcome == "win":
                record.wins += 1
            elif outcome == "loss":
                record.losses += 1
            elif outcome == "tie":
                record.ties += 1
            else:
                record.invalid += 1
    return records


def position_bias(verdicts: list[str]) -> dict:
    """How often a judge prefers the first slot, over all its single-order verdicts.

    first_slot_rate = "A" verdicts / decisive verdicts ("A" or "B"): 0.5 is unbiased, 1.0 always picks
    the first answer shown. Because every pair is shown in both orders, an unbiased judge sees the
    better answer first exactly half the time, so a rate far from 0.5 is the judge's bias, not the data.
    """
    counts = {slot: verdicts.count(slot) for slot in SLOTS}
    decisive = counts["A"] + counts["B"]
    return {"first_slot_rate": counts["A"] / decisive if decisive else None,
            "decisive": decisive, "verdicts": len(verdicts), **{f"n_{k}": v for k, v in counts.items()}}


def consistency(pairs: list[tuple[str, str]]) -> dict:
    """Over (verdict_ab, verdict_ba) pairs: the share whose two orders agree on the same answer or on a tie."""
    valid = [(x, y) for x, y in pairs if x != "invalid" and y != "invalid"]
    agree = sum(1 for x, y in valid if _winner(x, "a", "b") == _winner(y, "b", "a"))
    return {"consistent_rate": agree / len(valid) if valid else None, "pairs": len(valid),
            "flipped": sum(1 for x, y in valid if {x, y} == {"A"} or {x, y} == {"B"})}
