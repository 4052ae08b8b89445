"""Building the audit's scratch stores: raw data truncated at or extended past the
cutoff, their features and labels, and per-partition checksums to compare."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.audit.report import (
    APPENDED_SOURCE,
    BASE_DB,
    COMPARED_SCHEMAS,
    NEW_ACCOUNT_PREFIX,
    UNCOMPARED,
    AuditCheck,
)
from gosales_assets.lib.checks import BlockingCheckError
from gosales_assets.lib.feature_store import (
    read_base,
    read_snapshot,
    write_base,
    write_matrix,
)
from gosales_assets.lib.features import (
    build_als,
    build_customer_base,
    build_target_features,
)
from gosales_assets.lib.ingest import staged_raw_folder
from gosales_assets.lib.labels import build_labels
from gosales_assets.lib.raw_store import (
    LOAD_REPORT_TABLE,
    QUARANTINE_TABLE,
    RAW_TABLES,
    publish_raw,
    raw_checks,
)
from gosales_assets.lib.star import build_star
from gosales_assets.lib.store import (
    Store,
    partition_checksum,
    quote_ident,
    replace_partition_frame,
    table_ref,
)
from gosales_assets.lib.timeutil import window_end


def ingest(store: Store, raw_dir: Path, cfg: GosalesConfig) -> dt.date | None:
    """Read and validate the raw folder into ``store`` exactly as the raw asset does
    (a refused input or a failed blocking check raises). Returns the newest line date.
    """
    load_date = cfg.ingest.effective_load_date()
    with store.transaction() as con, staged_raw_folder(con, raw_dir, cfg) as load:
        outcomes = raw_checks(con, load.views, load_date)
        if any(o.blocks for o in outcomes):
            raise BlockingCheckError(outcomes)
        publish_raw(con, load.views, load.report)
    with store.connect() as con:
        row = con.execute("SELECT max(order_date) FROM raw.sales_lines").fetchone()
    return row[0] if row else None


@contextlib.contextmanager
def _attached(store: Store, base: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A write transaction on ``store`` with the base store attached read-only."""
    with store.connect() as con:
        con.execute(f"ATTACH {_sql_str(str(base))} AS {BASE_DB} (READ_ONLY)")
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.execute(f"DETACH {BASE_DB}")


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _copy_raw(con: duckdb.DuckDBPyConnection, filters: dict[str, str]) -> None:
    """``raw.*`` of the base store into ``con``, each table filtered by ``filters``
    (SQL over the base table's columns; missing = everything)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for table in [*RAW_TABLES, QUARANTINE_TABLE, LOAD_REPORT_TABLE]:
        schema, name = table.split(".")
        src = f"{BASE_DB}.{quote_ident(schema)}.{quote_ident(name)}"
        where = filters.get(table, "TRUE")
        con.execute(
            f"CREATE OR REPLACE TABLE {table_ref(table)} AS "
            f"SELECT * FROM {src} WHERE {where}"
        )


def truncated_raw(store: Store, base: Path, through: dt.date) -> None:
    """The base store's raw data as it would have been with nothing dated after
    ``through``."""
    d = f"DATE '{through.isoformat()}'"
    with _attached(store, base) as con:
        _copy_raw(
            con,
            {
                "raw.sales_lines": f"order_date <= {d}",
                "raw.assets": f"purchase_date <= {d}",
                "raw.contacts": f"contact_date <= {d}",
                "raw.open_deals": f"opened_date <= {d}",
                "raw.quarantine": f"order_date IS NULL OR order_date <= {d}",
                "raw.customers": f"created_date IS NULL OR created_date <= {d} OR "
                f"customer_id IN (SELECT customer_id FROM {BASE_DB}.raw.sales_lines "
                f"WHERE order_date <= {d})",
            },
        )
        con.execute(
            f"UPDATE raw.open_deals SET closed_date = NULL WHERE closed_date > {d}"
        )


def extended_raw(
    store: Store, base: Path, dates: Sequence[dt.date], rows: int, cutoff: dt.date
) -> dict[str, int]:
    """The base store's raw data plus rows dated after ``cutoff``: for each of
    ``dates``, copies of the ``rows`` newest lines on or before ``cutoff`` (a tenth of
    them for new accounts created on that date) and of the newest assets, contacts and
    deals, re-dated; and, at the first date, every deal open at ``cutoff`` closed.
    Returns the number of rows appended per table."""
    c = f"DATE '{cutoff.isoformat()}'"
    added: dict[str, int] = {}

    def count(table: str, sql: str, params: list[Any]) -> None:
        before = _rows(con, table)
        con.execute(sql, params)
        added[table] = added.get(table, 0) + _rows(con, table) - before

    with _attached(store, base) as con:
        _copy_raw(con, {})
        offset = _max_source_row(con)
        for i, day in enumerate(dates, start=1):
            suffix = f"-AUDIT{i}"
            new = f"{NEW_ACCOUNT_PREFIX}{i}-"
            picked = (
                f"SELECT *, row_number() OVER (ORDER BY order_date DESC, invoice_id, "
                f"line_no) AS _k FROM {BASE_DB}.raw.sales_lines "
                f"WHERE order_date <= {c} ORDER BY _k LIMIT {int(rows)}"
            )
            count(
                "raw.sales_lines",
                f"""INSERT INTO raw.sales_lines BY NAME
                SELECT * EXCLUDE (_k) REPLACE (
                    invoice_id || ? AS invoice_id, CAST(? AS DATE) AS order_date,
                    CASE WHEN _k % 10 = 0 THEN ? || customer_id ELSE customer_id END
                        AS customer_id,
                    ? AS source_file, source_row + ? AS source_row)
                FROM ({picked})""",
                [suffix, day, new, APPENDED_SOURCE, offset * i],
            )
            count(
                "raw.customers",
                f"""INSERT INTO raw.customers BY NAME
                SELECT * REPLACE (
                    ? || customer_id AS customer_id, CAST(? AS DATE) AS created_date,
                    ? AS source_file, source_row + ? AS source_row)
                FROM {BASE_DB}.raw.customers
                WHERE customer_id IN (SELECT customer_id FROM ({picked}) p
                                      WHERE p._k % 10 = 0)""",
                [new, day, APPENDED_SOURCE, offset * i],
            )
            for table, column in (
                ("raw.assets", "purchase_date"),
                ("raw.contacts", "contact_date"),
                ("raw.open_deals", "opened_date"),
            ):
                extra, params = "", [day]
                if table == "raw.assets":  # the same term, from the new date
                    extra = (
                        ", CAST(? AS DATE) + "
                        "CAST(expiration_date - purchase_date AS INTEGER) "
                        "AS expiration_date"
                    )
                    params.append(day)
                elif table == "raw.open_deals":  # open when it is opened
                    extra = ", CAST(NULL AS DATE) AS closed_date"
                count(
                    table,
                    f"""INSERT INTO {table_ref(table)} BY NAME
                    SELECT * REPLACE (CAST(? AS DATE) AS {quote_ident(column)}{extra},
                        ? AS source_file, source_row + ? AS source_row)
                    FROM {BASE_DB}.{table_ref(table)} WHERE {quote_ident(column)} <= {c}
                    ORDER BY {quote_ident(column)} DESC, customer_id, source_row
                    LIMIT {int(rows)}""",
                    [*params, APPENDED_SOURCE, offset * i],
                )
        first = f"DATE '{dates[0].isoformat()}'"
        before = _rows(con, "raw.open_deals", f"closed_date = {first}")
        con.execute(
            f"UPDATE raw.open_deals SET closed_date = {first} "
            f"WHERE opened_date <= {c} AND (closed_date IS NULL OR closed_date > {c})"
        )
        added["closed_deals"] = _rows(con, "raw.open_deals", f"closed_date = {first}")
        added["closed_deals"] -= before
    return added


def _rows(con: duckdb.DuckDBPyConnection, table: str, where: str = "TRUE") -> int:
    row = con.execute(f"SELECT count(*) FROM {table_ref(table)} WHERE {where}")
    got = row.fetchone()
    return int(got[0]) if got else 0


def _max_source_row(con: duckdb.DuckDBPyConnection) -> int:
    top = 0
    for table in RAW_TABLES:
        got = con.execute(
            f"SELECT coalesce(max(source_row), 0) FROM {table_ref(table)}"
        ).fetchone()
        top = max(top, int(got[0]) if got else 0)
    return top + 1


def build_features(
    store: Store, cfg: GosalesConfig, cutoff: dt.date, targets: Sequence[str]
) -> None:
    """Star, base features, ALS and the feature matrices of ``targets`` at ``cutoff``,
    with the pipeline's own functions, each step in its own transaction."""
    with store.transaction() as con:
        build_star(con, cfg, cutoff)
    with store.transaction() as con:
        snap = read_snapshot(con, cutoff)
        base = build_customer_base(snap, cfg)
        als = build_als(snap, cfg, base=base)
        write_base(con, cutoff, base, als)
    with store.transaction() as con:
        stored_base, stored_als = read_base(con, cutoff)
        for target in targets:
            result = build_target_features(snap, stored_base, stored_als, target, cfg)
            write_matrix(con, cutoff, target, result)


