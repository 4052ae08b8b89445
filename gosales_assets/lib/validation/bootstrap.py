"""Seeded percentile bootstrap of a metric set, resampling accounts (rows).

A resample draws ``n`` rows with replacement (``numpy.random.default_rng(seed)``, one
generator for all resamples, so the intervals are a pure function of the data, the
seed, the number of resamples and the level). The drawn rows keep the input order,
each repeated as often as it was drawn; the metric functions break score ties by row
order, so a resample is ranked exactly as the same rows would be in the input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

# (y, p, weight) -> {metric name: value}; nan where the metric is undefined
Statistic = Callable[[np.ndarray, np.ndarray, np.ndarray], Mapping[str, float]]


@dataclass(frozen=True)
class Interval:
    """A percentile interval and the number of resamples it rests on."""

    low: float
    high: float
    resamples: int  # resamples in which the metric was defined (finite)


def resample_indices(n: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices of one resample: ``n`` draws with replacement, in input order."""
    counts = np.bincount(rng.integers(0, n, size=n), minlength=n)
    return np.repeat(np.arange(n), counts)


def percentile_interval(values: np.ndarray, level: float) -> Interval:
    """The central ``level`` percentile interval of the finite ``values``."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Interval(math.nan, math.nan, 0)
    tail = (1 - level) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return Interval(float(low), float(high), int(finite.size))


def bootstrap_intervals(
    y: np.ndarray,
    p: np.ndarray,
    weight: np.ndarray,
    statistic: Statistic,
    *,
    resamples: int,
    seed: int,
    level: float,
) -> dict[str, Interval]:
    """Percentile intervals of every metric ``statistic`` returns.

    Resamples in which a metric is undefined (nan, e.g. AUC without a positive) are
    left out of that metric's interval; ``Interval.resamples`` counts the rest.
    """
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    n = y.size
    if not (p.size == n and weight.size == n):
        raise ValueError("y, p and weight differ in length")
    if n == 0:
        return {}
    rng = np.random.default_rng(seed)
    draws: dict[str, np.ndarray] = {}
    for r in range(resamples):
        idx = resample_indices(n, rng)
        for name, value in statistic(y[idx], p[idx], weight[idx]).items():
            if name not in draws:
                draws[name] = np.full(resamples, np.nan)
            draws[name][r] = value
    return {name: percentile_interval(v, level) for name, v in draws.items()}
