"""The DuckDB curated store as a Dagster resource (a thin wrapper over lib.store)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from gosales_assets.lib.store import Store


class DuckDBStoreResource(dg.ConfigurableResource):
    """The curated DuckDB file; every writer is in pool ``duckdb_write`` (limit 1)."""

    database: str
    lock_timeout_seconds: float = 120.0
    threads: int = 2

    def store(self) -> Store:
        return Store(
            path=Path(self.database),
            lock_timeout_seconds=self.lock_timeout_seconds,
            threads=self.threads,
        )
