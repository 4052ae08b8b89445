"""Publishing a validated load into the ``raw`` schema, with its contract checks.

A load is a set of sources, one per ``raw`` table: the staging views of
``ingest.staged_raw_folder`` (the raw asset) or registered polars frames
(:func:`write_raw`). The checks run in SQL on those sources *before* anything is
written: when a blocking check fails, the previous ``raw`` tables stay as they were.
Publishing replaces every ``raw`` table in the caller's transaction, each sorted by
its deterministic keys.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from gosales_assets.lib import contract
from gosales_assets.lib.checks import CheckOutcome
from gosales_assets.lib.store import (
    column_schema,
    partition_checksum,
    quote_ident,
    table_ref,
)

if TYPE_CHECKING:
    from gosales_assets.lib.ingest import RawBatch

SOURCE_COLUMNS: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "source_row": pl.Int64(),
}

# raw table -> (contract columns, sort keys)
RAW_TABLES: dict[str, tuple[tuple[contract.Column, ...], tuple[str, ...]]] = {
    "raw.sales_lines": (
        contract.SALES_LINES,
        ("order_date", "invoice_id", "line_no", "source_row"),
    ),
    "raw.customers": (contract.CUSTOMERS, ("customer_id", "source_row")),
    "raw.assets": (
        contract.ASSETS,
        ("customer_id", "sku", "purchase_date", "source_row"),
    ),
    "raw.contacts": (contract.CONTACTS, ("customer_id", "contact_date", "source_row")),
    "raw.open_deals": (
        contract.OPEN_DEALS,
        ("customer_id", "division", "opened_date", "source_row"),
    ),
}
QUARANTINE_TABLE = "raw.quarantine"
# One row per rejected record or wide-log cell; ``value`` breaks the rare ties (several
# cells of one wide-log row repeating the same invoice).
QUARANTINE_SORT = ("source_file", "source_row", "column", "value")
LOAD_REPORT_TABLE = "raw.load_report"


def _conform(
    frame: pl.DataFrame | None, cols: tuple[contract.Column, ...]
) -> pl.DataFrame:
    schema = {**contract.schema_of(cols), **SOURCE_COLUMNS}
    if frame is None:
        return pl.DataFrame(schema=schema)
    missing = [c for c in schema if c not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype=schema[c]).alias(c) for c in missing)
    return frame.select(pl.col(c).cast(t) for c, t in schema.items())


def raw_frames(batch: RawBatch) -> dict[str, pl.DataFrame]:
    """The batch's frames conformed to the contract schemas, keyed by raw table."""
    sources = {
        "raw.sales_lines": batch.sales_lines,
        "raw.customers": batch.customers,
        "raw.assets": batch.assets,
        "raw.contacts": batch.contacts,
        "raw.open_deals": batch.open_deals,
    }
    frames = {t: _conform(sources[t], RAW_TABLES[t][0]) for t in RAW_TABLES}
    q_schema = contract.QUARANTINE_SCHEMA
    frames[QUARANTINE_TABLE] = batch.quarantine.select(
        pl.col(c).cast(t) for c, t in q_schema.items()
    )
    return frames


# name -> (table, description); all blocking ERROR checks, run before publishing
RAW_CHECKS: dict[str, tuple[str, str]] = {
    "required_not_null": ("raw.sales_lines", "required columns are never null"),
    "line_key_unique": ("raw.sales_lines", "(invoice_id, line_no) identifies a line"),
    "no_dates_after_load_date": (
        "raw.sales_lines",
        "no line is dated after the load date",
    ),
    "customer_key_unique": ("raw.customers", "one row per customer_id"),
}


def raw_checks(
    con: duckdb.DuckDBPyConnection, sources: dict[str, str], load_date: dt.date
) -> list[CheckOutcome]:
    """Post-conditions of the reader on the sources, verified before publishing."""
    lines, customers = sources["raw.sales_lines"], sources["raw.customers"]
    required = [c.name for c in contract.SALES_LINES if c.required] + ["line_no"]
    any_null = " OR ".join(f"{quote_ident(c)} IS NULL" for c in required)
    row = con.execute(
        f"""
        SELECT
            (SELECT count(*) FILTER (WHERE {any_null}) FROM {lines}),
            (SELECT count(*) - count(DISTINCT (invoice_id, line_no)) FROM {lines}),
            (SELECT count(*) FILTER (WHERE order_date > CAST(? AS DATE))
             FROM {lines}),
            (SELECT count(*) - count(DISTINCT customer_id) FROM {customers})
        """,
        [load_date.isoformat()],
    ).fetchone()
    assert row is not None
    violations = dict(zip(RAW_CHECKS, (int(v or 0) for v in row), strict=True))
    return [
        CheckOutcome(
            RAW_CHECKS[name][0],
            name,
            bad == 0,
            "ERROR",
            RAW_CHECKS[name][1],
            {"violations": bad, "load_date": str(load_date)},
        )
        for name, bad in violations.items()
    ]


def publish_raw(
    con: duckdb.DuckDBPyConnection, sources: dict[str, str], report: dict[str, Any]
) -> dict[str, list[tuple[str, str]]]:
    """Replace all ``raw`` tables from ``sources`` (caller's transaction), each sorted
    by its keys, and the load report. Returns the column schemas."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    keys = {t: k for t, (_, k) in RAW_TABLES.items()} | {
        QUARANTINE_TABLE: QUARANTINE_SORT
    }
    for table, order in keys.items():
        by = ", ".join(f"{quote_ident(c)} NULLS LAST" for c in order)
        con.execute(
            f"CREATE OR REPLACE TABLE {table_ref(table)} AS "
            f"SELECT * FROM {sources[table]} ORDER BY {by}"
        )
    con.execute(
        f"CREATE OR REPLACE TABLE {table_ref(LOAD_REPORT_TABLE)} "
        "(key VARCHAR, value VARCHAR)"
    )
    con.execute(
        f"INSERT INTO {table_ref(LOAD_REPORT_TABLE)} VALUES ('report', ?)",
        [json.dumps(report, sort_keys=True, default=str)],
    )
    return {t: column_schema(con, t) for t in keys}


def write_raw(
    con: duckdb.DuckDBPyConnection,
    frames: dict[str, pl.DataFrame],
    report: dict[str, Any],
) -> dict[str, list[tuple[str, str]]]:
    """Replace all ``raw`` tables by in-memory frames (see :func:`raw_frames`; caller's
    transaction). Returns the column schemas."""
    names = {t: f"__gs_frame_{t.split('.')[1]}" for t in frames}
    for table, name in names.items():
        con.register(name, frames[table].to_arrow())
    try:
        return publish_raw(con, {t: quote_ident(n) for t, n in names.items()}, report)
    finally:
        for name in names.values():
            con.unregister(name)


def raw_checksums(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Content checksum of every raw table."""
    return {t: partition_checksum(con, t, {}) for t in [*RAW_TABLES, QUARANTINE_TABLE]}
