"""Firmographics: employees, account age, and fixed-schema industry/region encodings.

One-hot columns of "the top N industries" would make the schema depend on the data,
so industry and region are encoded as numbers instead: their frequency among the
customers known at C, and (target scope) the smoothed share of those customers who
own the target at C: ``(owners_g + m * p) / (n_g + m)``, with ``p`` the share over all
known customers and ``m = eb_prior_strength``. Unknown industry/region: frequency 0,
rate = p (data-derived fill, recorded in the stats). All inputs are dated <= C.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from gosales_assets.lib.features.naming import tgt
from gosales_assets.lib.features.prepare import Prepared
from gosales_assets.lib.features.rfm import clip_days


def firmographics_all(prep: Prepared) -> pl.DataFrame:
    c, lay = prep.g.cutoff, prep.lay
    cust = prep.g.customers
    n = max(cust.height, 1)
    age = (pl.lit(c, pl.Date) - pl.col("created_date")).dt.total_days()
    freq = {
        col: cust.group_by(col)
        .agg((pl.len() / n).alias(f"firm__{col}_freq"))
        .filter(pl.col(col).is_not_null())
        for col in ("industry", "region")
    }
    out = cust.select(
        "customer_id",
        "industry",
        "region",
        pl.col("employees")
        .clip(0, None)
        .cast(pl.Float64)
        .log1p()
        .alias("firm__log_employees"),
        pl.col("employees").is_null().cast(pl.Int8).alias("firm__employees_missing"),
        clip_days(age, lay).alias("firm__account_age_days"),
        pl.col("created_date").is_null().cast(pl.Int8).alias("firm__created_missing"),
    )
    for col, f in freq.items():
        out = out.join(f, on=col, how="left")
    return out.drop("industry", "region")


def firmographics_target(
    prep: Prepared, owners: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, float], dict[str, Any]]:
    """``owners[customer_id]``: customers owning the target at C."""
    m = prep.features.eb_prior_strength
    cust = prep.g.customers.select(
        "customer_id",
        "industry",
        "region",
        pl.col("customer_id")
        .is_in(owners.get_column("customer_id"))
        .cast(pl.Int64)
        .alias("_own"),
    )
    n = cust.height
    p = int(cust.get_column("_own").sum() or 0) / n if n else 0.0
    out = cust.select("customer_id")
    fills: dict[str, float] = {}
    for col in ("industry", "region"):
        name = tgt(f"firm__{col}_rate")
        rate = (
            cust.filter(pl.col(col).is_not_null())
            .group_by(col)
            .agg(((pl.col("_own").sum() + m * p) / (pl.len() + m)).alias(name))
        )
        out = out.join(
            cust.select("customer_id", col).join(rate, on=col, how="inner"),
            on="customer_id",
            how="left",
        ).drop(col)
        fills[name] = p
    return out, fills, {"target_owner_share": p}
