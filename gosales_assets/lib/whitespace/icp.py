"""ICP scores of one (cutoff, target): calibrated probability, percentile, grade."""

from __future__ import annotations

import polars as pl

from gosales_assets.lib.whitespace.settings import WhitespaceSettings
from gosales_assets.lib.whitespace.signals import grade_expr, percentile


def score_icp(
    scores: pl.DataFrame,
    model_version: str,
    settings: WhitespaceSettings | None = None,
    reasons: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Turn calibrated probabilities into the ``scoring.icp_scores`` rows.

    ``scores``: ``customer_id, p_icp`` (one row per account scored at the cutoff;
    every eligible account of the target must be present). ``reasons`` (optional):
    ``customer_id, reason_1..reason_n`` from :func:`reason_text`, left-joined.

    Returns ``customer_id, p_icp, p_icp_pct, grade, model_version[, reason_i]``
    sorted by ``customer_id``. ``p_icp_pct`` is the average-rank percentile of
    ``p_icp`` within the target (``rank / n``; ties share their average rank; the
    best account is 1.0); ``grade`` comes from ``settings.grade_cuts`` applied to
    ``p_icp_pct``. Null, non-finite or out-of-range probabilities and duplicate
    accounts are refused (``ValueError``): a silent zero would rank the account.
    """
    settings = settings or WhitespaceSettings()
    for col in ("customer_id", "p_icp"):
        if col not in scores.columns:
            raise ValueError(f"score_icp: missing column {col!r}")
    if not model_version:
        raise ValueError("score_icp: model_version must not be empty")
    frame = scores.select(
        pl.col("customer_id").cast(pl.String),
        pl.col("p_icp").cast(pl.Float64),
    ).sort("customer_id")
    if frame["customer_id"].null_count():
        raise ValueError("score_icp: null customer_id")
    if frame["customer_id"].is_duplicated().any():
        raise ValueError("score_icp: duplicate customer_id")
    p = frame["p_icp"]
    bad = p.is_null() | ~p.is_finite().fill_null(False) | (p < 0) | (p > 1)
    if bad.fill_null(True).any():
        n_bad = int(bad.fill_null(True).sum())
        raise ValueError(f"score_icp: {n_bad} p_icp value(s) missing or not in [0, 1]")
    frame = frame.with_columns(percentile(p).alias("p_icp_pct"))
    frame = frame.with_columns(
        grade_expr(
            pl.col("p_icp_pct"), settings.grade_cuts, settings.lowest_grade
        ).alias("grade"),
        pl.lit(model_version, dtype=pl.String).alias("model_version"),
    )
    if reasons is not None:
        cols = [c for c in reasons.columns if c.startswith("reason_")]
        frame = frame.join(
            reasons.select(pl.col("customer_id").cast(pl.String), *cols),
            on="customer_id",
            how="left",
            maintain_order="left",
        )
    return frame
