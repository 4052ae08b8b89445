"""The published analyst copy: atomic, consistent, verified, and never blocked by (or
blocking) an analyst session on the previous copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from gosales_assets.lib.publish import PublishError, publish_store, table_checksums
from gosales_assets.lib.store import Store, StoreLockedError, partition_checksum

# An analyst in another process: opens the published copy read-only, reports what it
# sees, then waits for a line on stdin and reports again on the same connection.
ANALYST = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    count = lambda: con.execute("SELECT count(*) FROM star.fact").fetchone()[0]
    print(count(), flush=True)
    sys.stdin.readline()
    print(count(), flush=True)
    """
)
# A writer in another process: holds the live store open read-write until stdin closes.
WRITER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    sys.stdin.readline()
    """
)


def _store(tmp_path: Path, rows: int = 3) -> Store:
    store = Store(tmp_path / "home" / "gosales.duckdb", lock_timeout_seconds=5)
    with store.transaction() as con:
        con.execute("CREATE SCHEMA star")
        con.execute(
            "CREATE TABLE star.fact AS SELECT range AS id, "
            "DATE '2024-06-30' AS cutoff, [range, 2] AS tags, "
            "{'gp': range * 1.5} AS info FROM range(?)",
            [rows],
        )
        con.execute("CREATE SCHEMA scoring")
        con.execute("CREATE TABLE scoring.empty (customer_id VARCHAR, p DOUBLE)")
        con.execute("CREATE VIEW star.recent AS SELECT * FROM star.fact WHERE id > 0")
    return store


def _spawn(script: str, path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc


def test_copy_equals_the_source(tmp_path):
    store = _store(tmp_path)
    dest = tmp_path / "home" / "published" / "gosales.duckdb"
    report = publish_store(store, dest)
    assert report.path == dest.resolve() and dest.is_file()
    with store.connect(read_only=True) as live:
        expected = {t: partition_checksum(live, t, {}) for t in report.tables}
    assert sorted(expected) == ["scoring.empty", "star.fact"]
    with duckdb.connect(str(dest), read_only=True) as copy:
        assert table_checksums(copy) == expected == report.checksums
        assert copy.execute("SELECT count(*) FROM star.recent").fetchone() == (2,)
    assert oct(dest.stat().st_mode & 0o777) == "0o444"
    assert sorted(p.name for p in dest.parent.iterdir()) == [
        ".gosales.duckdb.verified",  # the stamp of the copy in place, still valid
        "gosales.duckdb",
    ]


def test_excluded_tables_are_left_out_and_the_rest_verified(tmp_path):
    store = _store(tmp_path)
    with store.transaction() as con:
        con.execute("CREATE SCHEMA features")
        con.execute("CREATE TABLE features.wide AS SELECT range AS k FROM range(5)")
    dest = tmp_path / "published" / "gosales.duckdb"
    report = publish_store(
        store, dest, exclude=["features.wide", "features.not_built_yet"]
    )
    assert report.excluded == ["features.wide"]  # names the store lacks are ignored
    assert report.tables == ["scoring.empty", "star.fact"]
    with store.connect(read_only=True) as live:
        expected = {t: partition_checksum(live, t, {}) for t in report.tables}
    with duckdb.connect(str(dest), read_only=True) as copy:
        assert table_checksums(copy) == expected == report.checksums
        assert copy.execute("SELECT count(*) FROM star.recent").fetchone() == (2,)
        # the rows keep the source's order (tables are written sorted)
        assert copy.execute("SELECT list(id) FROM star.fact").fetchone() == ([0, 1, 2],)


def test_publishing_while_an_analyst_holds_the_copy_open(tmp_path):
    store = _store(tmp_path, rows=3)
    dest = tmp_path / "published" / "gosales.duckdb"
    publish_store(store, dest)
    analyst = _spawn(ANALYST, dest)
    try:
        assert analyst.stdout.readline().strip() == "3"
        with store.transaction() as con:
            con.execute(
                "INSERT INTO star.fact SELECT 9, cutoff, tags, info FROM star.fact"
            )
        report = publish_store(store, dest)  # the analyst's read lock does not block it
        assert report.checksums["star.fact"].startswith("rows=6;")
        with duckdb.connect(str(dest), read_only=True) as fresh:
            assert fresh.execute("SELECT count(*) FROM star.fact").fetchone() == (6,)
        out, _ = analyst.communicate("\n", timeout=30)
    finally:
        analyst.kill()
    assert out.strip() == "3"  # the open session kept its consistent snapshot
    assert analyst.returncode == 0


def test_a_locked_store_fails_after_the_wait_and_keeps_the_old_copy(tmp_path):
    store = _store(tmp_path)
    dest = tmp_path / "published" / "gosales.duckdb"
    first = publish_store(store, dest)
    writer = _spawn(WRITER, store.path)
    try:
        assert writer.stdout.readline().strip() == "locked"
        impatient = Store(store.path, lock_timeout_seconds=0.5, poll_seconds=0.1)
        with pytest.raises(StoreLockedError, match="locked by another process"):
            publish_store(impatient, dest)
    finally:
        writer.communicate("\n", timeout=30)
    with duckdb.connect(str(dest), read_only=True) as copy:
        assert table_checksums(copy) == first.checksums
    assert sorted(p.name for p in dest.parent.iterdir()) == [
        ".gosales.duckdb.verified",  # the stamp of the copy in place, still valid
        "gosales.duckdb",
    ]


def test_a_copy_that_does_not_verify_is_not_published(tmp_path, monkeypatch):
    store = _store(tmp_path)
    dest = tmp_path / "published" / "gosales.duckdb"
    first = publish_store(store, dest)
    with store.transaction() as con:
        con.execute("DELETE FROM star.fact WHERE id = 0")
    real = table_checksums

    def corrupt(con, tables=None):  # what the copy reads back differs from the source
        return {**real(con, tables), "star.fact": "rows=0;hash=0"}

    monkeypatch.setattr("gosales_assets.lib.publish.table_checksums", corrupt)
    with pytest.raises(
        PublishError, match=r"does not match it \(tables \['star.fact'\]"
    ):
        publish_store(store, dest)
    with duckdb.connect(str(dest), read_only=True) as copy:
        assert table_checksums(copy) == first.checksums  # the old copy stays
    assert sorted(p.name for p in dest.parent.iterdir()) == [
        ".gosales.duckdb.verified",  # the stamp of the copy in place, still valid
        "gosales.duckdb",
    ]


def test_refuses_to_overwrite_the_store_or_publish_nothing(tmp_path):
    store = _store(tmp_path)
    with pytest.raises(PublishError, match="is the live store itself"):
        publish_store(store, store.path)
    missing = Store(tmp_path / "nowhere" / "gosales.duckdb")
    with pytest.raises(PublishError, match="nothing to publish"):
        publish_store(missing, tmp_path / "published" / "gosales.duckdb")
    assert not (tmp_path / "published").exists()


def test_a_stale_wal_of_the_copy_is_removed(tmp_path):
    store = _store(tmp_path)
    dest = tmp_path / "published" / "gosales.duckdb"
    publish_store(store, dest)
    wal = dest.with_name(dest.name + ".wal")
    wal.write_bytes(b"not a WAL of the new copy")
    publish_store(store, dest)
    assert not wal.exists()
    with duckdb.connect(str(dest), read_only=True) as copy:
        assert copy.execute("SELECT count(*) FROM star.fact").fetchone() == (3,)


def _summary_store(store: Store, gp: float) -> None:
    """The star tables ``gosales summary`` reads, with one line of ``gp``."""
    with store.transaction() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS star")
        con.execute(
            "CREATE OR REPLACE TABLE star.fact_transactions AS SELECT "
            "DATE '2024-06-30' AS cutoff, 'C1' AS customer_id, 'I1' AS invoice_id, "
            "DATE '2024-06-01' AS order_date, ?::DOUBLE AS gross_profit, "
            "'CPE' AS division",
            [gp],
        )
        con.execute(
            "CREATE OR REPLACE TABLE star.dim_customer AS SELECT "
            "DATE '2024-06-30' AS cutoff, FALSE AS is_orphan, 1 AS n_lines"
        )
        con.execute(
            "CREATE OR REPLACE TABLE star.quarantine AS SELECT "
            "DATE '2024-06-30' AS cutoff, 'unknown_sku' AS reason"
        )


def test_summary_reads_the_published_copy_unless_live(cfg_env, monkeypatch):
    from click.testing import CliRunner

    from gosales_assets.cli import main
    from gosales_assets.config import current_config

    for key, value in cfg_env.items():
        monkeypatch.setenv(key, value)
    cfg = current_config()
    store = Store.from_config(cfg)
    _summary_store(store, 100.0)
    runner = CliRunner()
    live_only = runner.invoke(main, ["summary"])
    assert live_only.exit_code == 0, live_only.output
    assert f"store {cfg.duckdb_path}" in live_only.output  # nothing published yet
    publish_store(store, cfg.published_path)
    _summary_store(store, 250.0)  # the live store moves on
    published = runner.invoke(main, ["summary"])
    assert published.exit_code == 0, published.output
    assert f"store {cfg.published_path}" in published.output
    assert "GP 100.0" in published.output
    live = runner.invoke(main, ["summary", "--live"])
    assert f"store {cfg.duckdb_path}" in live.output and "GP 250.0" in live.output


def test_rows_still_in_the_write_ahead_log_are_published(tmp_path):
    """A writer that died before its checkpoint leaves rows only in the WAL: a copy of
    the database file would miss them; the published copy has them."""
    store = _store(tmp_path, rows=3)
    crash = textwrap.dedent(
        """
        import os, sys, duckdb
        con = duckdb.connect(sys.argv[1])
        con.execute("SET wal_autocheckpoint = '1TB'")
        con.execute("INSERT INTO star.fact SELECT 7, cutoff, tags, info FROM star.fact")
        os._exit(0)  # no checkpoint, no close
        """
    )
    subprocess.run([sys.executable, "-c", crash, str(store.path)], check=True)
    assert store.path.with_name(store.path.name + ".wal").exists()
    dest = tmp_path / "published" / "gosales.duckdb"
    report = publish_store(store, dest)
    assert report.checksums["star.fact"].startswith("rows=6;")
    with duckdb.connect(str(dest), read_only=True) as copy:
        assert copy.execute("SELECT count(*) FROM star.fact").fetchone() == (6,)
    assert sorted(p.name for p in dest.parent.iterdir()) == [
        ".gosales.duckdb.verified",  # the stamp of the copy in place, still valid
        "gosales.duckdb",
    ]


# ------------------------------------------------------------ incremental refreshes


def _add_cutoff(store: Store, cutoff: str, rows: int) -> None:
    with store.transaction() as con:
        con.execute(
            "INSERT INTO star.fact SELECT range + 100, CAST(? AS DATE), [range, 2], "
            "{'gp': range * 1.5} FROM range(?)",
            [cutoff, rows],
        )


def _fact_by_cutoff(path: Path) -> list[tuple[str, int]]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "SELECT CAST(cutoff AS VARCHAR), count(*) FROM star.fact GROUP BY 1 "
            "ORDER BY 1"
        ).fetchall()
    return [(str(c), int(n)) for c, n in rows]


def test_a_refresh_rewrites_only_the_partitions_that_changed(tmp_path):
    store = _store(tmp_path, rows=3)
    dest = tmp_path / "published" / "gosales.duckdb"
    first = publish_store(store, dest)
    assert (first.mode, first.partitions_written) == ("full", 2)  # fact 1 + empty 1
    same = publish_store(store, dest)
    assert (same.mode, same.partitions_written) == ("incremental", 0)
    assert same.checksums == first.checksums
    _add_cutoff(store, "2024-07-31", 4)  # a new partition
    grown = publish_store(store, dest)
    assert (grown.mode, grown.partitions_written) == ("incremental", 1)
    assert _fact_by_cutoff(dest) == [("2024-06-30", 3), ("2024-07-31", 4)]
    with store.transaction() as con:  # a partition changes, another goes
        con.execute("UPDATE star.fact SET tags = [9] WHERE cutoff = DATE '2024-07-31'")
        con.execute("DELETE FROM star.fact WHERE cutoff = DATE '2024-06-30'")
        con.execute("INSERT INTO scoring.empty VALUES ('c1', 0.5)")  # one partition
    changed = publish_store(store, dest)
    assert (changed.mode, changed.partitions_written) == ("incremental", 3)
    assert _fact_by_cutoff(dest) == [("2024-07-31", 4)]
    with store.connect(read_only=True) as live:
        expected = table_checksums(live)
    with duckdb.connect(str(dest), read_only=True) as copy:
        assert table_checksums(copy) == expected == changed.checksums
        assert copy.execute("SELECT count(*) FROM star.recent").fetchone() == (4,)
        manifest = copy.execute(
            "SELECT table_name, part FROM publish.manifest ORDER BY 1, 2"
        ).fetchall()
    assert manifest == [("scoring.empty", "*"), ("star.fact", "2024-07-31")]
    assert oct(dest.stat().st_mode & 0o777) == "0o444"


def test_a_new_column_or_table_rebuilds_the_copy_in_full(tmp_path):
    store = _store(tmp_path)
    dest = tmp_path / "published" / "gosales.duckdb"
    publish_store(store, dest)
    with store.transaction() as con:
        con.execute("ALTER TABLE scoring.empty ADD COLUMN grade VARCHAR")
    assert publish_store(store, dest).mode == "full"
    with store.transaction() as con:
        con.execute("CREATE TABLE star.extra AS SELECT 1 AS k")
    report = publish_store(store, dest)
    assert report.mode == "full" and "star.extra" in report.tables
    # leaving a table out changes the layout too
    assert publish_store(store, dest, exclude=["star.extra"]).mode == "full"
    assert publish_store(store, dest, exclude=["star.extra"]).mode == "incremental"


def test_a_copy_that_drifted_from_its_manifest_is_rebuilt_in_full(tmp_path):
    store = _store(tmp_path)
    dest = tmp_path / "published" / "gosales.duckdb"
    publish_store(store, dest)
    os.chmod(dest, 0o644)
    with duckdb.connect(str(dest)) as copy:  # someone edited the copy in place
        copy.execute("UPDATE star.fact SET id = 42 WHERE id = 0")
    report = publish_store(store, dest)
    assert report.mode == "full"
    with store.connect(read_only=True) as live:
        expected = table_checksums(live)
    with duckdb.connect(str(dest), read_only=True) as copy:
        assert table_checksums(copy) == expected


def test_an_untouched_copy_is_verified_only_where_a_refresh_rewrote_it(
    tmp_path, monkeypatch
):
    store = _store(tmp_path, rows=3)
    with store.transaction() as con:
        con.execute("CREATE TABLE star.dim AS SELECT range AS k FROM range(5)")
    dest = tmp_path / "published" / "gosales.duckdb"
    assert publish_store(store, dest).tables_verified == 3  # full: every table
    read_back: list[list[str] | None] = []
    real = table_checksums

    def spy(con, tables=None):
        read_back.append(None if tables is None else sorted(tables))
        return real(con, tables)

    monkeypatch.setattr("gosales_assets.lib.publish.table_checksums", spy)
    _add_cutoff(store, "2024-07-31", 4)
    grown = publish_store(store, dest)
    assert (grown.mode, grown.tables_verified) == ("incremental", 1)
    assert read_back == [["star.fact"]]
    same = publish_store(store, dest)  # nothing rewritten: nothing read back
    assert (same.mode, same.tables_verified, len(read_back)) == ("incremental", 0, 1)
    # the copy was replaced by another file with the same content (a new inode):
    # nothing is taken on trust, every table is read back
    copied = dest.with_name("copied.duckdb")
    shutil.copyfile(dest, copied)
    os.replace(copied, dest)
    replaced = publish_store(store, dest)
    assert (replaced.mode, replaced.tables_verified) == ("incremental", 3)
    assert read_back[-1] is None
    # a changed table in an untouched copy is still read back and caught
    with store.transaction() as con:
        con.execute("UPDATE star.dim SET k = k + 1")

    def corrupt(con, tables=None):
        return {**real(con, tables), "star.dim": "rows=0;hash=0"}

    monkeypatch.setattr("gosales_assets.lib.publish.table_checksums", corrupt)
    with pytest.raises(PublishError, match=r"tables \['star.dim'\]"):
        publish_store(store, dest)
