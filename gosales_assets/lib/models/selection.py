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


def select_configuration(
    rows: Sequence[Mapping[str, Any]],
    metric: str,
    tie_break: str,
    tolerance: float,
) -> int | None:
    """Index of the winning row, or None when no row has ``status == "ok"``.

    1. Only rows with ``status == "ok"`` compete.
    2. Best value of ``metric`` (direction from ``metric_direction``; nan is worst).
    3. Every row within ``tolerance`` of the best is tied; among them the best
       ``tie_break`` value wins (again within ``tolerance``).
    4. Still tied: the earliest row (families in configured order, then grid order).
    """
    ok = [i for i, r in enumerate(rows) if r.get("status") == "ok"]
    if not ok:
        return None
    hi_m, hi_t = metric_direction(metric), metric_direction(tie_break)
    primary = {i: _value(rows[i], metric, hi_m) for i in ok}
    best = max(primary.values())
    tied = [i for i in ok if primary[i] >= best - tolerance or primary[i] == best]
    if len(tied) == 1:
        return tied[0]
    secondary = {i: _value(rows[i], tie_break, hi_t) for i in tied}
    best2 = max(secondary.values())
    return next(
        i for i in tied if secondary[i] >= best2 - tolerance or secondary[i] == best2
    )
