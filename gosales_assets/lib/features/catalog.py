"""The feature catalog: one fixed schema per configuration, whatever the data.

Every column of the feature matrix is declared in the catalog, in output order, with
its family, scope (``all`` or ``target``), window, dtype, fill default and description:
the base columns (``catalog_base``), the ALS factors, then the ``tgt__`` columns. The
builders produce raw columns with nulls where a value is undefined; ``result.finalize``
fills them with the catalog default (or a data-derived value recorded in the stats,
when the catalog default is null), winsorizes the columns marked ``winsor`` and casts
to the catalog dtype. Names never depend on the data or on the target's name.
"""

from __future__ import annotations

import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.features.catalog_base import base_specs, rfm_specs
from gosales_assets.lib.features.naming import LIFE, check_unique, tgt, wlabel
from gosales_assets.lib.features.spec import (
    DAYS_PER_MONTH,
    MIX_MONTHS,
    SHORT_MONTHS,
    FeatureSpec,
    layout,
)

__all__ = ["all_specs", "als_specs", "base_specs", "feature_catalog", "target_specs"]


def als_specs(cfg: GosalesConfig) -> list[FeatureSpec]:
    lay, m = layout(cfg), cfg.features.als.lookback_months
    return [
        FeatureSpec(
            name,
            "als",
            "all",
            wlabel(m),
            "Float64",
            0.0,
            f"ALS customer factor {i} of the account x SKU positive-GP matrix, last "
            f"{m} months; 0 without interactions",
        )
        for i, name in enumerate(lay.als)
    ]


def target_specs(cfg: GosalesConfig) -> list[FeatureSpec]:
    lay = layout(cfg)
    cap, t12, t24 = float(lay.cap_days), wlabel(SHORT_MONTHS), wlabel(MIX_MONTHS)
    f = cfg.features
    out = rfm_specs(lay, tgt(""), "the target's SKUs")
    out += [
        FeatureSpec(
            tgt("owns__life"),
            "ownership",
            "target",
            LIFE,
            "Int8",
            0.0,
            "1 if lifetime net GP on the target's SKUs is > 0",
        ),
        FeatureSpec(
            tgt(f"owns__{t12}"),
            "ownership",
            "target",
            t12,
            "Int8",
            0.0,
            f"1 if net GP on the target's SKUs in the last {SHORT_MONTHS} months > 0",
        ),
        FeatureSpec(
            tgt(f"gp_share__{t24}"),
            "ownership",
            "target",
            t24,
            "Float64",
            None,
            f"EB-smoothed share of positive GP on the target's SKUs, last "
            f"{MIX_MONTHS} months; prior for customers without positive GP",
        ),
        FeatureSpec(
            tgt("lifecycle__months_since_first"),
            "ownership",
            "target",
            LIFE,
            "Float64",
            cap / DAYS_PER_MONTH,
            "months (days / 30.4375) from the first target line to C, floored and "
            "capped like recency; never = cap",
        ),
        FeatureSpec(
            tgt("ib__active_n"),
            "install_base",
            "target",
            LIFE,
            "Int32",
            0.0,
            "active installed products of the target's SKUs",
        ),
        FeatureSpec(
            tgt("ib__active_qty"),
            "install_base",
            "target",
            LIFE,
            "Float64",
            0.0,
            "units of active installed target products (null quantity = 1)",
            winsor=True,
        ),
        FeatureSpec(
            tgt("ib__expired_n"),
            "install_base",
            "target",
            LIFE,
            "Int32",
            0.0,
            "installed target products expired on or before C",
        ),
    ]
    lag = f"lag{f.affinity_lag_days}d"
    for what, dtype, desc in (
        ("lift_max", "Float64", "max lift"),
        ("lift_mean", "Float64", "mean lift"),
        ("n_lift_gt1", "Int32", "number of owned SKUs with lift > 1"),
    ):
        out.append(
            FeatureSpec(
                tgt(f"affinity__{what}"),
                "affinity",
                "target",
                lag,
                dtype,
                0.0,
                f"market basket: {desc} of target over the non-target SKUs owned at "
                "C (rules learned on an exposure window ending "
                f"{f.affinity_lag_days} days before C); 0 when no rule applies",
            )
        )
    out += [
        FeatureSpec(
            tgt("als_sim"),
            "als",
            "target",
            wlabel(f.als.lookback_months),
            "Float64",
            0.0,
            "cosine similarity of the ALS vector to the centroid of the "
            "target's owners; 0 without a vector or owners",
        ),
        FeatureSpec(
            tgt("firm__industry_rate"),
            "firmographics",
            "target",
            LIFE,
            "Float64",
            None,
            "smoothed share of known customers of the same industry owning the "
            "target at C; the global share when industry is unknown",
        ),
        FeatureSpec(
            tgt("firm__region_rate"),
            "firmographics",
            "target",
            LIFE,
            "Float64",
            None,
            "smoothed share of known customers of the same region owning the "
            "target at C; the global share when region is unknown",
        ),
        FeatureSpec(
            tgt("crm__open_deal"),
            "crm",
            "target",
            "",
            "Int8",
            0.0,
            "1 if a deal of the target's division(s) is open at C",
        ),
        FeatureSpec(
            tgt("crm__days_since_contact"),
            "crm",
            "target",
            LIFE,
            "Int32",
            cap,
            "days from the last contact about the target's division(s) to C",
        ),
    ]
    for n in lay.crm_days:
        out.append(
            FeatureSpec(
                tgt(f"crm__contacts__{n}d"),
                "crm",
                "target",
                f"{n}d",
                "Int32",
                0.0,
                f"contacts about the target's division(s) in (C-{n}d, C]",
            )
        )
    return out


def all_specs(cfg: GosalesConfig) -> list[FeatureSpec]:
    specs = base_specs(cfg) + als_specs(cfg) + target_specs(cfg)
    check_unique([s.name for s in specs])
    return specs


def feature_catalog(cfg: GosalesConfig) -> pl.DataFrame:
    """The feature matrix's columns after ``customer_id``, in order."""
    specs = all_specs(cfg)
    return pl.DataFrame(
        {
            "name": [s.name for s in specs],
            "family": [s.family for s in specs],
            "scope": [s.scope for s in specs],
            "window": [s.window for s in specs],
            "dtype": [s.dtype for s in specs],
            "default": [s.default for s in specs],
            "description": [s.description for s in specs],
        },
        schema={
            "name": pl.String,
            "family": pl.String,
            "scope": pl.String,
            "window": pl.String,
            "dtype": pl.String,
            "default": pl.Float64,
            "description": pl.String,
        },
    )
