"""Stage raw tables in DuckDB batch by batch, then finish the whole-file checks in SQL.

Each raw file is read in batches (``RawTable.batches``); its :class:`TablePlan` turns a
batch into staged rows, which are appended to a temporary table ``__gs_stage_<stem>``
of the caller's connection: ``source_row``, the contract columns, ``reason``,
``column``, ``value`` (the first failing check, null for a valid row) and ``record``
(the raw record as JSON, kept only where it can be needed: for a rejected row, or a
valid row whose key may repeat an earlier one). Memory therefore depends on the batch
size, not the file size; DuckDB keeps the staged rows within its memory limit and
spills the rest to its temporary directory.

Once every batch is staged, SQL does what needs the whole file:

- repeated keys: a valid row whose key (``(invoice_id, line_no)``, ``customer_id``)
  equals that of an earlier valid row (by source row) becomes ``duplicate_line_id`` /
  ``duplicate_customer_id``, the first is kept. A :class:`KeyFilter` (a one-hash Bloom
  filter over the batches) flags every row that *may* repeat an earlier key, so only
  those rows carry their JSON record and only they are compared in SQL;
- ``line_no`` of a ``sales_lines`` file without that column: the row order within the
  invoice over the whole file (rejected rows count, as in the reader's row order);
- the output views ``__gs_out_<raw table>`` and ``__gs_out_quarantine`` that the raw
  checks, the publication and :func:`gosales_assets.lib.ingest.read_raw_folder` read.

The result does not depend on the batch size: the same file staged with 7 lines per
batch or all at once gives identical tables (tested).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import polars as pl

from gosales_assets.lib.contract import QUARANTINE_SCHEMA, Column
from gosales_assets.lib.ingest_fields import COLUMN, REASON, VALUE
from gosales_assets.lib.ingest_io import ROW, record_json
from gosales_assets.lib.ingest_tables import TablePlan
from gosales_assets.lib.store import quote_ident

STAGE_PREFIX = "__gs_stage_"
OUT_PREFIX = "__gs_out_"
_SQL_TYPES: dict[type[pl.DataType], str] = {
    pl.String: "VARCHAR",
    pl.Int64: "BIGINT",
    pl.Float64: "DOUBLE",
    pl.Date: "DATE",
}
# Bits of the key filter per expected row, and its bounds (2**29 bits = 64 MiB).
_BITS_PER_ROW = 8
_MIN_BITS, _MAX_BITS = 2**16, 2**29


def sql_type(dtype: pl.DataType) -> str:
    return _SQL_TYPES[type(dtype)]


def sql_text(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


class KeyFilter:
    """Which rows may repeat the key of an earlier row? No false negatives.

    A bit array indexed by a 64-bit hash of the key (a Bloom filter with one hash).
    A row is flagged when its bit was set by an earlier batch, or when its hash
    repeats earlier in its own batch; then its bit is set. With ``_BITS_PER_ROW`` bits
    per expected row, few unique keys are flagged (about 1 in 8 at the expected
    count, far fewer for typical files whose rows are longer than the estimate).
    """

    def __init__(self, expected_rows: int) -> None:
        bits = _MIN_BITS
        while bits < expected_rows * _BITS_PER_ROW and bits < _MAX_BITS:
            bits *= 2
        self.mask = np.uint64(bits - 1)
        self.words = np.zeros(bits // 64, dtype=np.uint64)

    def flag(self, hashes: np.ndarray) -> np.ndarray:
        """Flags of ``hashes`` (uint64, in row order), then remember them."""
        if not len(hashes):
            return np.zeros(0, dtype=bool)
        slot = hashes & self.mask
        word = (slot >> np.uint64(6)).astype(np.intp)
        bit = np.left_shift(np.uint64(1), slot & np.uint64(63))
        seen = (self.words[word] & bit) != 0
        repeated = ~pl.Series(hashes).is_first_distinct().to_numpy()
        # Fancy-index assignment keeps one write per repeated word, so repeat until
        # every bit is in; at most 64 rounds (the bits of one word).
        todo = np.ones(len(word), dtype=bool)
        while todo.any():
            self.words[word[todo]] |= bit[todo]
            todo = (self.words[word] & bit) == 0
        return seen | repeated


@dataclass(frozen=True)
class StagedTable:
    plan: TablePlan
    name: str  # temporary table with the staged rows
    records: int  # records read
    blank_lines: int | None  # CSV: blank lines skipped
    flagged: int  # valid rows whose key may repeat an earlier one
    # Temporary table of the valid rows that repeat an earlier key (identity columns
    # and the key as text); None when there are none.
    duplicates: str | None = None

    def valid_rows(self) -> str:
        """SQL relation of the staged rows that are loaded."""
        if self.duplicates is None:
            return f"(SELECT * FROM {self.name} WHERE reason IS NULL)"
        using = ", ".join(quote_ident(c) for c in self.plan.identity)
        return (
            f"(SELECT s.* FROM {self.name} s ANTI JOIN {self.duplicates} "
            f"USING ({using}) WHERE s.reason IS NULL)"
        )

    def rejected_rows(self) -> str:
        """SQL relation of the quarantined staged rows (stage columns)."""
        rows = f"SELECT * FROM {self.name} WHERE reason IS NOT NULL"
        if self.duplicates is None:
            return f"({rows})"
        plan = self.plan
        assert plan.duplicate_reason and plan.key_column
        using = ", ".join(quote_ident(c) for c in plan.identity)
        return (
            f"({rows} UNION ALL SELECT s.* REPLACE ("
            f"{sql_text(plan.duplicate_reason)} AS reason, "
            f'{sql_text(plan.key_column)} AS "column", d.shown AS value) '
            f"FROM {self.name} s JOIN {self.duplicates} d USING ({using}))"
        )


def _stage_schema(plan: TablePlan) -> dict[str, pl.DataType]:
    return {
        "source_row": pl.Int64(),
        **{c.name: c.dtype for c in plan.columns},
        "reason": pl.String(),
        "column": pl.String(),
        "value": pl.String(),
        "record": pl.String(),
    }


def _append(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Append ``frame`` (columns in the table's order) to the temporary ``table``.

    Through a relation: ``register``/``unregister`` keeps every batch's Arrow memory
    alive until the connection closes (measured), which would defeat the batching.
    """
    con.from_arrow(frame.to_arrow()).insert_into(table)


