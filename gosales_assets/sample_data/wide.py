"""The wide "Sales Log" layout (DATA_CONTRACT section 2.4): one row per invoice.

:func:`lines_to_wide` pivots long lines into the layout; :func:`wide_csv_frame` turns
the GP cells of some rows into ERP-style currency text (``$1,234.50``, ``(2,000.00)``)
for the CSV export, which the reader accepts.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from gosales_assets.config import GosalesConfig

FIXED_COLUMNS = ("Rec Date", "CustomerId", "Customer", "InvoiceId", "Branch", "Rep")
CURRENCY_ROW_SHARE = 0.35


def lines_to_wide(
    lines: pl.DataFrame, cfg: GosalesConfig, customers: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per invoice, sorted by date and invoice id: header columns, then per SKU
    (map order) its GP and quantity columns, empty when the SKU is not on the invoice.
    ``Division`` is the division of the invoice's largest line by absolute GP.
    ``customers`` (``customer_id``, ``customer_name``) fills ``Customer``; revenue has
    no place in this layout.

    ``lines`` must hold at most one line per (invoice, SKU) and one date per invoice,
    as the generator writes them."""
    entries = cfg.sku_map.entries
    ordered = lines.sort("order_date", "invoice_id", "line_no")
    first = ordered["invoice_id"].is_first_distinct()
    changes = (ordered["invoice_id"] != ordered["invoice_id"].shift(1)).sum() + 1
    if ordered.height and changes != first.sum():
        raise ValueError("an invoice spans several order dates")
    invoice = first.cast(pl.Int64).cum_sum().to_numpy() - 1
    division = pl.col("sku").replace_strict(
        {e.sku: e.division for e in entries}, return_dtype=pl.String
    )
    largest = division.sort_by(
        pl.col("gross_profit").abs(), pl.col("line_no"), descending=[True, False]
    ).first()
    header = ordered.filter(first).select(
        pl.col("order_date").alias("Rec Date"),
        pl.col("customer_id").alias("CustomerId"),
        pl.col("invoice_id").alias("InvoiceId"),
        pl.col("branch").alias("Branch"),
        pl.col("rep").alias("Rep"),
    )
    header = header.with_columns(
        ordered.group_by("invoice_id", maintain_order=True).agg(
            largest.alias("Division")
        )["Division"]
    )
    if customers is not None:
        names = customers.select(
            pl.col("customer_id").alias("CustomerId"),
            pl.col("customer_name").alias("Customer"),
        )
        header = header.join(names, on="CustomerId", how="left", maintain_order="left")
    else:
        header = header.with_columns(pl.lit(None, dtype=pl.String).alias("Customer"))
    position = ordered["sku"].replace_strict(
        {e.sku: i for i, e in enumerate(entries)}, return_dtype=pl.Int64
    )
    gp = ordered["gross_profit"].to_numpy()
    qty = ordered["quantity"].to_numpy()
    cells: list[pl.Series] = []
    for i, e in enumerate(entries):  # scatter each SKU's lines into its two columns
        on = (position == i).to_numpy()
        for name, values in ((e.gp_column, gp), (e.qty_column, qty)):
            column = np.full(header.height, np.nan)
            column[invoice[on]] = values[on]
            cells.append(pl.Series(name, column, nan_to_null=True))
    return header.select(*FIXED_COLUMNS, "Division").with_columns(cells)


def _group3(x: pl.Expr) -> pl.Expr:
    return x.cast(pl.String).str.zfill(3)


def money_text(cents: pl.Expr, currency: pl.Expr) -> pl.Expr:
    """GP cents as text: ``1234.50`` / ``-2000.00``, or with ``currency`` true
    ``$1,234.50`` / ``(2,000.00)``."""
    whole = cents.abs() // 100
    frac = (cents.abs() % 100).cast(pl.String).str.zfill(2)
    g0, g1 = whole % 1000, (whole // 1000) % 1000
    g2, g3 = (whole // 1_000_000) % 1000, whole // 1_000_000_000
    grouped = (
        pl.when(whole < 1000)
        .then(g0.cast(pl.String))
        .when(whole < 1_000_000)
        .then(pl.concat_str(g1.cast(pl.String), pl.lit(","), _group3(g0)))
        .when(whole < 1_000_000_000)
        .then(
            pl.concat_str(
                g2.cast(pl.String), pl.lit(","), _group3(g1), pl.lit(","), _group3(g0)
            )
        )
        .otherwise(
            pl.concat_str(
                g3.cast(pl.String), pl.lit(","), _group3(g2), pl.lit(","),
                _group3(g1), pl.lit(","), _group3(g0),
            )
        )
    )  # fmt: skip
    negative = cents < 0
    fancy = (
        pl.when(negative)
        .then(pl.concat_str(pl.lit("("), grouped, pl.lit("."), frac, pl.lit(")")))
        .otherwise(pl.concat_str(pl.lit("$"), grouped, pl.lit("."), frac))
    )
    plain = pl.concat_str(
        pl.when(negative).then(pl.lit("-")).otherwise(pl.lit("")),
        whole.cast(pl.String),
        pl.lit("."),
        frac,
    )
    return pl.when(currency).then(fancy).otherwise(plain)


def wide_csv_frame(
    wide: pl.DataFrame, cfg: GosalesConfig, rng: np.random.Generator
) -> pl.DataFrame:
    """The wide log as the CSV export writes it: GP as text (currency text on a share of
    rows), quantities as integers."""
    currency = rng.random(wide.height) < CURRENCY_ROW_SHARE
    columns = []
    for e in cfg.sku_map.entries:
        # Format only the filled cells: most cells of a wide log are empty.
        gp = wide[e.gp_column]
        filled = gp.is_not_null().arg_true()
        cells = pl.DataFrame(
            {
                "cents": (gp.gather(filled) * 100).round().cast(pl.Int64),
                "currency": currency[filled.to_numpy()],
            }
        ).select(money_text(pl.col("cents"), pl.col("currency")))
        text = pl.repeat(None, wide.height, dtype=pl.String, eager=True)
        columns.append(text.scatter(filled, cells.to_series()).alias(e.gp_column))
        columns.append(wide[e.qty_column].round().cast(pl.Int64))
    return wide.with_columns(columns)
