"""Leakage safety and determinism of the feature engine, as behavioural properties.

Appending rows dated after C (lines, assets, contacts, deals, later-created
customers) must leave every output byte-identical; moving a row from C+1 to C must
change the features; two calls give identical frames.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gosales_assets.config import DEFAULT_CONFIG_PATH, load_config
from gosales_assets.lib.features import (
    build_als,
    build_customer_base,
    build_target_features,
)
from gosales_assets.lib.features.snapshot import StarSnapshot
from gosales_assets.lib.features.synthetic import snapshot_from_rows, typed

CFG = load_config(
    DEFAULT_CONFIG_PATH,
    env={"GOSALES_HOME": "/nonexistent/home", "GOSALES_RAW_DIR": "/nonexistent/raw"},
)
C = dt.date(2024, 6, 30)
IDS = ["a", "b", "c", "d", "e"]
SKUS = ["SWX_Core", "PDM", "Training", "FDM", "Success_Plan", "CATIA"]
DIVS = ["Solidworks", "PDM", "Hardware"]
TARGETS = ("Solidworks", "Printers")


def _day(offset: int) -> str:
    return (C + dt.timedelta(days=offset)).isoformat()


def lines(past: bool) -> st.SearchStrategy[list[dict]]:
    offsets = st.integers(-1500, 0) if past else st.integers(1, 400)
    return st.lists(
        st.fixed_dictionaries(
            {
                "customer_id": st.sampled_from([*IDS, "new"] if not past else IDS),
                "invoice_id": st.sampled_from(["i1", "i2", "i3", "i4", "i5", "i6"]),
                "order_date": offsets.map(_day),
                "sku": st.sampled_from(SKUS),
                "gross_profit": st.sampled_from([-50.0, 0.0, 12.5, 100.0, 2500.0]),
                "quantity": st.sampled_from([-1.0, 0.0, 1.0, 3.0]),
                "revenue": st.sampled_from([None, 10.0, 400.0]),
            }
        ),
        max_size=25,
    )


def assets(past: bool) -> st.SearchStrategy[list[dict]]:
    offsets = st.integers(-1500, 0) if past else st.integers(1, 400)
    return st.lists(
        st.fixed_dictionaries(
            {
                "customer_id": st.sampled_from(IDS),
                "sku": st.sampled_from(SKUS),
                "purchase_date": offsets.map(_day),
                "expiration_date": st.one_of(
                    st.none(), st.integers(-400, 800).map(_day)
                ),
                "quantity": st.sampled_from([None, 1.0, 5.0]),
            }
        ),
        max_size=6,
    )


def crm(past: bool) -> st.SearchStrategy[tuple[list[dict], list[dict]]]:
    offsets = st.integers(-400, 0) if past else st.integers(1, 400)
    contacts = st.lists(
        st.fixed_dictionaries(
            {
                "customer_id": st.sampled_from(IDS),
                "contact_date": offsets.map(_day),
                "division": st.sampled_from([None, *DIVS]),
            }
        ),
        max_size=5,
    )
    deals = st.lists(
        st.fixed_dictionaries(
            {
                "customer_id": st.sampled_from(IDS),
                "division": st.sampled_from(DIVS),
                "opened_date": offsets.map(_day),
            }
        ),
        max_size=4,
    )
    return st.tuples(contacts, deals)


def customers() -> list[dict]:
    return [
        {"customer_id": c, "industry": ["Mfg", None, "Edu"][i % 3], "employees": i}
        for i, c in enumerate(IDS)
    ]


def features(snap: StarSnapshot) -> list[pl.DataFrame]:
    base = build_customer_base(snap, CFG)
    als = build_als(snap, CFG)
    out = [base.frame, base.stats, als.customer_factors, als.sku_factors]
    for target in TARGETS:
        fm = build_target_features(snap, base, als, target, CFG)
        out += [fm.frame, fm.stats]
    return out


def appended(snap: StarSnapshot, name: str, rows: list[dict]) -> pl.DataFrame:
    return pl.concat([getattr(snap, name), typed(name, rows)])


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    past=lines(True),
    future=lines(False),
    past_assets=assets(True),
    future_assets=assets(False),
    past_crm=crm(True),
    future_crm=crm(False),
    closes=st.lists(st.integers(1, 300), max_size=4),
)
def test_future_rows_never_change_features(
    past, future, past_assets, future_assets, past_crm, future_crm, closes
) -> None:
    deals = [
        {**d, "closed_date": _day(n)} for d, n in zip(past_crm[1], closes, strict=False)
    ] + past_crm[1][len(closes) :]
    snap = snapshot_from_rows(
        CFG, C, past, customers(), past_assets, past_crm[0], deals
    )
    before = features(snap)
    smap = {e.sku: e.division for e in CFG.sku_map.entries}
    later = StarSnapshot(
        cutoff=C,
        fact=appended(
            snap,
            "fact",
            [{**r, "division": smap[r["sku"]], "line_no": 9} for r in future],
        ),
        customers=appended(
            snap, "customers", [{"customer_id": "late", "created_date": _day(5)}]
        ),
        install_base=appended(
            snap,
            "install_base",
            [{**r, "division": smap[r["sku"]]} for r in future_assets],
        ),
        contacts=appended(snap, "contacts", future_crm[0]),
        open_deals=appended(snap, "open_deals", future_crm[1]),
        sku=snap.sku,
    )
    after = features(later)
    for x, y in zip(before, after, strict=True):
        assert x.equals(y)
    fm = before[-2]
    assert fm.null_count().sum_horizontal().item() == 0
    floats = fm.select(pl.col(pl.Float64))
    assert floats.select(pl.all().is_finite().all()).row(0) == (True,) * floats.width
    assert fm.select(pl.col("^xdiv__gp_share.*$")).min_horizontal().min() >= 0.0
    assert fm.select(pl.col("^xdiv__gp_share.*$")).max_horizontal().max() <= 1.0


FACT = [
    {"customer_id": "a", "order_date": "2024-03-01", "sku": "PDM"},
    {"customer_id": "b", "order_date": "2024-05-01", "sku": "SWX_Core"},
]


def test_row_moved_from_after_cutoff_onto_cutoff_changes_features() -> None:
    late = {"customer_id": "a", "order_date": "2024-07-01", "sku": "SWX_Core"}
    on_c = {**late, "order_date": "2024-06-30"}
    x = features(snapshot_from_rows(CFG, C, [*FACT, late], customers()))
    y = features(snapshot_from_rows(CFG, C, [*FACT, on_c], customers()))
    a_x = x[4].filter(pl.col("customer_id") == "a").row(0, named=True)
    a_y = y[4].filter(pl.col("customer_id") == "a").row(0, named=True)
    assert a_x["rfm__events__3m"] == 0 and a_y["rfm__events__3m"] == 1
    assert a_x["tgt__owns__life"] == 0 and a_y["tgt__owns__life"] == 1
    assert a_y["rfm__recency_days"] == 0


def test_two_calls_give_identical_frames() -> None:
    from gosales_assets.lib.features.synthetic import synthetic_snapshot

    snap = synthetic_snapshot(CFG, C, n_customers=300, n_lines=6000, seed=3)
    x, y = features(snap), features(snap)
    for a, b in zip(x, y, strict=True):
        assert a.equals(b)
