"""The published analyst copy: a read-only snapshot of the curated store.

DuckDB has one writer per file, and even a read-only session on the live store blocks
the nightly run. Analysts therefore read a copy that is refreshed after every
successful run. :func:`publish_store`:

1. opens the store **read-only** (a DuckDB file then refuses every writer process for
   the duration, and the Dagster op that calls it also holds the ``duckdb_write`` pool
   slot), inside one transaction, so the copy is one consistent snapshot; a DuckLake
   store is read at one snapshot the same way;
2. takes the content checksum of every table, per cutoff partition (row count plus
   the sum of row hashes, as :func:`gosales_assets.lib.store.partition_checksum`;
   tables without a ``cutoff`` column are one partition);
3. builds the new copy in a new file next to the destination, without the tables
   named in ``exclude`` (``automation.publish_exclude``; by default the wide
   per-target feature matrix, an internal model input that is most of the store at
   scale), which are left out altogether, never copied empty:

   - **incremental** when the previous copy has a manifest (``publish.manifest``:
     table, partition, checksum) and the same tables, columns and views: the
     previous file is copied byte for byte and only the partitions whose checksum
     changed are replaced (a nightly run rewrites the newest cutoff, not history);
   - **full** otherwise: ``COPY FROM DATABASE`` (schema, tables, views);
4. verifies the copy: the same tables with the same content checksums (an
   incremental copy that does not verify is rebuilt in full once). The whole copy is
   verified, except when it was built incrementally on a previous copy that is
   provably untouched since its own verification: then only the tables it rewrote
   are (the rest are byte for byte what was verified). The proof is the stamp next
   to the copy (``.<name>.verified``: size, modification time, inode and device of
   the file as published); any edit, replacement or copy of the file changes it;
5. marks it read-only (mode 0444), moves it over the destination with
   ``os.replace``, an atomic rename on the same file system, and writes the stamp.

An analyst who holds the previous copy open keeps reading it (POSIX keeps the old file
alive until its last handle closes) and never blocks the refresh; a new session sees
the new copy. Nobody ever sees a half-written file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from gosales_assets.lib.publish_stamp import stamp_path, untouched, write_stamp
from gosales_assets.lib.store import Store, partition_checksum, quote_ident

log = logging.getLogger("gosales.publish")

_ATTACH_ALIAS = "gosales_published_copy"
MANIFEST_SCHEMA = "publish"
MANIFEST = f"{MANIFEST_SCHEMA}.manifest"
_SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", MANIFEST_SCHEMA)
_WHOLE = "*"  # the partition key of a table without a cutoff column
_READ_ONLY_MODE = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


class PublishError(RuntimeError):
    """The store could not be published; the previous copy is left in place."""


@dataclass(frozen=True)
class PublishReport:
    """What was published: the copy, its tables with their checksums, size, timing."""

    path: Path
    source: str
    checksums: dict[str, str] = field(default_factory=dict)
    size_bytes: int = 0
    seconds: float = 0.0
    excluded: list[str] = field(default_factory=list)  # tables of the store left out
    mode: str = "full"  # full | incremental
    partitions_written: int = 0  # partitions (cutoffs, or whole tables) copied
    # the tables whose checksums were read back from the copy (all of them, or the
    # rewritten ones on a stamped previous copy; none without verify)
    tables_verified: int = 0

    @property
    def tables(self) -> list[str]:
        return sorted(self.checksums)


def list_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """``schema.table`` of every base table of the connection's current database."""
    rows = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_type = 'BASE TABLE' "
        "AND table_schema NOT IN (?, ?, ?) ORDER BY 1, 2",
        list(_SYSTEM_SCHEMAS),
    ).fetchall()
    return [f"{schema}.{name}" for schema, name in rows]


def table_checksums(
    con: duckdb.DuckDBPyConnection, tables: Sequence[str] | None = None
) -> dict[str, str]:
    """The content checksum of every base table, or of those of ``tables`` that
    exist (row order does not matter)."""
    names = list_tables(con)
    if tables is not None:
        names = [t for t in names if t in set(tables)]
    return {table: partition_checksum(con, table, {}) for table in names}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _temp_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system supports it
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


Manifest = dict[str, dict[str | None, str]]  # table -> partition key -> checksum


