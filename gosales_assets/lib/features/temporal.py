"""Trajectory (monthly slope and volatility) and seasonality families.

Trajectory uses the last 12 month buckets relative to C (bucket k is
``(add_months(C, -(k+1)), add_months(C, -k)]``), so a mid-month cutoff keeps its
partial month (B31). x runs from 0 (oldest bucket) to 11 (the bucket ending on C).
slope = sum((x - 5.5) * y) / 143; volatility = std(y) / mean(|y|) (population std;
bounded by sqrt(12), defined for negative GP months too).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from gosales_assets.lib.features.naming import wlabel
from gosales_assets.lib.features.prepare import Prepared
from gosales_assets.lib.features.result import SCALE
from gosales_assets.lib.features.spec import MIX_MONTHS, TRAJECTORY_MONTHS


def _slope_vol(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = y.shape[1]
    x = np.arange(n, dtype=np.float64)[::-1]  # bucket 0 (newest) has x = n - 1
    xc = x - x.mean()
    slope = (y * xc).sum(axis=1) / float((xc * xc).sum())
    mabs = np.abs(y).mean(axis=1)
    std = y.std(axis=1)
    vol = np.divide(std, mabs, out=np.zeros_like(std), where=mabs > 0)
    return slope, vol


def trajectory(prep: Prepared) -> pl.DataFrame:
    n_b = TRAJECTORY_MONTHS
    recent = prep.cust_mb.filter(pl.col("mb") < n_b)
    ids = recent.select("customer_id").unique().sort("customer_id")
    idx = ids.with_row_index("_i")
    rows = recent.join(idx, on="customer_id", how="inner")
    i = rows.get_column("_i").to_numpy()
    k = rows.get_column("mb").to_numpy()
    gp = np.zeros((ids.height, n_b))
    ev = np.zeros((ids.height, n_b))
    gp[i, k] = rows.get_column("gp").to_numpy().astype(np.float64) / SCALE
    ev[i, k] = rows.get_column("events").to_numpy().astype(np.float64)
    gs, gv = _slope_vol(gp)
    es, evv = _slope_vol(ev)
    w = wlabel(n_b)
    return ids.with_columns(
        pl.Series(f"trajectory__gp_slope__{w}", gs),
        pl.Series(f"trajectory__gp_volatility__{w}", gv),
        pl.Series(f"trajectory__events_slope__{w}", es),
        pl.Series(f"trajectory__events_volatility__{w}", evv),
    )


def seasonality(prep: Prepared) -> pl.DataFrame:
    w = wlabel(MIX_MONTHS)
    per_q = (
        prep.lines.filter(pl.col("mb") < MIX_MONTHS)
        .select("customer_id", "event_id", pl.col("order_date").dt.quarter().alias("q"))
        .unique()
        .group_by("customer_id")
        .agg(
            pl.len().alias("_n"),
            *[(pl.col("q") == q).sum().alias(f"_q{q}") for q in range(1, 5)],
        )
    )
    return per_q.select(
        "customer_id",
        *[
            (pl.col(f"_q{q}") / pl.col("_n")).alias(f"season__q{q}_share__{w}")
            for q in range(1, 5)
        ],
    )
