"""The product's core promise, end to end through the store: appending raw rows dated
after a cutoff leaves every star table, feature and label at that cutoff byte-identical
(labels: rows after the window end). A row moved from C + 1 to C changes features."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.feature_store import read_base, read_snapshot, write_base
from gosales_assets.lib.features import (
    build_als,
    build_customer_base,
    build_target_features,
)
from gosales_assets.lib.ingest import read_raw_folder
from gosales_assets.lib.labels import build_labels
from gosales_assets.lib.raw_store import raw_frames, write_raw
from gosales_assets.lib.star import STAR_TABLES, build_star
from gosales_assets.lib.store import Store
from gosales_assets.lib.timeutil import window_end
from gosales_assets.sample_data import generate

C = dt.date(2023, 6, 30)
TARGETS = ("Solidworks", "Printers")


def _everything_at_c(raw: Path, home: Path, cfg: GosalesConfig) -> dict[str, object]:
    batch = read_raw_folder(raw, cfg)
    store = Store(home / "s.duckdb")
    out: dict[str, object] = {}
    with store.transaction() as con:
        write_raw(con, raw_frames(batch), batch.report)
        build = build_star(con, cfg, C)
        out.update({f"star:{t}": build.checksums[t] for t in STAR_TABLES})
        snap = read_snapshot(con, C)
        base = build_customer_base(snap, cfg)
        als = build_als(snap, cfg, base=base)
        write_base(con, C, base, als)
        stored_base, stored_als = read_base(con, C)
        lines = con.execute(
            "SELECT customer_id, order_date, sku, gross_profit FROM raw.sales_lines"
        ).pl()
        for target in TARGETS:
            fm = build_target_features(snap, stored_base, stored_als, target, cfg)
            out[f"features:{target}"] = fm.frame
            labels = build_labels(
                snap.customers.select("customer_id"),
                snap.fact,
                lines,
                skus=cfg.target_skus(target),
                cutoff=C,
                months=cfg.window_months(target),
            )
            out[f"labels:{target}"] = labels.frame
    return out


def _sample(raw: Path, cfg: GosalesConfig, customers: int, seed: int) -> None:
    generate(
        raw,
        cfg,
        customers=customers,
        start=dt.date(2021, 1, 1),
        end=dt.date(2024, 6, 30),
        seed=seed,
    )


def _append_future_lines(raw: Path, after: dt.date) -> int:
    path = raw / "sales_lines.csv"
    lines = pl.read_csv(path, infer_schema=False)
    future = lines.head(300).with_columns(
        pl.lit(after.isoformat()).alias("order_date"),
        (pl.col("invoice_id") + "-FUTURE").alias("invoice_id"),
    )
    pl.concat([lines, future]).write_csv(path)
    return future.height


def _assert_same(a: dict[str, object], b: dict[str, object]) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        other = b[key]
        if isinstance(value, pl.DataFrame):
            assert isinstance(other, pl.DataFrame) and value.equals(other), key
        else:
            assert value == other, key


def test_appending_rows_after_cutoff_changes_nothing_at_cutoff(tmp_path, cfg):
    raw = tmp_path / "raw"
    _sample(raw, cfg, customers=300, seed=5)
    before = _everything_at_c(raw, tmp_path / "a", cfg)
    # lines the day after C change labels but nothing else at C
    assert _append_future_lines(raw, C + dt.timedelta(days=1)) == 300
    after_c = _everything_at_c(raw, tmp_path / "b", cfg)
    _assert_same(
        {k: v for k, v in before.items() if not k.startswith("labels:")},
        {k: v for k, v in after_c.items() if not k.startswith("labels:")},
    )
    # lines after the label window end change nothing at all at C
    end = window_end(C, 6)
    _append_future_lines(raw, end + dt.timedelta(days=1))
    after_end = _everything_at_c(raw, tmp_path / "c", cfg)
    _assert_same(after_c, after_end)


def test_a_row_moved_onto_the_cutoff_changes_features(tmp_path, cfg):
    raw = tmp_path / "raw"
    _sample(raw, cfg, customers=300, seed=5)
    before = _everything_at_c(raw, tmp_path / "a", cfg)
    path = raw / "sales_lines.csv"
    lines = pl.read_csv(path, infer_schema=False)
    first_after = lines.filter(pl.col("order_date") > C.isoformat()).head(1)
    moved = lines.with_columns(
        pl.when(pl.col("invoice_id") == first_after["invoice_id"][0])
        .then(pl.lit(C.isoformat()))
        .otherwise(pl.col("order_date"))
        .alias("order_date")
    )
    moved.write_csv(path)
    after = _everything_at_c(raw, tmp_path / "b", cfg)
    assert before["star:star.fact_transactions"] != after["star:star.fact_transactions"]
    changed = [
        t
        for t in TARGETS
        if not before[f"features:{t}"].equals(after[f"features:{t}"])  # type: ignore[union-attr]
    ]
    assert changed == list(TARGETS)


def test_matrix_cache_follows_the_store(tmp_path, cfg):
    """Feature matrices of one cutoff reuse the prepared snapshot in memory, but never
    after the star partition changed."""
    from gosales_assets.lib import feature_cache
    from gosales_assets.lib.feature_cache import build_matrix, release_cached_inputs

    raw = tmp_path / "raw"
    _sample(raw, cfg, customers=150, seed=8)
    batch = read_raw_folder(raw, cfg)
    store = Store(tmp_path / "s.duckdb")
    key = str(store.path)
    target = cfg.target_names[0]
    release_cached_inputs()
    with store.transaction() as con:
        write_raw(con, raw_frames(batch), batch.report)
        build_star(con, cfg, C)
        snap = read_snapshot(con, C)
        base = build_customer_base(snap, cfg)
        write_base(con, C, base, build_als(snap, cfg, base=base))
        first, _ = build_matrix(con, key, C, target, cfg)
        prep = feature_cache._INPUTS[key][C].prep
        again, _ = build_matrix(con, key, C, target, cfg)
        assert feature_cache._INPUTS[key][C].prep is prep  # reused
        assert again.frame.equals(first.frame)
        # the target's own purchases go: its target-scope features must change
        con.execute(
            "DELETE FROM star.fact_transactions WHERE cutoff = ? AND "
            "list_contains(?, sku)",
            [C, sorted(cfg.target_skus(target))],
        )
        fresh, _ = build_matrix(con, key, C, target, cfg)
        assert feature_cache._INPUTS[key][C].prep is not prep  # read again
    assert not fresh.frame.equals(first.frame)
    release_cached_inputs()
