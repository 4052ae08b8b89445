"""Drift monitoring: PSI and KS of features and scores against a reference cutoff,
prevalence and calibration drift (pure logic and store I/O, no Dagster).

- ``stats``: the distances (PSI on reference quantile bins, two-sample KS).
- ``drift``: per-column drift rows and rate drift.
- ``checks``: the check outcomes of a drift partition.
- ``store``: reference selection and the partition computation on the curated store.
"""

from __future__ import annotations

from gosales_assets.lib.monitoring.checks import (
    BLOCKING_CHECKS,
    DRIFT_CHECKS,
    drift_outcomes,
)
from gosales_assets.lib.monitoring.drift import (
    DRIFT_TABLE,
    SUMMARY_TABLE,
    RateDrift,
    assign_status,
    compare,
    rate_drift,
)
from gosales_assets.lib.monitoring.stats import ks_statistic, psi, quantile_edges
from gosales_assets.lib.monitoring.store import (
    DriftResult,
    NoReferenceError,
    drift_partition,
    write_drift,
)

__all__ = [
    "BLOCKING_CHECKS",
    "DRIFT_CHECKS",
    "DRIFT_TABLE",
    "SUMMARY_TABLE",
    "DriftResult",
    "NoReferenceError",
    "RateDrift",
    "assign_status",
    "compare",
    "drift_outcomes",
    "drift_partition",
    "ks_statistic",
    "psi",
    "quantile_edges",
    "rate_drift",
    "write_drift",
]
