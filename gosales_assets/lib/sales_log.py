"""Unpivot the wide "Sales Log" layout (DATA_CONTRACT 2.4) into sales lines, lazily.

One source row carries the fixed columns (``Rec Date``, ``CustomerId``, ``Customer``,
``InvoiceId``, ``Branch``, ``Rep``, ``Division``) and, per SKU of the SKU map, a GP
column (or one of its aliases) and a quantity column. Each product cell pair whose GP or
quantity parses to a non-zero number becomes one line: ``sku`` is the canonical SKU and
``line_no`` its 1-based position in the SKU map, so the long and wide layouts of the
same data give identical lines. Row-level defects quarantine the source row once;
product-cell defects quarantine that cell only. The plan stages one batch of source rows
at a time; repeated ``(InvoiceId, SKU)`` pairs are found in SQL over the whole file
(``ingest_stage.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from gosales_assets.config import SkuEntry
from gosales_assets.lib.contract import SALES_LINES, SALES_LOG_FIXED
from gosales_assets.lib.ingest_fields import (
    COLUMN,
    REASON,
    VALUE,
    Check,
    after_load_date,
    field_checks,
    materialized,
    parse_field,
    ragged_check,
    with_first_failure,
)
from gosales_assets.lib.ingest_io import ROW, RawInputError, RawTable
from gosales_assets.lib.ingest_tables import TablePlan

# Contract meaning -> header name of the fixed columns.
FIXED = {meaning: header for header, meaning in SALES_LOG_FIXED.items()}
IGNORED = (FIXED["customer_name"], FIXED["division"])  # read, not used for routing

_CUSTOMER = "__gs_v_customer_id"
_INVOICE = "__gs_v_invoice_id"
_DATE = "__gs_v_order_date"
_LINE_NO = "__gs_v_line_no"
_SKU = "__gs_v_sku"
_GP = "__gs_v_gross_profit"
_QTY = "__gs_v_quantity"


def product_columns(entries: Sequence[SkuEntry]) -> dict[str, str]:
    """Every wide-log column the SKU map knows, mapped to its canonical SKU."""
    out: dict[str, str] = {}
    for entry in entries:
        for col in (entry.gp_column, *entry.gp_aliases, entry.qty_column):
            out[col] = entry.sku
    return out


def check_layout(table: RawTable, entries: Sequence[SkuEntry]) -> list[str]:
    """Refuse a header that is not a Sales Log; return the unmapped columns."""
    missing = [c for c in SALES_LOG_FIXED if c not in table.columns]
    mapped = product_columns(entries)
    products = [c for c in table.columns if c in mapped]
    if missing or not products:
        problem = (
            f"missing fixed column(s) {missing}"
            if missing
            else "none of the SKU map's GP or quantity columns"
        )
        raise RawInputError(
            f"{table.file}: sales log from another layout: {problem}; the header found "
            f"is {list(table.columns)}. A sales log needs {list(SALES_LOG_FIXED)} plus "
            "the gp_column/qty_column names of config/sku_map.csv"
        )
    return [c for c in table.columns if c not in SALES_LOG_FIXED and c not in mapped]


def _cell_frame(
    base: pl.LazyFrame,
    table: RawTable,
    entry: SkuEntry,
    line_no: int,
) -> pl.LazyFrame | None:
    """Lines (and cell defects) of one SKU: only rows where one of its cells is set."""
    gp_cols = [c for c in (entry.gp_column, *entry.gp_aliases) if c in table.columns]
    qty_cols = [entry.qty_column] if entry.qty_column in table.columns else []
    cols = [*gp_cols, *qty_cols]
    if not cols:
        return None
    parsed = [parse_field(table, c, "number", ()) for c in cols]
    # Parse each cell once into columns, then check and combine the stored values.
    stored = [materialized(p, f"__gs_cell{i}", "number") for i, p in enumerate(parsed)]
    checks = [
        Check("unparseable_number", col, cell.bad, cell.text)
        for col, cell in zip(cols, stored, strict=True)
    ]
    gp_cells = stored[: len(gp_cols)]
    gp = pl.coalesce([c.value for c in gp_cells]) if gp_cells else pl.lit(None)
    # The canonical column wins when set; any other set GP source must agree with it.
    for col, cell in list(zip(gp_cols, gp_cells, strict=True))[1:]:
        differs = ~cell.blank & (cell.value != gp)
        checks.append(Check("alias_conflict", col, differs, cell.text))
    quantity = stored[-1].value if qty_cols else pl.lit(None)
    cells = (
        base.filter(
            pl.col(REASON).is_null() & pl.any_horizontal([~p.blank for p in parsed])
        )
        .select(
            ROW,
            _CUSTOMER,
            _INVOICE,
            _DATE,
            "__gs_v_rep",
            "__gs_v_branch",
            *cols,
            *(p.value.alias(f"__gs_cell{i}") for i, p in enumerate(parsed)),
        )
        .with_columns(
            pl.lit(entry.sku).alias(_SKU),
            pl.lit(line_no, dtype=pl.Int64).alias(_LINE_NO),
            gp.cast(pl.Float64).fill_null(0.0).alias(_GP),
            quantity.cast(pl.Float64).fill_null(0.0).alias(_QTY),
        )
    )
    return (
        with_first_failure(cells, checks)
        .filter(pl.col(REASON).is_not_null() | (pl.col(_GP) != 0) | (pl.col(_QTY) != 0))
        .select(
            ROW,
            _CUSTOMER,
            _INVOICE,
            _DATE,
            "__gs_v_rep",
            "__gs_v_branch",
            _SKU,
            _LINE_NO,
            _GP,
            _QTY,
            REASON,
            COLUMN,
            VALUE,
        )
    )


def plan_sales_log(
    table: RawTable,
    *,
    entries: Sequence[SkuEntry],
    formats: Sequence[str],
    load_date: dt.date,
) -> tuple[TablePlan, list[str]]:
    """The staging plan of a wide sales log and its unmapped columns."""
    unmapped = check_layout(table, entries)
    cust = parse_field(table, FIXED["customer_id"], "id", formats)
    date = parse_field(table, FIXED["order_date"], "date", formats)
    invoice = parse_field(table, FIXED["invoice_id"], "id", formats)
    rep = parse_field(table, FIXED["rep"], "text", formats)
    branch = parse_field(table, FIXED["branch"], "text", formats)
    cust_v = materialized(cust, _CUSTOMER, "id")
    date_v = materialized(date, _DATE, "date")
    row_checks: list[Check] = [ragged_check(table)] if table.format == "csv" else []
    for name, kind, field in (
        (FIXED["customer_id"], "id", cust_v),
        (FIXED["order_date"], "date", date_v),
    ):
        row_checks += field_checks(name, kind, True, field, skus=(), divisions=())
    row_checks.append(
        after_load_date(FIXED["order_date"], date_v.value, date_v.text, load_date)
    )
    # An empty InvoiceId gets a surrogate derived from the source row, so every line
    # of the row shares it and rows of one customer on one day stay distinct.
    surrogate = pl.format(
        "AUTO-{}-{}-{}", pl.col(_CUSTOMER), pl.col(_DATE).dt.strftime("%Y%m%d"), ROW
    )
    out = {c.name: f"__gs_v_{c.name}" for c in SALES_LINES}

    def staged(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.select(
            pl.col(ROW).cast(pl.Int64),
            *(
                (pl.col(out[c.name]) if c.name != "revenue" else pl.lit(None))
                .cast(c.dtype)
                .alias(c.name)
                for c in SALES_LINES
            ),
            REASON,
            COLUMN,
            VALUE,
        )

    def stage(batch: pl.LazyFrame) -> pl.LazyFrame:
        base = (
            batch.with_columns(
                cust.value.alias(_CUSTOMER),
                date.value.alias(_DATE),
                invoice.value.alias("__gs_invoice_raw"),
                rep.value.alias("__gs_v_rep"),
                branch.value.alias("__gs_v_branch"),
            )
            .with_columns(pl.coalesce("__gs_invoice_raw", surrogate).alias(_INVOICE))
            .pipe(with_first_failure, row_checks)
            .collect()  # one pass over the batch feeds every SKU's cells
            .lazy()
        )
        cells = [
            f
            for i, entry in enumerate(entries, start=1)
            if (f := _cell_frame(base, table, entry, i)) is not None
        ]
        # A rejected source row is staged once, with what could be parsed of it.
        rows = base.filter(pl.col(REASON).is_not_null()).select(
            ROW,
            _CUSTOMER,
            _INVOICE,
            _DATE,
            "__gs_v_rep",
            "__gs_v_branch",
            pl.lit(None, dtype=pl.String).alias(_SKU),
            pl.lit(None, dtype=pl.Int64).alias(_LINE_NO),
            pl.lit(None, dtype=pl.Float64).alias(_GP),
            pl.lit(None, dtype=pl.Float64).alias(_QTY),
            REASON,
            COLUMN,
            VALUE,
        )
        return staged(pl.concat([rows, *cells]))

    plan = TablePlan(
        table=table,
        columns=SALES_LINES,
        stage=stage,
        event_date="order_date",
        key=("invoice_id", "line_no"),
        duplicate_reason="duplicate_line_id",
        key_column=FIXED["invoice_id"],
        ignored_columns=[c for c in IGNORED if c in table.columns],
        identity=("source_row", "line_no"),
    )
    return plan, unmapped
