"""Signal normalization, coverage-aware weights, grades and expected value.

All functions are pure polars and deterministic (no randomness, explicit tie rules).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import polars as pl

from gosales_assets.lib.whitespace.settings import SIGNALS


def present_mask(values: pl.Series) -> pl.Series:
    """The default "has a signal" mask: non-null, finite and strictly positive.

    Zero means "no evidence" for every raw whitespace signal (no basket rule, no ALS
    vector or owners, no expected GP), and a non-positive cosine similarity is no
    evidence of similarity either.
    """
    v = values.cast(pl.Float64)
    return (v.is_not_null() & v.is_finite() & (v > 0)).fill_null(False)


def normalize_within_target(
    values: pl.Series, present: pl.Series | None = None
) -> pl.Series:
    """Percentile rank in [0, 1] within one target, where absent signals score 0.

    Rows outside ``present`` (default: :func:`present_mask`) get exactly 0, never a
    mid-rank (reference defect B18). Present rows get ``average rank / n_present``
    with ranks ascending among present values only, so the largest present value is
    1, the smallest is ``1 / n_present`` (> 0), and tied values share their average
    rank. Output: Float64, same length and order as ``values``.
    """
    v = values.cast(pl.Float64)
    mask = present_mask(v) if present is None else present.fill_null(False)
    if len(mask) != len(v):
        raise ValueError("present mask and values differ in length")
    n = int(mask.sum())
    out = pl.Series(values.name, [0.0] * len(v), dtype=pl.Float64)
    if n == 0:
        return out
    idx = pl.Series("i", range(len(v)), dtype=pl.UInt32).filter(mask)
    ranks = v.filter(mask).rank("average").cast(pl.Float64) / n
    return out.scatter(idx, ranks)


def percentile(values: pl.Series) -> pl.Series:
    """Average-rank percentile over every non-null value (``rank / n``)."""
    v = values.cast(pl.Float64)
    return normalize_within_target(v, v.is_not_null() & v.is_not_nan())


def coverage(values: pl.Series, present: pl.Series | None = None) -> float:
    """Share of rows with a signal (0.0 for an empty frame)."""
    if len(values) == 0:
        return 0.0
    mask = present_mask(values) if present is None else present.fill_null(False)
    return float(mask.sum()) / len(values)


def effective_weights(
    base: Mapping[str, float], coverages: Mapping[str, float], floor: float
) -> tuple[dict[str, float], dict[str, float]]:
    """Scale each weight by ``min(1, coverage / floor)`` and renormalize to sum 1.

    ``floor == 0`` disables the scaling (a signal with zero coverage still contributes
    nothing, because its normalized values are all 0). Returns ``(weights, factors)``.
    If every scaled weight is 0 the base weights (renormalized) are used.
    """
    factors: dict[str, float] = {}
    for name in SIGNALS:
        cov = float(coverages.get(name, 0.0))
        factors[name] = 1.0 if floor <= 0 else min(1.0, max(cov, 0.0) / floor)
    scaled = {name: float(base[name]) * factors[name] for name in SIGNALS}
    total = math.fsum(scaled.values())
    if total <= 0:
        scaled = {name: float(base[name]) for name in SIGNALS}
        total = math.fsum(scaled.values())
    return {name: scaled[name] / total for name in SIGNALS}, factors


def grade_expr(pct: pl.Expr, cuts: Sequence[tuple[str, float]], lowest: str) -> pl.Expr:
    """Letter grade from a percentile: the first cut (highest first) with pct >= it."""
    ordered = sorted(cuts, key=lambda kv: -kv[1])
    if not ordered:
        return pl.lit(lowest, dtype=pl.String)
    expr = pl.when(pct >= ordered[0][1]).then(pl.lit(ordered[0][0]))
    for letter, cut in ordered[1:]:
        expr = expr.when(pct >= cut).then(pl.lit(letter))
    return expr.otherwise(pl.lit(lowest)).cast(pl.String)


def quantile_cap(values: pl.Series, q: float) -> float | None:
    """The ``q`` quantile (linear) of the present values, or None without any."""
    v = values.cast(pl.Float64)
    v = v.filter(present_mask(v))
    if len(v) == 0:
        return None
    return float(v.quantile(q, interpolation="linear"))


def typical_target_gp(
    frame: pl.DataFrame,
    segment_column: str,
    min_buyers: int,
    gp_column: str = "target_gp_24m",
) -> pl.DataFrame:
    """What an account like this typically spends on the target.

    ``frame`` has ``customer_id``, ``gp_column`` (net target GP in the last 24
    months, every known account, owners included) and ``segment_column``. The
    typical GP of an account is the median of ``gp_column`` over the accounts of its
    segment with a positive value, when the segment has at least ``min_buyers`` such
    accounts; otherwise (or for a null segment) the median over every buyer; 0 when
    nobody bought. Returns ``customer_id, typical_gp, typical_gp_source``
    (``segment`` | ``overall`` | ``none``), in the input order.
    """
    for col in ("customer_id", gp_column, segment_column):
        if col not in frame.columns:
            raise ValueError(f"typical_target_gp: missing column {col!r}")
    gp = pl.col(gp_column).cast(pl.Float64)
    buyers = frame.filter(gp.is_not_null() & gp.is_finite() & (gp > 0))
    overall = float(buyers[gp_column].cast(pl.Float64).median() or 0.0)
    seg = (
        buyers.filter(pl.col(segment_column).is_not_null())
        .group_by(segment_column)
        .agg(
            pl.col(gp_column).cast(pl.Float64).median().alias("_seg_median"),
            pl.len().alias("_seg_n"),
        )
        .filter(pl.col("_seg_n") >= min_buyers)
        .select(segment_column, "_seg_median")
    )
    out = frame.select("customer_id", segment_column).join(
        seg, on=segment_column, how="left", maintain_order="left"
    )
    has_seg = pl.col("_seg_median").is_not_null()
    return out.select(
        "customer_id",
        pl.when(has_seg)
        .then(pl.col("_seg_median"))
        .otherwise(pl.lit(overall))
        .alias("typical_gp"),
        pl.when(has_seg)
        .then(pl.lit("segment"))
        .when(pl.lit(overall > 0))
        .then(pl.lit("overall"))
        .otherwise(pl.lit("none"))
        .alias("typical_gp_source"),
    )


def expected_value(p_icp: pl.Series, typical_gp: pl.Series) -> pl.Series:
    """Expected GP of the opportunity: ``p_icp x typical_gp`` (nulls -> 0)."""
    p = p_icp.cast(pl.Float64).fill_null(0.0).fill_nan(0.0)
    g = typical_gp.cast(pl.Float64).fill_null(0.0).fill_nan(0.0)
    return (p * g).alias("expected_value")
