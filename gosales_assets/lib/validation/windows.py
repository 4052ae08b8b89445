"""Which scored partitions can be validated: those whose label window has closed.

The window rule is the labels' (``lib/labels.window_state``): the window of cutoff C
is closed once the newest order date in ``raw.sales_lines`` reaches ``end(C, W)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

import duckdb

from gosales_assets.lib.labels import window_state


def data_through(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The newest order date of the ingested sales lines; None before any ingest."""
    try:
        row = con.execute("SELECT max(order_date) FROM raw.sales_lines").fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


def closed_partitions(
    partitions: Iterable[tuple[dt.date, str]],
    data_through: dt.date | None,
    window_months: Callable[[str], int],
) -> list[tuple[dt.date, str]]:
    """The ``(cutoff, target)`` pairs whose label window the data covers, sorted."""
    return sorted(
        (cutoff, target)
        for cutoff, target in set(partitions)
        if window_state(cutoff, window_months(target), data_through) is None
    )
