"""The published analyst copy: a read-only snapshot of the curated store.

DuckDB has one writer per file, and even a read-only session on the live store blocks
the nightly run. Analysts therefore read a copy that is refreshed after every
successful run. :func:`publish_store`:

1. opens the store **read-only** (a DuckDB file then refuses every writer process for
   the duration, and the Dagster op that calls it also holds the ``duckdb_write`` pool
   slot), inside one transaction, so the copy is one consistent snapshot; a DuckLake
   store is read at one snapshot the same way;
2. copies every schema, table and view with ``COPY FROM DATABASE`` into a new file
   next to the destination (a compact file, no WAL);
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


def publish_store(store: Store, dest: Path, *, verify: bool = True) -> PublishReport:
    """Publish a consistent read-only copy of ``store`` at ``dest`` (see module doc).

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
        checksums = _copy_and_detach(store, tmp, verify)
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
    )
    log.info(
        "published store source=%s path=%s tables=%s size_bytes=%s seconds=%s",
        report.source,
        report.path,
        len(report.checksums),
        report.size_bytes,
        report.seconds,
    )
    return report


def _copy_and_detach(store: Store, tmp: Path, verify: bool) -> dict[str, str]:
    """Copy the store into the new file ``tmp`` at one snapshot; return the source
    checksums (empty without ``verify``)."""
    alias = quote_ident(_ATTACH_ALIAS)
    with store.connect(read_only=True) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            row = con.execute("SELECT current_database()").fetchone()
            assert row is not None
            checksums = table_checksums(con) if verify else {}
            con.execute(f"ATTACH {_literal(str(tmp))} AS {alias} (READ_WRITE)")
            con.execute(f"COPY FROM DATABASE {quote_ident(str(row[0]))} TO {alias}")
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        finally:
            # DETACH checkpoints the copy: no WAL is left next to it.
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DETACH {alias}")
    return checksums
