"""Feature engine on hand-checkable fixtures: exact values, windows, schema, fills."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from gosales_assets.config import DEFAULT_CONFIG_PATH, ConfigError, load_config
from gosales_assets.lib.features import (
    build_als,
    build_customer_base,
    build_target_features,
    feature_catalog,
)
from gosales_assets.lib.features.naming import slug, unique_slugs
from gosales_assets.lib.features.snapshot import StarSnapshot
from gosales_assets.lib.features.synthetic import snapshot_from_rows, typed

CFG = load_config(
    DEFAULT_CONFIG_PATH,
    env={"GOSALES_HOME": "/nonexistent/home", "GOSALES_RAW_DIR": "/nonexistent/raw"},
)
C = dt.date(2024, 6, 30)

FACT = [
    # A: invoice I1 has two lines on C (one event), I2 inside 3m, I3 exactly on the
    # 3-month boundary add_months(C, -3) = 2024-03-31 (outside 3m, inside 6m).
    {"customer_id": "A", "invoice_id": "I1", "line_no": 1, "order_date": "2024-06-30",
     "sku": "SWX_Core", "gross_profit": 100.0, "quantity": 1.0, "revenue": 400.0},
    {"customer_id": "A", "invoice_id": "I1", "line_no": 2, "order_date": "2024-06-30",
     "sku": "PDM", "gross_profit": 50.0, "quantity": 2.0, "revenue": 100.0},
    {"customer_id": "A", "invoice_id": "I2", "order_date": "2024-04-01",
     "sku": "Training", "gross_profit": 30.0},
    {"customer_id": "A", "invoice_id": "I3", "order_date": "2024-03-31",
     "sku": "Services", "gross_profit": 20.0},
    # B: a single return.
    {"customer_id": "B", "invoice_id": "I4", "order_date": "2023-01-15",
     "sku": "SWX_Core", "gross_profit": -30.0, "quantity": -1.0},
    # D: a very old line (recency and tenure capped).
    {"customer_id": "D", "invoice_id": "I5", "order_date": "2010-01-01",
     "sku": "FDM", "gross_profit": 10.0},
]  # fmt: skip
CUSTOMERS = [
    {"customer_id": "A", "industry": "Mfg", "region": "East", "employees": 99,
     "created_date": "2020-01-01"},
    {"customer_id": "B", "industry": "Mfg", "region": "East"},
    {"customer_id": "D", "industry": "Mfg", "region": "West", "employees": 0},
    {"customer_id": "P", "industry": "Retail", "created_date": "2024-06-20"},
]  # fmt: skip


def snap_of(cutoff: dt.date = C, fact=FACT, **kw) -> StarSnapshot:
    return snapshot_from_rows(CFG, cutoff, fact, kw.pop("customers", CUSTOMERS), **kw)


def cfg_with(**features):
    return CFG.model_copy(update={"features": CFG.features.model_copy(update=features)})


def row(result, customer: str) -> dict:
    return result.frame.filter(pl.col("customer_id") == customer).row(0, named=True)


def full(snap: StarSnapshot, target: str = "Solidworks", cfg=CFG):
    base = build_customer_base(snap, cfg)
    als = build_als(snap, cfg, base=base)
    return build_target_features(snap, base, als, target, cfg)


@pytest.fixture(scope="module")
def base():
    return build_customer_base(snap_of(), CFG)


def test_one_row_per_known_customer_sorted(base) -> None:
    assert base.frame.get_column("customer_id").to_list() == ["A", "B", "D", "P"]
    assert base.frame.columns[0] == "customer_id"


def test_events_are_invoices_not_lines_and_window_boundary(base) -> None:
    a = row(base, "A")
    assert a["rfm__events__3m"] == 2  # I1 (two lines) + I2; I3 on the boundary is out
    assert a["rfm__events__6m"] == 3
    assert a["rfm__events__life"] == 3
    assert a["rfm__gp_sum__3m"] == pytest.approx(180.0)
    assert a["rfm__gp_sum__6m"] == pytest.approx(200.0)
    assert a["rfm__gp_per_event__3m"] == pytest.approx(90.0)
    assert a["rfm__qty_sum__3m"] == pytest.approx(4.0)
    assert a["rfm__margin__3m"] == pytest.approx(150.0 / 500.0)


def test_mid_month_cutoff_window_boundary() -> None:
    c = dt.date(2024, 5, 15)  # add_months(c, -3) = 2024-02-15
    fact = [
        {"customer_id": "A", "order_date": "2024-02-15", "sku": "PDM"},
        {"customer_id": "A", "order_date": "2024-02-16", "sku": "PDM"},
        {"customer_id": "A", "order_date": "2024-05-15", "sku": "PDM"},
    ]
    a = row(build_customer_base(snap_of(c, fact), CFG), "A")
    assert a["rfm__events__3m"] == 2
    assert a["rfm__events__6m"] == 3
    assert a["lifecycle__active_months__12m"] == 3  # buckets 0, 2 and 3


def test_recency_tenure_and_history(base) -> None:
    cap = CFG.features.recency_cap_days
    a, b, d, p = (row(base, c) for c in "ABDP")
    assert a["rfm__recency_days"] == 0
    assert b["rfm__recency_days"] == (C - dt.date(2023, 1, 15)).days
    assert d["rfm__recency_days"] == cap  # 5294 days, capped
    assert p["rfm__recency_days"] == cap  # never bought
    assert a["lifecycle__tenure_days"] == 91
    assert d["lifecycle__tenure_days"] == cap
    assert p["lifecycle__tenure_days"] == 0  # no history: 0, not "lt3m" (B31)
    assert (a["has_history"], b["has_history"], p["has_history"]) == (1, 1, 0)


def test_recency_floor() -> None:
    cfg = cfg_with(recency_floor_days=30, recency_cap_days=1000)
    res = build_customer_base(snap_of(), cfg)
    assert row(res, "A")["rfm__recency_days"] == 30
    assert row(res, "A")["lifecycle__tenure_days"] == 91
    assert row(res, "D")["rfm__recency_days"] == 1000
    assert row(res, "P")["rfm__recency_days"] == 1000


def test_lifecycle_trajectory_seasonality(base) -> None:
    a = row(base, "A")
    assert a["lifecycle__ipi_mean_days"] == pytest.approx(45.5)  # gaps 1 and 90
    assert a["lifecycle__ipi_std_days"] == pytest.approx(44.5)
    assert row(base, "B")["lifecycle__ipi_mean_days"] == CFG.features.recency_cap_days
    assert a["lifecycle__active_months__12m"] == 3
    # monthly GP: 150 in bucket 0 (x=11), 30 in bucket 2 (x=9), 20 in bucket 3 (x=8)
    assert a["trajectory__gp_slope__12m"] == pytest.approx(980.0 / 143.0)
    y = [0.0] * 8 + [20.0, 30.0, 0.0, 150.0]
    mean = sum(y) / 12
    std = math.sqrt(sum((v - mean) ** 2 for v in y) / 12)
    assert a["trajectory__gp_volatility__12m"] == pytest.approx(std / mean)
    assert a["season__q1_share__24m"] == pytest.approx(1 / 3)
    assert a["season__q2_share__24m"] == pytest.approx(2 / 3)
    assert row(base, "P")["season__q2_share__24m"] == 0.0


def test_cross_division_mix(base) -> None:
    a, b = row(base, "A"), row(base, "B")
    assert a["xdiv__owns__solidworks"] == 1
    assert b["xdiv__owns__solidworks"] == 0  # net GP of a return is not ownership
    assert a["xdiv__n_divisions__life"] == 4
    assert a["xdiv__n_skus__12m"] == 4
    assert b["xdiv__n_divisions__12m"] == 0
    assert b["xdiv__n_divisions__24m"] == 1
    assert a["xdiv__returns_rate__12m"] == 0.0
    shares = [c for c in base.frame.columns if c.startswith("xdiv__gp_share__")]
    assert len(shares) == len(CFG.sku_map.divisions)
    vals = base.frame.select(shares).to_numpy()
    assert (vals >= 0).all() and (vals <= 1).all()
    # Only A has positive GP: the prior is A's raw share, and P/B/D get the prior.
    assert a["xdiv__gp_share__solidworks__24m"] == pytest.approx(0.5)
    assert row(base, "P")["xdiv__gp_share__pdm__24m"] == pytest.approx(0.25)
    stats = base.stats.filter(pl.col("name") == "xdiv__gp_share__pdm__24m").row(
        0, named=True
    )
    assert stats["fill_value"] == pytest.approx(0.25)
    assert stats["coverage"] == pytest.approx(0.25)


def test_eb_share_shrinks_towards_prior() -> None:
    fact = [
        {"customer_id": "X", "order_date": "2024-06-01", "sku": "PDM",
         "gross_profit": 1000.0},
        {"customer_id": "Y", "order_date": "2024-06-01", "sku": "Training",
         "gross_profit": 1000.0},
        {"customer_id": "Z", "order_date": "2024-06-01", "sku": "PDM",
         "gross_profit": 10.0},
        {"customer_id": "Z", "order_date": "2024-06-02", "sku": "Training",
         "gross_profit": 990.0},
    ]  # fmt: skip
    res = build_customer_base(snap_of(fact=fact, customers=None), CFG)
    k = res.info["eb_k"]
    assert k == pytest.approx(5 * 1000.0)  # 5 pseudo-events of the median GP/event
    prior = (1.0 + 0.0 + 0.01) / 3
    x = row(res, "X")["xdiv__gp_share__pdm__24m"]
    assert x == pytest.approx((1000 + k * prior) / (1000 + k))
    assert prior < x < 1.0


def test_install_base_and_crm() -> None:
    ib = [
        {"customer_id": "A", "sku": "SWX_Core", "purchase_date": "2023-01-01"},
        {"customer_id": "A", "sku": "PDM", "purchase_date": "2022-01-01",
         "expiration_date": "2024-06-30"},  # expired at C (not after C)
        {"customer_id": "A", "sku": "Training", "purchase_date": "2024-01-01",
         "expiration_date": "2024-07-15", "quantity": 3.0},
        {"customer_id": "A", "sku": "CATIA", "purchase_date": "2024-07-01"},  # future
    ]  # fmt: skip
    contacts = [
        {"customer_id": "A", "contact_date": "2024-06-30", "division": "Solidworks"},
        {"customer_id": "A", "contact_date": "2024-06-01", "division": "PDM"},
        {"customer_id": "A", "contact_date": "2024-05-31", "division": "Solidworks"},
        {"customer_id": "A", "contact_date": "2024-07-01", "division": "Solidworks"},
    ]
    deals = [
        {"customer_id": "A", "division": "Solidworks", "opened_date": "2024-05-01"},
        {"customer_id": "A", "division": "PDM", "opened_date": "2024-01-01",
         "closed_date": "2024-07-10"},  # closes after C: open at C
        {"customer_id": "B", "division": "PDM", "opened_date": "2024-01-01",
         "closed_date": "2024-06-30"},  # closed on C
        {"customer_id": "B", "division": "PDM", "opened_date": "2024-08-01"},
    ]  # fmt: skip
    snap = snap_of(install_base=ib, contacts=contacts, open_deals=deals)
    fm = full(snap, "Solidworks")
    a, b = row(fm, "A"), row(fm, "B")
    assert (a["ib__active_n"], a["ib__expired_n"]) == (2, 1)
    assert a["ib__active_qty"] == pytest.approx(4.0)  # null quantity counts 1
    assert (a["ib__expiring_n__30d"], a["ib__expiring_n__90d"]) == (1, 1)
    assert (a["ib__active__solidworks"], a["ib__active__pdm"]) == (1, 0)
    assert a["ib__active__cpe"] == 0  # bought after C
    assert (a["tgt__ib__active_n"], a["tgt__ib__expired_n"]) == (1, 0)
    assert a["crm__days_since_contact"] == 0
    assert (a["crm__contacts__30d"], a["crm__contacts__90d"]) == (2, 3)
    assert (a["tgt__crm__contacts__30d"], a["tgt__crm__contacts__90d"]) == (1, 2)
    assert a["crm__open_deals_n"] == 2 and b["crm__open_deals_n"] == 0
    assert a["tgt__crm__open_deal"] == 1
    assert fm.source_max_dates["contacts.contact_date"] == C
    assert fm.source_max_dates["install_base.purchase_date"] == dt.date(2024, 1, 1)
    pdm = full(snap, "PDM")
    assert row(pdm, "A")["tgt__crm__open_deal"] == 1
    assert row(pdm, "B")["tgt__crm__open_deal"] == 0


def test_empty_optional_inputs_have_defaults_and_zero_coverage(base) -> None:
    empty = StarSnapshot(
        cutoff=C,
        fact=snap_of().fact,
        customers=snap_of().customers,
        install_base=pl.DataFrame(),
        contacts=pl.DataFrame(),
        open_deals=pl.DataFrame(),
        sku=snap_of().sku,
    )
    fm = full(empty)
    for col in ("crm__contacts__30d", "tgt__crm__open_deal", "ib__active_n"):
        assert fm.frame.get_column(col).to_list() == [0, 0, 0, 0]
        stat = fm.stats.filter(pl.col("name") == col).row(0, named=True)
        assert stat["coverage"] == 0.0 and stat["null_rate"] == 1.0
    assert fm.frame.get_column("crm__days_since_contact").unique().to_list() == [
        CFG.features.recency_cap_days
    ]


def test_firmographics(base) -> None:
    a, d, p = row(base, "A"), row(base, "D"), row(base, "P")
    assert a["firm__log_employees"] == pytest.approx(math.log1p(99))
    assert (d["firm__log_employees"], d["firm__employees_missing"]) == (0.0, 0)
    assert (p["firm__log_employees"], p["firm__employees_missing"]) == (0.0, 1)
    assert a["firm__industry_freq"] == pytest.approx(0.75)
    assert p["firm__region_freq"] == 0.0
    assert p["firm__account_age_days"] == 10
    assert row(base, "B")["firm__created_missing"] == 1


def test_target_features_exact_names() -> None:
    snap = snap_of()
    fm = full(snap, "SWX_Seats")
    a, b = row(fm, "A"), row(fm, "B")
    assert a["tgt__rfm__events__life"] == 1
    assert a["tgt__rfm__gp_sum__3m"] == pytest.approx(100.0)
    assert a["tgt__owns__life"] == 1 and b["tgt__owns__life"] == 0
    assert b["tgt__rfm__recency_days"] == (C - dt.date(2023, 1, 15)).days
    assert a["tgt__lifecycle__months_since_first"] == 0.0
    assert fm.info["target_skus"] == ["SWX_Core", "SWX_Pro_Prem"]
    with pytest.raises(ConfigError):
        full(snap, "swx_seats")
    # A lower-case SKU is a different SKU: never a target line.
    odd = snap_of(
        fact=[{"customer_id": "Q", "order_date": "2024-06-01", "sku": "swx_core"}],
        customers=None,
    )
    q = row(full(odd, "SWX_Seats"), "Q")
    assert q["tgt__rfm__events__life"] == 0 and q["rfm__events__life"] == 1


def test_schema_fixed_across_cutoffs_and_targets() -> None:
    cat = feature_catalog(CFG)
    names = cat.get_column("name").to_list()
    dtypes = cat.get_column("dtype").to_list()
    assert len(names) == len(set(names))
    assert all(n.startswith("tgt__") == (s == "target") for n, s in cat.select(
        "name", "scope").iter_rows())  # fmt: skip
    for target in CFG.target_names:
        assert all(target.lower() not in n for n in names if n.startswith("tgt__"))
    for cutoff in (C, dt.date(2021, 3, 15)):
        for target in ("Solidworks", "Printers"):
            fm = full(snap_of(cutoff), target)
            assert fm.frame.columns == ["customer_id", *names]
            assert [str(t) for t in fm.frame.dtypes[1:]] == dtypes
            assert fm.stats.get_column("name").to_list() == names
            assert fm.frame.null_count().sum_horizontal().item() == 0
            floats = fm.frame.select(pl.col(pl.Float64))
            assert (
                floats.select(pl.all().is_finite().all()).sum_horizontal().item()
                == floats.width
            )


def test_slugs_are_safe_and_collision_free() -> None:
    assert slug("Success Plan") == "success_plan"
    assert slug("3D-Print/Ü") == "n3d_print_u"
    assert unique_slugs(["Success Plan", "success-plan", "X"]) == {
        "Success Plan": "success_plan",
        "X": "x",
        "success-plan": "success_plan_2",
    }


def test_typed_conforms_missing_columns() -> None:
    frame = typed("contacts", [{"customer_id": "A", "contact_date": "2024-01-01"}])
    assert frame.schema["division"] == pl.String
    assert frame.get_column("contact_date").to_list() == [dt.date(2024, 1, 1)]


def test_winsorization_uses_buyers_only() -> None:
    fact = [
        {"customer_id": f"C{i}", "order_date": "2024-06-01", "sku": "PDM",
         "gross_profit": float(gp)}
        for i, gp in enumerate([10, 20, 30, 40, 1000])
    ]  # fmt: skip
    customers = [{"customer_id": f"N{i}"} for i in range(20)] + [
        {"customer_id": f"C{i}"} for i in range(5)
    ]
    res = build_customer_base(
        snap_of(fact=fact, customers=customers), cfg_with(winsor_upper_quantile=0.75)
    )
    stat = res.stats.filter(pl.col("name") == "rfm__gp_sum__3m").row(0, named=True)
    assert stat["cap"] == pytest.approx(40.0)  # 0.75 quantile of the 5 buyers
    assert stat["max"] == pytest.approx(40.0)
    assert row(res, "N0")["rfm__gp_sum__3m"] == 0.0


def test_guard_drops_counts_and_reports_source_dates() -> None:
    future = {"customer_id": "A", "order_date": "2024-07-01", "sku": "PDM"}
    late = {"customer_id": "L", "created_date": "2024-07-02"}
    res = build_customer_base(
        snap_of(fact=[*FACT, future], customers=[*CUSTOMERS, late]), CFG
    )
    assert res.info["fact_rows_after_cutoff_dropped"] == 1
    assert res.info["customers_created_after_cutoff_dropped"] == 1
    assert res.frame.get_column("customer_id").to_list() == ["A", "B", "D", "P"]
    assert res.source_max_dates["fact.order_date"] == C
    assert all(d is None or d <= C for d in res.source_max_dates.values())
    assert res.stats.height == res.frame.width - 1
    assert res.stats.get_column("fill_value").null_count() == 0
    assert res.frame.equals(build_customer_base(snap_of(), CFG).frame)