def build_labels_at(
    store: Store, cfg: GosalesConfig, cutoff: dt.date, targets: Sequence[str]
) -> None:
    """Labels of ``targets`` at ``cutoff`` (the star at ``cutoff`` must exist) from the
    same inputs the labels asset reads."""
    lab = cfg.labels
    with store.transaction() as con:
        population = con.execute(
            "SELECT customer_id FROM star.dim_customer WHERE cutoff = ?", [cutoff]
        ).pl()
        history = con.execute(
            "SELECT customer_id, sku, max(order_date) AS order_date "
            "FROM star.fact_transactions WHERE cutoff = ? GROUP BY ALL",
            [cutoff],
        ).pl()
        for target in targets:
            skus = cfg.target_skus(target)
            months = cfg.window_months(target)
            window = con.execute(
                "SELECT customer_id, order_date, sku, gross_profit "
                "FROM raw.sales_lines WHERE order_date > ? AND order_date <= ? "
                "AND list_contains(?, sku)",
                [cutoff, window_end(cutoff, months), skus],
            ).pl()
            result = build_labels(
                population,
                history,
                window,
                skus=skus,
                cutoff=cutoff,
                months=months,
                threshold=lab.gp_min_threshold,
                mode=lab.mode,
                denylist=lab.denylist_skus,
            )
            frame = result.frame.select(
                pl.lit(cutoff, dtype=pl.Date).alias("cutoff"),
                pl.lit(target).alias("division"),
                pl.all(),
            )
            replace_partition_frame(
                con,
                "labels.labels",
                frame,
                partition={"cutoff": cutoff, "division": target},
                order_by=("cutoff", "division", "customer_id"),
            )


