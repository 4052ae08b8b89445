"""CRM family: contacts and open deals, all dated on or before C.

A contact in the last N days is dated in ``(C - N days, C]``. A deal is open at C when
it was opened on or before C and not closed on or before C (a close after C is not
known at C; the guard nulls it). Target scope uses the divisions of the target's SKUs.
Empty inputs give the columns with their defaults (coverage 0).
"""

from __future__ import annotations

import polars as pl

from gosales_assets.lib.features.naming import tgt
from gosales_assets.lib.features.prepare import Prepared
from gosales_assets.lib.features.rfm import clip_days


def _contacts(prep: Prepared, prefix: str, divisions: list[str] | None) -> pl.DataFrame:
    c = prep.g.cutoff
    ct = prep.g.contacts
    if divisions is not None:
        ct = ct.filter(pl.col("division").is_in(divisions))
    days = (pl.lit(c, pl.Date) - pl.col("contact_date")).dt.total_days()
    return (
        ct.with_columns(days.cast(pl.Int32).alias("_d"))
        .group_by("customer_id")
        .agg(
            clip_days(pl.col("_d").min(), prep.lay).alias(
                f"{prefix}crm__days_since_contact"
            ),
            *[
                (pl.col("_d") < n)
                .sum()
                .cast(pl.Int64)
                .alias(f"{prefix}crm__contacts__{n}d")
                for n in prep.lay.crm_days
            ],
        )
    )


def crm_all(prep: Prepared) -> list[pl.DataFrame]:
    deals = (
        prep.g.open_deals.filter(pl.col("is_open"))
        .group_by("customer_id")
        .agg(pl.len().cast(pl.Int64).alias("crm__open_deals_n"))
    )
    return [_contacts(prep, "", None), deals]


def crm_target(prep: Prepared, divisions: list[str]) -> list[pl.DataFrame]:
    deals = (
        prep.g.open_deals.filter(
            pl.col("is_open") & pl.col("division").is_in(divisions)
        )
        .group_by("customer_id")
        .agg(pl.lit(1, pl.Int8).alias(tgt("crm__open_deal")))
    )
    return [_contacts(prep, tgt(""), divisions), deals]
