"""Moving features between the feature engine and the DuckDB store, and their checks.

Tables (schema ``features``):

- ``customer_base`` ``(cutoff, customer_id)``: all-scope features of every known
  customer
- ``als_embeddings`` ``(cutoff, customer_id)`` and ``als_sku_factors``
  ``(cutoff, sku)``: ALS factors
- ``feature_catalog`` ``(position)``: name, family, scope, window, dtype, default,
  description of every feature
- ``feature_matrix`` ``(cutoff, division, customer_id)``: the catalog columns per target
- ``feature_stats`` ``(cutoff, division, name)``: coverage, null rate, fill, cap, min,
  max, mean per feature (``division = '*'`` for the per-cutoff base)
- ``build_info`` ``(cutoff, division)``: the engine's info and source dates, as JSON
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.checks import CheckOutcome
from gosales_assets.lib.features import AlsResult, FeatureResult, StarSnapshot
from gosales_assets.lib.features.catalog import all_specs, base_specs
from gosales_assets.lib.store import (
    partition_checksum,
    replace_partition_frame,
    replace_table_frame,
)

BASE_DIVISION = "*"

SNAPSHOT_TABLES = {
    "fact": "star.fact_transactions",
    "customers": "star.dim_customer",
    "install_base": "star.install_base",
    "contacts": "star.contacts",
    "open_deals": "star.open_deals",
    "sku": "star.dim_sku",
}


def read_snapshot(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> StarSnapshot:
    """The star partition at ``cutoff`` as polars frames (``cutoff`` dropped)."""
    frames = {
        name: con.execute(
            f"SELECT * EXCLUDE (cutoff) FROM {table} WHERE cutoff = ?", [cutoff]
        ).pl()
        for name, table in SNAPSHOT_TABLES.items()
    }
    return StarSnapshot(cutoff=cutoff, **frames)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _with_keys(
    frame: pl.DataFrame, cutoff: dt.date, division: str | None
) -> pl.DataFrame:
    keys = [pl.lit(cutoff, dtype=pl.Date).alias("cutoff")]
    if division is not None:
        keys.append(pl.lit(division).alias("division"))
    return frame.select(*keys, pl.all())


def _write_info(
    con: duckdb.DuckDBPyConnection,
    cutoff: dt.date,
    division: str,
    result_info: dict[str, Any],
    source_max_dates: dict[str, Any],
    stats: pl.DataFrame,
) -> None:
    part = {"cutoff": cutoff, "division": division}
    info = pl.DataFrame(
        {
            "info": [_json(result_info)],
            "source_max_dates": [_json(source_max_dates)],
        }
    )
    replace_partition_frame(
        con,
        "features.build_info",
        _with_keys(info, cutoff, division),
        partition=part,
        order_by=("cutoff", "division"),
    )
    replace_partition_frame(
        con,
        "features.feature_stats",
        _with_keys(stats, cutoff, division),
        partition=part,
        order_by=("cutoff", "division", "name"),
    )


def write_base(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date, base: FeatureResult, als: AlsResult
) -> dict[str, int]:
    """Replace the per-cutoff base and ALS tables (caller's transaction)."""
    part = {"cutoff": cutoff}
    rows = {
        "features.customer_base": replace_partition_frame(
            con,
            "features.customer_base",
            _with_keys(base.frame, cutoff, None),
            partition=part,
            order_by=("cutoff", "customer_id"),
        ),
        "features.als_embeddings": replace_partition_frame(
            con,
            "features.als_embeddings",
            _with_keys(als.customer_factors, cutoff, None),
            partition=part,
            order_by=("cutoff", "customer_id"),
        ),
        "features.als_sku_factors": replace_partition_frame(
            con,
            "features.als_sku_factors",
            _with_keys(als.sku_factors, cutoff, None),
            partition=part,
            order_by=("cutoff", "sku"),
        ),
    }
    info = {**base.info, "als": als.info}
    _write_info(con, cutoff, BASE_DIVISION, info, base.source_max_dates, base.stats)
    return rows


def read_base(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date
) -> tuple[FeatureResult, AlsResult]:
    """The stored base and ALS results of ``cutoff`` (refused when missing)."""
    try:
        row = con.execute(
            "SELECT info, source_max_dates FROM features.build_info "
            "WHERE cutoff = ? AND division = ?",
            [cutoff, BASE_DIVISION],
        ).fetchone()
    except duckdb.CatalogException:
        row = None  # no feature has been built yet
    if row is None:
        raise LookupError(
            f"no customer_base features at cutoff {cutoff}; materialize "
            "features/customer_base for that cutoff first"
        )
    info = json.loads(row[0])
    als_info = info.pop("als")
    source_dates = {
        k: dt.date.fromisoformat(v) if v else None
        for k, v in json.loads(row[1]).items()
    }

    def table(name: str, key: str) -> pl.DataFrame:
        return con.execute(
            f"SELECT * EXCLUDE (cutoff) FROM features.{name} WHERE cutoff = ? "
            f"ORDER BY {key}",
            [cutoff],
        ).pl()

    stats = con.execute(
        "SELECT * EXCLUDE (cutoff, division) FROM features.feature_stats "
        "WHERE cutoff = ? AND division = ?",
        [cutoff, BASE_DIVISION],
    ).pl()
    # stats are kept in catalog order, not the table's key order
    base_frame = table("customer_base", "customer_id")
    order = {n: i for i, n in enumerate(base_frame.columns)}
    stats = stats.sort(pl.col("name").replace_strict(order, default=len(order)))
    base = FeatureResult(
        frame=base_frame, stats=stats, source_max_dates=source_dates, info=info
    )
    als = AlsResult(
        customer_factors=table("als_embeddings", "customer_id"),
        sku_factors=table("als_sku_factors", "sku"),
        info=als_info,
    )
    return base, als


def write_matrix(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date, target: str, result: FeatureResult
) -> int:
    part = {"cutoff": cutoff, "division": target}
    rows = replace_partition_frame(
        con,
        "features.feature_matrix",
        _with_keys(result.frame, cutoff, target),
        partition=part,
        order_by=("cutoff", "division", "customer_id"),
    )
    _write_info(con, cutoff, target, result.info, result.source_max_dates, result.stats)
    return rows


def write_catalog(con: duckdb.DuckDBPyConnection, catalog: pl.DataFrame) -> int:
    numbered = catalog.with_row_index("position", offset=1)
    return replace_table_frame(con, "features.feature_catalog", numbered, ("position",))


# name -> (severity, description)
FEATURE_CHECKS: dict[str, tuple[str, str]] = {
    "no_sources_after_cutoff": (
        "ERROR",
        "leakage: the newest source date behind every feature is on or before C",
    ),
    "schema_matches_catalog": (
        "ERROR",
        "columns and types are exactly the feature catalog's, in order",
    ),
    "values_finite": ("ERROR", "no null, NaN or infinite feature value"),
    "one_row_per_customer": ("ERROR", "one row per known customer"),
}


def expected_columns(cfg: GosalesConfig, base_only: bool) -> list[tuple[str, str]]:
    """``[(name, dtype)]`` a base (``base_only``) or target feature frame must have."""
    specs = base_specs(cfg) if base_only else all_specs(cfg)
    return [(s.name, s.dtype) for s in specs]


def feature_checks(
    result: FeatureResult,
    cutoff: dt.date,
    expected: list[tuple[str, str]],
    table: str,
) -> list[CheckOutcome]:
    """Leakage and contract checks of a base or target feature result."""
    frame = result.frame
    late = {
        k: str(v)
        for k, v in result.source_max_dates.items()
        if v is not None and v > cutoff
    }
    got = [(c, str(frame.schema[c])) for c in frame.columns if c != "customer_id"]
    schema_bad = frame.columns[:1] != ["customer_id"] or got != expected
    numeric = frame.drop("customer_id")
    nonfinite = 0
    if numeric.width:
        nulls = int(numeric.null_count().sum_horizontal().item())
        floats = [c for c, t in numeric.schema.items() if t == pl.Float64]
        bad_float = (
            int(
                numeric.select(
                    pl.sum_horizontal([(~pl.col(c).is_finite()).sum() for c in floats])
                ).item()
            )
            if floats
            else 0
        )
        nonfinite = nulls + bad_float
    dupes = frame.height - frame["customer_id"].n_unique()
    bad = {
        "no_sources_after_cutoff": len(late),
        "schema_matches_catalog": int(schema_bad),
        "values_finite": nonfinite,
        "one_row_per_customer": dupes,
    }
    meta: dict[str, Any] = {
        "cutoff": str(cutoff),
        "source_max_dates": _json(
            {k: str(v) if v else None for k, v in result.source_max_dates.items()}
        ),
        "late_sources": _json(late),
        "columns": frame.width - 1,
    }
    return [
        CheckOutcome(
            table,
            name,
            bad[name] == 0,
            FEATURE_CHECKS[name][0],  # type: ignore[arg-type]
            FEATURE_CHECKS[name][1],
            {"violations": bad[name], **meta},
        )
        for name in FEATURE_CHECKS
    ]


def stats_summary(stats: pl.DataFrame) -> dict[str, Any]:
    """Compact per-partition stats for asset metadata."""
    if stats.is_empty():
        return {}
    low = stats.filter(pl.col("coverage") < 0.01)["name"].to_list()
    capped = stats.filter(pl.col("cap").is_not_null())["name"].to_list()
    mean_cov = float(stats["coverage"].mean() or 0.0)
    return {
        "features": stats.height,
        "mean_coverage": round(mean_cov, 4) if math.isfinite(mean_cov) else 0.0,
        "low_coverage_features": low[:50],
        "winsorized_features": capped[:50],
    }


@dataclass
class _Inputs:
    key: tuple[Any, ...]
    snap: StarSnapshot
    base: FeatureResult
    als: AlsResult


# One entry per store file: the inputs of the last cutoff whose feature matrices were
# built in this process (``gosales run`` builds every target's matrix of a cutoff in
# one process). Keyed by the content checksums of the star partition and the stored
# base, so a change to either is never served from memory.
_INPUTS: dict[str, _Inputs] = {}


def _fingerprint(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> tuple[Any, ...]:
    sums = tuple(
        partition_checksum(con, table, {"cutoff": cutoff})
        for table in (
            *SNAPSHOT_TABLES.values(),
            "features.customer_base",
            "features.als_embeddings",
        )
    )
    info = con.execute(
        "SELECT info FROM features.build_info WHERE cutoff = ? AND division = ?",
        [cutoff, BASE_DIVISION],
    ).fetchone()
    return (cutoff, sums, info[0] if info else None)


def matrix_inputs(
    con: duckdb.DuckDBPyConnection, store_key: str, cutoff: dt.date
) -> tuple[StarSnapshot, FeatureResult, AlsResult]:
    """Snapshot, base and ALS of ``cutoff`` for building feature matrices, reusing
    the previous call's (and its preparation) when the stored inputs are unchanged."""
    base, als = read_base(con, cutoff)  # raises LookupError when missing
    key = _fingerprint(con, cutoff)
    cached = _INPUTS.get(store_key)
    if cached is not None and cached.key == key:
        return cached.snap, cached.base, cached.als
    _INPUTS.pop(store_key, None)  # free the previous cutoff before reading a new one
    snap = read_snapshot(con, cutoff)
    _INPUTS[store_key] = _Inputs(key, snap, base, als)
    return snap, base, als


def remember_preparation(store_key: str, result: FeatureResult) -> None:
    """Keep the engine's preparation of the cached snapshot for the next target."""
    cached = _INPUTS.get(store_key)
    if cached is not None and result.prepared is not None:
        cached.base = dataclasses.replace(cached.base, prepared=result.prepared)
