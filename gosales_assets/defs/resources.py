"""Resources shared by every layer, configured from ``config/gosales.yaml``."""

from __future__ import annotations

import dagster as dg

from gosales_assets.config import current_config
from gosales_assets.resources.store import DuckDBStoreResource


@dg.definitions
def defs() -> dg.Definitions:
    cfg = current_config()
    return dg.Definitions(
        resources={
            "store": DuckDBStoreResource(
                database=str(cfg.duckdb_path),
                lock_timeout_seconds=cfg.ingest.lock_timeout_seconds,
            )
        }
    )