def _staged_batch(
    plan: TablePlan, batch: pl.DataFrame, keys: KeyFilter | None
) -> tuple[pl.DataFrame, int]:
    """Staged rows of one batch with their JSON record where needed; flagged count."""
    rows = plan.stage(batch.lazy())
    if plan.identity != ("source_row",):  # wide log: cells come SKU by SKU
        rows = rows.sort([ROW if c == "source_row" else c for c in plan.identity])
    rows = rows.collect()
    valid = rows.get_column(REASON).is_null()
    need = ~valid
    flagged = 0
    if keys is not None and plan.key is not None:
        valid_np = valid.to_numpy()
        hashes = rows.filter(valid).select(plan.key).hash_rows().to_numpy()
        maybe = np.zeros(rows.height, dtype=bool)
        maybe[valid_np] = keys.flag(hashes)
        flagged = int(maybe.sum())
        need = need | pl.Series(maybe)
    wanted = rows.filter(need).select(pl.col(ROW).unique())
    records = batch.join(wanted, on=ROW, how="semi").select(
        ROW, record_json(plan.table).alias("record")
    )
    staged = (
        rows.with_columns(need.alias("__gs_need"))
        .join(records, on=ROW, how="left", maintain_order="left")
        .select(
            pl.col(ROW).alias("source_row"),
            *(c.name for c in plan.columns),
            pl.col(REASON).alias("reason"),
            pl.col(COLUMN).alias("column"),
            pl.col(VALUE).alias("value"),
            pl.when("__gs_need").then(pl.col("record")).alias("record"),
        )
    )
    return staged, flagged


