"""Time left, from measured step times: the first steps (warm-up, caches, the first batch) are left out,
then the recent steps' pace predicts the rest. Pure and clock-free: the caller passes the time.

    eta = EtaEstimator(total=30)
    eta.update(done=1, now=t1) ... eta.seconds_left()   # None until enough steps were measured

Why not elapsed / done: a run's first step often costs many later ones (a model's first forward pass,
tokenizer set-up), so an average over all steps overstates the time left, and a phase that speeds up
(or slows down: evaluation every N steps) is followed only slowly. Recent steps, weighted, follow it.
"""
from dataclasses import dataclass, field

WARMUP_STEPS = 1  # steps left out of the pace: the first is the slow one
MIN_MEASURED = 2  # steps measured after warm-up before an ETA is given
WINDOW = 20  # recent steps whose pace counts


@dataclass
class EtaEstimator:
    total: float
    warmup: int = WARMUP_STEPS
    samples: list = field(default_factory=list)  # (time, done) after warm-up
    reports: int = 0  # updates seen in this phase

    def update(self, done: float, now: float) -> None:
        if self.samples and done < self.samples[-1][1]:  # a new phase (done went back): start over
            self.samples.clear()
            self.reports = 0
        self.reports += 1
        if done <= self.warmup and self.reports <= self.warmup + 1:
            self.samples = [(now, done)]  # the pace is measured from the end of warm-up
            return
        if self.samples and done == self.samples[-1][1]:
            return  # the same step reported twice: no new pace
        self.samples.append((now, done))
        del self.samples[:-(WINDOW + 1)]

    def seconds_per_step(self) -> float | None:
        """Recent pace, the later steps weighted more (weights 1, 2, ...)."""
        if len(self.samples) < MIN_MEASURED + 1:
            return None
        paces, weights = [], []
        for index, ((t0, d0), (t1, d1)) in enumerate(zip(self.samples, self.samples[1:]), start=1):
            if d1 > d0:
                paces.append((t1 - t0) / (d1 - d0))
                weights.append(index)
        if not paces:
            return None
        return sum(p * w for p, w in zip(paces, weights)) / sum(weights)

    def seconds_left(self) -> float | None:
        if not self.samples:
            return None
        done = self.samples[-1][1]
        if done >= self.total:
            return 0.0
        pace = self.seconds_per_step()
        return None if pace is None else pace * (self.total - done)
