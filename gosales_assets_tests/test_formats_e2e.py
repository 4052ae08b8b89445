"""The same sales data as long CSV, long Parquet and wide CSV yields identical
``star.fact_transactions`` contents (DATA_CONTRACT 2.4; foundation acceptance)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.ingest import read_raw_folder
from gosales_assets.lib.raw_store import raw_frames, write_raw
from gosales_assets.lib.star import build_star
from gosales_assets.lib.store import Store
from gosales_assets.sample_data import generate

CUTOFF = dt.date(2023, 6, 30)
COMPARED = [
    "cutoff",
    "invoice_id",
    "line_no",
    "order_date",
    "customer_id",
    "sku",
    "division",
    "quantity",
    "gross_profit",
    "rep",
    "branch",
]


def _fact(raw: Path, home: Path, cfg: GosalesConfig) -> pl.DataFrame:
    batch = read_raw_folder(raw, cfg)
    assert batch.quarantine.height == 0
    store = Store(home / "s.duckdb")
    with store.transaction() as con:
        write_raw(con, raw_frames(batch), batch.report)
        build = build_star(con, cfg, CUTOFF)
    assert all(o.passed for o in build.checks)
    return store.query(
        "SELECT * FROM star.fact_transactions ORDER BY invoice_id, line_no"
    ).select(COMPARED)


def test_long_csv_long_parquet_and_wide_csv_agree(tmp_path, cfg):
    facts = {}
    for fmt, layout in [("csv", "long"), ("parquet", "long"), ("csv", "wide")]:
        raw = tmp_path / f"{fmt}_{layout}"
        generate(
            raw,
            cfg,
            customers=150,
            start=dt.date(2021, 1, 1),
            end=dt.date(2023, 12, 31),
            seed=11,
            fmt=fmt,
            layout=layout,
        )
        facts[(fmt, layout)] = _fact(raw, tmp_path / f"h_{fmt}_{layout}", cfg)
    reference = facts[("csv", "long")]
    assert reference.height > 500
    assert reference["order_date"].max() <= CUTOFF
    for key, fact in facts.items():
        assert fact.equals(reference), key
