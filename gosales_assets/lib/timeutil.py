"""The one window arithmetic of the product (DATA_CONTRACT section 1)."""

from __future__ import annotations

import calendar
import datetime as dt


def is_month_end(day: dt.date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def add_months(day: dt.date, months: int) -> dt.date:
    """Shift by whole months; a month-end stays a month-end, other days clamp."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    if is_month_end(day):
        return dt.date(year, month, last)
    return dt.date(year, month, min(day.day, last))


def window_end(cutoff: dt.date, months: int) -> dt.date:
    """``end(C, W)``: the last day of the label window ``(C, end(C, W)]``.

    ``end(2024-06-30, 6) = 2024-12-31``; ``end(2024-03-15, 6) = 2024-09-15``;
    ``end(2024-08-31, 6) = 2025-02-28``.
    """
    if months < 1:
        raise ValueError(f"window months must be >= 1, got {months}")
    return add_months(cutoff, months)


def month_ends(start: dt.date, end: dt.date) -> list[dt.date]:
    """All month-end dates in ``[start, end]``."""
    out: list[dt.date] = []
    year, month = start.year, start.month
    while True:
        last = dt.date(year, month, calendar.monthrange(year, month)[1])
        if last > end:
            return out
        if last >= start:
            out.append(last)
        month += 1
        if month == 13:
            year, month = year + 1, 1


def parse_date(text: str, what: str = "date") -> dt.date:
    """Parse an ISO ``YYYY-MM-DD`` date with an error that says what was expected."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a date in YYYY-MM-DD form") from None


def last_month_end(day: dt.date) -> dt.date:
    """The newest month-end on or before ``day``."""
    if is_month_end(day):
        return day
    first = day.replace(day=1)
    return first - dt.timedelta(days=1)


def training_cutoffs(
    cutoff: dt.date, window_months: int, count: int, spacing_months: int
) -> list[dt.date]:
    """Month-end training cutoffs for a model at ``cutoff``, oldest first.

    Every returned ``t`` has its label window closed by ``cutoff``
    (``window_end(t, W) <= cutoff``), so a model at ``cutoff`` never learns from a
    label dated after it. The newest is the out-of-time validation cutoff.
    """
    if count < 1 or spacing_months < 1:
        raise ValueError("count and spacing_months must be >= 1")
    newest = last_month_end(cutoff)
    while window_end(newest, window_months) > cutoff:
        newest = last_month_end(newest.replace(day=1) - dt.timedelta(days=1))
    return [add_months(newest, -spacing_months * k) for k in range(count - 1, -1, -1)]