def partition_checksums(
    store: Store, cutoff: dt.date, schemas: Sequence[str] = COMPARED_SCHEMAS
) -> dict[str, str]:
    """``{table or table[division]: checksum}`` of every table of ``schemas`` with a
    ``cutoff`` column, at ``cutoff`` (per division where the table has one), except
    :data:`UNCOMPARED`."""
    out: dict[str, str] = {}
    with store.connect(read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name, "
            "bool_or(column_name = 'division') AS has_division "
            "FROM information_schema.columns "
            "WHERE table_catalog = current_database() "
            "AND list_contains(?, table_schema) "
            "GROUP BY ALL HAVING bool_or(column_name = 'cutoff') ORDER BY 1, 2",
            [list(schemas)],
        ).fetchall()
        for schema, name, has_division in tables:
            table = f"{schema}.{name}"
            if table in UNCOMPARED:
                continue
            if not has_division:
                out[table] = partition_checksum(con, table, {"cutoff": cutoff})
                continue
            divisions = con.execute(
                f"SELECT DISTINCT division FROM {table_ref(table)} WHERE cutoff = ? "
                "ORDER BY 1",
                [cutoff],
            ).fetchall()
            for (division,) in divisions:
                part = {"cutoff": cutoff, "division": division}
                out[f"{table}[{division}]"] = partition_checksum(con, table, part)
    return out


def compare_checksums(
    name: str, left: dict[str, str], right: dict[str, str], what: str
) -> AuditCheck:
    keys = sorted(set(left) | set(right))
    differ = [k for k in keys if left.get(k) != right.get(k)]
    if differ:
        return AuditCheck(
            name,
            "fail",
            f"{len(differ)} of {len(keys)} partitions differ: "
            + ", ".join(differ[:5])
            + (" ..." if len(differ) > 5 else ""),
            {
                "compared": what,
                "differing": {
                    k: {"truncated": left.get(k), "extended": right.get(k)}
                    for k in differ
                },
                "equal": [k for k in keys if k not in differ],
            },
        )
    return AuditCheck(
        name,
        "pass",
        f"{len(keys)} partitions byte-identical",
        {"compared": what, "checksums": left},
    )