def publish_store(
    store: Store,
    dest: Path,
    *,
    verify: bool = True,
    exclude: Sequence[str] = (),
) -> PublishReport:
    """Publish a consistent read-only copy of ``store`` at ``dest`` (see module doc),
    without the ``schema.table`` names in ``exclude`` (names the store lacks are
    ignored). Without ``verify`` the copy is always full and unchecked.

    Raises :class:`PublishError` when there is nothing to publish, when ``dest`` is
    the live store itself, or when the copy does not match the source (the previous
    copy then stays in place). A store locked by a writer past the store's lock
    timeout raises :class:`gosales_assets.lib.store.StoreLockedError`.
    """
    started = time.monotonic()
    dest = Path(dest).resolve()
    if store.lake is None and dest == Path(store.path).resolve():
        raise PublishError(
            f"the publish path {dest} is the live store itself; set "
            "automation.publish_path to another file"
        )
    if not store.exists():
        raise PublishError(f"no curated store at {store.location}; nothing to publish")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(dest)
    trusted = verify and untouched(dest)
    try:
        built = _build(store, dest, tmp, verify, exclude, incremental=verify)
        checked = None if built.mode == "full" or not trusted else built.patched
        differ = _differences(tmp, built.checksums, checked) if verify else []
        if differ and built.mode != "full":
            log.warning(
                "the incremental copy did not verify; rebuilding it in full path=%s",
                dest,
            )
            _remove(tmp)
            built = _build(store, dest, tmp, verify, exclude, incremental=False)
            checked = None
            differ = _differences(tmp, built.checksums)
        if differ:
            raise PublishError(
                f"the copy of {store.location} does not match it (tables "
                f"{differ}); the previous published copy was kept"
            )
        os.chmod(tmp, _READ_ONLY_MODE)
        stale_wal = dest.with_name(dest.name + ".wal")
        if stale_wal.exists():
            # Only a session that opened the copy read-write leaves one; replaying it
            # against the new copy would corrupt it.
            log.warning("removing a stale WAL of the published copy path=%s", stale_wal)
            stale_wal.unlink()
        with contextlib.suppress(FileNotFoundError):
            stamp_path(dest).unlink()  # the old stamp names the file replaced now
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
        if verify:
            write_stamp(dest)
    finally:
        _remove(tmp)
    report = PublishReport(
        path=dest,
        source=store.location,
        checksums=built.checksums,
        size_bytes=dest.stat().st_size,
        seconds=round(time.monotonic() - started, 3),
        excluded=built.excluded,
        mode=built.mode,
        partitions_written=built.written,
        tables_verified=(
            0 if not verify else len(built.checksums if checked is None else checked)
        ),
    )
    log.info(
        "published store source=%s path=%s mode=%s tables=%s partitions_written=%s "
        "tables_verified=%s excluded=%s size_bytes=%s seconds=%s",
        report.source,
        report.path,
        report.mode,
        len(report.checksums),
        report.partitions_written,
        report.tables_verified,
        ",".join(report.excluded) or "-",
        report.size_bytes,
        report.seconds,
    )
    return report


def _differences(
    copy_path: Path, checksums: dict[str, str], only: Sequence[str] | None = None
) -> list[str]:
    """Tables whose checksum in the copy differs from ``checksums`` (or that only
    one side has); with ``only``, among those tables (the copy's other tables are
    known to be as verified before)."""
    with duckdb.connect(str(copy_path), read_only=True) as copy:
        if only is None:
            copied = table_checksums(copy)
        else:
            copied = table_checksums(copy, only) if only else {}
            checksums = {t: c for t, c in checksums.items() if t in set(only)}
    return sorted(
        t for t in set(copied) | set(checksums) if copied.get(t) != checksums.get(t)
    )


@dataclass(frozen=True)
class _Built:
    checksums: dict[str, str]
    excluded: list[str]
    mode: str
    written: int
    patched: list[str]  # the tables an incremental build rewrote partitions of


def _qualified(catalog: str, table: str) -> str:
    schema, name = table.split(".", 1)
    return ".".join(quote_ident(p) for p in (catalog, schema, name))


def _checksum(rows: int, total: int) -> str:
    return f"rows={rows};hash={total:x}"  # as partition_checksum


