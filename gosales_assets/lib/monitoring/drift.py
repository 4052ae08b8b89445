"""Drift of one (cutoff, division) against its reference cutoff (pure logic).

- :func:`compare`: PSI and KS per column, over all accounts and per segment (for
  example per industry: a shift confined to one industry is diluted in the whole
  population but plain inside its segment).
- :func:`assign_status`: ``ok`` / ``warn`` / ``error`` per row from the configured
  thresholds, raised where needed to the sampling-noise floor (family-wise chance
  ``monitoring.alpha`` per partition that noise alone passes a threshold); ``ignored``
  for the features of ``monitoring.ignore_features``.
- :func:`rate_drift`: a rate gap (label prevalence, calibration in the large) against a
  tolerance ``max(absolute, relative x base rate)``.
- :func:`drift_outcomes`: the asset checks (``feature_psi``, ``feature_psi_error``,
  ``feature_ks``, ``feature_ks_error``, ``score_psi``, ``prevalence_drift``,
  ``calibration_drift``, ``drift_values_valid``) as :class:`CheckOutcome`s; a failed one
  lists the offending rows (top ``monitoring.top_n`` by PSI) with their values.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from gosales_assets.config_sections import MonitoringConfig, RateTolerance
from gosales_assets.lib.monitoring.stats import (
    Grouping,
    Support,
    grouped_supports,
    ks_noise_floor,
    measure_supports,
    psi_noise_floor,
)

DRIFT_TABLE = "monitoring.drift"
SUMMARY_TABLE = "monitoring.drift_summary"
SCORE_COLUMN = "p_icp"
SEGMENT = "_segment"  # the segment column of the frames handed to :func:`compare`
ALL = "*"  # segment_by and segment of the rows over all accounts
MISSING_SEGMENT = "(missing)"
SUMMARY_THREADS = max(1, min(4, os.cpu_count() or 1))


ROW_SCHEMA: dict[str, Any] = {
    "kind": pl.String,
    "feature": pl.String,
    "family": pl.String,
    "segment_by": pl.String,
    "segment": pl.String,
    "ignored": pl.Boolean,
    "psi": pl.Float64,
    "ks": pl.Float64,
    "bins": pl.Int64,
    "n_reference": pl.Int64,
    "n_current": pl.Int64,
    "mean_reference": pl.Float64,
    "mean_current": pl.Float64,
}


def ignored_names(names: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """The names matching any glob pattern (case-sensitive)."""
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def _segment_codes(
    reference: pl.DataFrame, current: pl.DataFrame
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The segments of both frames (sorted names; a null segment is
    :data:`MISSING_SEGMENT`) and each row's segment index on either side."""
    ref_seg = reference[SEGMENT].cast(pl.String).fill_null(MISSING_SEGMENT)
    cur_seg = current[SEGMENT].cast(pl.String).fill_null(MISSING_SEGMENT)
    names = sorted(set(ref_seg.unique().to_list()) | set(cur_seg.unique().to_list()))
    dtype = pl.Enum(names)

    def codes(seg: pl.Series) -> np.ndarray:
        return seg.cast(dtype).to_physical().to_numpy()

    return names, codes(ref_seg), codes(cur_seg)


def _values(frame: pl.DataFrame, name: str) -> tuple[np.ndarray, bool]:
    column = frame[name]
    return column.cast(pl.Float64).to_numpy(), column.dtype.is_integer()


