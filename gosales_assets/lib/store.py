"""The DuckDB curated store: connections with a bounded lock wait, atomic partition
replacement, and content checksums.

DuckDB allows one writing process per file. A writer that finds the file locked waits,
logging what it waits for, and after ``lock_timeout_seconds`` fails with an actionable
message; it never writes half a partition, because every partition replacement is one
transaction (``BEGIN; DELETE ...; INSERT ...; COMMIT``).
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

log = logging.getLogger("gosales.store")

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StoreLockedError(RuntimeError):
    """The DuckDB file stayed locked by another process past the configured timeout."""


def quote_ident(name: str) -> str:
    """Quote an SQL identifier; names from config or data never reach SQL unquoted."""
    return '"' + name.replace('"', '""') + '"'


def table_ref(table: str) -> str:
    """``schema.table`` -> quoted reference. Both parts must be plain identifiers."""
    parts = table.split(".")
    if len(parts) != 2 or not all(_IDENT.match(p) for p in parts):
        raise ValueError(f"table name must be 'schema.table' of identifiers: {table!r}")
    return ".".join(quote_ident(p) for p in parts)


def _is_lock_error(err: Exception) -> bool:
    text = str(err)
    return "lock" in text.lower() and (
        "Could not set lock" in text or "Conflicting" in text
    )


@dataclass(frozen=True)
class Store:
    """A DuckDB database file (the embedded default curated store)."""

    path: Path
    lock_timeout_seconds: float = 120.0
    threads: int = 2
    poll_seconds: float = 0.5

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_seconds
        announced = False
        while True:
            try:
                con = duckdb.connect(
                    str(self.path),
                    read_only=read_only,
                    config={
                        "threads": self.threads,
                        "autoinstall_known_extensions": False,
                    },
                )
                if announced:
                    log.info("store lock acquired path=%s", self.path)
                return con
            except duckdb.IOException as err:
                if not _is_lock_error(err):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreLockedError(
                        f"the DuckDB store {self.path} is locked by another process "
                        f"({err}). Waited {self.lock_timeout_seconds:.0f}s "
                        "(ingest.lock_timeout_seconds). Close analyst sessions on this "
                        "file (read the published copy instead) or wait for the other "
                        "run to finish, then retry."
                    ) from None
                if not announced:
                    log.warning(
                        "store locked, waiting path=%s timeout_s=%s holder=%s",
                        self.path,
                        self.lock_timeout_seconds,
                        str(err).split("\n")[0],
                    )
                    announced = True
                time.sleep(self.poll_seconds)

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self._open(read_only)
        try:
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write connection inside ``BEGIN``; commit on success, else rollback."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def query(
        self, sql: str, params: Sequence[Any] | None = None, read_only: bool = False
    ) -> pl.DataFrame:
        with self.connect(read_only=read_only) as con:
            return con.execute(sql, list(params or [])).pl()

    def table_exists(self, table: str) -> bool:
        schema, name = table.split(".")
        if not self.path.exists():
            return False
        with self.connect() as con:
            return _table_exists(con, schema, name)


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(row and row[0])


def ensure_table_like(
    con: duckdb.DuckDBPyConnection,
    table: str,
    select_sql: str,
    params: Sequence[Any] = (),
) -> None:
    """Create ``table`` (empty) with the columns of ``select_sql`` if it is missing."""
    schema, name = table.split(".")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
    if not _table_exists(con, schema, name):
        con.execute(
            f"CREATE TABLE {table_ref(table)} AS SELECT * FROM ({select_sql}) LIMIT 0",
            list(params),
        )


def _where(filters: Mapping[str, Any]) -> tuple[str, list[Any]]:
    if not filters:
        return "TRUE", []
    clauses = [f"{quote_ident(col)} = ?" for col in filters]
    return " AND ".join(clauses), list(filters.values())


def replace_partition_sql(
    con: duckdb.DuckDBPyConnection,
    table: str,
    select_sql: str,
    *,
    partition: Mapping[str, Any],
    order_by: Sequence[str],
    params: Sequence[Any] = (),
) -> int:
    """Replace the rows of ``partition`` in ``table`` by the rows of ``select_sql``.

    Runs on the caller's connection (inside its transaction). The select must yield the
    partition columns with the partition's values. Rows are inserted in ``order_by``
    order so the stored table is deterministic. Returns the number of rows inserted.
    """
    ensure_table_like(con, table, select_sql, params)
    where, where_params = _where(partition)
    con.execute(f"DELETE FROM {table_ref(table)} WHERE {where}", where_params)
    order = ", ".join(quote_ident(c) for c in order_by)
    con.execute(
        f"INSERT INTO {table_ref(table)} BY NAME "
        f"SELECT * FROM ({select_sql}) ORDER BY {order}",
        list(params),
    )
    row = con.execute(
        f"SELECT count(*) FROM {table_ref(table)} WHERE {where}", where_params
    ).fetchone()
    return int(row[0]) if row else 0


def replace_partition_frame(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    *,
    partition: Mapping[str, Any],
    order_by: Sequence[str],
) -> int:
    """Like :func:`replace_partition_sql` for a polars frame (empty allowed)."""
    view = f"_frame_{abs(hash((table, id(frame))))}"
    con.register(view, frame.to_arrow())
    try:
        return replace_partition_sql(
            con,
            table,
            f"SELECT * FROM {quote_ident(view)}",
            partition=partition,
            order_by=order_by,
        )
    finally:
        con.unregister(view)


def replace_table_frame(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    order_by: Sequence[str],
) -> int:
    """Replace a whole (unpartitioned) table by ``frame``, sorted by ``order_by``."""
    schema, _ = table.split(".")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
    view = f"_frame_{abs(hash((table, id(frame))))}"
    con.register(view, frame.to_arrow())
    try:
        order = ", ".join(quote_ident(c) for c in order_by)
        con.execute(
            f"CREATE OR REPLACE TABLE {table_ref(table)} AS "
            f"SELECT * FROM {quote_ident(view)} ORDER BY {order}"
        )
    finally:
        con.unregister(view)
    return frame.height


def partition_checksum(
    con: duckdb.DuckDBPyConnection, table: str, partition: Mapping[str, Any]
) -> str:
    """A content checksum of a partition: row count and the sum of DuckDB's 64-bit
    row hashes. Independent of row order; equal contents give equal checksums (for
    the pinned DuckDB version)."""
    where, params = _where(partition)
    row = con.execute(
        "SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) "
        f"FROM (SELECT * FROM {table_ref(table)} WHERE {where}) t",
        params,
    ).fetchone()
    count, total = (int(row[0]), int(row[1])) if row else (0, 0)
    return f"rows={count};hash={total:x}"


def column_schema(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """``[(column, duckdb type)]`` of a table, in table order."""
    schema, name = table.split(".")
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, name],
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]
