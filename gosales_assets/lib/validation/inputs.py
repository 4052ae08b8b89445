"""Inputs of a forward validation: the stored scores and labels of one partition, and
the out-of-time metrics of the model card behind the scores."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl

from gosales_assets.lib.artifacts import ArtifactStore
from gosales_assets.lib.model_store import MODEL_KIND
from gosales_assets.lib.store import quote_ident, table_ref

CARD_FILE = "card.json"


def read_partition(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    cutoff: dt.date,
    target: str,
) -> pl.DataFrame:
    """``columns`` of the ``(cutoff, target)`` partition of ``table``, by customer;
    empty when the table or the partition does not exist."""
    cols = ", ".join(quote_ident(c) for c in columns)
    try:
        return con.execute(
            f"SELECT {cols} FROM {table_ref(table)} "
            "WHERE cutoff = ? AND division = ? ORDER BY customer_id",
            [cutoff, target],
        ).pl()
    except duckdb.CatalogException:
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String))


def card_metrics(
    artifacts_root: Path, target: str, version: str
) -> dict[str, float | None] | None:
    """The out-of-time ``validation_metrics`` of the model card of ``version``
    (stored next to the model artifact); None when the card cannot be found."""
    try:
        blob = ArtifactStore(artifacts_root).get(MODEL_KIND, target, version, CARD_FILE)
    except FileNotFoundError:
        return None
    card = json.loads(blob)
    metrics = card.get("validation_metrics") or {}
    return {
        str(k): (float(v) if isinstance(v, int | float) else None)
        for k, v in metrics.items()
    }
