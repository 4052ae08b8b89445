"""Install-base family: assets bought on or before C, active at C = expiration null or
after C (B20: purchases after C never count; the guard drops them)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from gosales_assets.lib.features.prepare import Prepared
from gosales_assets.lib.features.result import fx, unfx
from gosales_assets.lib.labels import target_predicate

_ACTIVE = pl.col("is_active")


def _assets(prep: Prepared) -> pl.DataFrame:
    return prep.g.install_base.with_columns(
        fx(pl.col("quantity").fill_null(1.0)).alias("qty_fx")
    )


def install_base_all(prep: Prepared) -> pl.DataFrame:
    lay, c = prep.lay, prep.g.cutoff
    aggs = [
        _ACTIVE.sum().cast(pl.Int64).alias("ib__active_n"),
        unfx(pl.col("qty_fx").filter(_ACTIVE).sum()).alias("ib__active_qty"),
        (~_ACTIVE).sum().cast(pl.Int64).alias("ib__expired_n"),
    ]
    for n in lay.expiring_days:
        until = c + dt.timedelta(days=n)
        aggs.append(
            (_ACTIVE & (pl.col("expiration_date") <= until))
            .sum()
            .cast(pl.Int64)
            .alias(f"ib__expiring_n__{n}d")
        )
    for d in lay.divisions:
        aggs.append(
            (_ACTIVE & (pl.col("division") == d))
            .any()
            .cast(pl.Int8)
            .alias(f"ib__active__{lay.div_slug[d]}")
        )
    return _assets(prep).group_by("customer_id").agg(aggs)


def install_base_target(prep: Prepared, skus: list[str]) -> pl.DataFrame:
    return (
        _assets(prep)
        .filter(target_predicate(skus))
        .group_by("customer_id")
        .agg(
            _ACTIVE.sum().cast(pl.Int64).alias("tgt__ib__active_n"),
            unfx(pl.col("qty_fx").filter(_ACTIVE).sum()).alias("tgt__ib__active_qty"),
            (~_ACTIVE).sum().cast(pl.Int64).alias("tgt__ib__expired_n"),
        )
    )
