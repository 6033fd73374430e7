"""The ETA from measured step times (lab/runs/eta.py; issue 25, item 8)."""
import pytest

from lab.runs.eta import EtaEstimator


def run(estimator, times):
    """Report steps 1, 2, ... finishing at the given times; return the ETA after each."""
    out = []
    for done, now in enumerate(times, start=1):
        estimator.update(done, now)
        out.append(estimator.seconds_left())
    return out


def test_a_slow_first_step_does_not_inflate_the_eta():
    eta = EtaEstimator(total=30)
    # step 1 takes 60 s (loading), then 1 s a step
    left = run(eta, [60.0] + [60.0 + i for i in range(1, 10)])
    assert left[0] is None and left[1] is None  # not enough measured steps yet
    assert left[-1] == pytest.approx(30 - 10, rel=0.01)  # elapsed/done would say ~(69/10)*20 = 138 s


def test_the_eta_follows_a_change_of_pace_and_ends_at_zero():
    eta = EtaEstimator(total=20)
    times = [5.0] + [5.0 + i for i in range(1, 8)]  # 1 s a step ...
    times += [times[-1] + 3.0 * i for i in range(1, 8)]  # ... then 3 s a step (evaluation got slower)
    left = run(eta, times)
    assert left[-1] > 2.0 * (20 - len(times))  # closer to 3 s a step than to the old 1 s
    eta.update(20, times[-1] + 30)
    assert eta.seconds_left() == 0.0


def test_a_new_phase_starts_over_and_repeated_reports_change_nothing():
    eta = EtaEstimator(total=10)
    run(eta, [1.0, 2.0, 3.0, 4.0, 5.0])
    before = eta.seconds_left()
    eta.update(5, 9.0)  # the same step again (a progress write without a new step)
    assert eta.seconds_left() == before
    eta.update(1, 20.0)  # done went back: accuracy questions after training
    assert eta.seconds_left() is None
