"""The one label definition, on hand-checkable fixtures (DATA_CONTRACT section 4)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from gosales_assets.lib.labels import build_labels, window_state

C = dt.date(2024, 6, 30)
END = dt.date(2024, 12, 31)
SKUS = ["PDM", "EPDM_CAD_Editor_Seats"]
GUID = "3f2b8c1e-9d4a-4c1b-8e7f-0a1b2c3d4e5f"


def _lines(rows: list[tuple[str, str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "customer_id": c,
                "order_date": dt.date.fromisoformat(d),
                "sku": s,
                "gross_profit": gp,
            }
            for c, d, s, gp in rows
        ],
        schema={
            "customer_id": pl.String,
            "order_date": pl.Date,
            "sku": pl.String,
            "gross_profit": pl.Float64,
        },
    )


HISTORY = _lines(
    [
        ("00123", "2024-01-10", "Training", 10.0),
        ("123", "2024-02-10", "PDM", 10.0),
        (GUID, "2023-05-01", "Services", 10.0),
        ("ret", "2024-03-01", "Services", 10.0),
        ("qty", "2024-03-01", "Services", 10.0),
        ("deny", "2024-03-01", "Services", 10.0),
        ("oncut", "2024-06-30", "Services", 10.0),
        ("late", "2024-03-01", "Services", 10.0),
    ]
)
WINDOW = _lines(
    [
        ("oncut", "2024-06-30", "PDM", 500.0),  # on C: history, never label
        ("00123", "2024-07-01", "PDM", 100.0),  # C + 1 day: label
        (GUID, "2024-12-31", "EPDM_CAD_Editor_Seats", 5.0),  # on end(C, W): label
        ("late", "2025-01-01", "PDM", 999.0),  # the day after the window: not label
        ("ret", "2024-08-01", "PDM", -50.0),  # a return only: negative
        ("qty", "2024-08-01", "PDM", 0.0),  # quantity-only, zero GP: negative
        ("deny", "2024-08-01", "EPDM_CAD_Editor_Seats", 70.0),  # denylisted
        ("123", "2024-08-01", "Training", 70.0),  # not a target SKU
    ]
)
POP = pl.DataFrame(
    {
        "customer_id": [
            "00123",
            "123",
            GUID,
            "ret",
            "qty",
            "deny",
            "oncut",
            "late",
            "prospect",
        ]
    }
)


def _labels(**kw):
    args = dict(
        skus=SKUS,
        cutoff=C,
        months=6,
        threshold=0.0,
        mode="expansion",
        denylist=["EPDM_CAD_Editor_Seats"],
    )
    args.update(kw)
    return build_labels(POP, HISTORY, WINDOW, **args)


def test_window_boundaries_and_edge_cases():
    got = _labels(denylist=[])
    labels = dict(zip(got.frame["customer_id"], got.frame["label"], strict=True))
    assert labels == {
        "00123": 1,
        "123": 0,
        GUID: 1,
        "ret": 0,
        "qty": 0,
        "deny": 1,
        "oncut": 0,
        "late": 0,
    }
    assert got.window_end == END
    assert got.first_line_date == dt.date(2024, 7, 1)
    assert got.last_line_date == END
    net = dict(zip(got.frame["customer_id"], got.frame["net_gp"], strict=True))
    assert net["ret"] == -50.0 and net["oncut"] == 0.0 and net["late"] == 0.0


def test_denylisted_sku_never_makes_a_positive():
    got = _labels()
    labels = dict(zip(got.frame["customer_id"], got.frame["label"], strict=True))
    assert labels["deny"] == 0
    assert labels[GUID] == 0  # its only window line is the denylisted SKU


def test_threshold_is_strict():
    got = _labels(denylist=[], threshold=100.0)
    labels = dict(zip(got.frame["customer_id"], got.frame["label"], strict=True))
    assert labels["00123"] == 0  # 100 is not > 100


def test_modes_and_cohorts():
    expansion = _labels()
    assert "prospect" not in expansion.frame["customer_id"].to_list()
    everyone = _labels(mode="all")
    row = everyone.frame.filter(pl.col("customer_id") == "prospect").row(0, named=True)
    assert (row["is_new_logo"], row["is_expansion"], row["is_renewal_like"]) == (
        1,
        0,
        0,
    )
    cohorts = everyone.frame.select(
        pl.sum_horizontal("is_new_logo", "is_expansion", "is_renewal_like")
    ).to_series()
    assert cohorts.to_list() == [1] * everyone.frame.height  # exactly one cohort each
    renewal = everyone.frame.filter(pl.col("is_renewal_like") == 1)["customer_id"]
    assert renewal.to_list() == ["123"]  # bought PDM before C


def test_ids_stay_strings():
    got = _labels(mode="all")
    assert got.frame["customer_id"].dtype == pl.String
    assert {"00123", "123", GUID} <= set(got.frame["customer_id"])


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="label mode"):
        _labels(mode="some")


def test_censoring():
    assert window_state(C, 6, END) is None
    reason = window_state(C, 6, dt.date(2024, 12, 30))
    assert reason is not None and "not complete" in reason and "2024-12-31" in reason
    assert window_state(C, 6, None) == "no sales data has been ingested"
