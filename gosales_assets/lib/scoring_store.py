"""Scoring glue between the store, the models and the whitespace ranker (no Dagster).

- ``score_partition``: the ICP scores of one (cutoff, target) with readable reasons.
- ``candidates``: the whitespace candidates of one (cutoff, target) from the ICP
  scores, the feature matrix and the star snapshot (all at C).
- table I/O for ``scoring.icp_scores``, ``scoring.whitespace``,
  ``scoring.whitespace_exclusions`` and ``scoring.whitespace_accounts``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.artifacts import ArtifactStore
from gosales_assets.lib.features import feature_catalog
from gosales_assets.lib.model_store import load_model
from gosales_assets.lib.models import TrainedModel
from gosales_assets.lib.whitespace import reason_text, score_icp

EXPLAIN_TOP_N = 6  # spare candidates for features without reason text


class NoModelError(LookupError):
    """No registered model of the target on or before the cutoff."""


def latest_model(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date, target: str
) -> dict[str, Any]:
    """The registry row of the newest model of ``target`` trained at or before C."""
    try:
        frame = con.execute(
            "SELECT * FROM models.registry WHERE division = ? AND cutoff <= ? "
            "ORDER BY cutoff DESC LIMIT 1",
            [target, cutoff],
        ).pl()
    except duckdb.CatalogException:
        frame = pl.DataFrame()
    if frame.height == 0:
        raise NoModelError(
            f"no model of {target!r} trained on or before {cutoff}; train one first "
            f"(gosales run --cutoff <a month-end on or before {cutoff}>)"
        )
    return frame.row(0, named=True)


def read_matrix(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date, target: str
) -> pl.DataFrame:
    # sorted in polars on the key alone (an ORDER BY in DuckDB sorts every column)
    frame = (
        con.execute(
            "SELECT * EXCLUDE (cutoff, division) FROM features.feature_matrix "
            "WHERE cutoff = ? AND division = ?",
            [cutoff, target],
        )
        .pl()
        .sort("customer_id")
    )
    if frame.height == 0:
        raise LookupError(
            f"no feature matrix at {cutoff}|{target}; materialize "
            "features/feature_matrix for that partition first"
        )
    return frame


def _customers(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> pl.DataFrame:
    """Industry, region and the rep of each account's latest line on or before C."""
    return con.execute(
        """
        SELECT d.customer_id, d.industry, d.region, r.rep
        FROM star.dim_customer d
        LEFT JOIN (
            -- the latest line: first its day (a cheap max), then the tie-break
            SELECT customer_id, arg_max(rep, (invoice_id, line_no)) AS rep
            FROM (
                SELECT customer_id, rep, invoice_id, line_no, order_date,
                       max(order_date) OVER (PARTITION BY customer_id) AS last_day
                FROM star.fact_transactions WHERE cutoff = ? AND rep IS NOT NULL
            )
            WHERE order_date = last_day
            GROUP BY customer_id
        ) r ON r.customer_id = d.customer_id
        WHERE d.cutoff = ?
        """,
        [cutoff, cutoff],
    ).pl()


def score_partition(
    con: duckdb.DuckDBPyConnection,
    cfg: GosalesConfig,
    cutoff: dt.date,
    target: str,
) -> tuple[pl.DataFrame, dict[str, Any], TrainedModel]:
    """ICP scores of every account known at C, with the top reasons as text."""
    entry = latest_model(con, cutoff, target)
    model = load_model(
        ArtifactStore(cfg.artifacts_dir),
        target,
        entry["model_version"],
        nthread=cfg.modeling_settings.threads,
    )
    matrix = read_matrix(con, cutoff, target)
    p = model.predict_proba(matrix)
    scores = pl.DataFrame({"customer_id": matrix["customer_id"], "p_icp": p})
    settings = cfg.whitespace_settings
    contributions = model.explain(
        matrix, top_n=EXPLAIN_TOP_N, method=settings.reasons_method
    )
    firmographics = con.execute(
        "SELECT customer_id, industry, region FROM star.dim_customer WHERE cutoff = ?",
        [cutoff],
    ).pl()
    values = matrix.join(
        firmographics,
        on="customer_id",
        how="left",
    )
    reasons = reason_text(
        contributions,
        values,
        feature_catalog(cfg),
        target=target,
        top_n=settings.reasons_top_n,
    )
    icp = score_icp(scores, entry["model_version"], settings, reasons=reasons)
    icp = icp.with_columns(
        pl.lit(entry["cutoff"], dtype=pl.Date).alias("model_cutoff"),
        pl.lit(bool(entry["is_fallback"])).alias("model_is_fallback"),
    )
    return icp, entry, model


