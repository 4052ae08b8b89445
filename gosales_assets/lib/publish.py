"""The published analyst copy: a read-only snapshot of the curated store.

DuckDB has one writer per file, and even a read-only session on the live store blocks
the nightly run. Analysts therefore read a copy that is refreshed after every
successful run. :func:`publish_store`:

1. opens the store **read-only** (a DuckDB file then refuses every writer process for
   the duration, and the Dagster op that calls it also holds the ``duckdb_write`` pool
   slot), inside one transaction, so the copy is one consistent snapshot; a DuckLake
   store is read at one snapshot the same way;
2. copies every schema, table and view with ``COPY FROM DATABASE`` into a new file
   next to the destination (a compact file, no WAL), except the tables named in
   ``exclude`` (``automation.publish_exclude``; by default the wide per-target
   feature matrix, an internal model input that is most of the store at scale):
   those are left out of the copy altogether, never copied empty;
3. verifies the copy: the same tables with the same content checksums
   (:func:`gosales_assets.lib.store.partition_checksum` over whole tables);
4. marks it read-only (mode 0444) and moves it over the destination with
   ``os.replace``, an atomic rename on the same file system.

An analyst who holds the previous copy open keeps reading it (POSIX keeps the old file
alive until its last handle closes) and never blocks the refresh; a new session sees
the new copy. Nobody ever sees a half-written file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from gosales_assets.lib.store import Store, partition_checksum, quote_ident

log = logging.getLogger("gosales.publish")

_ATTACH_ALIAS = "gosales_publish"
_SYSTEM_SCHEMAS = ("information_schema", "pg_catalog")
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

    @property
    def tables(self) -> list[str]:
        return sorted(self.checksums)


def list_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """``schema.table`` of every base table of the connection's current database."""
    rows = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_type = 'BASE TABLE' "
        "AND table_schema NOT IN (?, ?) ORDER BY 1, 2",
        list(_SYSTEM_SCHEMAS),
    ).fetchall()
    return [f"{schema}.{name}" for schema, name in rows]


def table_checksums(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The content checksum of every base table (row order does not matter)."""
    return {table: partition_checksum(con, table, {}) for table in list_tables(con)}


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


def publish_store(
    store: Store,
    dest: Path,
    *,
    verify: bool = True,
    exclude: Sequence[str] = (),
) -> PublishReport:
    """Publish a consistent read-only copy of ``store`` at ``dest`` (see module doc),
    without the ``schema.table`` names in ``exclude`` (names the store lacks are
    ignored).

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
    try:
        checksums, excluded = _copy_and_detach(store, tmp, verify, exclude)
        if verify:
            with duckdb.connect(str(tmp), read_only=True) as copy:
                copied = table_checksums(copy)
            if copied != checksums:
                differ = sorted(
                    t
                    for t in set(copied) | set(checksums)
                    if copied.get(t) != checksums.get(t)
                )
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
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    finally:
        _remove(tmp)
    report = PublishReport(
        path=dest,
        source=store.location,
        checksums=checksums,
        size_bytes=dest.stat().st_size,
        seconds=round(time.monotonic() - started, 3),
        excluded=excluded,
    )
    log.info(
        "published store source=%s path=%s tables=%s excluded=%s size_bytes=%s "
        "seconds=%s",
        report.source,
        report.path,
        len(report.checksums),
        ",".join(excluded) or "-",
        report.size_bytes,
        report.seconds,
    )
    return report


def _qualified(catalog: str, table: str) -> str:
    schema, name = table.split(".", 1)
    return ".".join(quote_ident(p) for p in (catalog, schema, name))


def _copy_and_detach(
    store: Store, tmp: Path, verify: bool, exclude: Sequence[str]
) -> tuple[dict[str, str], list[str]]:
    """Copy the store, less ``exclude``, into the new file ``tmp`` at one snapshot;
    return the source checksums (empty without ``verify``) and the tables left out.
    """
    with store.connect(read_only=True) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            row = con.execute("SELECT current_database()").fetchone()
            assert row is not None
            source = str(row[0])
            tables = list_tables(con)
            excluded = sorted(set(exclude) & set(tables))
            kept = [t for t in tables if t not in excluded]
            checksums = (
                {t: partition_checksum(con, t, {}) for t in kept} if verify else {}
            )
            con.execute(
                f"ATTACH {_literal(str(tmp))} AS {quote_ident(_ATTACH_ALIAS)} "
                "(READ_WRITE)"
            )
            _copy(con, source, kept, excluded)
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        finally:
            # DETACH checkpoints the copy: no WAL is left next to it.
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DETACH {quote_ident(_ATTACH_ALIAS)}")
    return checksums, excluded


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