def _partitioned(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> bool:
    schema, name = table.split(".", 1)
    row = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_catalog = ? "
        "AND table_schema = ? AND table_name = ? AND column_name = 'cutoff'",
        [catalog, schema, name],
    ).fetchone()
    return bool(row and row[0])


def _partition_sums(
    con: duckdb.DuckDBPyConnection, catalog: str, table: str
) -> tuple[dict[str | None, str], str]:
    """Checksum per cutoff partition (one scan) and of the whole table."""
    key = "CAST(cutoff AS VARCHAR)" if _partitioned(con, catalog, table) else "'*'"
    rows = con.execute(
        f"SELECT {key} AS part, count(*), "
        "coalesce(sum(hash(*COLUMNS(*))::HUGEINT), 0) "
        f"FROM {_qualified(catalog, table)} GROUP BY 1"
    ).fetchall()
    parts = {r[0]: _checksum(int(r[1]), int(r[2])) for r in rows}
    total = _checksum(sum(int(r[1]) for r in rows), sum(int(r[2]) for r in rows))
    return parts, total


def _layout(con: duckdb.DuckDBPyConnection, catalog: str) -> tuple[Any, ...]:
    """Tables with their columns and types, and views with their SQL."""
    columns = con.execute(
        "SELECT table_schema, table_name, column_name, data_type "
        "FROM information_schema.columns WHERE table_catalog = ? "
        "AND table_schema NOT IN (?, ?, ?) "
        "ORDER BY table_schema, table_name, ordinal_position",
        [catalog, *_SYSTEM_SCHEMAS],
    ).fetchall()
    views = con.execute(
        "SELECT schema_name, view_name, sql FROM duckdb_views() "
        "WHERE database_name = ? AND NOT internal ORDER BY 1, 2",
        [catalog],
    ).fetchall()
    return tuple(columns), tuple(views)


def _previous(dest: Path) -> tuple[Manifest, tuple[Any, ...]] | None:
    """The manifest and layout of the current copy, or None when there is none to
    build on (no copy, an older copy without a manifest, an unreadable file)."""
    if not dest.is_file():
        return None
    try:
        with duckdb.connect(str(dest), read_only=True) as con:
            found = con.execute("SELECT current_database()").fetchone()
            catalog = str(found[0]) if found else ""
            manifest_table = _qualified(catalog, MANIFEST)
            rows = con.execute(
                f"SELECT table_name, part, checksum FROM {manifest_table}"
            ).fetchall()
            layout = _layout(con, catalog)
    except duckdb.Error:
        return None
    manifest: Manifest = {}
    for table, part, checksum in rows:
        manifest.setdefault(str(table), {})[part] = str(checksum)
    return manifest, layout


def _build(
    store: Store,
    dest: Path,
    tmp: Path,
    verify: bool,
    exclude: Sequence[str],
    *,
    incremental: bool,
) -> _Built:
    """Write the copy of the store, less ``exclude``, to ``tmp`` at one snapshot."""
    previous = _previous(dest) if incremental else None
    with store.connect(read_only=True) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            row = con.execute("SELECT current_database()").fetchone()
            assert row is not None
            source = str(row[0])
            tables = list_tables(con)
            excluded = sorted(set(exclude) & set(tables))
            kept = [t for t in tables if t not in excluded]
            sums = {t: _partition_sums(con, source, t) for t in kept} if verify else {}
            manifest = {t: parts for t, (parts, _) in sums.items()}
            checksums = {t: total for t, (_, total) in sums.items()}
            if previous is not None and previous[1] != _source_layout(
                con, source, excluded
            ):
                previous = None  # tables, columns or views changed: copy in full
            if previous is not None:
                shutil.copyfile(dest, tmp)
                os.chmod(tmp, stat.S_IRUSR | stat.S_IWUSR)
            con.execute(
                f"ATTACH {_literal(str(tmp))} AS {quote_ident(_ATTACH_ALIAS)} "
                "(READ_WRITE)"
            )
            patched: list[str] = []
            if previous is not None:
                patched = _patch(con, source, manifest, previous[0])
                written = _count_stale(manifest, previous[0])
            else:
                _copy(con, source, kept, excluded)
                written = sum(len(p) or 1 for p in manifest.values()) or len(kept)
            if verify:
                _write_manifest(con, manifest)
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        finally:
            # DETACH checkpoints the copy: no WAL is left next to it.
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DETACH {quote_ident(_ATTACH_ALIAS)}")
    mode = "incremental" if previous is not None else "full"
    return _Built(checksums, excluded, mode, written, patched)


