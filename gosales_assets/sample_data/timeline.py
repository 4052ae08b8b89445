"""Month arithmetic, seasonality and day-of-month densities of the simulation.

The simulation steps one calendar month at a time. A month is an absolute index
``year * 12 + month - 1``; events carry a day of the month drawn from a density that
favours weekdays and the last days of a quarter (the end-of-quarter push).
"""

from __future__ import annotations

import calendar
import datetime as dt
from functools import lru_cache

import numpy as np

# Relative monthly demand, January..December: slow January, quarter-end peaks and a
# December budget flush.
SEASON = np.array(
    [0.72, 0.9, 1.22, 0.92, 0.95, 1.22, 0.84, 0.86, 1.22, 1.0, 1.02, 1.55]
)
LOG_SEASON = np.log(SEASON)

_EPOCH_MONTH = 1970 * 12


def month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def month_label(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def days_in_month(month: int) -> int:
    return calendar.monthrange(month // 12, month % 12 + 1)[1]


def month_first_day(month: int) -> dt.date:
    return dt.date(month // 12, month % 12 + 1, 1)


def to_dates(month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Vectorized ``date(month, day)`` as ``datetime64[D]``."""
    first = (np.asarray(month, dtype=np.int64) - _EPOCH_MONTH).astype("datetime64[M]")
    return first.astype("datetime64[D]") + (np.asarray(day, dtype=np.int64) - 1)


def to_datetime64(day: dt.date) -> np.datetime64:
    return np.datetime64(day.isoformat(), "D")


@lru_cache(maxsize=4096)
def day_density(month: int) -> np.ndarray:
    """Probability of each day (index 0 = day 1) of an event in this month."""
    year, mon = month // 12, month % 12 + 1
    dim = days_in_month(month)
    weights = np.ones(dim)
    first_weekday = dt.date(year, mon, 1).weekday()
    weekday = (first_weekday + np.arange(dim)) % 7
    weights[weekday >= 5] = 0.06  # weekends: almost nothing is invoiced
    if mon in (3, 6, 9, 12):
        weights[-7:] *= 2.2  # end-of-quarter push
    if mon == 12:
        weights[23:26] *= 0.15  # holidays
    if mon == 1:
        weights[0] *= 0.05
    if mon == 7:
        weights[3] *= 0.1
    dens = weights / weights.sum()
    dens.setflags(write=False)
    return dens


def tail_mass(month: int, min_day: int) -> float:
    """Share of the month's event mass on days strictly after ``min_day``."""
    dens = day_density(month)
    return float(dens[min_day:].sum()) if min_day < len(dens) else 0.0


def draw_days(rng: np.random.Generator, month: int, min_day: int, n: int) -> np.ndarray:
    """``n`` days of ``month`` strictly after ``min_day``, from the month's density."""
    tail = day_density(month)[min_day:]
    cdf = np.cumsum(tail)
    cdf /= cdf[-1]
    idx = np.searchsorted(cdf, rng.random(n), side="right")
    return (min_day + 1 + np.minimum(idx, len(tail) - 1)).astype(np.int16)
