"""The DuckDB store: atomic partition replacement, lock wait, quoting."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import time

import polars as pl
import pytest

from gosales_assets.lib.store import (
    Store,
    StoreLockedError,
    partition_checksum,
    replace_partition_frame,
    table_ref,
)


def _frame(cutoff: dt.date, n: int) -> pl.DataFrame:
    return pl.DataFrame({"cutoff": [cutoff] * n, "k": list(range(n)), "v": [1.5] * n})


def test_replace_partition_only_touches_its_partition(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    a, b = dt.date(2024, 1, 31), dt.date(2024, 2, 29)
    with store.transaction() as con:
        replace_partition_frame(
            con, "x.t", _frame(a, 3), partition={"cutoff": a}, order_by=["cutoff", "k"]
        )
        replace_partition_frame(
            con, "x.t", _frame(b, 2), partition={"cutoff": b}, order_by=["cutoff", "k"]
        )
    with store.transaction() as con:
        n = replace_partition_frame(
            con, "x.t", _frame(a, 1), partition={"cutoff": a}, order_by=["cutoff", "k"]
        )
    assert n == 1
    got = store.query("SELECT cutoff, count(*) AS n FROM x.t GROUP BY 1 ORDER BY 1")
    assert got["n"].to_list() == [1, 2]


def test_empty_frame_creates_the_table(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    a = dt.date(2024, 1, 31)
    with store.transaction() as con:
        replace_partition_frame(
            con, "x.t", _frame(a, 0), partition={"cutoff": a}, order_by=["k"]
        )
    assert store.table_exists("x.t")


def test_failed_write_keeps_previous_partition(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    a = dt.date(2024, 1, 31)
    with store.transaction() as con:
        replace_partition_frame(
            con, "x.t", _frame(a, 3), partition={"cutoff": a}, order_by=["k"]
        )
    with pytest.raises(RuntimeError), store.transaction() as con:
        replace_partition_frame(
            con, "x.t", _frame(a, 1), partition={"cutoff": a}, order_by=["k"]
        )
        raise RuntimeError("crash mid-write")
    assert store.query("SELECT count(*) AS n FROM x.t")["n"][0] == 3


def test_checksum_reflects_content(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    a = dt.date(2024, 1, 31)
    with store.transaction() as con:
        replace_partition_frame(
            con, "x.t", _frame(a, 3), partition={"cutoff": a}, order_by=["k"]
        )
        first = partition_checksum(con, "x.t", {"cutoff": a})
        con.execute("UPDATE x.t SET v = 2 WHERE k = 1")
        second = partition_checksum(con, "x.t", {"cutoff": a})
    assert first != second and first.startswith("rows=3;hash=")


def test_checksum_equals_the_struct_row_hash_for_every_column_type(tmp_path):
    """Versions written before the variadic row hash stay comparable: the checksum is
    still the sum of ``hash(row as struct)``, NULLs and nested types included."""
    store = Store(tmp_path / "s.duckdb")
    with store.transaction() as con:
        con.execute("CREATE SCHEMA x")
        con.execute(
            "CREATE TABLE x.t AS SELECT DATE '2024-01-31' AS cutoff, i AS k, "
            "CASE WHEN i % 3 = 0 THEN NULL ELSE i * 1.5 END AS v, "
            "CAST(i AS VARCHAR) AS s, [i, i + 1] AS l, {'a': i} AS st, "
            "CAST(i AS FLOAT) AS f FROM range(7) r(i)"
        )
        got = partition_checksum(con, "x.t", {"cutoff": dt.date(2024, 1, 31)})
        row = con.execute(
            "SELECT count(*), sum(hash(t)::HUGEINT) FROM (SELECT * FROM x.t) t"
        ).fetchone()
    assert row is not None
    assert got == f"rows={row[0]};hash={int(row[1]):x}"
    assert got.startswith("rows=7;")


def test_lock_wait_times_out_with_actionable_message(tmp_path):
    path = tmp_path / "s.duckdb"
    Store(path).query("SELECT 1")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, time
            con = duckdb.connect({str(path)!r})
            print("locked", flush=True)
            time.sleep(30)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert (
            holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        )
        start = time.monotonic()
        locked = Store(path, lock_timeout_seconds=1.0, poll_seconds=0.2)
        with (
            pytest.raises(StoreLockedError, match="locked by another process"),
            locked.connect(),
        ):
            pass
        assert time.monotonic() - start >= 1.0
    finally:
        holder.kill()
        holder.wait()


def test_table_ref_refuses_injection():
    assert table_ref("star.fact_transactions") == '"star"."fact_transactions"'
    with pytest.raises(ValueError):
        table_ref('star.x"; DROP TABLE star.fact_transactions; --')


def test_memory_limit_is_applied_to_every_connection(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gosales_assets.lib.store import Store

    store = Store(tmp_path / "s.duckdb", memory_limit_mb=300)
    with store.connect() as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit.replace(" ", "") in {"300.0MB", "286.1MiB"}, limit