def _source_layout(
    con: duckdb.DuckDBPyConnection, source: str, excluded: Sequence[str]
) -> tuple[Any, ...]:
    """The layout the copy will have: the source's, less the excluded tables."""
    columns, views = _layout(con, source)
    left_out = {tuple(t.split(".", 1)) for t in excluded}
    return tuple(c for c in columns if (c[0], c[1]) not in left_out), views


def _stale(parts: dict[str | None, str], old: dict[str | None, str]) -> list[Any]:
    return [k for k in {*parts, *old} if parts.get(k) != old.get(k)]


def _count_stale(manifest: Manifest, previous: Manifest) -> int:
    """How many partitions a patch writes or removes (a whole table counts once)."""
    total = 0
    for table, parts in manifest.items():
        stale = _stale(parts, previous.get(table, {}))
        total += 1 if _WHOLE in stale else len(stale)
    return total


def _patch(
    con: duckdb.DuckDBPyConnection,
    source: str,
    manifest: Manifest,
    previous: Manifest,
) -> list[str]:
    """Replace in the attached copy the partitions whose checksum changed; returns
    the tables written to."""
    patched: list[str] = []
    for table, parts in manifest.items():
        stale = _stale(parts, previous.get(table, {}))
        if not stale:
            continue
        patched.append(table)
        target, origin = _qualified(_ATTACH_ALIAS, table), _qualified(source, table)
        if _WHOLE in stale or not _partitioned(con, source, table):
            con.execute(f"DELETE FROM {target}")
            con.execute(f"INSERT INTO {target} SELECT * FROM {origin}")
            continue
        for key in sorted(stale, key=lambda k: (k is None, k or "")):
            where = "CAST(cutoff AS VARCHAR) IS NOT DISTINCT FROM ?"
            con.execute(f"DELETE FROM {target} WHERE {where}", [key])
            if key in parts:
                con.execute(
                    f"INSERT INTO {target} SELECT * FROM {origin} WHERE {where}", [key]
                )
    return patched


def _write_manifest(con: duckdb.DuckDBPyConnection, manifest: Manifest) -> None:
    """``publish.manifest`` in the copy: the checksum of every published partition
    (what the next refresh compares with)."""
    alias = quote_ident(_ATTACH_ALIAS)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {alias}.{quote_ident(MANIFEST_SCHEMA)}")
    target = _qualified(_ATTACH_ALIAS, MANIFEST)
    con.execute(
        f"CREATE OR REPLACE TABLE {target} "
        "(table_name VARCHAR, part VARCHAR, checksum VARCHAR)"
    )
    rows = [
        (table, part, checksum)
        for table in sorted(manifest)
        for part, checksum in sorted(
            manifest[table].items(), key=lambda kv: (kv[0] is None, kv[0] or "")
        )
    ]
    if rows:
        con.executemany(f"INSERT INTO {target} VALUES (?, ?, ?)", rows)


def _copy(
    con: duckdb.DuckDBPyConnection,
    source: str,
    kept: Sequence[str],
    excluded: Sequence[str],
) -> None:
    """``COPY FROM DATABASE`` into the attached copy; with exclusions, the schema
    (every table, view and sequence) first, then the data of the kept tables, then
    the excluded tables are dropped from the copy."""
    alias = quote_ident(_ATTACH_ALIAS)
    if not excluded:
        con.execute(f"COPY FROM DATABASE {quote_ident(source)} TO {alias}")
        return
    con.execute(f"COPY FROM DATABASE {quote_ident(source)} TO {alias} (SCHEMA)")
    for table in kept:
        con.execute(
            f"INSERT INTO {_qualified(_ATTACH_ALIAS, table)} "
            f"SELECT * FROM {_qualified(source, table)}"
        )
    for table in excluded:
        con.execute(f"DROP TABLE {_qualified(_ATTACH_ALIAS, table)}")
