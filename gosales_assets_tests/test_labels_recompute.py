"""Labels of every default target at several cutoffs of the sample data agree exactly
with a direct recomputation from the raw CSV lines (issue: labels and features)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from gosales_assets.lib.ingest import read_raw_folder
from gosales_assets.lib.labels import build_labels
from gosales_assets.lib.raw_store import raw_frames, write_raw
from gosales_assets.lib.star import build_star
from gosales_assets.lib.store import Store
from gosales_assets.lib.timeutil import window_end
from gosales_assets.sample_data import generate

CUTOFFS = [dt.date(2022, 12, 31), dt.date(2023, 3, 15), dt.date(2023, 6, 30)]


def test_labels_match_raw_recomputation(tmp_path, cfg):
    raw = tmp_path / "raw"
    generate(
        raw,
        cfg,
        customers=400,
        start=dt.date(2021, 1, 1),
        end=dt.date(2024, 6, 30),
        seed=3,
    )
    batch = read_raw_folder(raw, cfg)
    store = Store(tmp_path / "s.duckdb")
    csv = pl.read_csv(raw / "sales_lines.csv", infer_schema=False).with_columns(
        pl.col("order_date").str.to_date("%Y-%m-%d"),
        pl.col("gross_profit").cast(pl.Float64),
    )
    checked = 0
    with store.transaction() as con:
        write_raw(con, raw_frames(batch), batch.report)
        for cutoff in CUTOFFS:
            build_star(con, cfg, cutoff)
            population = con.execute(
                "SELECT customer_id FROM star.dim_customer WHERE cutoff = ?", [cutoff]
            ).pl()
            history = con.execute(
                "SELECT customer_id, sku, order_date FROM star.fact_transactions "
                "WHERE cutoff = ?",
                [cutoff],
            ).pl()
            window = con.execute(
                "SELECT customer_id, order_date, sku, gross_profit FROM raw.sales_lines"
            ).pl()
            for target in cfg.target_names:
                skus = cfg.target_skus(target)
                months = cfg.window_months(target)
                got = build_labels(
                    population, history, window, skus=skus, cutoff=cutoff, months=months
                ).frame
                # independent recomputation from the raw file
                end = window_end(cutoff, months)
                active = csv.filter(pl.col("order_date") <= cutoff)["customer_id"]
                sums = (
                    csv.filter(
                        (pl.col("order_date") > cutoff)
                        & (pl.col("order_date") <= end)
                        & pl.col("sku").is_in(skus)
                    )
                    .group_by("customer_id")
                    .agg(pl.col("gross_profit").sum())
                )
                expected = (
                    pl.DataFrame({"customer_id": active.unique()})
                    .join(sums, on="customer_id", how="left")
                    .select(
                        "customer_id",
                        (pl.col("gross_profit").fill_null(0) > 0)
                        .cast(pl.Int8)
                        .alias("label"),
                    )
                    .sort("customer_id")
                )
                assert got.select("customer_id", "label").equals(expected), (
                    cutoff,
                    target,
                )
                checked += 1
    assert checked == len(CUTOFFS) * len(cfg.target_names)
