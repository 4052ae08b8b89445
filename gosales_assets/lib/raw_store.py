"""Persisting a validated raw batch into the ``raw`` schema, with its contract checks.

The checks run on the in-memory frames *before* anything is written: when a blocking
check fails, the previous ``raw`` tables stay as they were.
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
    replace_table_frame,
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


# name -> (table, description); all blocking ERROR checks on the in-memory batch
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
    frames: dict[str, pl.DataFrame], load_date: dt.date
) -> list[CheckOutcome]:
    """Post-conditions of the reader, verified before anything is written."""
    lines = frames["raw.sales_lines"]
    customers = frames["raw.customers"]
    required = [c.name for c in contract.SALES_LINES if c.required] + ["line_no"]
    violations = {
        "required_not_null": int(
            lines.select(pl.any_horizontal(pl.col(required).is_null()).sum()).item()
            or 0
        ),
        "line_key_unique": lines.height
        - (lines.select(["invoice_id", "line_no"]).n_unique() if lines.height else 0),
        "no_dates_after_load_date": int(
            lines.select((pl.col("order_date") > load_date).sum()).item() or 0
        ),
        "customer_key_unique": customers.height
        - (customers.select("customer_id").n_unique() if customers.height else 0),
    }
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


def write_raw(
    con: duckdb.DuckDBPyConnection,
    frames: dict[str, pl.DataFrame],
    report: dict[str, Any],
) -> dict[str, list[tuple[str, str]]]:
    """Replace all ``raw`` tables (caller's transaction). Returns the column schemas."""
    for table, (_, keys) in RAW_TABLES.items():
        replace_table_frame(con, table, frames[table], keys)
    replace_table_frame(
        con,
        QUARANTINE_TABLE,
        frames[QUARANTINE_TABLE],
        ("source_file", "source_row", "column"),
    )
    report_frame = pl.DataFrame(
        {"key": ["report"], "value": [json.dumps(report, sort_keys=True, default=str)]}
    )
    replace_table_frame(con, LOAD_REPORT_TABLE, report_frame, ("key",))
    return {t: column_schema(con, t) for t in [*RAW_TABLES, QUARANTINE_TABLE]}


def raw_checksums(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Content checksum of every raw table."""
    return {t: partition_checksum(con, t, {}) for t in [*RAW_TABLES, QUARANTINE_TABLE]}
