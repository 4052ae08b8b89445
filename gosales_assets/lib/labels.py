"""The one label definition (DATA_CONTRACT section 4).

``label = 1`` iff the customer's net GP over the target's SKUs (denylisted SKUs removed)
in the window ``(C, end(C, W)]`` is strictly above the threshold. Training, scoring,
validation and the sample-data ground truth all call :func:`window_net_gp`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import polars as pl

from gosales_assets.lib.timeutil import window_end


def target_predicate(skus: Iterable[str], denylist: Iterable[str] = ()) -> pl.Expr:
    """The one target predicate: a line is the target's iff its SKU is in the set."""
    allowed = sorted(set(skus) - set(denylist))
    return pl.col("sku").is_in(allowed)


def window_net_gp(
    lines: pl.LazyFrame | pl.DataFrame,
    *,
    skus: Iterable[str],
    cutoff: dt.date,
    months: int,
    denylist: Iterable[str] = (),
) -> pl.LazyFrame:
    """Net GP per customer over the target's lines in ``(cutoff, end(cutoff, months)]``.

    ``lines`` needs ``customer_id``, ``order_date`` (Date), ``sku``, ``gross_profit``.
    Customers without a target line in the window are absent (net GP 0).
    """
    end = window_end(cutoff, months)
    return (
        lines.lazy()
        .filter(
            (pl.col("order_date") > cutoff)
            & (pl.col("order_date") <= end)
            & target_predicate(skus, denylist)
        )
        .group_by("customer_id")
        .agg(pl.col("gross_profit").sum().alias("net_gp"))
    )


def positive_customers(
    lines: pl.LazyFrame | pl.DataFrame,
    *,
    skus: Iterable[str],
    cutoff: dt.date,
    months: int,
    threshold: float = 0.0,
    denylist: Iterable[str] = (),
) -> pl.LazyFrame:
    """Customers labelled 1 at ``cutoff`` (net GP strictly above ``threshold``)."""
    return (
        window_net_gp(lines, skus=skus, cutoff=cutoff, months=months, denylist=denylist)
        .filter(pl.col("net_gp") > threshold)
        .select("customer_id")
    )
