"""The curated store as a Dagster resource (a thin wrapper over lib.store).

The embedded DuckDB file by default; with ``ducklake`` set, a DuckLake whose concurrent
writers may collide at commit: the losing step is retried by Dagster
(``RetryRequested``, at most ``max_retries`` times), so it re-reads its inputs and
recomputes from scratch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb

from gosales_assets.lib.lake import LakeSpec
from gosales_assets.lib.store import Store, StoreConflictError


class DuckLakeStoreConfig(dg.Config):
    """``store.ducklake`` with its paths resolved (see lib/lake.LakeSpec)."""

    catalog: str
    catalog_path: str | None = None
    data_path: str
    extension_dir: str
    postgres_dsn_env: str = "GOSALES_DUCKLAKE_PG_DSN"
    metadata_schema: str = "gosales_lake"
    max_retries: int = 5
    retry_wait_seconds: float = 1.0
    data_inlining_row_limit: int = 0

    @classmethod
    def from_spec(cls, spec: LakeSpec) -> DuckLakeStoreConfig:
        return cls(
            catalog=spec.catalog,
            catalog_path=None if spec.catalog_path is None else str(spec.catalog_path),
            data_path=str(spec.data_path),
            extension_dir=str(spec.extension_dir),
            postgres_dsn_env=spec.postgres_dsn_env,
            metadata_schema=spec.metadata_schema,
            max_retries=spec.max_retries,
            retry_wait_seconds=spec.retry_wait_seconds,
            data_inlining_row_limit=spec.data_inlining_row_limit,
        )

    def spec(self) -> LakeSpec:
        if self.catalog not in ("postgres", "sqlite", "duckdb"):
            raise ValueError(f"unknown DuckLake catalog {self.catalog!r}")
        return LakeSpec(
            catalog=self.catalog,  # type: ignore[arg-type]
            catalog_path=None if self.catalog_path is None else Path(self.catalog_path),
            data_path=Path(self.data_path),
            extension_dir=Path(self.extension_dir),
            postgres_dsn_env=self.postgres_dsn_env,
            metadata_schema=self.metadata_schema,
            max_retries=self.max_retries,
            retry_wait_seconds=self.retry_wait_seconds,
            data_inlining_row_limit=self.data_inlining_row_limit,
        )


class DagsterStore(Store):
    """A :class:`Store` whose lost commit races ask Dagster to retry the step."""

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            with Store.transaction(self) as con:
                yield con
        except StoreConflictError as err:
            assert self.lake is not None  # only DuckLake transactions conflict
            raise dg.RetryRequested(
                max_retries=self.lake.max_retries,
                seconds_to_wait=self.lake.retry_wait_seconds,
            ) from err


class DuckDBStoreResource(dg.ConfigurableResource):
    """The curated store. On the embedded DuckDB file every writer is in pool
    ``duckdb_write`` (limit 1); on DuckLake the pool limit may be raised."""

    database: str
    lock_timeout_seconds: float = 120.0
    threads: int = 2
    ducklake: DuckLakeStoreConfig | None = None
    memory_limit_mb: int | None = None

    def store(self) -> Store:
        return DagsterStore(
            path=Path(self.database),
            lock_timeout_seconds=self.lock_timeout_seconds,
            threads=self.threads,
            lake=None if self.ducklake is None else self.ducklake.spec(),
            memory_limit_mb=self.memory_limit_mb,
        )
