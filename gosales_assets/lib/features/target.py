"""``build_target_features``: base columns + ALS factors + target-scope columns.

The target is resolved by exact name (``cfg.target``: trimmed, case-sensitive) and its
lines by the one target predicate (``labels.target_predicate``: SKU in the target's
SKU set), everywhere. Column names never contain the target's name.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.features.affinity import affinity_features, affinity_rules
from gosales_assets.lib.features.als import als_similarity
from gosales_assets.lib.features.catalog import als_specs, base_specs, target_specs
from gosales_assets.lib.features.crm import crm_target
from gosales_assets.lib.features.firmographics import firmographics_target
from gosales_assets.lib.features.install_base import install_base_target
from gosales_assets.lib.features.mix import eb_share, eb_strength, positive_totals
from gosales_assets.lib.features.naming import tgt, wlabel
from gosales_assets.lib.features.prepare import Prepared, prepare
from gosales_assets.lib.features.result import AlsResult, FeatureResult, finalize
from gosales_assets.lib.features.rfm import clip_days, window_rfm
from gosales_assets.lib.features.snapshot import StarSnapshot
from gosales_assets.lib.features.spec import DAYS_PER_MONTH, MIX_MONTHS, SHORT_MONTHS
from gosales_assets.lib.labels import target_predicate


def _check_inputs(
    cutoff: dt.date, base: FeatureResult, als: AlsResult, cfg: GosalesConfig
) -> None:
    """Refuse a base or ALS result of another cutoff or schema (no stale inputs)."""
    c = cutoff.isoformat()
    if base.info.get("cutoff") != c:
        raise ValueError(f"base features are for {base.info.get('cutoff')}, not {c}")
    if als.info.get("cutoff") != c:
        raise ValueError(f"ALS factors are for {als.info.get('cutoff')}, not {c}")
    expected = ["customer_id", *[s.name for s in base_specs(cfg)]]
    if base.frame.columns != expected:
        raise ValueError("base frame does not match the configured catalog")


def _target_parts(
    prep: Prepared, skus: list[str]
) -> tuple[list[pl.DataFrame], pl.DataFrame, dict[str, float], dict[str, Any]]:
    lay = prep.lay
    pred = target_predicate(skus)
    tmb = (
        prep.lines.filter(pred)
        .group_by("customer_id", "mb")
        .agg(
            pl.col("event_id").n_unique().cast(pl.Int64).alias("events"),
            pl.col("gp_fx").sum().alias("gp"),
            pl.col("qty_fx").sum().alias("qty"),
            pl.col("days_back").min().alias("min_days"),
            pl.col("days_back").max().alias("max_days"),
        )
    )
    rfm = window_rfm(tmb, lay, tgt(""), margin=False)
    own = tmb.group_by("customer_id").agg(
        (pl.col("gp").sum() > 0).cast(pl.Int8).alias(tgt("owns__life")),
        (pl.col("gp").filter(pl.col("mb") < SHORT_MONTHS).sum() > 0)
        .cast(pl.Int8)
        .alias(tgt(f"owns__{wlabel(SHORT_MONTHS)}")),
        (clip_days(pl.col("max_days").max(), lay) / DAYS_PER_MONTH).alias(
            tgt("lifecycle__months_since_first")
        ),
    )
    owners = own.filter(pl.col(tgt("owns__life")) == 1).select("customer_id")
    totals = positive_totals(prep)
    k, info = eb_strength(prep, totals)
    numer = (
        prep.cust_sku.filter(pred)
        .group_by("customer_id")
        .agg(pl.col("gp_mix").clip(0, None).sum().alias("pos"))
    )
    share_name = tgt(f"gp_share__{wlabel(MIX_MONTHS)}")
    share, prior = eb_share(numer, totals, k, share_name)
    info["eb_prior_target"] = prior
    fills = {share_name: prior}
    return [rfm, own, share], owners, fills, info


def build_target_features(
    snap: StarSnapshot,
    base: FeatureResult,
    als: AlsResult,
    target: str,
    cfg: GosalesConfig,
) -> FeatureResult:
    """The feature matrix of ``target`` at ``snap.cutoff``: ``customer_id``, then
    exactly the catalog columns in catalog order (base, ALS, ``tgt__*``)."""
    t0 = time.perf_counter()
    prep = base.prepared
    if not (isinstance(prep, Prepared) and prep.matches(snap, cfg)):
        prep = prepare(snap, cfg)
    return target_features_from(prep, base, als, target, cfg, started=t0)


def target_features_from(
    prep: Prepared,
    base: FeatureResult,
    als: AlsResult,
    target: str,
    cfg: GosalesConfig,
    *,
    started: float | None = None,
) -> FeatureResult:
    """:func:`build_target_features` from a preparation (full or compacted) made with
    ``cfg.features``; the result carries ``prep`` for the next target."""
    t0 = time.perf_counter() if started is None else started
    if prep.features != cfg.features:
        raise ValueError("the preparation was made with other feature settings")
    tcfg = cfg.target(target)  # exact name; unknown names raise ConfigError
    skus = cfg.target_skus(tcfg.name)
    divisions = sorted({e.division for e in cfg.sku_map.entries if e.sku in skus})
    _check_inputs(prep.g.cutoff, base, als, cfg)
    if not base.frame.get_column("customer_id").equals(
        prep.roster.get_column("customer_id")
    ):
        raise ValueError("base features were built from another snapshot")
    parts, owners, fills, info = _target_parts(prep, skus)
    rules, aff_info = affinity_rules(prep, skus)
    sim, sim_info = als_similarity(prep, als, skus)
    firm, firm_fills, firm_info = firmographics_target(prep, owners)
    names = list(prep.lay.als)
    parts += [
        als.customer_factors.select("customer_id", *names),
        install_base_target(prep, skus),
        affinity_features(prep, rules, skus),
        sim,
        firm,
        *crm_target(prep, divisions),
    ]
    specs = als_specs(cfg) + target_specs(cfg)
    tframe, tstats, fin_info = finalize(
        prep.roster,
        parts,
        specs,
        {**fills, **firm_fills},
        cfg.features.winsor_upper_quantile,
    )
    frame = pl.concat([base.frame, tframe.drop("customer_id")], how="horizontal")
    info = {
        **base.info,
        **info,
        **aff_info,
        **sim_info,
        **firm_info,
        "target": tcfg.name,
        "target_skus": skus,
        "target_divisions": divisions,
        "target_nonfinite_replaced": fin_info["nonfinite_replaced"],
        "features": frame.width - 1,
        "target_seconds": round(time.perf_counter() - t0, 3),
    }
    return FeatureResult(
        frame=frame,
        stats=pl.concat([base.stats, tstats]),
        source_max_dates=dict(prep.g.source_max_dates),
        info=info,
        prepared=prep,
    )
