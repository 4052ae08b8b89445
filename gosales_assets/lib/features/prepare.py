"""Shared line-level preparation, computed once per snapshot and reused by every family.

``lines`` are the guarded fact lines with, per line: ``days_back`` = (C - order_date)
in days, ``mb`` = the month bucket, ``event_id`` (a dense id of the distinct purchase
event ``(customer_id, invoice_id, order_date)``), and fixed-point amounts
``gp_fx``/``qty_fx``/``rev_fx``.

Month buckets use the one window arithmetic (``timeutil.add_months``): bucket ``k``
is ``(add_months(C, -(k+1)), add_months(C, -k)]``, so the window of the last ``m``
months ``(add_months(C, -m), C]`` is exactly buckets ``0..m-1``, and a mid-month or
month-end cutoff never loses a partial month (B31). Older lines share bucket ``K``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from gosales_assets.config import FeaturesConfig, GosalesConfig
from gosales_assets.lib.features.result import fx
from gosales_assets.lib.features.snapshot import GuardedSnapshot, StarSnapshot, guard
from gosales_assets.lib.features.spec import MIX_MONTHS, Layout, layout
from gosales_assets.lib.timeutil import add_months


@dataclass(frozen=True)
class Periods:
    """The dated boundaries of a cutoff (all on or before it)."""

    cutoff: dt.date
    month_bounds: tuple[dt.date, ...]  # add_months(C, -k) for k = 1..K
    exposure_start: dt.date  # affinity exposure window (start, end]
    exposure_end: dt.date
    als_months: int

    def window_start(self, months: int) -> dt.date:
        return add_months(self.cutoff, -months)


def periods(cutoff: dt.date, cfg: GosalesConfig, lay: Layout) -> Periods:
    f = cfg.features
    end = cutoff - dt.timedelta(days=f.affinity_lag_days)
    return Periods(
        cutoff=cutoff,
        month_bounds=tuple(
            add_months(cutoff, -k) for k in range(1, lay.month_buckets + 1)
        ),
        exposure_start=add_months(end, -f.affinity_exposure_months),
        exposure_end=end,
        als_months=f.als.lookback_months,
    )


def month_bucket(date_col: pl.Expr, p: Periods) -> pl.Expr:
    """Number of month boundaries ``add_months(C, -k)`` (k >= 1) on or after the date:
    0 for (add_months(C,-1), C], 1 for the month before, ..., K for older."""
    asc = pl.Series("b", sorted(p.month_bounds), dtype=pl.Date)
    k = len(asc)
    return (
        pl.lit(k, pl.Int32) - pl.lit(asc).search_sorted(date_col, side="left")
    ).cast(pl.Int32)


# The ``lines`` columns the target-scope families read (``compact`` keeps only these).
TARGET_LINE_COLUMNS = (
    "customer_id",
    "sku",
    "days_back",
    "mb",
    "event_id",
    "gp_fx",
    "qty_fx",
)


@dataclass(frozen=True)
class Prepared:
    """The shared preparation of one snapshot. ``source`` is the snapshot it was made
    from (``None`` once :meth:`compact` dropped what only the base features read)."""

    source: StarSnapshot | None = field(repr=False)
    features: FeaturesConfig
    g: GuardedSnapshot
    lay: Layout
    per: Periods
    lines: pl.DataFrame
    cust_mb: pl.DataFrame  # (customer_id, mb) aggregates
    cust_sku: pl.DataFrame  # (customer_id, sku, division) aggregates
    info: dict[str, Any]

    @property
    def roster(self) -> pl.DataFrame:
        return self.g.customers.select("customer_id")

    def matches(self, snap: StarSnapshot, cfg: GosalesConfig) -> bool:
        return self.source is snap and self.features == cfg.features

    @property
    def compacted(self) -> bool:
        return self.source is None

    def compact(self) -> Prepared:
        """A copy holding only what the target-scope features read (for keeping in
        memory across feature matrices): no source snapshot, no guarded fact lines,
        and ``lines`` reduced to ``TARGET_LINE_COLUMNS``. Target features built from
        it are identical; the base features and ALS need the full preparation."""
        return dataclasses.replace(
            self,
            source=None,
            g=dataclasses.replace(self.g, fact=self.g.fact.clear()),
            lines=self.lines.select(TARGET_LINE_COLUMNS),
        )


def prepare(snap: StarSnapshot, cfg: GosalesConfig) -> Prepared:
    g = guard(snap)
    lay = layout(cfg)
    per = periods(g.cutoff, cfg, lay)
    c = g.cutoff
    lines = (
        g.fact.lazy()
        .select(
            "customer_id",
            pl.col("invoice_id").fill_null(""),
            pl.col("line_no").fill_null(0),
            "order_date",
            "sku",
            pl.col("division").fill_null(""),
            (pl.lit(c, pl.Date) - pl.col("order_date"))
            .dt.total_days()
            .cast(pl.Int32)
            .alias("days_back"),
            month_bucket(pl.col("order_date"), per).alias("mb"),
            fx(pl.col("gross_profit")).alias("gp_fx"),
            fx(pl.col("quantity").fill_null(0.0)).alias("qty_fx"),
            fx(pl.col("revenue")).alias("rev_fx"),
        )
        .sort(["customer_id", "order_date", "invoice_id", "line_no", "sku"])
        .with_columns(
            (
                (pl.col("customer_id") != pl.col("customer_id").shift(1))
                | (pl.col("order_date") != pl.col("order_date").shift(1))
                | (pl.col("invoice_id") != pl.col("invoice_id").shift(1))
            )
            .fill_null(True)
            .cast(pl.Int64)
            .cum_sum()
            .alias("event_id")
        )
        .collect()
        .rechunk()
    )
    cust_mb = (
        lines.group_by("customer_id", "mb")
        .agg(
            pl.col("event_id").n_unique().cast(pl.Int64).alias("events"),
            pl.col("gp_fx").sum().alias("gp"),
            pl.col("qty_fx").sum().alias("qty"),
            pl.col("gp_fx")
            .filter(pl.col("rev_fx").is_not_null())
            .sum()
            .alias("gp_rev"),
            pl.col("rev_fx").sum().alias("rev"),
            pl.len().cast(pl.Int64).alias("n_lines"),
            (pl.col("gp_fx") < 0).sum().cast(pl.Int64).alias("n_neg"),
            pl.col("days_back").min().alias("min_days"),
            pl.col("days_back").max().alias("max_days"),
        )
        .sort("customer_id", "mb")
    )
    in_exp = (pl.col("order_date") > per.exposure_start) & (
        pl.col("order_date") <= per.exposure_end
    )
    cust_sku = (
        lines.group_by("customer_id", "sku", "division")
        .agg(
            pl.col("gp_fx").sum().alias("gp_life"),
            pl.col("gp_fx").filter(pl.col("mb") < MIX_MONTHS).sum().alias("gp_mix"),
            pl.col("gp_fx").filter(pl.col("mb") < per.als_months).sum().alias("gp_als"),
            pl.col("gp_fx").filter(in_exp).sum().alias("gp_exp"),
            in_exp.sum().cast(pl.Int64).alias("n_exp"),
            pl.col("gp_fx")
            .filter(pl.col("order_date") > per.exposure_end)
            .sum()
            .alias("gp_later"),
            pl.col("mb").min().alias("min_mb"),
        )
        .sort("customer_id", "sku")
    )
    info = dict(g.info)
    info["month_buckets"] = lay.month_buckets
    info["affinity_exposure_window"] = (
        f"({per.exposure_start.isoformat()}, {per.exposure_end.isoformat()}]"
    )
    return Prepared(
        source=snap,
        features=cfg.features,
        g=g,
        lay=lay,
        per=per,
        lines=lines,
        cust_mb=cust_mb,
        cust_sku=cust_sku,
        info=info,
    )