def candidates(
    con: duckdb.DuckDBPyConnection,
    cutoff: dt.date,
    target: str,
    icp: pl.DataFrame,
) -> pl.DataFrame:
    """Whitespace candidates: ICP scores plus signals, ownership and CRM facts at C."""
    fm = con.execute(
        """
        SELECT customer_id,
               "tgt__affinity__lift_max" AS affinity,
               "tgt__als_sim" AS als_sim,
               "tgt__rfm__gp_sum__24m" AS target_gp_24m,
               "tgt__owns__life" = 1 AS owns_ever,
               CASE WHEN "tgt__rfm__events__life" > 0
                    THEN "tgt__rfm__recency_days" END AS last_target_purchase_days,
               "tgt__ib__active_n" > 0 AS active_target_install,
               "tgt__crm__open_deal" = 1 AS open_deal,
               "tgt__crm__days_since_contact" AS contact_days
        FROM features.feature_matrix WHERE cutoff = ? AND division = ?
        """,
        [cutoff, target],
    ).pl()
    cap = fm["contact_days"].max() if fm.height else None
    fm = fm.with_columns(
        pl.when(pl.col("contact_days") < cap)
        .then(pl.col("contact_days"))
        .otherwise(None)
        .alias("last_contact_days")
    ).drop("contact_days")
    reasons = [c for c in icp.columns if c.startswith("reason_")]
    return (
        icp.select("customer_id", "p_icp", "p_icp_pct", *reasons)
        .join(fm, on="customer_id", how="left")
        .join(_customers(con, cutoff), on="customer_id", how="left")
        .sort("customer_id")
    )


def history(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date, target: str
) -> pl.DataFrame | None:
    """Earlier whitespace lists of ``target`` (strictly before C) for the cooldown."""
    try:
        frame = con.execute(
            "SELECT cutoff, customer_id, division AS target, selected "
            "FROM scoring.whitespace WHERE division = ? AND cutoff < ?",
            [target, cutoff],
        ).pl()
    except duckdb.CatalogException:
        return None
    return frame if frame.height else None


def with_keys(frame: pl.DataFrame, cutoff: dt.date, target: str | None) -> pl.DataFrame:
    keys = [pl.lit(cutoff, dtype=pl.Date).alias("cutoff")]
    if target is not None:
        keys.append(pl.lit(target).alias("division"))
    return frame.select(*keys, pl.all())


def read_ranked(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date, *, reasons: bool = True
) -> dict[str, Any]:
    """Every target's stored whitespace list at C (for the cross-division list).

    Without ``reasons`` the long reason texts stay in the store (most of the
    bytes; :func:`with_reasons` adds them for the rows that need them)."""
    columns = "* EXCLUDE (cutoff)"
    if not reasons:
        columns = "* EXCLUDE (cutoff, reason)"
    frame = (
        con.execute(
            f"SELECT {columns} FROM scoring.whitespace WHERE cutoff = ?", [cutoff]
        )
        .pl()
        .sort("division", "rank")
    )
    return {
        str(t): part.drop("division")
        for (t,), part in frame.partition_by("division", as_dict=True).items()
    }


def with_reasons(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date, frame: pl.DataFrame
) -> pl.DataFrame:
    """``frame`` (one row per ``customer_id, target``) with its ``reason`` from
    ``scoring.whitespace`` at C, rows and columns in the same order."""
    keys = frame.select("customer_id", pl.col("target").alias("division"))
    name = "__gs_reason_keys"
    con.register(name, keys.to_arrow())
    try:
        reasons = con.execute(
            "SELECT w.customer_id, w.division AS target, w.reason "
            f"FROM scoring.whitespace w SEMI JOIN {name} k "
            "USING (division, customer_id) WHERE w.cutoff = ?",
            [cutoff],
        ).pl()
    finally:
        con.unregister(name)
    return (
        frame.drop("reason", strict=False)
        .join(
            reasons.cast({"reason": pl.String}),
            on=["customer_id", "target"],
            how="left",
            maintain_order="left",
        )
        .select(
            frame.columns if "reason" in frame.columns else [*frame.columns, "reason"]
        )
    )
