"""The feature-matrix path: matrices of several targets at one cutoff from one
preparation of the stored star partition, base and ALS, kept in this process.

``features_base`` hands its (compacted) preparation over (:func:`remember_base`);
:func:`build_matrix` reuses it while the stored inputs are unchanged (keyed by
content checksums of the star partition and the stored base) and otherwise reads
and prepares them again. ``gosales run`` drops the cache after each cutoff
(:func:`release_cached_inputs`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.feature_store import (
    SNAPSHOT_TABLES,
    base_build_info,
    engine_columns,
    read_base,
    read_snapshot,
    table_columns,
)
from gosales_assets.lib.features import AlsResult, FeatureResult, StarSnapshot
from gosales_assets.lib.features.prepare import Prepared, prepare
from gosales_assets.lib.features.target import target_features_from
from gosales_assets.lib.store import quote_ident, table_ref


def cache_capacity(cfg: GosalesConfig) -> int:
    """Cutoffs whose matrix inputs one process keeps: the training cutoffs of a model
    plus its own (a retraining run builds every target's matrices at all of them)."""
    return int(cfg.modeling_settings.training_cutoff_count) + 1


@dataclass
class _Inputs:
    key: tuple[Any, ...]
    base: FeatureResult  # as stored (read back), without a preparation
    als: AlsResult
    prep: Prepared | None = None  # compacted, for :func:`build_matrix`


# Per store file, the matrix inputs of the last few cutoffs whose feature matrices were
# built in this process, newest use last (``gosales run`` builds every target's matrix
# of a cutoff, and a retraining run those of every training cutoff, in one process).
# Keyed by content checksums of the star partition and the stored base, so a change to
# either is never served from memory.
_INPUTS: dict[str, OrderedDict[dt.date, _Inputs]] = {}


def release_cached_inputs() -> int:
    """Drop every cached matrix input of this process (a new run in a fresh process
    starts without them); returns how many cutoffs were held."""
    held = sum(len(entries) for entries in _INPUTS.values())
    _INPUTS.clear()
    return held


def _sums(
    con: duckdb.DuckDBPyConnection, tables: dict[str, list[str]], cutoff: dt.date
) -> tuple[str, ...]:
    """Row count and sum of row hashes of ``cutoff`` in each table, over the listed
    columns (one query)."""
    parts = [
        f"SELECT {i} AS i, count(*) AS n, "
        f"coalesce(sum(hash({', '.join(quote_ident(c) for c in cols)})::HUGEINT), 0) "
        f"AS h FROM {table_ref(table)} WHERE cutoff = $cutoff"
        for i, (table, cols) in enumerate(tables.items())
    ]
    rows = con.execute(
        " UNION ALL ".join(parts) + " ORDER BY i", {"cutoff": cutoff}
    ).fetchall()
    return tuple(f"rows={int(n)};hash={int(h):x}" for _, n, h in rows)


def _star_key(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> tuple[str, ...]:
    """Fingerprint of what :func:`read_snapshot` reads at ``cutoff``."""
    columns = engine_columns(con)
    return _sums(
        con,
        {table: columns[name] for name, table in SNAPSHOT_TABLES.items()},
        cutoff,
    )


def _base_key(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> tuple[Any, ...]:
    """Fingerprint of what :func:`read_base` reads at ``cutoff``."""
    found = table_columns(
        con,
        [
            "features.customer_base",
            "features.als_embeddings",
            "features.als_sku_factors",
        ],
    )
    tables = {t: [c for c in cols if c != "cutoff"] for t, cols in found.items()}
    info = base_build_info(con, cutoff)
    if info is None or not all(tables.values()):
        return (None,)
    return (*_sums(con, tables, cutoff), *info)


def _lookup(store_key: str, cutoff: dt.date, key: tuple[Any, ...]) -> _Inputs | None:
    entries = _INPUTS.get(store_key)
    entry = entries.get(cutoff) if entries is not None else None
    if entry is None or entry.key != key:
        if entries is not None:
            entries.pop(cutoff, None)  # stale: free it before reading again
        return None
    entries.move_to_end(cutoff)
    return entry


def _keep(store_key: str, cutoff: dt.date, entry: _Inputs, capacity: int) -> None:
    entries = _INPUTS.setdefault(store_key, OrderedDict())
    entries[cutoff] = entry
    entries.move_to_end(cutoff)
    while len(entries) > max(capacity, 1):
        entries.popitem(last=False)


@contextlib.contextmanager
def _read_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Fingerprints and reads in one transaction: they see the same state. Inside a
    caller's transaction, that one (left open)."""
    ids = [con.execute("SELECT txid_current()").fetchone() for _ in range(2)]
    if ids[0] == ids[1]:  # one transaction id for two statements: the caller's
        yield
        return
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    finally:
        con.execute("ROLLBACK")


def _current_entry(
    con: duckdb.DuckDBPyConnection, store_key: str, cutoff: dt.date
) -> _Inputs:
    """The cached inputs of ``cutoff`` if the stored ones are unchanged, else a new
    entry with the stored base and ALS (``LookupError`` when missing). Call inside
    :func:`_read_transaction`, with the reads that follow."""
    key = (cutoff, _star_key(con, cutoff), _base_key(con, cutoff))
    entry = _lookup(store_key, cutoff, key)
    if entry is None:
        base, als = read_base(con, cutoff)
        entry = _Inputs(key, base, als)
    return entry


def remember_base(
    con: duckdb.DuckDBPyConnection,
    store_key: str,
    cutoff: dt.date,
    star_key: tuple[str, ...],
    prep: Prepared,
    cfg: GosalesConfig,
) -> None:
    """After ``features_base`` stored ``cutoff``: keep its (compacted) preparation with
    the stored base for this process's feature matrices. ``star_key`` is
    from :func:`read_snapshot_keyed`, which read the snapshot behind ``prep``."""
    with _read_transaction(con):
        key = (cutoff, star_key, _base_key(con, cutoff))
        base, als = read_base(con, cutoff)
    entry = _Inputs(key, base, als, prep=prep.compact())
    _keep(store_key, cutoff, entry, cache_capacity(cfg))


def read_snapshot_keyed(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date
) -> tuple[StarSnapshot, tuple[str, ...]]:
    """:func:`read_snapshot` and the fingerprint of what it read (one transaction)."""
    with _read_transaction(con):
        return read_snapshot(con, cutoff), _star_key(con, cutoff)


def build_matrix(
    con: duckdb.DuckDBPyConnection,
    store_key: str,
    cutoff: dt.date,
    target: str,
    cfg: GosalesConfig,
) -> tuple[FeatureResult, AlsResult]:
    """The feature matrix of ``target`` at ``cutoff`` from the stored star partition,
    base and ALS (``LookupError`` when the base is missing). The shared preparation
    of a cutoff is made once per process and kept, compacted, for the next targets
    while the stored inputs are unchanged (:func:`cache_capacity` cutoffs)."""
    with _read_transaction(con):
        entry = _current_entry(con, store_key, cutoff)
        if entry.prep is None or entry.prep.features != cfg.features:
            entry.prep = prepare(read_snapshot(con, cutoff), cfg).compact()
    _keep(store_key, cutoff, entry, cache_capacity(cfg))
    result = target_features_from(entry.prep, entry.base, entry.als, target, cfg)
    return dataclasses.replace(result, prepared=None), entry.als