def stage_table(
    con: duckdb.DuckDBPyConnection, plan: TablePlan, batch_lines: int
) -> StagedTable:
    """Stream ``plan.table`` into a temporary table, batch by batch.

    Polars errors while reading propagate (the caller names the file)."""
    bare = STAGE_PREFIX + plan.table.stem
    name = quote_ident(bare)
    schema = _stage_schema(plan)
    columns = ", ".join(f"{quote_ident(c)} {sql_type(t)}" for c, t in schema.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({columns})")
    keys = KeyFilter(plan.table.expected_rows()) if plan.key else None
    reader = plan.table.batches(batch_lines)
    flagged = 0
    for batch in reader:
        staged, n = _staged_batch(plan, batch, keys)
        flagged += n
        _append(con, bare, staged)
    table = StagedTable(plan, name, reader.records, reader.blank_lines, flagged)
    if plan.key is not None and flagged:
        table = _find_duplicates(con, table)
    return table


def _find_duplicates(con: duckdb.DuckDBPyConnection, table: StagedTable) -> StagedTable:
    """Collect the valid rows whose key repeats an earlier valid row (first kept).

    Only flagged rows (those that carry a record) can repeat a key; the first row of
    each of their keys is found with one aggregate, so the work stays linear even when
    a key repeats many times.
    """
    plan = table.plan
    assert plan.key is not None
    keys = ", ".join(quote_ident(k) for k in plan.key)
    shown = " || ',' || ".join(f"CAST(c.{quote_ident(k)} AS VARCHAR)" for k in plan.key)
    ident = ", ".join(f"c.{quote_ident(c)}" for c in plan.identity)
    name = quote_ident("__gs_dups_" + plan.table.stem)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {name} AS
        WITH cand AS (
            SELECT * FROM {table.name} WHERE reason IS NULL AND record IS NOT NULL
        ), first AS (
            SELECT {keys}, min(source_row) AS first_row
            FROM {table.name} SEMI JOIN cand USING ({keys})
            WHERE reason IS NULL GROUP BY {keys}
        )
        SELECT {ident}, {shown} AS shown
        FROM cand c JOIN first f USING ({keys})
        WHERE c.source_row > f.first_row
        """
    )
    row = con.execute(f"SELECT count(*) FROM {name}").fetchone()
    if not row or not row[0]:
        con.execute(f"DROP TABLE {name}")
        return table
    return dataclasses.replace(table, duplicates=name)


def _contract_select(columns: Sequence[Column], overrides: dict[str, str]) -> str:
    return ", ".join(
        f"CAST({overrides.get(c.name, quote_ident(c.name))} AS {sql_type(c.dtype)}) "
        f"AS {quote_ident(c.name)}"
        for c in columns
    )


def create_output_views(
    con: duckdb.DuckDBPyConnection,
    staged: dict[str, StagedTable],
    outputs: dict[str, tuple[str, tuple[Column, ...]]],
) -> dict[str, str]:
    """One temporary view per raw table (valid rows) and one for the quarantine.

    ``outputs`` maps raw table -> (staged stem or "" when the input is absent,
    contract columns). Returns raw table (and ``raw.quarantine``) -> view name.
    """
    views: dict[str, str] = {}
    for table, (stem, columns) in outputs.items():
        view = quote_ident(OUT_PREFIX + table.split(".")[1])
        if stem:
            item = staged[stem]
            source = item.valid_rows()
            if item.plan.derive_line_no:
                # counted over every record, rejected ones included
                source = (
                    "(SELECT * REPLACE (row_number() OVER (PARTITION BY invoice_id "
                    f"ORDER BY source_row) AS line_no) FROM {item.name}) "
                    "WHERE reason IS NULL"
                )
            body = (
                f"SELECT {_contract_select(columns, {})}, "
                f"CAST({sql_text(item.plan.table.file)} AS VARCHAR) AS source_file, "
                f"source_row FROM {source}"
            )
        else:
            nulls = {c.name: "NULL" for c in columns}
            body = (
                f"SELECT {_contract_select(columns, nulls)}, "
                "CAST(NULL AS VARCHAR) AS source_file, "
                "CAST(NULL AS BIGINT) AS source_row WHERE false"
            )
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {body}")
        views[table] = view
    parts = []
    for item in staged.values():
        event = quote_ident(item.plan.event_date) if item.plan.event_date else "NULL"
        parts.append(
            f"SELECT CAST({sql_text(item.plan.table.file)} AS VARCHAR) AS source_file, "
            'source_row, "column", reason, value, '
            f"CAST(customer_id AS VARCHAR) AS customer_id, "
            f"CAST({event} AS DATE) AS order_date, record "
            f"FROM {item.rejected_rows()}"
        )
    if not parts:
        parts.append(
            "SELECT "
            + ", ".join(
                f"CAST(NULL AS {sql_type(t)}) AS {quote_ident(c)}"
                for c, t in QUARANTINE_SCHEMA.items()
            )
            + " WHERE false"
        )
    view = quote_ident(OUT_PREFIX + "quarantine")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {' UNION ALL '.join(parts)}")
    views["raw.quarantine"] = view
    return views


def staged_counts(con: duckdb.DuckDBPyConnection, item: StagedTable) -> dict[str, Any]:
    """Valid rows, distinct valid source rows and rejections by reason."""
    row = con.execute(
        f"SELECT count(*), count(DISTINCT source_row) FROM {item.valid_rows()}"
    ).fetchone()
    reasons = con.execute(
        f"SELECT reason, count(*) FROM {item.rejected_rows()} "
        "GROUP BY reason ORDER BY reason"
    ).fetchall()
    return {
        "rows": int(row[0]) if row else 0,
        "source_rows": int(row[1]) if row else 0,
        "quarantined": {str(r): int(n) for r, n in reasons},
    }


def orphan_count(
    con: duckdb.DuckDBPyConnection, sales: StagedTable, customers: StagedTable
) -> int:
    """Distinct customers of valid sales lines without a valid customer row."""
    row = con.execute(
        "SELECT count(*) FROM (SELECT DISTINCT customer_id FROM "
        f"{sales.valid_rows()}) l ANTI JOIN (SELECT customer_id FROM "
        f"{customers.valid_rows()}) c USING (customer_id)"
    ).fetchone()
    return int(row[0]) if row else 0


def drop_staging(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> None:
    """Drop the temporary views and tables of a load (idempotent)."""
    for name in names:
        kind = "VIEW" if name.strip('"').startswith(OUT_PREFIX) else "TABLE"
        con.execute(f"DROP {kind} IF EXISTS {name}")
