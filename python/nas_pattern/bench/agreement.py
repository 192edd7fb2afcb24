"""How far two rankings of the same architectures agree, and the most they can: Kendall's tau-b,
Spearman's rho and the top-k overlap; the ceiling (the seed-to-seed tau of stand-alone training,
with its bootstrap interval) and the interval of a tau over it. `bench sharing` measures shared
weights with them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nas_pattern.bench.common import mean_and_error

RESAMPLES = 1000  # bootstrap resamples of the retrained architectures: the ceiling's own 95% interval


def ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks from 1, ties sharing their mean rank."""
    array = np.asarray(values, dtype=float)
    order = np.argsort(array, kind="stable")
    result = np.empty(len(array))
    result[order] = np.arange(1, len(array) + 1)
    for value in np.unique(array):
        tied = array == value
        result[tied] = result[tied].mean()
    return result


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho: the correlation of the ranks."""
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def kendall(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b (ties counted as neither concordant nor discordant, as scipy does)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    dx, dy = np.sign(x[:, None] - x[None, :]), np.sign(y[:, None] - y[None, :])
    upper = np.triu_indices(len(x), k=1)
    dx, dy = dx[upper], dy[upper]
    denominator = math.sqrt(float((dx != 0).sum()) * float((dy != 0).sum()))
    return float((dx * dy).sum() / denominator) if denominator else math.nan


def top_overlap(a: Sequence[float], b: Sequence[float], k: int = 10) -> int:
    """How many of the k best by `a` are among the k best by `b`."""
    best = lambda values: set(np.argsort(-np.asarray(values), kind="stable")[:k].tolist())  # noqa: E731
    return len(best(a) & best(b))


@dataclass(frozen=True)
class Ceiling:
    """The seed-to-seed tau of stand-alone training over `count` of a table's architectures, and its
    95% interval (bootstrap over those architectures: one retraining of a sample is itself noisy),
    with the bootstrap's taus, `resampled`, for intervals of what is measured against it."""

    tau: float
    count: int
    low: float
    high: float
    resampled: tuple[float, ...] = field(default=(), repr=False)

    def line(self) -> str:
        interval = f"95% interval {self.low:.2f}-{self.high:.2f}"
        return f"seed-to-seed tau {self.tau:.2f} ({interval}) over {self.count} retrained"


def share_interval(taus: Sequence[float], ceiling: Ceiling, draws: int = RESAMPLES) -> tuple[float, float]:
    """The 95% interval of tau over the ceiling with the uncertainty of both: `draws` draws of the
    seeds' mean tau (Student's t about their mean, as mean_t95's interval) over as many of the
    ceiling's bootstrap taus; (nan, nan) without the bootstrap (a fixed generator: repeatable)."""
    middle, error = mean_and_error(taus)
    if not ceiling.resampled or math.isnan(middle):
        return math.nan, math.nan
    rng = np.random.default_rng(1)
    spread = 0.0 if math.isnan(error) else error  # one seed: the ceiling's uncertainty alone
    mean_draws = middle + spread * (rng.standard_t(len(taus) - 1, draws) if spread else np.zeros(draws))
    with np.errstate(divide="ignore", invalid="ignore"):  # a resampled ceiling of 0: no ratio, left out
        ratios = mean_draws / rng.choice(np.asarray(ceiling.resampled), draws)
    ratios = ratios[np.isfinite(ratios)]
    if not len(ratios):
        return math.nan, math.nan
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(low), float(high)


def ceiling_of(first: Sequence[float], again: Sequence[float], resamples: int = RESAMPLES) -> Ceiling:
    """Kendall's tau between two trainings of the same architectures, with the 95% interval of
    `resamples` bootstrap resamples of the architectures (a fixed generator: the same pairs give the
    same interval)."""
    x, y = np.asarray(first, dtype=float), np.asarray(again, dtype=float)
    rng = np.random.default_rng(0)
    taus = [kendall(x[i].tolist(), y[i].tolist()) for i in (rng.integers(0, len(x), len(x)) for _ in range(resamples))]
    defined = [tau for tau in taus if not math.isnan(tau)]  # a resample of one architecture over and over has none
    low, high = np.percentile(defined, [2.5, 97.5]) if defined else (math.nan, math.nan)
    return Ceiling(kendall(first, again), len(x), float(low), float(high), tuple(defined))
