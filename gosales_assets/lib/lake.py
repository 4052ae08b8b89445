"""DuckLake, the scale-out curated store: a SQL catalog (PostgreSQL, SQLite or a DuckDB
file) plus Parquet data files, written by many processes at once.

DuckDB cannot download extensions here (and production hosts should not), so the
``ducklake``, ``postgres_scanner`` and ``sqlite_scanner`` binaries come from their PyPI
wheels (``duckdb-extension-ducklake`` ...). :func:`extension_directory` lays them out
the way DuckDB looks for them (``<dir>/v<version>/<platform>/<name>.duckdb_extension``)
and :func:`connect_lake` loads them explicitly with autoinstall off.

A connection is an in-memory DuckDB with the lake attached as ``lake`` and selected with
``USE``, so ``schema.table`` names work unchanged. DuckLake commits optimistically: a
transaction that overlaps a conflicting commit of another process fails at ``COMMIT``;
:func:`is_conflict` recognizes those failures so the caller can run the transaction
again (a bounded number of times).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import duckdb

if TYPE_CHECKING:
    from gosales_assets.config import GosalesConfig

log = logging.getLogger("gosales.store")

CatalogKind = Literal["postgres", "sqlite", "duckdb"]

LAKE_ALIAS = "lake"

# extension name (as DuckDB loads it) -> (Python package, binary stem inside the wheel)
EXTENSION_WHEELS: dict[str, tuple[str, str]] = {
    "ducklake": ("duckdb_extension_ducklake", "ducklake"),
    "postgres_scanner": ("duckdb_extension_postgres", "postgres"),
    "sqlite_scanner": ("duckdb_extension_sqlite", "sqlite"),
}

_CATALOG_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "postgres": ("ducklake", "postgres_scanner"),
    "sqlite": ("ducklake", "sqlite_scanner"),
    "duckdb": ("ducklake",),
}

# Failures that mean "another writer got there first": run the transaction again.
_CONFLICT_MARKERS = (
    "transaction conflict",
    "conflict",
    "database is locked",
    "could not serialize access",
    "deadlock detected",
)
# Also transient while two processes initialize a new catalog at the same moment.
_ATTACH_RACE_MARKERS = (
    *_CONFLICT_MARKERS,
    "already exists",
    "duplicate key value",
)


class LakeError(RuntimeError):
    """DuckLake cannot be used as configured (missing extension, bad catalog...)."""


@dataclass(frozen=True)
class LakeSpec:
    """Where the lake is and how writers retry; built from ``store.ducklake``."""

    catalog: CatalogKind
    data_path: Path
    extension_dir: Path
    catalog_path: Path | None = None
    postgres_dsn_env: str = "GOSALES_DUCKLAKE_PG_DSN"
    metadata_schema: str = "gosales_lake"
    max_retries: int = 5
    retry_wait_seconds: float = 1.0
    data_inlining_row_limit: int = 0

    def __post_init__(self) -> None:
        if (self.catalog == "postgres") != (self.catalog_path is None):
            raise LakeError(
                "a sqlite or duckdb catalog needs catalog_path; postgres takes none"
            )

    def describe(self) -> str:
        """A human description that never contains credentials."""
        if self.catalog == "postgres":
            where = f"postgres catalog from ${self.postgres_dsn_env}"
        else:
            where = f"{self.catalog} catalog {self.catalog_path}"
        return f"DuckLake ({where}, data {self.data_path})"

    @property
    def extensions(self) -> tuple[str, ...]:
        return _CATALOG_EXTENSIONS[self.catalog]

    def catalog_exists(self) -> bool:
        """Whether the catalog has been created (always assumed for PostgreSQL)."""
        return self.catalog_path is None or self.catalog_path.exists()

    def retry_wait(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``: doubling from
        ``retry_wait_seconds``, at most a minute (or ``retry_wait_seconds`` if more)."""
        cap = max(60.0, self.retry_wait_seconds)
        return min(self.retry_wait_seconds * 2 ** max(attempt - 1, 0), cap)


