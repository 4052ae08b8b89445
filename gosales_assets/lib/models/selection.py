"""The selection rule across families x grid points (docs/metrics.md, "Selection")."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from gosales_assets.lib.models.settings import metric_direction


def _value(row: Mapping[str, Any], metric: str, higher: bool) -> float:
    """The metric as a 'higher is better' number; nan/missing is the worst."""
    v = row.get(metric)
    if v is None or not math.isfinite(float(v)):
        return -math.inf
    return float(v) if higher else -float(v)


def tied_best(
    rows: Sequence[Mapping[str, Any]],
    metric: str,
    tolerance: float,
    column: str | None = None,
) -> list[int]:
    """Indices of the ``status == "ok"`` rows within ``tolerance`` of the best value
    of ``metric`` (read from ``column``, default the metric's name; nan is worst)."""
    ok = [i for i, r in enumerate(rows) if r.get("status") == "ok"]
    if not ok:
        return []
    higher = metric_direction(metric)
    value = {i: _value(rows[i], column or metric, higher) for i in ok}
    best = max(value.values())
    return [i for i in ok if value[i] >= best - tolerance or value[i] == best]


def select_configuration(
    rows: Sequence[Mapping[str, Any]],
    metric: str,
    tie_break: str,
    tolerance: float,
    *,
    metric_column: str | None = None,
    tie_break_column: str | None = None,
) -> int | None:
    """Index of the winning row, or None when no row has ``status == "ok"``.

    1. Only rows with ``status == "ok"`` compete.
    2. Best value of ``metric`` (direction from ``metric_direction``; nan is worst).
    3. Every row within ``tolerance`` of the best is tied; among them the best
       ``tie_break`` value wins (again within ``tolerance``).
    4. Still tied: the earliest row (families in configured order, then grid order).

    The values are read from the columns named like the metrics unless
    ``metric_column`` / ``tie_break_column`` name others (the training compares
    rank metrics on the uncalibrated score's ``raw_*`` columns).
    """
    tied = tied_best(rows, metric, tolerance, metric_column)
    if len(tied) <= 1:
        return tied[0] if tied else None
    sub = [rows[i] for i in tied]
    return tied[tied_best(sub, tie_break, tolerance, tie_break_column)[0]]
