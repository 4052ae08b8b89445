"""Star schema at a cutoff: visibility rules, keys, orphans, quarantine, determinism."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from gosales_assets.config import GosalesConfig
from gosales_assets.lib import contract
from gosales_assets.lib.raw_store import raw_frames, write_raw
from gosales_assets.lib.star import build_star
from gosales_assets.lib.store import Store
from gosales_assets_tests.conftest import customers_frame, fake_batch, lines_frame

C = dt.date(2024, 6, 30)


def _store(tmp_path: Path, batch) -> Store:
    store = Store(tmp_path / "s.duckdb", lock_timeout_seconds=1)
    with store.transaction() as con:
        write_raw(con, raw_frames(batch), {})
    return store


def _build(store: Store, cfg: GosalesConfig, cutoff: dt.date = C):
    with store.transaction() as con:
        return build_star(con, cfg, cutoff)


@pytest.fixture
def basic_lines() -> pl.DataFrame:
    return lines_frame(
        [
            {
                "invoice_id": "A1",
                "order_date": "2024-06-30",
                "customer_id": "00123",
                "sku": "PDM",
            },
            {
                "invoice_id": "A2",
                "order_date": "2024-06-30",
                "customer_id": "00123",
                "sku": "Training",
            },
            {
                "invoice_id": "B1",
                "order_date": "2024-07-01",
                "customer_id": "123",
                "sku": "PDM",
            },
            {
                "invoice_id": "C1",
                "order_date": "2024-01-15",
                "customer_id": "123",
                "sku": "SWX_Core",
                "line_no": 1,
            },
            {
                "invoice_id": "C1",
                "order_date": "2024-01-15",
                "customer_id": "123",
                "sku": "SWX_Pro_Prem",
                "line_no": 2,
            },
            {
                "invoice_id": "O1",
                "order_date": "2024-03-01",
                "customer_id": "ORPHAN-9",
                "sku": "Services",
            },
        ]
    )


def test_cutoff_visibility_and_ids(tmp_path, cfg, basic_lines):
    store = _store(tmp_path, fake_batch(basic_lines, customers_frame(["00123", "123"])))
    build = _build(store, cfg)
    assert all(o.passed for o in build.checks)
    fact = store.query("SELECT * FROM star.fact_transactions ORDER BY invoice_id")
    # a line on the cutoff is visible; the line of the day after is not
    assert fact["invoice_id"].to_list() == ["A1", "A2", "C1", "C1", "O1"]
    # two invoices of one customer on one day both survive
    assert fact.filter(pl.col("customer_id") == "00123").height == 2
    assert set(fact["division"]) == {"PDM", "Training", "Solidworks", "Services"}
    dim = store.query("SELECT * FROM star.dim_customer ORDER BY customer_id")
    # "00123" and "123" are distinct customers; the orphan is kept and flagged
    assert dim["customer_id"].to_list() == ["00123", "123", "ORPHAN-9"]
    assert dim["is_orphan"].to_list() == [False, False, True]
    assert build.orphans == 1
    assert dim.filter(pl.col("customer_id") == "123")["last_order_date"][0] == dt.date(
        2024, 1, 15
    )


def test_day_after_becomes_visible_at_next_cutoff(tmp_path, cfg, basic_lines):
    store = _store(tmp_path, fake_batch(basic_lines, customers_frame(["00123", "123"])))
    _build(store, cfg, C)
    _build(store, cfg, C + dt.timedelta(days=1))
    counts = store.query(
        "SELECT cutoff, count(*) AS n FROM star.fact_transactions GROUP BY 1 ORDER BY 1"
    )
    assert counts["n"].to_list() == [5, 6]


def test_rerun_is_byte_identical(tmp_path, cfg, basic_lines):
    store = _store(tmp_path, fake_batch(basic_lines, customers_frame(["00123", "123"])))
    first = _build(store, cfg).checksums
    dump1 = store.query("SELECT * FROM star.fact_transactions")
    second = _build(store, cfg).checksums
    dump2 = store.query("SELECT * FROM star.fact_transactions")
    assert first == second
    assert dump1.equals(dump2)  # also the physical row order


def test_customers_created_after_cutoff_are_not_known_yet(tmp_path, cfg, basic_lines):
    customers = pl.concat(
        [
            customers_frame(["00123", "123"]),
            customers_frame(["NEW"], created="2024-09-01"),
        ]
    )
    store = _store(tmp_path, fake_batch(basic_lines, customers))
    _build(store, cfg)
    ids = store.query("SELECT customer_id FROM star.dim_customer")["customer_id"]
    assert "NEW" not in ids.to_list()


def test_quarantine_at_cutoff_and_sku_map_change(
    tmp_path, cfg, basic_lines, config_copy
):
    quarantine = pl.DataFrame(
        [
            {
                "source_file": "sales_lines.csv",
                "source_row": 7,
                "column": "order_date",
                "reason": "unparseable_date",
                "value": "2024-13-01",
                "customer_id": "1",
                "order_date": None,
                "record": "{}",
            },
            {
                "source_file": "sales_lines.csv",
                "source_row": 8,
                "column": "sku",
                "reason": "unknown_sku",
                "value": "ZZZ",
                "customer_id": "1",
                "order_date": dt.date(2024, 12, 1),
                "record": "{}",
            },
        ],
        schema=contract.QUARANTINE_SCHEMA,
    )
    store = _store(
        tmp_path,
        fake_batch(
            basic_lines, customers_frame(["00123", "123"]), quarantine=quarantine
        ),
    )
    build = _build(store, cfg)
    # undated rows are relevant at every cutoff; the December row is not visible in June
    assert build.quarantine_by_reason == {"unparseable_date": 1}
    # Remove Training from the SKU map after ingestion: quarantined, not lost
    from gosales_assets.config import load_config

    sku_path = config_copy.parent / "sku_map.csv"
    kept = [
        ln for ln in sku_path.read_text().splitlines() if not ln.startswith("Training,")
    ]
    sku_path.write_text("\n".join(kept) + "\n")
    text = config_copy.read_text().replace(
        "  - {name: Training, division: Training}\n", ""
    )
    config_copy.write_text(text)
    cfg2 = load_config(config_copy, env={"GOSALES_HOME": str(tmp_path / "h")})
    build2 = _build(store, cfg2)
    assert build2.quarantine_by_reason == {"unknown_sku": 1, "unparseable_date": 1}
    assert build2.rows["star.fact_transactions"] == 4


def test_open_deals_do_not_reveal_future_closes(tmp_path, cfg, basic_lines):
    deals = pl.DataFrame(
        {
            "customer_id": ["123", "123", "00123"],
            "division": ["PDM", "CPE", "PDM"],
            "opened_date": [
                dt.date(2024, 5, 1),
                dt.date(2024, 5, 1),
                dt.date(2024, 8, 1),
            ],
            "closed_date": [dt.date(2024, 6, 15), dt.date(2024, 9, 1), None],
            "source_file": ["open_deals.csv"] * 3,
            "source_row": [1, 2, 3],
        }
    )
    store = _store(
        tmp_path,
        fake_batch(basic_lines, customers_frame(["00123", "123"]), open_deals=deals),
    )
    _build(store, cfg)
    got = store.query("SELECT * FROM star.open_deals ORDER BY division")
    assert got["division"].to_list() == ["CPE", "PDM"]  # the August deal does not exist
    assert got["closed_date"].to_list() == [None, dt.date(2024, 6, 15)]
    assert got["is_open"].to_list() == [True, False]


def test_blocking_check_detects_future_rows(tmp_path, cfg, basic_lines):
    store = _store(tmp_path, fake_batch(basic_lines, customers_frame(["00123", "123"])))
    _build(store, cfg)
    with store.transaction() as con:
        con.execute("UPDATE star.fact_transactions SET order_date = DATE '2024-07-02'")
        from gosales_assets.lib.star import star_checks

        outcomes = {o.name: o for o in star_checks(con, C)}
    assert not outcomes["no_rows_after_cutoff"].passed
    assert outcomes["no_rows_after_cutoff"].metadata["violations"] == 5
    assert outcomes["line_key_unique"].passed
