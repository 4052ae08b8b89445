"""Resources shared by every layer, configured from ``config/gosales.yaml``."""

from __future__ import annotations

import dagster as dg

from gosales_assets.config import current_config
from gosales_assets.lib.lake import lake_spec
from gosales_assets.resources.store import DuckDBStoreResource, DuckLakeStoreConfig


@dg.definitions
def defs() -> dg.Definitions:
    cfg = current_config()
    lake = lake_spec(cfg)  # None: the embedded DuckDB file (store.backend)
    return dg.Definitions(
        resources={
            "store": DuckDBStoreResource(
                database=str(cfg.duckdb_path),
                lock_timeout_seconds=cfg.ingest.lock_timeout_seconds,
                ducklake=None if lake is None else DuckLakeStoreConfig.from_spec(lake),
                memory_limit_mb=cfg.store.memory_limit_mb,
            )
        }
    )
