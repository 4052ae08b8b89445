"""Cross-division mix: EB-smoothed GP shares, ownership, diversity, returns.

Shares (B24/B26) are on positive GP at the (customer, SKU) grain over the last 24
months: ``pos(s) = max(0, net GP of SKU s)``, ``total = sum_s pos(s)``, and for a set
of SKUs A (a division or a target) ``share(A) = (pos(A) + k * p(A)) / (total + k)``.
The prior ``p(A)`` is the mean raw share ``pos(A) / total`` over customers with
``total > 0``; the strength ``k = eb_prior_strength * typical GP per event`` (the
median over those customers of total / events in 24 months), so ``k`` is worth
``eb_prior_strength`` typical purchases. Shares are always in [0, 1]. Customers with
no positive GP get the prior (a null before the fill; fill = p(A), in the stats).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from gosales_assets.lib.features.naming import LIFE, wlabel
from gosales_assets.lib.features.prepare import Prepared
from gosales_assets.lib.features.result import SCALE, exact_mean
from gosales_assets.lib.features.spec import MIX_MONTHS, SHORT_MONTHS


def positive_totals(prep: Prepared) -> pl.DataFrame:
    """Per customer: total positive GP (fx) and events over the mix window."""
    pos = prep.cust_sku.group_by("customer_id").agg(
        pl.col("gp_mix").clip(0, None).sum().alias("total_pos")
    )
    ev = (
        prep.cust_mb.filter(pl.col("mb") < MIX_MONTHS)
        .group_by("customer_id")
        .agg(pl.col("events").sum().alias("events_mix"))
    )
    return pos.join(ev, on="customer_id", how="left").filter(pl.col("total_pos") > 0)


def eb_strength(prep: Prepared, totals: pl.DataFrame) -> tuple[float, dict[str, Any]]:
    """``k`` in currency units and how it was derived."""
    strength = prep.features.eb_prior_strength
    per_event = totals.filter(pl.col("events_mix") > 0).select(
        (pl.col("total_pos") / SCALE / pl.col("events_mix")).alias("x")
    )
    typical = per_event.get_column("x").median() if per_event.height else None
    if typical is None or not float(typical) > 0:
        return strength, {"eb_k": strength, "eb_k_basis": "no positive GP: k = s * 1"}
    k = strength * float(typical)
    return k, {"eb_k": k, "eb_typical_gp_per_event": float(typical)}


def eb_share(
    numer: pl.DataFrame, totals: pl.DataFrame, k: float, name: str
) -> tuple[pl.DataFrame, float]:
    """Smoothed share column ``name`` from ``numer[customer_id, pos]`` (fx) and the
    positive totals; returns the frame (customers with total > 0) and the prior."""
    raw = totals.join(numer, on="customer_id", how="left").with_columns(
        pl.col("pos").fill_null(0)
    )
    prior = exact_mean(raw.select(pl.col("pos") / pl.col("total_pos")).to_series())
    p = float(prior) if prior is not None else 0.0
    share = ((pl.col("pos") / SCALE + k * p) / (pl.col("total_pos") / SCALE + k)).clip(
        0.0, 1.0
    )
    return raw.select("customer_id", share.alias(name)), p


def cross_division(
    prep: Prepared,
) -> tuple[list[pl.DataFrame], dict[str, float], dict[str, Any]]:
    lay = prep.lay
    w24, w12 = wlabel(MIX_MONTHS), wlabel(SHORT_MONTHS)
    totals = positive_totals(prep)
    k, info = eb_strength(prep, totals)
    by_div = prep.cust_sku.group_by("customer_id", "division").agg(
        pl.col("gp_mix").clip(0, None).sum().alias("pos"),
        pl.col("gp_life").sum().alias("gp_life"),
        pl.col("min_mb").min().alias("min_mb"),
    )
    parts: list[pl.DataFrame] = []
    fills: dict[str, float] = {}
    priors: dict[str, float] = {}
    for d in lay.divisions:
        name = f"xdiv__gp_share__{lay.div_slug[d]}__{w24}"
        numer = by_div.filter(pl.col("division") == d).select("customer_id", "pos")
        frame, p = eb_share(numer, totals, k, name)
        parts.append(frame)
        fills[name] = p
        priors[d] = p
    info["eb_priors"] = priors
    per_cust = by_div.group_by("customer_id").agg(
        *[
            (pl.col("gp_life").filter(pl.col("division") == d).sum() > 0)
            .cast(pl.Int8)
            .alias(f"xdiv__owns__{lay.div_slug[d]}")
            for d in lay.divisions
        ],
        (pl.col("min_mb") < SHORT_MONTHS).sum().alias(f"xdiv__n_divisions__{w12}"),
        (pl.col("min_mb") < MIX_MONTHS).sum().alias(f"xdiv__n_divisions__{w24}"),
        pl.len().alias(f"xdiv__n_divisions__{LIFE}"),
    )
    skus = prep.cust_sku.group_by("customer_id").agg(
        (pl.col("min_mb") < SHORT_MONTHS).sum().alias(f"xdiv__n_skus__{w12}"),
        (pl.col("min_mb") < MIX_MONTHS).sum().alias(f"xdiv__n_skus__{w24}"),
        pl.len().alias(f"xdiv__n_skus__{LIFE}"),
    )
    returns = (
        prep.cust_mb.filter(pl.col("mb") < SHORT_MONTHS)
        .group_by("customer_id")
        .agg(
            (pl.col("n_neg").sum() / pl.col("n_lines").sum()).alias(
                f"xdiv__returns_rate__{w12}"
            )
        )
    )
    parts += [per_cust, skus, returns]
    return parts, fills, info
