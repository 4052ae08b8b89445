"""Validate one long-format raw table (sales_lines, customers, assets, contacts,
open_deals): a plan, built once from the header, that turns each batch of records into
staged rows (typed values plus the first failing check of each record).

Checks that need the whole file (repeated keys, line numbers derived from the row order
within an invoice) run in SQL once every batch is staged (``ingest_stage.py``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
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
    COLUMN,
    REASON,
    VALUE,
    Check,
    Kind,
    Parsed,
    absent_field,
    after_load_date,
    field_checks,
    materialized,
    missing_columns_error,
    parse_field,
    ragged_check,
    with_first_failure,
)
from gosales_assets.lib.ingest_io import ROW, RawTable


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
    """How one raw table is staged, batch by batch.

    ``stage`` maps a batch of records (``ingest_io.RawTable.batches``) to staged rows:
    ``ROW``, every contract column under its own name (typed; null where a record is
    rejected or the value is derived later), ``REASON``, ``COLUMN`` and ``VALUE`` of the
    first failing check (null for a valid row). A wide sales log stages one row per
    product cell (``ROW`` repeats) plus one per rejected source row.
    """

    table: RawTable
    columns: tuple[Column, ...]  # contract columns of the staged rows
    stage: Callable[[pl.LazyFrame], pl.LazyFrame]
    event_date: str | None  # the quarantine's order_date (None: always null)
    # Unique key of valid rows: a later repeat is quarantined with this reason, the
    # column shown as ``key_column`` and the key's values as text. None: no key.
    key: tuple[str, ...] | None
    duplicate_reason: str | None
    key_column: str | None
    ignored_columns: list[str]
    derive_line_no: bool = False  # line_no = row order within the invoice (SQL)
    identity: tuple[str, ...] = ("source_row",)  # identifies a staged row


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
    """Build the staging plan of a long-format table.

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
    # No line numbers: the row order within the invoice, counted over the whole file
    # in SQL once every batch is staged (the key is then unique by construction).
    derive_line_no = spec.stem == "sales_lines" and "line_no" not in table.columns
    finish = [p.post(pl.col(_v(n))).alias(_v(n)) for n, p in parsed.items() if p.post]

    def stage(batch: pl.LazyFrame) -> pl.LazyFrame:
        frame = batch.with_columns(p.value.alias(_v(n)) for n, p in parsed.items())
        if finish:
            frame = frame.with_columns(finish)
        return with_first_failure(frame, checks).select(
            pl.col(ROW).cast(pl.Int64),
            *(
                pl.col(_v(c.name)).cast(c.dtype, strict=False).alias(c.name)
                for c in spec.columns
            ),
            REASON,
            COLUMN,
            VALUE,
        )

    known = {c.name for c in spec.columns}
    keyed = spec.key is not None and not derive_line_no
    return TablePlan(
        table=table,
        columns=spec.columns,
        stage=stage,
        event_date=spec.event_date,
        key=spec.key if keyed else None,
        duplicate_reason=spec.duplicate_reason if keyed else None,
        key_column=",".join(spec.key) if keyed and spec.key else None,
        ignored_columns=[c for c in table.columns if c not in known],
        derive_line_no=derive_line_no,
    )