def compare(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    columns: Sequence[str],
    settings: MonitoringConfig,
    *,
    kind: str = "feature",
    families: dict[str, str] | None = None,
    ignore: frozenset[str] = frozenset(),
) -> tuple[pl.DataFrame, dict[str, list[int]]]:
    """PSI and KS of every column over all accounts and, when both frames carry the
    segment column, per segment with at least ``min_segment_rows`` rows on both sides
    (ignored columns: all accounts only). Returns the rows (``ROW_SCHEMA``, no status)
    and the segments left out as ``{segment: [n_reference, n_current]}``.

    Each column is summarized once per side, for all accounts and every segment at
    once (:func:`grouped_supports`: one sort, or one count for small integer
    ranges); the distances then come from those summaries."""
    families = families or {}
    by = settings.segment_column
    segmented = (
        by is not None and SEGMENT in reference.columns and SEGMENT in current.columns
    )
    names: list[str] = []
    ref_groups: Grouping | None = None
    cur_groups: Grouping | None = None
    kept: list[int] = []
    skipped: dict[str, list[int]] = {}
    if segmented and reference.height and current.height:
        names, ref_codes, cur_codes = _segment_codes(reference, current)
        ref_n = np.bincount(ref_codes, minlength=len(names))
        cur_n = np.bincount(cur_codes, minlength=len(names))
        for i, seg in enumerate(names):
            if min(ref_n[i], cur_n[i]) < settings.min_segment_rows:
                skipped[seg] = [int(ref_n[i]), int(cur_n[i])]
            else:
                kept.append(i)
        ref_groups = Grouping.of(ref_codes, len(names))
        cur_groups = Grouping.of(cur_codes, len(names))

    def summarize(
        frame: pl.DataFrame, name: str, groups: Grouping | None
    ) -> tuple[Support | None, list[Support | None]]:
        values, integer = _values(frame, name)
        by_group = groups if name not in ignore and kept else None
        return grouped_supports(values, by_group, integer=integer)

    def one(
        ref: Support | None, cur: Support | None, name: str, seg_by: str, seg: str
    ) -> dict[str, Any]:
        if ref is None:
            raise ValueError("the reference sample has no finite value")
        if cur is None:
            raise ValueError("the current sample has no finite value")
        return {
            "kind": kind,
            "feature": name,
            "family": families.get(name, kind),
            "segment_by": seg_by,
            "segment": seg,
            "ignored": name in ignore,
            **measure_supports(ref, cur, settings.bins, settings.epsilon),
        }

    def rows_of(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The column's row over all accounts and its rows per kept segment."""
        ref_all, ref_parts = summarize(reference, name, ref_groups)
        cur_all, cur_parts = summarize(current, name, cur_groups)
        row = one(ref_all, cur_all, name, ALL, ALL)
        if name in ignore or not ref_parts:
            return row, []
        return row, [
            one(ref_parts[i], cur_parts[i], name, str(by), names[i]) for i in kept
        ]

    # the columns are independent and numpy sorts and searches without the GIL:
    # compute them on a few threads (collected in column order, so the rows do not
    # depend on it)
    with ThreadPoolExecutor(max_workers=SUMMARY_THREADS) as pool:
        per_column = list(pool.map(rows_of, columns))
    whole = [row for row, _ in per_column]
    parts: dict[int, list[dict[str, Any]]] = {i: [] for i in kept}
    for _, segment_rows in per_column:
        for i, row in zip(kept, segment_rows, strict=False):
            parts[i].append(row)
    rows = whole + [row for i in kept for row in parts[i]]
    frame = pl.DataFrame(rows, schema=ROW_SCHEMA, orient="row")
    return frame, skipped


def _level(value: pl.Expr, warn: pl.Expr, error: pl.Expr, floor: pl.Expr) -> pl.Expr:
    return (
        pl.when(value >= pl.max_horizontal(error, floor))
        .then(pl.lit("error"))
        .when(value >= pl.max_horizontal(warn, floor))
        .then(pl.lit("warn"))
        .otherwise(pl.lit("ok"))
    )


def assign_status(rows: pl.DataFrame, settings: MonitoringConfig) -> pl.DataFrame:
    """Add ``psi_floor``, ``ks_floor``, ``psi_status``, ``ks_status`` and ``status``.

    A floor is what sampling noise alone exceeds with probability
    ``alpha / (number of monitored rows)`` for the row's sample sizes (and, for PSI,
    its number of bins), so that the chance that noise makes *any* row of the
    partition pass a threshold is at most ``alpha``. A level is reached when the value
    is at or above both the configured threshold and the floor. Features use
    ``monitoring.psi``, the score ``monitoring.score_psi``, both ``monitoring.ks``."""
    tests = max(int((~rows["ignored"]).sum()), 1)
    p = settings.alpha / tests
    n_ref, n_cur = rows["n_reference"].to_numpy(), rows["n_current"].to_numpy()
    psi_floor = psi_noise_floor(rows["bins"].to_numpy(), n_ref, n_cur, p)
    ks_floor = ks_noise_floor(n_ref, n_cur, p)
    score = pl.col("kind") == "score"
    psi_warn = pl.when(score).then(settings.score_psi.warn).otherwise(settings.psi.warn)
    psi_err = (
        pl.when(score).then(settings.score_psi.error).otherwise(settings.psi.error)
    )
    ks_warn, ks_err = pl.lit(settings.ks.warn), pl.lit(settings.ks.error)
    worst = (
        pl.when(pl.col("ignored"))
        .then(pl.lit("ignored"))
        .when((pl.col("psi_status") == "error") | (pl.col("ks_status") == "error"))
        .then(pl.lit("error"))
        .when((pl.col("psi_status") == "warn") | (pl.col("ks_status") == "warn"))
        .then(pl.lit("warn"))
        .otherwise(pl.lit("ok"))
    )
    return (
        rows.with_columns(
            pl.Series("psi_floor", psi_floor, dtype=pl.Float64),
            pl.Series("ks_floor", ks_floor, dtype=pl.Float64),
        )
        .with_columns(
            _level(pl.col("psi"), psi_warn, psi_err, pl.col("psi_floor")).alias(
                "psi_status"
            ),
            _level(pl.col("ks"), ks_warn, ks_err, pl.col("ks_floor")).alias(
                "ks_status"
            ),
        )
        .with_columns(worst.alias("status"))
        .sort("kind", "feature", "segment_by", "segment")
    )


@dataclass(frozen=True)
class RateDrift:
    """A rate compared with a base rate: ``gap = current - base``; ``warn`` when
    ``|gap| > tolerance = max(absolute, relative x |base|)``; ``no_data`` without
    one of the two."""

    metric: str
    base_value: float | None
    current_value: float | None
    base_source: str
    current_source: str
    base_cutoff: dt.date | None
    current_cutoff: dt.date | None
    n: int
    tolerance: float | None
    note: str = ""
    gap: float | None = field(init=False)
    status: str = field(init=False)

    def __post_init__(self) -> None:
        gap: float | None = None
        status = "no_data"
        if (
            self.base_value is not None
            and self.current_value is not None
            and self.tolerance is not None
        ):
            gap = self.current_value - self.base_value
            status = "warn" if abs(gap) > self.tolerance else "ok"
        object.__setattr__(self, "gap", gap)
        object.__setattr__(self, "status", status)

    def row(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "base_cutoff": self.base_cutoff,
            "current_cutoff": self.current_cutoff,
            "base_value": self.base_value,
            "current_value": self.current_value,
            "gap": self.gap,
            "tolerance": self.tolerance,
            "base_source": self.base_source,
            "current_source": self.current_source,
            "n": self.n,
            "status": self.status,
            "note": self.note,
        }


def rate_drift(
    metric: str,
    base: tuple[float | None, str, dt.date | None],
    current: tuple[float | None, str, dt.date | None],
    tolerance: RateTolerance,
    n: int = 0,
    note: str = "",
) -> RateDrift:
    """``base`` and ``current`` are ``(rate, source, cutoff)``."""
    base_value = base[0]
    tol = (
        max(tolerance.absolute, tolerance.relative * abs(base_value))
        if base_value is not None and math.isfinite(base_value)
        else None
    )
    return RateDrift(
        metric=metric,
        base_value=base_value,
        current_value=current[0],
        base_source=base[1],
        current_source=current[1],
        base_cutoff=base[2],
        current_cutoff=current[2],
        n=n,
        tolerance=tol,
        note=note,
    )


SUMMARY_SCHEMA: dict[str, Any] = {
    "metric": pl.String,
    "base_cutoff": pl.Date,
    "current_cutoff": pl.Date,
    "base_value": pl.Float64,
    "current_value": pl.Float64,
    "gap": pl.Float64,
    "tolerance": pl.Float64,
    "base_source": pl.String,
    "current_source": pl.String,
    "n": pl.Int64,
    "status": pl.String,
    "note": pl.String,
}


def summary_frame(rates: Sequence[RateDrift]) -> pl.DataFrame:
    return pl.DataFrame(
        [r.row() for r in rates], schema=SUMMARY_SCHEMA, orient="row"
    ).sort("metric")
