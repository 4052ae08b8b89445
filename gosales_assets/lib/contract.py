"""Column contracts of the raw inputs and curated tables (DATA_CONTRACT 2 and 5).

One place names every column, its logical type and whether it is required, so readers,
the sample-data generator, checks and docs agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    required: bool
    description: str


SALES_LINES: tuple[Column, ...] = (
    Column("invoice_id", pl.String(), True, "invoice or order document id"),
    Column("line_no", pl.Int64(), False, "line number within the invoice"),
    Column("order_date", pl.Date(), True, "revenue recognition date"),
    Column("customer_id", pl.String(), True, "account id (opaque string)"),
    Column("sku", pl.String(), True, "product code, mapped by the SKU map"),
    Column("quantity", pl.Float64(), True, "units; negative for a return"),
    Column("gross_profit", pl.Float64(), True, "GP; negative for a credit or return"),
    Column("revenue", pl.Float64(), False, "invoiced amount"),
    Column("rep", pl.String(), False, "selling rep"),
    Column("branch", pl.String(), False, "selling branch"),
)

CUSTOMERS: tuple[Column, ...] = (
    Column("customer_id", pl.String(), True, "account id"),
    Column("customer_name", pl.String(), False, "display name"),
    Column("industry", pl.String(), False, "industry label"),
    Column("industry_sub", pl.String(), False, "sub-industry label"),
    Column("region", pl.String(), False, "sales region or territory"),
    Column("employees", pl.Int64(), False, "headcount"),
    Column("created_date", pl.Date(), False, "date the account was created"),
)

ASSETS: tuple[Column, ...] = (
    Column("customer_id", pl.String(), True, "account id"),
    Column("sku", pl.String(), True, "installed product"),
    Column("purchase_date", pl.Date(), True, "purchase date"),
    Column("expiration_date", pl.Date(), False, "subscription or support expiry"),
    Column("quantity", pl.Float64(), False, "installed units"),
)

CONTACTS: tuple[Column, ...] = (
    Column("customer_id", pl.String(), True, "account id"),
    Column("contact_date", pl.Date(), True, "date of the sales contact"),
    Column("division", pl.String(), False, "division discussed (may be empty)"),
)

OPEN_DEALS: tuple[Column, ...] = (
    Column("customer_id", pl.String(), True, "account id"),
    Column("division", pl.String(), True, "division of the deal"),
    Column("opened_date", pl.Date(), True, "date the deal was opened"),
    Column("closed_date", pl.Date(), False, "date closed; empty while open"),
)

# Fixed (non-product) columns of the wide "Sales Log" layout, DATA_CONTRACT section 2.4.
SALES_LOG_FIXED: dict[str, str] = {
    "Rec Date": "order_date",
    "CustomerId": "customer_id",
    "Customer": "customer_name",
    "InvoiceId": "invoice_id",
    "Branch": "branch",
    "Rep": "rep",
    "Division": "division",
}

RAW_STEMS: dict[str, tuple[Column, ...]] = {
    "sales_lines": SALES_LINES,
    "customers": CUSTOMERS,
    "assets": ASSETS,
    "contacts": CONTACTS,
    "open_deals": OPEN_DEALS,
}
REQUIRED_STEMS = ("customers",)  # plus exactly one of sales_lines / sales_log
OPTIONAL_STEMS = ("assets", "contacts", "open_deals")

# Quarantine rows: one per rejected source record (or wide-log product cell).
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "source_row": pl.Int64(),
    "column": pl.String(),
    "reason": pl.String(),
    "value": pl.String(),
    "customer_id": pl.String(),
    "order_date": pl.Date(),
    "record": pl.String(),
}

QUARANTINE_REASONS: dict[str, str] = {
    "empty_id": "a required id (customer, invoice or SKU) is empty",
    "missing_value": "a required value is empty",
    "unparseable_date": "a date is not in a configured format",
    "unparseable_number": "a number cannot be read (currency text is accepted)",
    "unknown_sku": "the SKU is not in the SKU map",
    "duplicate_line_id": "(invoice_id, line_no) repeats an earlier row (first kept)",
    "duplicate_customer_id": "customer_id repeats an earlier row; the first is kept",
    "date_after_load_date": "the date is after the load date",
    "ragged_row": "the row has more or fewer fields than the header",
    "unknown_division": "a division that the SKU map does not know",
    "alias_conflict": "a SKU's GP column and its alias both carry different values",
}


def schema_of(columns: tuple[Column, ...]) -> dict[str, pl.DataType]:
    return {c.name: c.dtype for c in columns}


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)
