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

import datetime as dt
import json
import math
from typing import Any

import duckdb
import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.checks import CheckOutcome
from gosales_assets.lib.features import AlsResult, FeatureResult, StarSnapshot
from gosales_assets.lib.features.catalog import all_specs, base_specs
from gosales_assets.lib.features.snapshot import ENGINE_COLUMNS
from gosales_assets.lib.store import (
    ensure_table_like,
    quote_ident,
    replace_partition_frame,
    replace_table_frame,
    table_ref,
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


def table_columns(
    con: duckdb.DuckDBPyConnection, tables: list[str]
) -> dict[str, list[str]]:
    """The columns of each ``schema.table``, in table order (one catalog query)."""
    rows = con.execute(
        "SELECT table_schema || '.' || table_name, column_name "
        "FROM information_schema.columns WHERE table_catalog = current_database() "
        "AND table_schema || '.' || table_name IN (SELECT unnest($tables)) "
        "ORDER BY table_schema, table_name, ordinal_position",
        {"tables": tables},
    ).fetchall()
    out: dict[str, list[str]] = {t: [] for t in tables}
    for table, column in rows:
        out[str(table)].append(str(column))
    return out


def engine_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Per snapshot frame, the columns of its star table the feature engine reads."""
    present = table_columns(con, list(SNAPSHOT_TABLES.values()))
    return {
        name: [c for c in ENGINE_COLUMNS[name] if c in present[table]]
        for name, table in SNAPSHOT_TABLES.items()
    }


def read_snapshot(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> StarSnapshot:
    """The star partition at ``cutoff`` as polars frames, with the columns the feature
    engine reads (``snapshot.ENGINE_COLUMNS``; it conforms the others to nulls)."""
    frames = {}
    columns = engine_columns(con)
    for name, table in SNAPSHOT_TABLES.items():
        cols = ", ".join(quote_ident(c) for c in columns[name])
        frames[name] = con.execute(
            f"SELECT {cols} FROM {table_ref(table)} WHERE cutoff = ?", [cutoff]
        ).pl()
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
        "features.customer_base": replace_sorted_partition(
            con,
            "features.customer_base",
            _with_keys(base.frame, cutoff, None),
            partition=part,
            order_by=("cutoff", "customer_id"),
        ),
        "features.als_embeddings": replace_sorted_partition(
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


def base_build_info(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date
) -> tuple[Any, ...] | None:
    """``(info, source_max_dates)`` of the stored base of ``cutoff``; None when it
    was never built (or no feature has been built yet)."""
    try:
        return con.execute(
            "SELECT info, source_max_dates FROM features.build_info "
            "WHERE cutoff = ? AND division = ?",
            [cutoff, BASE_DIVISION],
        ).fetchone()
    except duckdb.CatalogException:
        return None


def read_base(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date
) -> tuple[FeatureResult, AlsResult]:
    """The stored base and ALS results of ``cutoff`` (refused when missing)."""
    row = base_build_info(con, cutoff)
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


def _insertion_order_kept(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    return bool(row and row[0])


def replace_sorted_partition(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    *,
    partition: dict[str, Any],
    order_by: tuple[str, ...],
) -> int:
    """:func:`store.replace_partition_frame` for a wide frame: sorted by ``order_by``
    here (a no-op for the engine's frames, sorted by ``customer_id``) and inserted in
    that order by DuckDB (``preserve_insertion_order``) instead of sorted again by
    the store's SQL. Same rows, same stored order."""
    keys = list(order_by)
    if frame.height > 1 and not frame.select(keys).equals(
        frame.select(keys).sort(keys)
    ):
        frame = frame.sort(keys, maintain_order=True)
    if not _insertion_order_kept(con):
        return replace_partition_frame(
            con, table, frame, partition=partition, order_by=order_by
        )
    view = f"_sorted_{abs(hash((table, id(frame))))}"
    con.register(view, frame.to_arrow())
    try:
        select = f"SELECT * FROM {quote_ident(view)}"
        ensure_table_like(con, table, select)
        where = " AND ".join(f"{quote_ident(c)} = ?" for c in partition)
        con.execute(
            f"DELETE FROM {table_ref(table)} WHERE {where}", list(partition.values())
        )
        con.execute(f"INSERT INTO {table_ref(table)} BY NAME {select}")
    finally:
        con.unregister(view)
    return frame.height


def write_matrix(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date, target: str, result: FeatureResult
) -> int:
    part = {"cutoff": cutoff, "division": target}
    rows = replace_sorted_partition(
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
