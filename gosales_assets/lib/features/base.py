"""``build_customer_base``: all-scope features of every customer known at C."""

from __future__ import annotations

import logging
import time

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.features.catalog import base_specs
from gosales_assets.lib.features.crm import crm_all
from gosales_assets.lib.features.firmographics import firmographics_all
from gosales_assets.lib.features.install_base import install_base_all
from gosales_assets.lib.features.mix import cross_division
from gosales_assets.lib.features.prepare import prepare
from gosales_assets.lib.features.result import FeatureResult, finalize
from gosales_assets.lib.features.rfm import lifecycle, rfm_all
from gosales_assets.lib.features.snapshot import StarSnapshot
from gosales_assets.lib.features.temporal import seasonality, trajectory

log = logging.getLogger("gosales.features")


def build_customer_base(snap: StarSnapshot, cfg: GosalesConfig) -> FeatureResult:
    """One row per customer known at ``snap.cutoff`` (prospects included), with every
    all-scope catalog column except the ALS factors (added with the target columns
    by ``build_target_features``). Reads nothing dated after the cutoff."""
    t0 = time.perf_counter()
    prep = prepare(snap, cfg)
    specs = base_specs(cfg)
    mix_parts, fills, mix_info = cross_division(prep)
    parts = [
        rfm_all(prep),
        lifecycle(prep),
        trajectory(prep),
        seasonality(prep),
        *mix_parts,
        install_base_all(prep),
        firmographics_all(prep),
        *crm_all(prep),
    ]
    frame, stats, fin_info = finalize(
        prep.roster, parts, specs, fills, cfg.features.winsor_upper_quantile
    )
    info = {
        **prep.info,
        **mix_info,
        **fin_info,
        "customers": frame.height,
        "features": len(specs),
        "division_columns": dict(prep.lay.div_slug),
        "winsor_quantile": cfg.features.winsor_upper_quantile,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    log.info(
        "customer base at %s: %d customers x %d features (%.2fs)",
        snap.cutoff,
        frame.height,
        len(specs),
        info["seconds"],
    )
    return FeatureResult(
        frame=frame,
        stats=stats,
        source_max_dates=dict(prep.g.source_max_dates),
        info=info,
        prepared=prep,
    )
