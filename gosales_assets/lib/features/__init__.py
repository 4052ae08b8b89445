"""Feature engine: customer features at a cutoff from a star snapshot (pure polars).

Public API::

    base = build_customer_base(snap, cfg)          # all-scope features, every customer
    als = build_als(snap, cfg)                     # ALS factors (SVD fallback)
    fm = build_target_features(snap, base, als, "Solidworks", cfg)
    feature_catalog(cfg)                           # fixed schema of ``fm.frame``

Leakage rule: a feature at cutoff C reads only rows dated on or before C; every
function re-applies that filter itself (``snapshot.guard``), so appending later rows
to the inputs leaves every output byte-identical. See ``docs/features.md``.
"""

from __future__ import annotations

from gosales_assets.lib.features.als import build_als
from gosales_assets.lib.features.base import build_customer_base
from gosales_assets.lib.features.catalog import feature_catalog
from gosales_assets.lib.features.result import AlsResult, FeatureResult
from gosales_assets.lib.features.snapshot import StarSnapshot
from gosales_assets.lib.features.spec import FeatureSpec
from gosales_assets.lib.features.target import (
    build_target_features,
    target_features_from,
)

__all__ = [
    "AlsResult",
    "FeatureResult",
    "FeatureSpec",
    "StarSnapshot",
    "build_als",
    "build_customer_base",
    "build_target_features",
    "feature_catalog",
    "target_features_from",
]
