"""Win-rate arithmetic: both orders, flips as ties, invalid verdicts kept apart, position bias, strict parsing."""
import pytest

from lab.evaluate.outcomes import combine, consistency, position_bias, tally, wilson
from lab.evaluate.verdicts import parse_verdict


@pytest.mark.parametrize("ab, ba, outcome", [
    ("A", "B", "win"),       # a preferred in both orders
    ("B", "A", "loss"),      # b preferred in both orders
    ("A", "A", "tie"),       # always the first slot: the verdict flips with the order
    ("B", "B", "tie"),       # always the second slot
    ("tie", "tie", "tie"),
    ("A", "tie", "tie"),     # inconsistent: one order saw no difference
    ("tie", "A", "tie"),
    ("invalid", "B", "invalid"),  # never a win, whatever the other order says
    ("A", "invalid", "invalid"),
])
def test_combine_both_orders(ab, ba, outcome):
    assert combine(ab, ba) == outcome


def test_combine_refuses_unknown_verdicts():
    with pytest.raises(ValueError):
        combine("a", "B")


def test_tally_win_rate_with_ties_and_swapped_pairs():
    games = ([{"a": "x", "b": "y", "outcome": "win"}] * 3 + [{"a": "y", "b": "x", "outcome": "win"}]  # listed from y's side
             + [{"a": "x", "b": "y", "outcome": "tie"}] * 2 + [{"a": "x", "b": "y", "outcome": "invalid"}])
    records = tally(games)
    xy, yx = records[("x", "y")], records[("y", "x")]
    assert (xy.wins, xy.ties, xy.losses, xy.invalid, xy.n) == (3, 2, 1, 1, 6)
    assert (yx.wins, yx.ties, yx.losses, yx.invalid) == (1, 2, 3, 1)
    assert xy.win_rate == pytest.approx((3 + 0.5 * 2) / 6)
    assert xy.win_rate + yx.win_rate == pytest.approx(1.0)  # the two sides of a pair add up to one
    low, high = xy.interval()
    assert low < xy.win_rate < high and 0 <= low and high <= 1


def test_wilson_interval_narrows_with_more_games():
    small, large = wilson(0.6, 10), wilson(0.6, 1000)
    assert small[1] - small[0] > large[1] - large[0] > 0
    assert wilson(1.0, 5)[1] == 1.0 and wilson(1.0, 5)[0] < 1.0  # never a zero-width interval at the edge


def test_only_invalid_games_give_no_win_rate():
    record = tally([{"a": "x", "b": "y", "outcome": "invalid"}])[("x", "y")]
    assert record.n == 0 and record.win_rate is None and record.interval() is None


def test_position_bias_counts_first_slot_preference():
    bias = position_bias(["A", "A", "A", "B", "tie", "invalid"])
    assert bias["first_slot_rate"] == pytest.approx(3 / 4) and bias["decisive"] == 4 and bias["n_invalid"] == 1
    assert position_bias(["tie", "invalid"])["first_slot_rate"] is None
    always_first = consistency([("A", "A")] * 3 + [("A", "B")])
    assert always_first["flipped"] == 3 and always_first["consistent_rate"] == pytest.approx(1 / 4)


@pytest.mark.parametrize("reply, verdict", [
    ("[[A]]", "A"), ("After thought, [[B]] is better.", "B"), ("[[C]]", "tie"), ("[[tie]]", "tie"),
    ("A", "A"), (" b. ", "B"), ("Verdict: tie", "tie"), ("(A)", "A"),
    ("[[A]] no wait [[B]]", "invalid"),  # two verdicts
    ("Answer A is better", "invalid"),  # prose is not a verdict
    ("", "invalid"), ("AB", "invalid"), ("I think A", "invalid"),
])
def test_parse_verdict_is_strict(reply, verdict):
    assert parse_verdict(reply) == verdict
