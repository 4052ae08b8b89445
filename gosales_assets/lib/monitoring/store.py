"""Drift monitoring against the curated store (no Dagster).

:func:`drift_partition` computes everything ``monitoring.drift`` holds for one
(cutoff, division); :func:`write_drift` replaces the partition of ``monitoring.drift``
and ``monitoring.drift_summary`` on the caller's transaction.

What drift at ``C`` reads, all of it fixed once ``C`` has passed:

- the feature matrix and the stored ICP scores at ``C``;
- the feature matrix of the reference cutoff (``monitoring.reference``:
  ``model_training`` = the newest training cutoff of the model that scored ``C``,
  from ``models.training_set``; ``previous`` = the newest materialized feature
  matrix of the division before ``C``), scored with the same model;
- labels only of cutoffs whose window closed by ``C`` (``window_end <= C``), so rows
  dated after ``C`` can never change a drift row at ``C``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.artifacts import ArtifactStore
from gosales_assets.lib.features import feature_catalog
from gosales_assets.lib.model_store import load_model
from gosales_assets.lib.monitoring.drift import (
    DRIFT_TABLE,
    SCORE_COLUMN,
    SEGMENT,
    SUMMARY_TABLE,
    RateDrift,
    assign_status,
    compare,
    ignored_names,
    rate_drift,
    summary_frame,
)
from gosales_assets.lib.store import quote_ident, replace_partition_frame


class NoReferenceError(LookupError):
    """There is nothing to compare the partition with (yet); the reason says why."""


@dataclass
class DriftResult:
    cutoff: dt.date
    division: str
    reference_cutoff: dt.date
    reference_mode: str
    model_version: str
    model_cutoff: dt.date
    rows: pl.DataFrame  # feature and score rows, with their status
    rates: list[RateDrift]
    ignored: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # catalog features not in both
    segments_skipped: dict[str, list[int]] = field(default_factory=dict)

    def table(self) -> pl.DataFrame:
        """``monitoring.drift`` rows of the partition, in write order."""
        return self.rows.select(
            pl.lit(self.cutoff, dtype=pl.Date).alias("cutoff"),
            pl.lit(self.division).alias("division"),
            pl.lit(self.reference_cutoff, dtype=pl.Date).alias("reference_cutoff"),
            pl.lit(self.reference_mode).alias("reference_mode"),
            pl.all(),
            pl.lit(self.model_version).alias("model_version"),
        ).sort("kind", "feature", "segment_by", "segment")

    def summary(self) -> pl.DataFrame:
        return summary_frame(self.rates).select(
            pl.lit(self.cutoff, dtype=pl.Date).alias("cutoff"),
            pl.lit(self.division).alias("division"),
            pl.lit(self.reference_cutoff, dtype=pl.Date).alias("reference_cutoff"),
            pl.all(),
        )

    def status_counts(self) -> dict[str, int]:
        counts = self.rows.group_by("status").len().sort("status")
        return dict(zip(counts["status"], counts["len"], strict=True))


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> pl.DataFrame:
    try:
        return con.execute(sql, params).pl()
    except duckdb.CatalogException:
        return pl.DataFrame()


def read_scores(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date, target: str
) -> pl.DataFrame:
    """The stored ICP scores at C (customer_id, p_icp, model_version, model_cutoff)."""
    return _frame(
        con,
        "SELECT customer_id, p_icp, model_version, model_cutoff "
        "FROM scoring.icp_scores WHERE cutoff = ? AND division = ? "
        "ORDER BY customer_id",
        [cutoff, target],
    )


def read_matrix(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date, target: str
) -> pl.DataFrame:
    # sorted here rather than in SQL: DuckDB sorts the whole wide rows, polars only
    # the key and then gathers every column in one contiguous chunk
    frame = _frame(
        con,
        "SELECT * EXCLUDE (cutoff, division) FROM features.feature_matrix "
        "WHERE cutoff = ? AND division = ?",
        [cutoff, target],
    )
    return frame.sort("customer_id") if frame.height else frame


def with_segments(
    con: duckdb.DuckDBPyConnection,
    frame: pl.DataFrame,
    cutoff: dt.date,
    column: str | None,
) -> pl.DataFrame:
    """``frame`` with the segment of each account as of ``cutoff`` (the
    ``star.dim_customer`` column ``column``) in :data:`SEGMENT`; unchanged without a
    segment column."""
    if column is None:
        return frame
    segments = _frame(
        con,
        f"SELECT customer_id, {quote_ident(column)}::VARCHAR AS {quote_ident(SEGMENT)} "
        "FROM star.dim_customer WHERE cutoff = ?",
        [cutoff],
    )
    if segments.height == 0:
        return frame.with_columns(pl.lit(None, dtype=pl.String).alias(SEGMENT))
    return frame.join(segments, on="customer_id", how="left")


def model_training_reference(
    con: duckdb.DuckDBPyConnection, model_cutoff: dt.date, target: str
) -> dt.date | None:
    """The newest training cutoff of the model registered at ``model_cutoff``."""
    lineage = _frame(
        con,
        "SELECT max(training_cutoff) AS c FROM models.training_set "
        "WHERE cutoff = ? AND division = ?",
        [model_cutoff, target],
    )
    if lineage.height and lineage["c"][0] is not None:
        return lineage["c"][0]
    registry = _frame(
        con,
        "SELECT training_cutoffs FROM models.registry "
        "WHERE cutoff = ? AND division = ?",
        [model_cutoff, target],
    )
    if registry.height == 0 or not registry["training_cutoffs"][0]:
        return None
    return max(
        dt.date.fromisoformat(c)
        for c in str(registry["training_cutoffs"][0]).split(",")
    )


def previous_reference(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date, target: str
) -> dt.date | None:
    """The newest cutoff before C with a materialized feature matrix of ``target``."""
    frame = _frame(
        con,
        "SELECT max(cutoff) AS c FROM features.feature_matrix "
        "WHERE division = ? AND cutoff < ?",
        [target, cutoff],
    )
    return frame["c"][0] if frame.height else None


def _prevalence(
    con: duckdb.DuckDBPyConnection,
    target: str,
    closed_by: dt.date,
    cutoff: dt.date | None = None,
    after: dt.date | None = None,
) -> tuple[float | None, dt.date | None, int]:
    """Label prevalence at ``cutoff`` (or at the newest labelled cutoff after
    ``after``), using only label sets whose window closed by ``closed_by``."""
    where = ["division = ?", "window_end <= ?"]
    params: list[Any] = [target, closed_by]
    if cutoff is not None:
        where.append("cutoff = ?")
        params.append(cutoff)
    if after is not None:
        where += ["cutoff > ?", "cutoff <= ?"]
        params += [after, closed_by]
    frame = _frame(
        con,
        "SELECT cutoff, avg(label)::DOUBLE AS rate, count(*) AS n FROM labels.labels "
        f"WHERE {' AND '.join(where)} GROUP BY cutoff ORDER BY cutoff DESC LIMIT 1",
        params,
    )
    if frame.height == 0:
        return None, None, 0
    row = frame.row(0, named=True)
    return float(row["rate"]), row["cutoff"], int(row["n"])


def prevalence_drift(
    con: duckdb.DuckDBPyConnection,
    cfg: GosalesConfig,
    cutoff: dt.date,
    target: str,
    reference: dt.date,
    reference_mean: float,
    current_mean: float,
) -> RateDrift:
    """Label prevalence at the reference vs the newest label set after it whose window
    closed by C; a side without such labels uses its mean score (calibrated p_icp)."""
    base, base_c, n_base = _prevalence(con, target, cutoff, cutoff=reference)
    base_src = f"labels@{reference}" if base is not None else "score_mean"
    if base is None:
        base, base_c = reference_mean, reference
    cur, cur_c, n_cur = _prevalence(con, target, cutoff, after=reference)
    cur_src = f"labels@{cur_c}" if cur is not None else "score_mean"
    if cur is None:
        cur, cur_c = current_mean, cutoff
    note = (
        "no label window newer than the reference has closed by C; compared with "
        "the mean score at C"
        if cur_src == "score_mean"
        else ""
    )
    return rate_drift(
        "prevalence",
        (base, base_src, base_c),
        (cur, cur_src, cur_c),
        cfg.monitoring.prevalence,
        n=n_cur or n_base,
        note=note,
    )


def calibration_drift(
    con: duckdb.DuckDBPyConnection, cfg: GosalesConfig, cutoff: dt.date, target: str
) -> RateDrift:
    """Mean stored p_icp vs observed label rate on the newest cutoff <= C that was
    scored and whose label window closed by C (out-of-sample for that model)."""
    frame = _frame(
        con,
        """
        SELECT l.cutoff, avg(s.p_icp)::DOUBLE AS mean_score,
               avg(l.label)::DOUBLE AS observed, count(*) AS n
        FROM labels.labels l
        JOIN scoring.icp_scores s
          ON s.cutoff = l.cutoff AND s.division = l.division
         AND s.customer_id = l.customer_id
        WHERE l.division = ? AND l.window_end <= ? AND l.cutoff <= ?
        GROUP BY l.cutoff ORDER BY l.cutoff DESC LIMIT 1
        """,
        [target, cutoff, cutoff],
    )
    if frame.height == 0:
        return rate_drift(
            "calibration",
            (None, "labels", None),
            (None, "scores", None),
            cfg.monitoring.calibration,
            note="no scored cutoff has labels whose window closed by C yet",
        )
    row = frame.row(0, named=True)
    c = row["cutoff"]
    return rate_drift(
        "calibration",
        (float(row["observed"]), f"labels@{c}", c),
        (float(row["mean_score"]), f"icp_scores@{c}", c),
        cfg.monitoring.calibration,
        n=int(row["n"]),
    )


def drift_partition(
    con: duckdb.DuckDBPyConnection, cfg: GosalesConfig, cutoff: dt.date, target: str
) -> DriftResult:
    """Drift of (cutoff, target). Raises :class:`NoReferenceError` (with the reason)
    when there is no reference to compare with, ``LookupError`` when C is not scored."""
    settings = cfg.monitoring
    scores = read_scores(con, cutoff, target)
    if scores.height == 0:
        raise LookupError(
            f"no icp_scores at {cutoff}|{target}; materialize scoring/icp_scores "
            "for that partition first"
        )
    version = str(scores["model_version"][0])
    model_cutoff = scores["model_cutoff"][0]
    if settings.reference == "model_training":
        reference = model_training_reference(con, model_cutoff, target)
        why = (
            f"the model {version} (trained at {model_cutoff}) has no training "
            "lineage in models.training_set or models.registry"
        )
    else:
        reference = previous_reference(con, cutoff, target)
        why = (
            f"no feature matrix of {target!r} is materialized before {cutoff} "
            "(the first cutoff has no previous one)"
        )
    if reference is None:
        raise NoReferenceError(why)
    ref_matrix = read_matrix(con, reference, target)
    if ref_matrix.height == 0:
        raise NoReferenceError(
            f"the reference feature matrix {reference}|{target} is not materialized "
            f"(monitoring.reference: {settings.reference}); materialize "
            "features/feature_matrix for it"
        )
    cur_matrix = read_matrix(con, cutoff, target)
    if cur_matrix.height == 0:
        raise LookupError(
            f"no feature matrix at {cutoff}|{target}; materialize "
            "features/feature_matrix for that partition first"
        )
    catalog = feature_catalog(cfg)
    names = [n for n in catalog["name"].to_list()]
    missing = [
        n for n in names if n not in ref_matrix.columns or n not in cur_matrix.columns
    ]
    names = [n for n in names if n not in missing]
    ignore = frozenset(ignored_names(names, settings.ignore_features))
    by = settings.segment_column
    ref_frame = with_segments(con, ref_matrix, reference, by)
    cur_frame = with_segments(con, cur_matrix, cutoff, by)
    families = dict(zip(catalog["name"], catalog["family"], strict=True))
    feature_rows, skipped = compare(
        ref_frame, cur_frame, names, settings, families=families, ignore=ignore
    )
    model = load_model(ArtifactStore(cfg.artifacts_dir), target, version)
    ref_scores = ref_frame.select(
        "customer_id",
        pl.Series(SCORE_COLUMN, model.predict_proba(ref_matrix), dtype=pl.Float64),
        *([SEGMENT] if SEGMENT in ref_frame.columns else []),
    )
    cur_scores = with_segments(
        con, scores.select("customer_id", SCORE_COLUMN), cutoff, by
    )
    score_rows, _ = compare(
        ref_scores, cur_scores, [SCORE_COLUMN], settings, kind="score"
    )
    rows = assign_status(pl.concat([feature_rows, score_rows]), settings)
    whole = score_rows.filter(pl.col("segment_by") == "*").row(0, named=True)
    rates = [
        prevalence_drift(
            con,
            cfg,
            cutoff,
            target,
            reference,
            float(whole["mean_reference"]),
            float(whole["mean_current"]),
        ),
        calibration_drift(con, cfg, cutoff, target),
    ]
    return DriftResult(
        cutoff=cutoff,
        division=target,
        reference_cutoff=reference,
        reference_mode=settings.reference,
        model_version=version,
        model_cutoff=model_cutoff,
        rows=rows,
        rates=rates,
        ignored=sorted(ignore),
        missing=missing,
        segments_skipped=skipped,
    )


def write_drift(con: duckdb.DuckDBPyConnection, result: DriftResult) -> dict[str, int]:
    """Replace the partition of both monitoring tables (caller's transaction)."""
    part = {"cutoff": result.cutoff, "division": result.division}
    return {
        DRIFT_TABLE: replace_partition_frame(
            con,
            DRIFT_TABLE,
            result.table(),
            partition=part,
            order_by=("cutoff", "division", "kind", "feature", "segment_by", "segment"),
        ),
        SUMMARY_TABLE: replace_partition_frame(
            con,
            SUMMARY_TABLE,
            result.summary(),
            partition=part,
            order_by=("cutoff", "division", "metric"),
        ),
    }
