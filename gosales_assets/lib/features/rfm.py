"""RFM and lifecycle families (all scope and target scope share the window code).

Events are distinct ``(customer, invoice, date)`` purchase events, never lines (B27).
Windows are ``(add_months(C, -m), C]`` = month buckets ``0..m-1``; ``life`` is every
line on or before C. Day counts are floored at ``recency_floor_days`` and capped at
``recency_cap_days`` (B25: every proximity-to-C feature is floored, not only recency).
"""

from __future__ import annotations

import polars as pl

from gosales_assets.lib.features.naming import wlabel
from gosales_assets.lib.features.prepare import Prepared
from gosales_assets.lib.features.result import unfx
from gosales_assets.lib.features.spec import MIX_MONTHS, SHORT_MONTHS, Layout


def clip_days(expr: pl.Expr, lay: Layout) -> pl.Expr:
    """Floor and cap a day count (nulls stay null: "never" is filled with the cap)."""
    return expr.clip(lay.floor_days, lay.cap_days)


def _safe_div(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den != 0).then(num / den).otherwise(None)


def window_rfm(
    cust_mb: pl.DataFrame, lay: Layout, prefix: str, margin: bool
) -> pl.DataFrame:
    """RFM columns from ``(customer_id, mb)`` aggregates (events, gp, qty, ...)."""
    aggs: list[pl.Expr] = [
        pl.col("min_days").min().alias("_min_days"),
    ]
    for label, months in lay.window_keys:
        cond = pl.col("mb") < months if months is not None else pl.lit(True)
        aggs += [
            pl.col("events").filter(cond).sum().alias(f"_ev_{label}"),
            pl.col("gp").filter(cond).sum().alias(f"_gp_{label}"),
            pl.col("qty").filter(cond).sum().alias(f"_qty_{label}"),
        ]
        if margin:
            aggs += [
                pl.col("gp_rev").filter(cond).sum().alias(f"_gprev_{label}"),
                pl.col("rev").filter(cond).sum().alias(f"_rev_{label}"),
            ]
    agg = cust_mb.group_by("customer_id").agg(aggs)
    out: list[pl.Expr] = [pl.col("customer_id")]
    for label, _ in lay.window_keys:
        ev, gp = pl.col(f"_ev_{label}"), unfx(pl.col(f"_gp_{label}"))
        out += [
            ev.alias(f"{prefix}rfm__events__{label}"),
            gp.alias(f"{prefix}rfm__gp_sum__{label}"),
            _safe_div(gp, ev.cast(pl.Float64)).alias(
                f"{prefix}rfm__gp_per_event__{label}"
            ),
            unfx(pl.col(f"_qty_{label}")).alias(f"{prefix}rfm__qty_sum__{label}"),
        ]
        if margin:
            rev = pl.col(f"_rev_{label}")
            out.append(
                pl.when(rev > 0)
                .then(
                    (pl.col(f"_gprev_{label}").cast(pl.Float64) / rev).clip(-1.0, 1.0)
                )
                .otherwise(None)
                .alias(f"{prefix}rfm__margin__{label}")
            )
    out.append(clip_days(pl.col("_min_days"), lay).alias(f"{prefix}rfm__recency_days"))
    return agg.select(out)


def rfm_all(prep: Prepared) -> pl.DataFrame:
    return window_rfm(prep.cust_mb, prep.lay, "", margin=True)


def lifecycle(prep: Prepared) -> pl.DataFrame:
    """has_history, tenure, inter-purchase intervals, active months."""
    lay = prep.lay
    base = prep.cust_mb.group_by("customer_id").agg(
        pl.col("max_days").max().alias("_first_days"),
        *[
            (pl.col("mb") < m).sum().cast(pl.Int64).alias(f"_am_{m}")
            for m in (SHORT_MONTHS, MIX_MONTHS)
        ],
    )
    # Distinct purchase dates, newest first per customer; gaps between consecutive
    # dates. mean = span / (n - 1) and std from the sum of squared gaps: exact ints.
    dates = (
        prep.lines.select("customer_id", "days_back")
        .unique()
        .sort("customer_id", "days_back")
        .with_columns(
            pl.when(pl.col("customer_id") == pl.col("customer_id").shift(1))
            .then(pl.col("days_back") - pl.col("days_back").shift(1))
            .otherwise(None)
            .cast(pl.Int64)
            .alias("_gap")
        )
    )
    ipi = (
        dates.group_by("customer_id")
        .agg(
            pl.len().cast(pl.Int64).alias("_n"),
            pl.col("_gap").sum().alias("_span"),
            (pl.col("_gap") * pl.col("_gap")).sum().alias("_ss"),
        )
        .filter(pl.col("_n") >= 2)
        .with_columns(
            (pl.col("_span") / (pl.col("_n") - 1)).alias("_mean"),
        )
        .select(
            "customer_id",
            pl.col("_mean").alias("lifecycle__ipi_mean_days"),
            (pl.col("_ss") / (pl.col("_n") - 1) - pl.col("_mean") ** 2)
            .clip(0.0, None)
            .sqrt()
            .alias("lifecycle__ipi_std_days"),
        )
    )
    out = base.select(
        "customer_id",
        pl.lit(1, pl.Int8).alias("has_history"),
        clip_days(pl.col("_first_days"), lay).alias("lifecycle__tenure_days"),
        *[
            pl.col(f"_am_{m}").alias(f"lifecycle__active_months__{wlabel(m)}")
            for m in (SHORT_MONTHS, MIX_MONTHS)
        ],
    )
    return out.join(ipi, on="customer_id", how="left")
