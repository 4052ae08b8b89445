"""The feature-matrix path of the store (``feature_cache.build_matrix``): it reuses a
cutoff's compacted preparation across targets and cutoffs, never after the stored
inputs changed, and writes exactly what the engine computes from a fresh read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from gosales_assets.config import GosalesConfig
from gosales_assets.lib import feature_cache as fc
from gosales_assets.lib import feature_store as fs
from gosales_assets.lib.features import (
    build_als,
    build_customer_base,
    build_target_features,
)
from gosales_assets.lib.features.prepare import TARGET_LINE_COLUMNS, prepare
from gosales_assets.lib.features.target import target_features_from
from gosales_assets.lib.ingest import read_raw_folder
from gosales_assets.lib.raw_store import raw_frames, write_raw
from gosales_assets.lib.star import build_star
from gosales_assets.lib.store import Store, partition_checksum
from gosales_assets.sample_data import generate

CUTOFFS = (dt.date(2022, 12, 31), dt.date(2023, 6, 30))
TARGETS = ("Solidworks", "Printers")


@pytest.fixture
def store(tmp_path: Path, cfg: GosalesConfig) -> Store:
    """A store with the star and base features of both cutoffs (80 customers)."""
    raw = tmp_path / "raw"
    generate(
        raw,
        cfg,
        customers=80,
        start=dt.date(2021, 1, 1),
        end=dt.date(2023, 12, 31),
        seed=11,
    )
    batch = read_raw_folder(raw, cfg)
    s = Store(tmp_path / "s.duckdb")
    with s.transaction() as con:
        write_raw(con, raw_frames(batch), batch.report)
        for c in CUTOFFS:
            build_star(con, cfg, c)
            snap = fs.read_snapshot(con, c)
            base = build_customer_base(snap, cfg)
            fs.write_base(con, c, base, build_als(snap, cfg, base=base))
    return s


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    fc._INPUTS.clear()


def _fresh(s: Store, cfg: GosalesConfig, c: dt.date, target: str) -> pl.DataFrame:
    with s.connect() as con:
        snap = fs.read_snapshot(con, c)
        base, als = fs.read_base(con, c)
    return build_target_features(snap, base, als, target, cfg).frame


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[dt.date]:
    reads: list[dt.date] = []
    real = fs.read_snapshot

    def counting(con, cutoff):  # type: ignore[no-untyped-def]
        reads.append(cutoff)
        return real(con, cutoff)

    monkeypatch.setattr(fc, "read_snapshot", counting)
    return reads


def test_matrices_reuse_each_cutoff_and_equal_a_fresh_build(store, cfg, monkeypatch):
    expected = {(c, t): _fresh(store, cfg, c, t) for c in CUTOFFS for t in TARGETS}
    reads = _count_reads(monkeypatch)
    key = str(store.path)
    for t in TARGETS:  # the retraining order: every cutoff of one target, then next
        for c in CUTOFFS:
            with store.connect() as con:
                result, als = fc.build_matrix(con, key, c, t, cfg)
            assert result.frame.equals(expected[(c, t)]), (c, t)
            assert result.prepared is None and als.info["cutoff"] == c.isoformat()
    assert reads == list(CUTOFFS)  # one snapshot read per cutoff, not per partition
    kept = fc._INPUTS[key]
    assert list(kept) == list(CUTOFFS)
    assert all(e.prep.compacted for e in kept.values())


def test_a_changed_star_partition_is_read_again(store, cfg, monkeypatch):
    c = CUTOFFS[1]
    key = str(store.path)
    with store.connect() as con:
        fc.build_matrix(con, key, c, "Solidworks", cfg)
    with store.transaction() as con:  # a star rebuild that drops one invoice
        con.execute(
            "DELETE FROM star.fact_transactions WHERE cutoff = ? AND invoice_id = "
            "(SELECT min(invoice_id) FROM star.fact_transactions WHERE cutoff = ?)",
            [c, c],
        )
    expected = _fresh(store, cfg, c, "Solidworks")
    reads = _count_reads(monkeypatch)
    with store.connect() as con:
        result, _ = fc.build_matrix(con, key, c, "Solidworks", cfg)
    assert reads == [c]
    assert result.frame.equals(expected)


def test_a_changed_base_is_read_again(store, cfg):
    c = CUTOFFS[1]
    key = str(store.path)
    with store.connect() as con:
        fc.build_matrix(con, key, c, "Solidworks", cfg)
    with store.transaction() as con:
        con.execute(
            "UPDATE features.customer_base SET has_history = 0 WHERE cutoff = ?", [c]
        )
    with store.connect() as con:
        result, _ = fc.build_matrix(con, key, c, "Solidworks", cfg)
    assert result.frame["has_history"].sum() == 0


def test_the_cache_keeps_at_most_its_capacity(store, cfg, monkeypatch):
    monkeypatch.setattr(fc, "cache_capacity", lambda _cfg: 1)
    key = str(store.path)
    for c in CUTOFFS:
        with store.connect() as con:
            fc.build_matrix(con, key, c, "Printers", cfg)
    assert list(fc._INPUTS[key]) == [CUTOFFS[1]]


def test_the_base_step_seeds_the_matrices(store, cfg, monkeypatch):
    """``remember_base`` keeps the base step's preparation: the matrices of that
    cutoff then read no snapshot and equal a fresh build."""
    c = CUTOFFS[0]
    key = str(store.path)
    with store.connect() as con:
        snap, star_key = fc.read_snapshot_keyed(con, c)
        fc.remember_base(con, key, c, star_key, prepare(snap, cfg), cfg)
    expected = {t: _fresh(store, cfg, c, t) for t in TARGETS}
    reads = _count_reads(monkeypatch)
    for t in TARGETS:
        with store.connect() as con:
            result, _ = fc.build_matrix(con, key, c, t, cfg)
        assert result.frame.equals(expected[t])
    assert reads == []


def test_missing_base_is_refused(store, cfg):
    with store.connect() as con, pytest.raises(LookupError, match="customer_base"):
        fc.build_matrix(con, str(store.path), dt.date(2023, 3, 31), "Printers", cfg)


def test_compacted_preparation_gives_the_same_target_features(store, cfg):
    c = CUTOFFS[1]
    with store.connect() as con:
        snap = fs.read_snapshot(con, c)
        base, als = fs.read_base(con, c)
    full = prepare(snap, cfg)
    small = full.compact()
    assert small.compacted and small.g.fact.is_empty()
    assert small.lines.columns == list(TARGET_LINE_COLUMNS)
    assert not small.matches(snap, cfg)  # never taken for a snapshot's preparation
    for t in TARGETS:
        a = target_features_from(full, base, als, t, cfg)
        b = target_features_from(small, base, als, t, cfg)
        assert a.frame.equals(b.frame) and a.stats.equals(b.stats)


def test_snapshot_reads_only_the_engine_columns_and_changes_no_feature(store, cfg):
    c = CUTOFFS[1]
    with store.connect() as con:
        snap = fs.read_snapshot(con, c)
        everything = {
            name: con.execute(
                f"SELECT * EXCLUDE (cutoff) FROM {table} WHERE cutoff = ?", [c]
            ).pl()
            for name, table in fs.SNAPSHOT_TABLES.items()
        }
    assert "rep" not in snap.fact.columns and "rep" in everything["fact"].columns
    wide = fs.StarSnapshot(cutoff=c, **everything)
    a, b = build_customer_base(snap, cfg), build_customer_base(wide, cfg)
    assert a.frame.equals(b.frame)


def test_sorted_partition_write_equals_the_store_write(tmp_path):
    frame = pl.DataFrame(
        {
            "cutoff": [dt.date(2024, 1, 31)] * 4,
            "customer_id": ["c3", "c1", "c4", "c2"],
            "x": [3.0, 1.0, 4.0, 2.0],
        }
    )
    part = {"cutoff": dt.date(2024, 1, 31)}
    keys = ("cutoff", "customer_id")
    a, b = Store(tmp_path / "a.duckdb"), Store(tmp_path / "b.duckdb")
    with a.transaction() as con:
        assert (
            fs.replace_sorted_partition(
                con, "features.t", frame, partition=part, order_by=keys
            )
            == 4
        )
        # a second write replaces the partition
        fs.replace_sorted_partition(
            con, "features.t", frame, partition=part, order_by=keys
        )
        got = con.execute("SELECT customer_id FROM features.t ORDER BY rowid").pl()
        sum_a = partition_checksum(con, "features.t", part)
    with b.transaction() as con:
        fs.replace_partition_frame(
            con, "features.t", frame, partition=part, order_by=keys
        )
        sum_b = partition_checksum(con, "features.t", part)
    assert got["customer_id"].to_list() == ["c1", "c2", "c3", "c4"]
    assert sum_a == sum_b


def test_released_inputs_are_read_again(store, cfg, monkeypatch):  # type: ignore[no-untyped-def]
    """What the benchmark does between its two runs: after the release, the next
    matrix of a cutoff reads the star snapshot again, as a fresh process would."""
    reads = _count_reads(monkeypatch)
    c, target = CUTOFFS[0], TARGETS[0]
    with store.connect() as con:
        fc.build_matrix(con, str(store.path), c, target, cfg)
        fc.build_matrix(con, str(store.path), c, target, cfg)
    assert reads == [c]
    assert fc.release_cached_inputs() == 1
    assert fc.release_cached_inputs() == 0
    with store.connect() as con:
        fc.build_matrix(con, str(store.path), c, target, cfg)
    assert reads == [c, c]
