"""The star schema at a cutoff, built in DuckDB SQL from the validated ``raw`` tables.

Every star table is a snapshot *as of* cutoff ``C``: it holds only rows dated on or
before ``C`` (DATA_CONTRACT section 1), so an asset at ``C`` that reads the star
partition ``C``
cannot see the future. All tables of a cutoff are replaced in one transaction, and the
contract checks run inside that transaction, before ``COMMIT``: a failing blocking check
rolls everything back, so analysts never see a partition that broke its contract.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.checks import CheckOutcome
from gosales_assets.lib.store import (
    column_schema,
    partition_checksum,
    replace_partition_frame,
    replace_partition_sql,
)

log = logging.getLogger("gosales.star")

# table -> key columns (deterministic order and uniqueness), all after "cutoff"
STAR_TABLES: dict[str, tuple[str, ...]] = {
    "star.fact_transactions": ("invoice_id", "line_no"),
    "star.dim_customer": ("customer_id",),
    "star.dim_sku": ("sku",),
    "star.dim_target_sku": ("target", "sku"),
    "star.install_base": ("customer_id", "sku", "purchase_date", "source_row"),
    "star.contacts": ("customer_id", "contact_date", "source_row"),
    "star.open_deals": ("customer_id", "division", "opened_date", "source_row"),
    "star.quarantine": ("source_file", "source_row", "column"),
}

STAR_DESCRIPTIONS: dict[str, str] = {
    "star.fact_transactions": "One row per valid invoice line dated on or before the "
    "cutoff, with the SKU's division, family and sale type.",
    "star.dim_customer": "One row per account known at the cutoff (created on or "
    "before "
    "it, or with a line on or before it); orphans flagged; purchase history summary.",
    "star.dim_sku": "The SKU map in force at the cutoff.",
    "star.dim_target_sku": "Which SKUs make up each configured target.",
    "star.install_base": "Installed products purchased on or before the cutoff, with "
    "active/expired status at the cutoff.",
    "star.contacts": "Sales contacts dated on or before the cutoff.",
    "star.open_deals": "Deals opened on or before the cutoff; a close after the cutoff "
    "is not yet known, so such deals are open at the cutoff.",
    "star.quarantine": "Rejected input records (file, row, column, reason) relevant at "
    "the cutoff: undated ones and those dated on or before it.",
}


@dataclass
class StarBuild:
    cutoff: dt.date
    rows: dict[str, int] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    schemas: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    quarantine_by_reason: dict[str, int] = field(default_factory=dict)
    orphans: int = 0
    checks: list[CheckOutcome] = field(default_factory=list)


def sku_frame(cfg: GosalesConfig) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sku": [e.sku for e in cfg.sku_map.entries],
            "division": [e.division for e in cfg.sku_map.entries],
            "family": [e.family for e in cfg.sku_map.entries],
            "sale_type": [e.sale_type for e in cfg.sku_map.entries],
            "gp_column": [e.gp_column for e in cfg.sku_map.entries],
            "qty_column": [e.qty_column for e in cfg.sku_map.entries],
            "sku_position": list(range(1, len(cfg.sku_map.entries) + 1)),
        },
        schema_overrides={"sku_position": pl.Int64},
    )


def target_sku_frame(cfg: GosalesConfig) -> pl.DataFrame:
    rows = [
        (t.name, "division" if t.division else "sku_set", sku)
        for t in cfg.targets
        for sku in cfg.target_skus(t.name)
    ]
    return pl.DataFrame(
        rows,
        schema={"target": pl.String, "kind": pl.String, "sku": pl.String},
        orient="row",
    )


def _with_cutoff(frame: pl.DataFrame, cutoff: dt.date) -> pl.DataFrame:
    return frame.select(pl.lit(cutoff, dtype=pl.Date).alias("cutoff"), pl.all())


def build_star(
    con: duckdb.DuckDBPyConnection, cfg: GosalesConfig, cutoff: dt.date
) -> StarBuild:
    """Replace every star table's ``cutoff`` partition (on a transaction's connection).

    Reads ``raw.*`` (written by the ingest asset). Returns counts, checksums and checks;
    the caller commits only when no blocking check failed.
    """
    out = StarBuild(cutoff=cutoff)
    part = {"cutoff": cutoff}
    c = [cutoff]
    con.register("_sku_map", sku_frame(cfg).to_arrow())
    try:
        _build_tables(con, cfg, cutoff, out, part, c)
    finally:
        con.unregister("_sku_map")
    for table in STAR_TABLES:
        out.checksums[table] = partition_checksum(con, table, part)
        out.schemas[table] = column_schema(con, table)
    out.checks = star_checks(con, cutoff)
    return out


def _build_tables(
    con: duckdb.DuckDBPyConnection,
    cfg: GosalesConfig,
    cutoff: dt.date,
    out: StarBuild,
    part: dict[str, Any],
    c: list[Any],
) -> None:
    order = {t: ("cutoff", *k) for t, k in STAR_TABLES.items()}
    out.rows["star.dim_sku"] = replace_partition_frame(
        con,
        "star.dim_sku",
        _with_cutoff(sku_frame(cfg), cutoff),
        partition=part,
        order_by=order["star.dim_sku"],
    )
    out.rows["star.dim_target_sku"] = replace_partition_frame(
        con,
        "star.dim_target_sku",
        _with_cutoff(target_sku_frame(cfg), cutoff),
        partition=part,
        order_by=order["star.dim_target_sku"],
    )
    out.rows["star.fact_transactions"] = replace_partition_sql(
        con,
        "star.fact_transactions",
        """
        SELECT CAST(? AS DATE) AS cutoff, l.invoice_id, l.line_no, l.order_date,
               l.customer_id, l.sku, s.division, s.family, s.sale_type,
               l.quantity, l.gross_profit, l.revenue, l.rep, l.branch,
               l.source_file, l.source_row
        FROM raw.sales_lines l JOIN _sku_map s ON s.sku = l.sku
        WHERE l.order_date <= CAST(? AS DATE)
        """,
        partition=part,
        order_by=order["star.fact_transactions"],
        params=c + c,
    )
    out.rows["star.dim_customer"] = replace_partition_sql(
        con,
        "star.dim_customer",
        """
        WITH hist AS (
            SELECT customer_id, min(order_date) AS first_order_date,
                   max(order_date) AS last_order_date,
                   count(*) AS n_lines, count(DISTINCT invoice_id) AS n_invoices
            FROM star.fact_transactions WHERE cutoff = CAST(? AS DATE)
            GROUP BY customer_id
        ), known AS (
            SELECT * FROM raw.customers
            WHERE created_date IS NULL OR created_date <= CAST(? AS DATE)
               OR customer_id IN (SELECT customer_id FROM hist)
        )
        SELECT CAST(? AS DATE) AS cutoff,
               coalesce(k.customer_id, h.customer_id) AS customer_id,
               k.customer_name, k.industry, k.industry_sub, k.region, k.employees,
               k.created_date, k.customer_id IS NULL AS is_orphan,
               h.first_order_date, h.last_order_date,
               coalesce(h.n_lines, 0)::BIGINT AS n_lines,
               coalesce(h.n_invoices, 0)::BIGINT AS n_invoices
        FROM known k FULL OUTER JOIN hist h ON h.customer_id = k.customer_id
        """,
        partition=part,
        order_by=order["star.dim_customer"],
        params=c * 3,
    )
    out.rows["star.install_base"] = replace_partition_sql(
        con,
        "star.install_base",
        """
        SELECT CAST(? AS DATE) AS cutoff, a.customer_id, a.sku, s.division,
               a.purchase_date, a.expiration_date, a.quantity,
               (a.expiration_date IS NULL OR a.expiration_date > CAST(? AS DATE))
                   AS is_active,
               a.source_file, a.source_row
        FROM raw.assets a JOIN _sku_map s ON s.sku = a.sku
        WHERE a.purchase_date <= CAST(? AS DATE)
        """,
        partition=part,
        order_by=order["star.install_base"],
        params=c * 3,
    )
    out.rows["star.contacts"] = replace_partition_sql(
        con,
        "star.contacts",
        """
        SELECT CAST(? AS DATE) AS cutoff, customer_id, contact_date, division,
               source_file, source_row
        FROM raw.contacts WHERE contact_date <= CAST(? AS DATE)
        """,
        partition=part,
        order_by=order["star.contacts"],
        params=c * 2,
    )
    out.rows["star.open_deals"] = replace_partition_sql(
        con,
        "star.open_deals",
        """
        SELECT CAST(? AS DATE) AS cutoff, customer_id, division, opened_date,
               CASE WHEN closed_date <= CAST(? AS DATE) THEN closed_date END
                   AS closed_date,
               (closed_date IS NULL OR closed_date > CAST(? AS DATE)) AS is_open,
               source_file, source_row
        FROM raw.open_deals WHERE opened_date <= CAST(? AS DATE)
        """,
        partition=part,
        order_by=order["star.open_deals"],
        params=c * 4,
    )
    # Quarantine relevant at C: undated records and those dated on or before C, plus
    # valid raw lines whose SKU the current SKU map no longer knows (never dropped).
    out.rows["star.quarantine"] = replace_partition_sql(
        con,
        "star.quarantine",
        """
        SELECT CAST(? AS DATE) AS cutoff, source_file, source_row, "column", reason,
               value, customer_id, order_date, record
        FROM raw.quarantine
        WHERE order_date IS NULL OR order_date <= CAST(? AS DATE)
        UNION ALL
        SELECT CAST(? AS DATE), l.source_file, l.source_row, 'sku', 'unknown_sku',
               l.sku, l.customer_id, l.order_date,
               'SKU not in the current SKU map (it changed after ingestion)'
        FROM raw.sales_lines l ANTI JOIN _sku_map s ON s.sku = l.sku
        WHERE l.order_date <= CAST(? AS DATE)
        """,
        partition=part,
        order_by=order["star.quarantine"],
        params=c * 4,
    )
    reasons = con.execute(
        "SELECT reason, count(*) FROM star.quarantine WHERE cutoff = ? "
        "GROUP BY reason ORDER BY reason",
        c,
    ).fetchall()
    out.quarantine_by_reason = {str(r): int(n) for r, n in reasons}
    orphans = con.execute(
        "SELECT count(*) FROM star.dim_customer WHERE cutoff = ? AND is_orphan", c
    ).fetchone()
    out.orphans = int(orphans[0]) if orphans else 0
    log.info(
        "star built cutoff=%s lines=%s customers=%s orphans=%s quarantined=%s",
        cutoff,
        out.rows["star.fact_transactions"],
        out.rows["star.dim_customer"],
        out.orphans,
        sum(out.quarantine_by_reason.values()),
    )


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Any) -> Any:
    row = con.execute(sql, params).fetchone()
    return row[0] if row else None


# name -> (table, description, SQL counting violations; "?" is the cutoff).
# All are blocking ERROR checks, evaluated inside the write transaction.
STAR_CHECKS: dict[str, tuple[str, str, str]] = {
    "no_rows_after_cutoff": (
        "star.fact_transactions",
        "leakage: every line is dated on or before the cutoff",
        "SELECT count(*) FROM star.fact_transactions WHERE cutoff = $c "
        "AND order_date > cutoff",
    ),
    "line_key_unique": (
        "star.fact_transactions",
        "(invoice_id, line_no) identifies a line",
        "SELECT count(*) - count(DISTINCT (invoice_id, line_no)) "
        "FROM star.fact_transactions WHERE cutoff = $c",
    ),
    "required_not_null": (
        "star.fact_transactions",
        "required columns are never null",
        "SELECT count(*) FROM star.fact_transactions WHERE cutoff = $c AND ("
        "invoice_id IS NULL OR line_no IS NULL OR order_date IS NULL OR "
        "customer_id IS NULL OR sku IS NULL OR division IS NULL OR "
        "quantity IS NULL OR gross_profit IS NULL)",
    ),
    "customer_key_unique": (
        "star.dim_customer",
        "one row per customer_id",
        "SELECT count(*) - count(DISTINCT customer_id) FROM star.dim_customer "
        "WHERE cutoff = $c",
    ),
    "fact_customers_known": (
        "star.dim_customer",
        "every customer in the fact table is in dim_customer (orphans included)",
        "SELECT count(DISTINCT f.customer_id) FROM star.fact_transactions f "
        "ANTI JOIN (SELECT customer_id FROM star.dim_customer WHERE cutoff = $c) d "
        "ON d.customer_id = f.customer_id WHERE f.cutoff = $c",
    ),
    "no_purchases_after_cutoff": (
        "star.install_base",
        "leakage: installed products were purchased on or before the cutoff",
        "SELECT count(*) FROM star.install_base WHERE cutoff = $c "
        "AND purchase_date > cutoff",
    ),
    "no_contacts_after_cutoff": (
        "star.contacts",
        "leakage: contacts are dated on or before the cutoff",
        "SELECT count(*) FROM star.contacts WHERE cutoff = $c "
        "AND contact_date > cutoff",
    ),
    "no_deal_dates_after_cutoff": (
        "star.open_deals",
        "leakage: deal dates are on or before the cutoff",
        "SELECT count(*) FROM star.open_deals WHERE cutoff = $c "
        "AND (opened_date > cutoff OR closed_date > cutoff)",
    ),
}


def star_checks(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> list[CheckOutcome]:
    """Contract and leakage checks of the star partition at ``cutoff``."""
    out: list[CheckOutcome] = []
    for name, (table, desc, sql) in STAR_CHECKS.items():
        bad = int(_scalar(con, sql, {"c": cutoff}) or 0)
        meta: dict[str, Any] = {"violations": bad, "cutoff": str(cutoff)}
        out.append(CheckOutcome(table, name, bad == 0, "ERROR", desc, meta))
    latest = _scalar(
        con,
        "SELECT max(order_date) FROM star.fact_transactions WHERE cutoff = $c",
        {"c": cutoff},
    )
    out[0].metadata["latest_order_date"] = str(latest) if latest else "none"
    return out
