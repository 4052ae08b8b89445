"""Validate one long-format raw table (sales_lines, customers, assets, contacts,
open_deals) into typed rows plus quarantine rows, as lazy plans."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from gosales_assets.lib.contract import (
    ASSETS,
    CONTACTS,
    CUSTOMERS,
    OPEN_DEALS,
    SALES_LINES,
    Column,
)
from gosales_assets.lib.ingest_fields import (
    REASON,
    Check,
    Kind,
    Parsed,
    absent_field,
    after_load_date,
    field_checks,
    materialized,
    missing_columns_error,
    parse_field,
    quarantine_select,
    ragged_check,
    with_duplicates,
    with_first_failure,
)
from gosales_assets.lib.ingest_io import ROW, RawTable, record_json


@dataclass(frozen=True)
class TableSpec:
    stem: str
    columns: tuple[Column, ...]
    event_date: str | None = None  # checked against the load date
    key: tuple[str, ...] | None = None  # unique key; later repeats are quarantined
    duplicate_reason: str | None = None
    # Optional columns that, once the file has them, must be filled on every row.
    required_if_present: tuple[str, ...] = ()


SPECS: dict[str, TableSpec] = {
    "sales_lines": TableSpec(
        "sales_lines",
        SALES_LINES,
        event_date="order_date",
        key=("invoice_id", "line_no"),
        duplicate_reason="duplicate_line_id",
        required_if_present=("line_no",),
    ),
    "customers": TableSpec(
        "customers",
        CUSTOMERS,
        key=("customer_id",),
        duplicate_reason="duplicate_customer_id",
    ),
    "assets": TableSpec("assets", ASSETS, event_date="purchase_date"),
    "contacts": TableSpec("contacts", CONTACTS, event_date="contact_date"),
    "open_deals": TableSpec("open_deals", OPEN_DEALS, event_date="opened_date"),
}


@dataclass(frozen=True)
class TablePlan:
    """Lazy outputs of one raw table; collected together by the caller."""

    table: RawTable
    rows: pl.LazyFrame  # valid typed rows + source_file/source_row
    quarantine: pl.LazyFrame  # QUARANTINE_SCHEMA
    rows_read: pl.LazyFrame  # one cell: number of records read
    ignored_columns: list[str]


def kind_of(column: Column) -> Kind:
    if column.name == "sku":
        return "sku"
    if column.name == "division":
        return "division"
    if column.name.endswith("_id"):
        return "id"
    if column.dtype == pl.Date:
        return "date"
    if column.dtype == pl.Float64:
        return "number"
    if column.dtype == pl.Int64:
        return "integer"
    return "text"


def _v(name: str) -> str:
    return f"__gs_v_{name}"


def plan_table(
    table: RawTable,
    spec: TableSpec,
    *,
    formats: Sequence[str],
    load_date: dt.date,
    skus: Sequence[str],
    divisions: Sequence[str],
) -> TablePlan:
    """Build the lazy validation plan of a long-format table.

    Raises RawInputError for a missing required column or an unsupported column type.
    """
    missing_columns_error(table, [c.name for c in spec.columns if c.required])
    parsed: dict[str, Parsed] = {}
    checks: list[Check] = [ragged_check(table)] if table.format == "csv" else []
    for column in spec.columns:
        kind = kind_of(column)
        if column.name in table.columns:
            parsed[column.name] = parse_field(table, column.name, kind, formats)
        else:
            parsed[column.name] = absent_field(kind)
        typed = materialized(parsed[column.name], _v(column.name), kind)
        required = column.required or (
            column.name in spec.required_if_present and column.name in table.columns
        )
        checks += field_checks(
            column.name,
            kind,
            required,
            typed,
            skus=skus,
            divisions=divisions,
        )
        if column.name == spec.event_date:
            checks.append(
                after_load_date(column.name, typed.value, typed.text, load_date)
            )

    values = [p.value.alias(_v(name)) for name, p in parsed.items()]
    frame = table.frame.with_columns(values)
    finish = [p.post(pl.col(_v(n))).alias(_v(n)) for n, p in parsed.items() if p.post]
    if finish:
        frame = frame.with_columns(finish)
    if spec.stem == "sales_lines" and "line_no" not in table.columns:
        # No line numbers: the row order within the invoice (by source row).
        frame = frame.with_columns(
            pl.col(ROW)
            .rank("ordinal")
            .over(_v("invoice_id"))
            .cast(pl.Int64)
            .alias(_v("line_no"))
        )
    frame = with_first_failure(frame, checks)
    if spec.key is not None and spec.duplicate_reason is not None:
        keys = [_v(k) for k in spec.key]
        frame = with_duplicates(frame, keys, spec.duplicate_reason, ",".join(spec.key))
    frame = frame.cache()  # rows, quarantine and count share one pass over the file

    rows = frame.filter(pl.col(REASON).is_null()).select(
        *(pl.col(_v(c.name)).cast(c.dtype).alias(c.name) for c in spec.columns),
        pl.lit(table.file).alias("source_file"),
        pl.col(ROW).cast(pl.Int64).alias("source_row"),
    )
    event = (
        pl.col(_v(spec.event_date))
        if spec.event_date is not None
        else pl.lit(None, dtype=pl.Date)
    )
    quarantine = frame.filter(pl.col(REASON).is_not_null()).select(
        quarantine_select(
            table.file, pl.col(_v("customer_id")), event, record_json(table)
        )
    )
    known = {c.name for c in spec.columns}
    return TablePlan(
        table=table,
        rows=rows,
        quarantine=quarantine,
        rows_read=frame.select(pl.len().cast(pl.Int64)),
        ignored_columns=[c for c in table.columns if c not in known],
    )