def lake_spec(cfg: GosalesConfig) -> LakeSpec | None:
    """The lake of ``cfg`` (None for the embedded DuckDB backend)."""
    store = cfg.store
    if store.backend != "ducklake":
        return None
    lake = store.ducklake
    home = cfg.paths.home

    def resolve(value: str | None, default: str) -> Path:
        path = Path(value).expanduser() if value else Path(default)
        return path if path.is_absolute() else home / path

    catalog_path = None
    if lake.catalog != "postgres":
        suffix = "sqlite" if lake.catalog == "sqlite" else "ducklake"
        catalog_path = resolve(lake.catalog_path, f"ducklake/catalog.{suffix}")
    return LakeSpec(
        catalog=lake.catalog,
        catalog_path=catalog_path,
        data_path=resolve(lake.data_path, "ducklake/data"),
        extension_dir=home / "duckdb_extensions",
        postgres_dsn_env=lake.postgres_dsn_env,
        metadata_schema=lake.metadata_schema,
        max_retries=lake.max_retries,
        retry_wait_seconds=lake.retry_wait_seconds,
        data_inlining_row_limit=lake.data_inlining_row_limit,
    )


@functools.cache
def duckdb_build() -> tuple[str, str]:
    """``(version, platform)`` of the running DuckDB: ``("v1.5.5", "linux_amd64")``."""
    con = duckdb.connect(":memory:")
    try:
        row = con.execute(
            "SELECT library_version, platform FROM pragma_version(), pragma_platform()"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return str(row[0]), str(row[1])


def wheel_binary(name: str) -> Path:
    """The extension binary ``name`` inside its installed wheel, for this DuckDB."""
    package, stem = EXTENSION_WHEELS[name]
    version, _ = duckdb_build()
    dist = package.replace("_", "-")
    pin = version.removeprefix("v")
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise LakeError(
            f"the DuckDB extension {name!r} is not installed: the DuckLake store needs "
            f"the Python package {dist}=={pin} (pip install '{dist}=={pin}'); DuckDB "
            "does not download extensions"
        )
    folder = Path(spec.origin).parent / "extensions"
    binary = folder / version / f"{stem}.duckdb_extension"
    if not binary.is_file():
        found = sorted(p.parent.name for p in folder.glob("*/*"))
        raise LakeError(
            f"{dist} carries no {stem} extension for DuckDB {version} (it has "
            f"{found or 'none'}); install {dist}=={pin} to match duckdb=={pin}"
        )
    return binary


def extension_directory(root: Path, names: tuple[str, ...]) -> Path:
    """Lay out ``names`` under ``root`` as DuckDB expects and return ``root``.

    Each entry is a symlink to the wheel's binary (a copy where symlinks are not
    possible), replaced atomically when it points elsewhere (a new virtualenv).
    """
    version, platform = duckdb_build()
    target = root / version / platform
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        source = wheel_binary(name).resolve()
        dest = target / f"{name}.duckdb_extension"
        if dest.is_symlink() and Path(os.readlink(dest)) == source:
            continue
        if not dest.is_symlink() and dest.is_file() and _same_file(dest, source):
            continue
        tmp = target / f".{name}.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        try:
            tmp.symlink_to(source)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    return root


def _same_file(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _catalog_target(spec: LakeSpec, env: Mapping[str, str]) -> str:
    if spec.catalog == "postgres":
        # empty -> libpq reads PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE...
        return "ducklake:postgres:" + env.get(spec.postgres_dsn_env, "")
    assert spec.catalog_path is not None
    prefix = "ducklake:sqlite:" if spec.catalog == "sqlite" else "ducklake:"
    return prefix + str(spec.catalog_path)


def attach_sql(spec: LakeSpec, env: Mapping[str, str], read_only: bool) -> str:
    options = [f"DATA_PATH {quote_literal(str(spec.data_path))}"]
    if spec.catalog == "postgres":
        options.append(f"METADATA_SCHEMA {quote_literal(spec.metadata_schema)}")
    if read_only:
        options.append("READ_ONLY")
    else:
        options.append(f"DATA_INLINING_ROW_LIMIT {int(spec.data_inlining_row_limit)}")
    target = quote_literal(_catalog_target(spec, env))
    return f"ATTACH {target} AS {LAKE_ALIAS} ({', '.join(options)})"


def _matches(err: BaseException, markers: tuple[str, ...]) -> bool:
    if not isinstance(err, duckdb.Error):
        return False
    text = str(err).lower()
    if "could not set lock" in text:  # a file lock: the caller's lock wait handles it
        return False
    return any(marker in text for marker in markers)


def is_conflict(err: BaseException) -> bool:
    """Whether ``err`` is a concurrency failure that running the transaction again
    heals."""
    return _matches(err, _CONFLICT_MARKERS)


def _is_attach_race(err: BaseException) -> bool:
    return _matches(err, _ATTACH_RACE_MARKERS)


def _redact(text: str, env: Mapping[str, str], spec: LakeSpec) -> str:
    dsn = env.get(spec.postgres_dsn_env, "") if spec.catalog == "postgres" else ""
    return text.replace(dsn, f"${spec.postgres_dsn_env}") if dsn else text


def _prepare_sqlite(path: Path) -> None:
    """Put a SQLite catalog in WAL mode, so readers never wait for a committing
    writer (writers still take turns; their collisions are retried)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30)
    try:
        mode = con.execute("PRAGMA journal_mode").fetchone()
        if not mode or str(mode[0]).lower() != "wal":
            con.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as err:  # busy: another process is converting it
        log.info("sqlite catalog journal mode unchanged path=%s (%s)", path, err)
    finally:
        con.close()


# Per process, one attached lake per (spec, threads, connection string): loading the
# extensions verifies their signatures (a few tenths of a second each), so writers share
# one DuckDB instance and take a connection (``cursor``) each, with its own transaction.
_SHARED: dict[tuple[int, LakeSpec, int, str], duckdb.DuckDBPyConnection] = {}
_SHARED_LOCK = threading.Lock()


def connect_lake(
    spec: LakeSpec,
    threads: int,
    read_only: bool = False,
    env: Mapping[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection with the lake attached as ``lake`` and selected by ``USE``.

    Writers of a PostgreSQL or SQLite catalog share one in-memory DuckDB per process
    (each connection is its own session and transaction). Read-only connections and a
    DuckDB catalog file (one process at a time: its file lock must not outlive the
    connection) get a private instance. Lock errors propagate for the caller's lock
    wait; the race of two processes creating one new catalog is retried here, a bounded
    number of times.
    """
    env = os.environ if env is None else env
    if read_only or spec.catalog == "duckdb":
        return _open_lake(spec, threads, read_only, env)
    key = (os.getpid(), spec, threads, env.get(spec.postgres_dsn_env, ""))
    with _SHARED_LOCK:
        for attempt in (1, 2):
            base = _SHARED.get(key)
            if base is None:
                base = _SHARED[key] = _open_lake(spec, threads, False, env)
            try:
                con = base.cursor()
                con.execute(f"USE {LAKE_ALIAS}")
                return con
            except duckdb.Error:
                # a broken instance (its catalog went away): drop it, open a new one
                _SHARED.pop(key, None)
                with contextlib.suppress(duckdb.Error):
                    base.close()
                if attempt == 2:
                    raise
    raise AssertionError("unreachable")


def _open_lake(
    spec: LakeSpec, threads: int, read_only: bool, env: Mapping[str, str]
) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB with the lake attached and selected."""
    if spec.catalog != "postgres":
        assert spec.catalog_path is not None
        if read_only and not spec.catalog_path.exists():
            raise LakeError(f"no DuckLake catalog at {spec.catalog_path}")
        if spec.catalog == "sqlite" and not read_only:
            _prepare_sqlite(spec.catalog_path)
        else:
            spec.catalog_path.parent.mkdir(parents=True, exist_ok=True)
    if not read_only:
        spec.data_path.mkdir(parents=True, exist_ok=True)
    ext_root = extension_directory(spec.extension_dir, spec.extensions)
    attempt = 0
    while True:
        attempt += 1
        con = duckdb.connect(
            ":memory:",
            config={
                "threads": threads,
                "extension_directory": str(ext_root),
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            },
        )
        try:
            for name in spec.extensions:
                con.execute(f"LOAD {name}")
            # DuckLake's own retry of a commit whose snapshot id was taken meanwhile
            retries = int(spec.max_retries) + 1
            con.execute(f"SET GLOBAL ducklake_max_retry_count = {retries}")
            con.execute(attach_sql(spec, env, read_only))
            con.execute(f"USE {LAKE_ALIAS}")
            return con
        except duckdb.Error as err:
            con.close()
            if _is_attach_race(err) and attempt <= spec.max_retries:
                wait = spec.retry_wait(attempt)
                log.warning(
                    "ducklake attach raced another writer, retrying lake=%s "
                    "attempt=%s wait_s=%.2f",
                    spec.describe(),
                    attempt,
                    wait,
                )
                time.sleep(wait)
                continue
            message = _redact(str(err), env, spec)
            if spec.catalog == "postgres" and not env.get(spec.postgres_dsn_env):
                message += (
                    f" (${spec.postgres_dsn_env} is not set; libpq used its PG* "
                    "environment variables)"
                )
            raise type(err)(f"cannot open {spec.describe()}: {message}") from None
