"""Result types and the one finalize step (join, fill, winsorize, cast, stats).

Determinism: sums are accumulated in fixed point (``fx``: integer units of 1e-4), so
they do not depend on the order in which a parallel engine adds rows; population
means use ``math.fsum`` (exact). Row-wise arithmetic on exact inputs is deterministic.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from gosales_assets.lib.features.spec import DTYPES, FeatureSpec

SCALE = 10_000  # fixed-point units per currency (or quantity) unit


def fx(expr: pl.Expr) -> pl.Expr:
    """A float column as exact integer units of 1/SCALE (nulls stay null)."""
    return (expr * SCALE).round(0).cast(pl.Int64)


def unfx(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Float64) / SCALE


def exact_mean(values: pl.Series) -> float | None:
    """Order-independent mean of the non-null values (``math.fsum``)."""
    vals = values.drop_nulls().to_list()
    return math.fsum(vals) / len(vals) if vals else None


@dataclass(frozen=True)
class FeatureResult:
    """Features of one cutoff (and, for target results, one target).

    ``frame``: ``customer_id`` then the features, sorted by ``customer_id``.
    ``stats``: one row per feature (name, coverage, null_rate, fill_value, cap, min,
    max, mean). ``source_max_dates``: newest source date actually read per table and
    column. ``info``: counts, fallbacks and parameters. ``prepared`` is an in-memory
    accelerator for ``build_target_features`` (used only with the same snapshot
    object); it never changes a value.
    """

    frame: pl.DataFrame
    stats: pl.DataFrame
    source_max_dates: dict[str, dt.date | None]
    info: dict[str, Any]
    prepared: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class AlsResult:
    """ALS factors at a cutoff: ``customer_factors[customer_id, als_f..]`` (every
    known customer, sorted; zeros without interactions), ``sku_factors[sku, als_f..]``
    and ``info`` (method, reason, counts, parameters)."""

    customer_factors: pl.DataFrame
    sku_factors: pl.DataFrame
    info: dict[str, Any]


STATS_SCHEMA: dict[str, pl.DataType] = {
    "name": pl.String(),
    "coverage": pl.Float64(),
    "null_rate": pl.Float64(),
    "fill_value": pl.Float64(),
    "cap": pl.Float64(),
    "min": pl.Float64(),
    "max": pl.Float64(),
    "mean": pl.Float64(),
}


def finalize(
    roster: pl.DataFrame,
    parts: Sequence[pl.DataFrame],
    specs: Sequence[FeatureSpec],
    fills: dict[str, float],
    quantile: float,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Assemble the catalog columns for every roster customer.

    ``parts`` are frames keyed by a unique ``customer_id`` (customers may be absent:
    their values are null before the fill). Returns the frame (sorted by
    customer_id, exactly the spec columns in order), the stats and an info dict.
    Null (and, defensively, NaN/inf) values get the fill. A winsorized column is
    clipped to [-cap, cap], cap = the ``quantile`` of |x| over its non-zero values
    (buyers only, never the zero-filled non-buyers: B29; none without a non-zero
    value). Integer columns are rounded and cast.
    """
    frame = roster.select("customer_id")
    for part in parts:
        if part.get_column("customer_id").is_duplicated().any():
            raise AssertionError(f"duplicate customer_id in part {part.columns[:3]}")
        frame = frame.join(part, on="customer_id", how="left")
    frame = frame.sort("customer_id")
    names = [s.name for s in specs]
    got = [c for c in frame.columns if c != "customer_id"]
    if sorted(got) != sorted(names):
        raise AssertionError(
            "feature columns differ from the catalog: missing "
            f"{sorted(set(names) - set(got))}, "
            f"unexpected {sorted(set(got) - set(names))}"
        )
    n = max(frame.height, 1)
    fill = {
        s.name: float(s.default if s.default is not None else fills[s.name])
        for s in specs
    }
    raw = frame.select("customer_id", *[pl.col(c).cast(pl.Float64) for c in names])

    def present(s: FeatureSpec) -> pl.Expr:
        col = pl.col(s.name)
        ok = (
            col.is_not_null()
            if s.default is None
            else col.is_not_null() & (col != s.default)
        )
        return ok.sum().alias(s.name)

    nulls = raw.select(pl.col(names).null_count()).row(0)
    cover = raw.select([present(s) for s in specs]).row(0)
    bad = raw.select((pl.col(names).is_nan() | pl.col(names).is_infinite()).sum()).row(
        0
    )
    filled = raw.select(
        "customer_id",
        *[
            pl.when(pl.col(c).is_nan() | pl.col(c).is_infinite())
            .then(None)
            .otherwise(pl.col(c))
            .fill_null(fill[c])
            .alias(c)
            for c in names
        ],
    )
    wins = [s.name for s in specs if s.winsor and quantile < 1.0]
    caps: dict[str, float | None] = dict.fromkeys(names)
    if wins:
        row = filled.select(
            pl.col(c).filter(pl.col(c) != 0).abs().quantile(quantile, "linear")
            for c in wins
        ).row(0)
        caps.update(
            {
                c: (float(v) if v is not None else None)
                for c, v in zip(wins, row, strict=True)
            }
        )

    def final(s: FeatureSpec) -> pl.Expr:
        col = pl.col(s.name)
        cap = caps[s.name]
        if cap is not None:
            col = col.clip(-cap, cap)
        dtype = DTYPES[s.dtype]
        if dtype != pl.Float64():
            col = col.round(0)
        return col.cast(dtype).alias(s.name)

    out = filled.select("customer_id", *[final(s) for s in specs])
    agg = out.select(
        *[pl.col(c).cast(pl.Float64).min().alias(f"min_{c}") for c in names],
        *[pl.col(c).cast(pl.Float64).max().alias(f"max_{c}") for c in names],
        *[pl.col(c).cast(pl.Float64).mean().alias(f"mean_{c}") for c in names],
    ).row(0)
    k = len(names)
    stats = pl.DataFrame(
        {
            "name": names,
            "coverage": [v / n for v in cover],
            "null_rate": [v / n for v in nulls],
            "fill_value": [fill[c] for c in names],
            "cap": [caps[c] for c in names],
            "min": list(agg[:k]),
            "max": list(agg[k : 2 * k]),
            "mean": list(agg[2 * k :]),
        },
        schema=STATS_SCHEMA,
    )
    nonfinite = {c: int(v) for c, v in zip(names, bad, strict=True) if v}
    return out, stats, {"nonfinite_replaced": nonfinite}
