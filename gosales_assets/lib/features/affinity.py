"""Market-basket affinity of a target, learned entirely on data dated <= C.

Exposure window ``(S, E]`` with ``E = C - affinity_lag_days`` and
``S = add_months(E, -affinity_exposure_months)``; outcome period ``(E, C]``.
Population: customers with a line in the exposure window. A customer *owns* SKU s in
the exposure window when its net GP on s there is > 0; it *buys the target* when its
net GP on the target's SKUs in ``(E, C]`` is > 0. With N exposed customers, B buyers
among them, p = B / N, n_s owners of s and b_s buyers among them:

    lift(s) = ((b_s + m * p) / (n_s + m)) / p,   m = eb_prior_strength,

for SKUs with n_s >= affinity_min_support (no rule otherwise). A customer's features
use the non-target SKUs it owns at C (lifetime net GP > 0): max lift, mean lift, and
the count with lift > 1; 0 when no rule applies (smoothed lifts are always > 0).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from gosales_assets.lib.features.naming import tgt
from gosales_assets.lib.features.prepare import Prepared
from gosales_assets.lib.labels import target_predicate

LIFT_SCALE = 10**9  # lifts are summed in fixed point (exact, order-free)


def affinity_rules(prep: Prepared, skus: list[str]) -> tuple[pl.DataFrame, dict]:
    f = prep.features
    m = f.eb_prior_strength
    cs = prep.cust_sku
    exposed = cs.filter(pl.col("n_exp") > 0).select("customer_id").unique()
    n = exposed.height
    buyers = (
        cs.filter(target_predicate(skus))
        .group_by("customer_id")
        .agg(pl.col("gp_later").sum())
        .filter(pl.col("gp_later") > 0)
        .join(exposed, on="customer_id", how="semi")
        .select("customer_id", pl.lit(1, pl.Int64).alias("_buy"))
    )
    b = buyers.height
    info: dict[str, Any] = {
        "affinity_exposed_customers": n,
        "affinity_target_buyers": b,
    }
    empty = pl.DataFrame(
        schema={
            "sku": pl.String,
            "n_owners": pl.Int64,
            "n_buyers": pl.Int64,
            "lift": pl.Float64,
        }
    )
    if n == 0 or b == 0:
        info["affinity_rules"] = 0
        info["affinity_reason"] = (
            "no exposed customers" if n == 0 else "no target buyers in (E, C]"
        )
        return empty, info
    p = b / n
    rules = (
        cs.filter(pl.col("gp_exp") > 0)
        .select("customer_id", "sku")
        .join(buyers, on="customer_id", how="left")
        .group_by("sku")
        .agg(
            pl.len().cast(pl.Int64).alias("n_owners"),
            pl.col("_buy").fill_null(0).sum().cast(pl.Int64).alias("n_buyers"),
        )
        .filter(pl.col("n_owners") >= f.affinity_min_support)
        .with_columns(
            (((pl.col("n_buyers") + m * p) / (pl.col("n_owners") + m)) / p).alias(
                "lift"
            )
        )
        .sort("sku")
    )
    info["affinity_base_rate"] = p
    info["affinity_rules"] = rules.height
    return rules, info


def affinity_features(
    prep: Prepared, rules: pl.DataFrame, skus: list[str]
) -> pl.DataFrame:
    owned = prep.cust_sku.filter(
        (pl.col("gp_life") > 0) & ~target_predicate(skus)
    ).select("customer_id", "sku")
    scored = owned.join(rules.select("sku", "lift"), on="sku", how="inner")
    return scored.group_by("customer_id").agg(
        pl.col("lift").max().alias(tgt("affinity__lift_max")),
        (
            (pl.col("lift") * LIFT_SCALE).round(0).cast(pl.Int64).sum()
            / pl.len()
            / LIFT_SCALE
        ).alias(tgt("affinity__lift_mean")),
        (pl.col("lift") > 1.0).sum().cast(pl.Int64).alias(tgt("affinity__n_lift_gt1")),
    )
