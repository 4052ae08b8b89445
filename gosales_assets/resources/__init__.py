"""Dagster resources: the DuckDB store (and, later, artifact store and notifier)."""

from __future__ import annotations

from gosales_assets.resources.store import DuckDBStoreResource

__all__ = ["DuckDBStoreResource"]
