"""The drift check outcomes: which features and segments drifted past their
thresholds (WARN and non-blocking ERROR) and the blocking contract of the rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from gosales_assets.config_sections import MonitoringConfig
from gosales_assets.lib.checks import CheckOutcome
from gosales_assets.lib.monitoring.drift import (
    ALL,
    DRIFT_TABLE,
    RateDrift,
)

# name -> (severity, description). Drift never stops publishing: only the contract
# check on the computed values blocks.
DRIFT_CHECKS: dict[str, tuple[str, str]] = {
    "feature_psi": (
        "WARN",
        "no monitored feature's PSI (all accounts or a segment) is at or above "
        "monitoring.psi.warn and its noise floor",
    ),
    "feature_psi_error": (
        "ERROR",
        "no monitored feature's PSI is at or above monitoring.psi.error and its noise "
        "floor (non-blocking)",
    ),
    "feature_ks": (
        "WARN",
        "no monitored feature's KS statistic is at or above monitoring.ks.warn and its "
        "noise floor",
    ),
    "feature_ks_error": (
        "ERROR",
        "no monitored feature's KS statistic is at or above monitoring.ks.error and "
        "its noise floor (non-blocking)",
    ),
    "score_psi": (
        "WARN",
        "the PSI of p_icp (all accounts and per segment) is below "
        "monitoring.score_psi.warn; reported as ERROR at or above "
        "monitoring.score_psi.error (non-blocking)",
    ),
    "prevalence_drift": (
        "WARN",
        "the label prevalence (or the mean score when no label window newer than the "
        "reference has closed) is within monitoring.prevalence of the reference's",
    ),
    "calibration_drift": (
        "WARN",
        "on the newest scored cutoff whose label window closed by C, the mean score "
        "is within monitoring.calibration of the observed rate",
    ),
    "drift_values_valid": (
        "ERROR",
        "every PSI is finite and >= 0, every KS statistic in [0, 1], one row per "
        "(kind, feature, segment)",
    ),
}


BLOCKING_CHECKS = frozenset({"drift_values_valid"})


def offending(
    rows: pl.DataFrame, column: str, levels: Sequence[str], top_n: int
) -> tuple[int, list[dict[str, Any]], dict[str, int]]:
    """Rows whose ``column`` is at one of ``levels``: how many, the top ``top_n`` by
    PSI (feature, segment, family, psi, ks, status) and the count per family."""
    bad = rows.filter(pl.col(column).is_in(list(levels)))
    top = bad.sort(["psi", "feature", "segment"], descending=[True, False, False]).head(
        top_n
    )
    listed = [
        {
            "feature": r["feature"],
            "segment": r["segment"]
            if r["segment_by"] == ALL
            else f"{r['segment_by']}={r['segment']}",
            "family": r["family"],
            "psi": round(r["psi"], 6),
            "ks": round(r["ks"], 6),
            "status": r["status"],
        }
        for r in top.iter_rows(named=True)
    ]
    fams = bad.group_by("family").len().sort("family")
    return bad.height, listed, dict(zip(fams["family"], fams["len"], strict=True))


def _rate_meta(rate: RateDrift) -> dict[str, Any]:
    return {
        k: (str(v) if isinstance(v, dt.date) else v)
        for k, v in rate.row().items()
        if v is not None
    }


def drift_outcomes(
    rows: pl.DataFrame,
    rates: Sequence[RateDrift],
    settings: MonitoringConfig,
    reference_cutoff: dt.date,
) -> list[CheckOutcome]:
    """The check outcomes of one partition (``rows`` from :func:`assign_status`)."""
    monitored = rows.filter(~pl.col("ignored"))
    features = monitored.filter(pl.col("kind") == "feature")
    score = monitored.filter(pl.col("kind") == "score")
    common = {"reference_cutoff": str(reference_cutoff)}
    out: list[CheckOutcome] = []
    for name, column, levels, level in (
        ("feature_psi", "psi_status", ("warn", "error"), settings.psi.warn),
        ("feature_psi_error", "psi_status", ("error",), settings.psi.error),
        ("feature_ks", "ks_status", ("warn", "error"), settings.ks.warn),
        ("feature_ks_error", "ks_status", ("error",), settings.ks.error),
    ):
        count, listed, families = offending(features, column, levels, settings.top_n)
        sev, desc = DRIFT_CHECKS[name]
        out.append(
            CheckOutcome(
                DRIFT_TABLE,
                name,
                count == 0,
                sev,  # type: ignore[arg-type]
                desc,
                {
                    **common,
                    "threshold": level,
                    "rows_checked": features.height,
                    "offending_count": count,
                    "offending_families": families,
                    "offending_top": listed,
                },
            )
        )
    count, listed, _ = offending(score, "psi_status", ("warn", "error"), settings.top_n)
    errors = int((score["psi_status"] == "error").sum())
    whole = score.filter(pl.col("segment_by") == ALL)
    out.append(
        CheckOutcome(
            DRIFT_TABLE,
            "score_psi",
            count == 0,
            "ERROR" if errors else "WARN",
            DRIFT_CHECKS["score_psi"][1],
            {
                **common,
                "psi": round(float(whole["psi"][0]), 6) if whole.height else None,
                "ks": round(float(whole["ks"][0]), 6) if whole.height else None,
                "warn": settings.score_psi.warn,
                "error": settings.score_psi.error,
                "offending_count": count,
                "offending_top": listed,
            },
        )
    )
    by_metric = {r.metric: r for r in rates}
    for name, metric in (
        ("prevalence_drift", "prevalence"),
        ("calibration_drift", "calibration"),
    ):
        rate = by_metric.get(metric)
        sev, desc = DRIFT_CHECKS[name]
        meta = {**common, **(_rate_meta(rate) if rate else {"status": "no_data"})}
        if rate is None or rate.status == "no_data":
            meta["note"] = (rate.note if rate else "") or "not evaluated: no data"
        out.append(
            CheckOutcome(
                DRIFT_TABLE,
                name,
                rate is None or rate.status != "warn",
                sev,  # type: ignore[arg-type]
                desc,
                meta,
            )
        )
    out.append(values_valid(rows))
    # drift alerts, it never stops publishing: only the contract checks block
    return [
        o if o.name in BLOCKING_CHECKS else dataclasses.replace(o, blocking=False)
        for o in out
    ]


def values_valid(rows: pl.DataFrame) -> CheckOutcome:
    """The blocking contract of the computed rows."""
    psi_v = rows["psi"].to_numpy()
    ks_v = rows["ks"].to_numpy()
    bad_values = int(
        np.sum(~np.isfinite(psi_v) | (psi_v < 0))
        + np.sum(~np.isfinite(ks_v) | (ks_v < 0) | (ks_v > 1))
    )
    keys = ("kind", "feature", "segment_by", "segment")
    dupes = rows.height - rows.select(keys).unique().height
    sev, desc = DRIFT_CHECKS["drift_values_valid"]
    return CheckOutcome(
        DRIFT_TABLE,
        "drift_values_valid",
        bad_values == 0 and dupes == 0 and rows.height > 0,
        sev,  # type: ignore[arg-type]
        desc,
        {"invalid_values": bad_values, "duplicate_rows": dupes, "rows": rows.height},
    )
