"""Reason templates: every entry's text for hand-picked values, and the vectorized
number formatting (Python's round-half-even ``format``) on its edge cases."""

from __future__ import annotations

import math
import re

import polars as pl
import pytest

from gosales_assets.lib.whitespace import reason_text
from gosales_assets.lib.whitespace.formatting import (
    days_ago_text,
    duration_text,
    employees,
    grouped_int_text,
    int_text,
    money,
    money_text,
    pct_text,
    round_even,
)
from gosales_assets.lib.whitespace.templates import _ENTRIES

T = "Printers"

# (feature, value, industry, region, expected reason_1); one row each
CASES: list[tuple[str, float | None, str | None, str | None, str | None]] = [
    (
        "tgt__rfm__gp_sum__12m",
        12_345.0,
        None,
        None,
        "spent $12.3k on Printers in the last 12 months",
    ),
    ("tgt__rfm__gp_sum__12m", 0.0, None, None, None),  # "spent $0": no reason
    (
        "tgt__rfm__events__6m",
        2.0,
        None,
        None,
        "bought Printers 2 times in the last 6 months",
    ),
    (
        "tgt__rfm__events__6m",
        1.0,
        None,
        None,
        "bought Printers 1 time in the last 6 months",
    ),
    (
        "tgt__rfm__gp_per_event__24m",
        850.4,
        None,
        None,
        "spends about $850 per Printers order",
    ),
    ("tgt__rfm__qty_sum__life", 3.0, None, None, "bought 3 Printers units to date"),
    ("tgt__rfm__recency_days", 40.0, None, None, "last bought Printers 40 days ago"),
    ("tgt__rfm__recency_days", 3650.0, None, None, None),  # at the "never" cap
    ("tgt__owns__life", 1.0, None, None, "has bought Printers before"),
    ("tgt__owns__12m", 1.0, None, None, "bought Printers in the last 12 months"),
    (
        "tgt__gp_share__24m",
        0.35,
        None,
        None,
        "Printers is 35% of its spend in the last 24 months",
    ),
    # 30 months = 913.125 days = 2.5 years exactly: half to even
    (
        "tgt__lifecycle__months_since_first",
        30.0,
        None,
        None,
        "first bought Printers 2 years ago",
    ),
    ("tgt__ib__active_n", 2.0, None, None, "has 2 active Printers installs"),
    ("tgt__ib__active_qty", 1.0, None, None, "has 1 Printers unit installed"),
    ("tgt__ib__expired_n", 3.0, None, None, "has 3 expired Printers installs"),
    (
        "tgt__affinity__lift_max",
        2.5,
        None,
        None,
        "buys products often bought with Printers",
    ),
    ("tgt__affinity__lift_max", 1.0, None, None, None),  # lift must exceed 1
    (
        "tgt__affinity__n_lift_gt1",
        1.0,
        None,
        None,
        "owns 1 product often bought with Printers",
    ),
    ("tgt__als_sim", 0.4, None, None, "looks like existing Printers customers"),
    (
        "tgt__firm__industry_rate",
        0.2,
        "Aerospace",
        None,
        "Aerospace accounts often buy Printers",
    ),
    (
        "tgt__firm__industry_rate",
        0.2,
        "",
        None,
        "accounts in its industry often buy Printers",
    ),
    (
        "tgt__firm__region_rate",
        0.2,
        None,
        "West",
        "accounts in West often buy Printers",
    ),
    (
        "tgt__firm__region_rate",
        0.2,
        None,
        None,
        "accounts in its region often buy Printers",
    ),
    ("tgt__crm__open_deal", 1.0, None, None, "has an open Printers deal"),
    (
        "tgt__crm__days_since_contact",
        0.4,
        None,
        None,
        "talked with us about Printers today",
    ),
    (
        "tgt__crm__contacts__90d",
        1.0,
        None,
        None,
        "1 contact about Printers in the last 90 days",
    ),
    ("has_history", 1.0, None, None, "is an existing customer"),
    (
        "rfm__gp_sum__12m",
        40_000.0,
        None,
        None,
        "spent $40k with us in the last 12 months",
    ),
    ("rfm__events__3m", 4.0, None, None, "placed 4 orders in the last 3 months"),
    (
        "rfm__gp_per_event__life",
        2_500_000.0,
        None,
        None,
        "spends about $2.5M per order",
    ),
    # 2.5 units: half to even
    ("rfm__qty_sum__24m", 2.5, None, None, "bought 2 units in the last 24 months"),
    (
        "rfm__margin__12m",
        0.125,
        None,
        None,
        "earns us a 12% margin in the last 12 months",
    ),
    ("rfm__recency_days", 1.0, None, None, "last purchase 1 day ago"),
    ("lifecycle__tenure_days", 45.0, None, None, "customer for 45 days"),
    ("lifecycle__ipi_mean_days", 90.0, None, None, "buys about every 3 months"),
    (
        "lifecycle__active_months__12m",
        7.0,
        None,
        None,
        "bought in 7 of the last 12 months",
    ),
    (
        "trajectory__gp_slope__12m",
        0.3,
        None,
        None,
        "spending grew in the last 12 months",
    ),
    (
        "trajectory__gp_slope__12m",
        -0.3,
        None,
        None,
        "spending slowed in the last 12 months",
    ),
    (
        "trajectory__events_slope__12m",
        0.1,
        None,
        None,
        "orders picked up in the last 12 months",
    ),
    (
        "trajectory__events_slope__12m",
        -0.1,
        None,
        None,
        "orders slowed in the last 12 months",
    ),
    (
        "trajectory__gp_volatility__12m",
        1.5,
        None,
        None,
        "buys in bursts in the last 12 months",
    ),
    (
        "trajectory__gp_volatility__12m",
        0.5,
        None,
        None,
        "buys steadily in the last 12 months",
    ),
    ("lifecycle__ipi_std_days", 0.2, None, None, "purchase gaps vary by about 1 day"),
    ("season__q4_share__24m", 0.6, None, None, "buys mostly in Q4"),
    ("season__q4_share__24m", 0.3, None, None, "places 30% of orders in Q4"),
    (
        "xdiv__gp_share__pdm__24m",
        0.35,
        None,
        None,
        "PDM is 35% of its spend in the last 24 months",
    ),
    ("xdiv__owns__pdm", 1.0, None, None, "owns PDM"),
    ("xdiv__n_divisions__life", 3.0, None, None, "buys from 3 divisions to date"),
    (
        "xdiv__n_skus__12m",
        1.0,
        None,
        None,
        "buys 1 different product in the last 12 months",
    ),
    (
        "xdiv__returns_rate__12m",
        0.05,
        None,
        None,
        "returned 5% of lines in the last 12 months",
    ),
    ("ib__active_n", 2.0, None, None, "has 2 active installs"),
    ("ib__active_qty", 5.0, None, None, "has 5 units installed"),
    ("ib__expired_n", 1.0, None, None, "has 1 expired install"),
    ("ib__expiring_n__90d", 2.0, None, None, "2 installs expiring in the next 90 days"),
    ("ib__active__pdm", 1.0, None, None, "has active PDM installs"),
    ("firm__log_employees", math.log1p(1234), None, None, "about 1,234 employees"),
    ("firm__log_employees", math.log1p(0.4), None, None, None),  # under half a person
    ("firm__account_age_days", 400.0, None, None, "account opened 13 months ago"),
    ("firm__industry_freq", 0.06, None, None, "in an industry with 6% of our accounts"),
    ("firm__region_freq", 0.5, None, None, "in a region with 50% of our accounts"),
    ("firm__employees_missing", 1.0, None, None, None),  # never a reason
    ("crm__days_since_contact", 12.0, None, None, "last contacted 12 days ago"),
    ("crm__contacts__30d", 3.0, None, None, "3 contacts in the last 30 days"),
    ("crm__open_deals_n", 1.0, None, None, "has 1 open deal"),
    ("als_f07", -0.2, None, None, "buys a product mix similar to Printers customers"),
    # no template: the catalog description's first clause, never at the default
    ("demo__attended", 2.0, None, None, "number of Printers demos attended"),
    ("demo__attended", 0.0, None, None, None),
    ("not__in_catalog", 5.0, None, None, None),  # a raw name is never shown
    ("tgt__als_sim", None, None, None, None),  # no value
    ("tgt__als_sim", math.inf, None, None, None),  # not finite
]

CATALOG = pl.DataFrame(
    {
        "name": [
            "tgt__rfm__recency_days",
            "rfm__recency_days",
            "xdiv__gp_share__pdm__24m",
            "xdiv__owns__pdm",
            "demo__attended",
        ],
        "default": [3650.0, 3650.0, None, 0.0, 0.0],
        "description": [
            "days since the last target line",
            "days since the last line",
            "share of net GP in division 'PDM' (24 months)",
            "1 if lifetime net GP in division 'PDM' is > 0",
            "number of target demos attended (quarter); extra detail",
        ],
    }
)


def _one_reason_per_row() -> pl.DataFrame:
    ids = [f"c{i:03d}" for i in range(len(CASES))]
    features = sorted({f for f, *_ in CASES if f != "not__in_catalog"})
    values: dict[str, list] = {"customer_id": ids}
    for name in features:
        values[name] = [v if f == name else 0.0 for f, v, *_ in CASES]
    values["industry"] = [case[2] for case in CASES]
    values["region"] = [case[3] for case in CASES]
    contrib = pl.DataFrame(
        {
            "customer_id": ids,
            "feature_1": [case[0] for case in CASES],
            "contribution_1": [1.0] * len(CASES),
        }
    )
    return reason_text(
        contrib, pl.DataFrame(values), CATALOG, target=T, top_n=1
    ).select("customer_id", "reason_1")


def test_every_template_pattern_has_a_hand_checked_case() -> None:
    covered = {
        pattern
        for feature, *_ in CASES
        for pattern, *_ in _ENTRIES
        if re.fullmatch(pattern, feature)
    }
    assert covered == {pattern for pattern, *_ in _ENTRIES}


def test_each_template_renders_the_hand_checked_text() -> None:
    out = _one_reason_per_row()
    got = out["reason_1"].to_list()
    for (feature, value, *_, expected), text in zip(CASES, got, strict=True):
        assert text == expected, (feature, value)


def test_combinable_phrases_merge_and_dedupe_in_contribution_order() -> None:
    names = [
        "xdiv__owns__pdm",
        "tgt__als_sim",
        "xdiv__owns__cam_works",
        "ib__active__pdm",
        "xdiv__owns__pdm",
        "ib__active__sim",
    ]
    contrib = pl.DataFrame(
        {
            "customer_id": ["a"],
            **{f"feature_{i + 1}": [n] for i, n in enumerate(names)},
            # slot 5 ties slot 4: the lower slot comes first
            **{
                f"contribution_{i + 1}": [c]
                for i, c in enumerate([0.9, 0.8, 0.7, 0.6, 0.6, 0.1])
            },
        }
    )
    values = pl.DataFrame(
        {"customer_id": ["a"], **{n: [1.0] for n in set(names)}, "tgt__als_sim": [0.5]}
    )
    out = reason_text(
        contrib, values, CATALOG, target=T, top_n=2, division_names={"sim": "Sim"}
    )
    # the installs group starts after the list is full: dropped; owns keeps merging
    assert out.row(0) == (
        "a",
        "owns PDM and Cam Works",
        "looks like existing Printers customers",
    )
    out3 = reason_text(contrib, values, CATALOG, target=T, top_n=3)
    assert out3.row(0)[3] == "has active PDM and Sim installs"


def _fmt(expr_fn, values: list[float]) -> list[str | None]:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.Float64})
    return frame.select(expr_fn(pl.col("v"))).to_series().to_list()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "$0"),
        (0.5, "$0"),  # half to even
        (1.5, "$2"),
        (999.4, "$999"),
        (999.5, "$1000"),
        (1_000.0, "$1k"),
        (1_250.0, "$1.2k"),  # exact tie 1.25: half to even
        (1_350.0, "$1.4k"),  # 1.35 is stored just above the tie
        (6_350.0, "$6.3k"),  # 6.35 is stored just below the tie
        (19_150.0, "$19.1k"),
        (999_999.0, "$1000k"),
        (2_000_000.0, "$2M"),
        (-1_500.0, "-$1.5k"),
        (1e20, "$100000000000000M"),
    ],
)
def test_money_text_matches_python_format(value: float, text: str) -> None:
    assert money(value) == text
    assert _fmt(money_text, [value, 7.0]) == [text, "$7"]


def test_money_text_equals_money_on_many_values() -> None:
    # amounts as a ledger produces them (cents), ties, and huge magnitudes
    cents = [i * 0.01 for i in range(0, 2_000_001, 997)]
    grid = [k * 50.0 for k in range(0, 40_000)] + [k * 5e4 for k in range(0, 400)]
    huge = [4.5e20, 4.6e20, 1e22, 9.2e24, 1.7e308, -3.3e21]
    values = cents + grid + huge + [-v for v in grid[:1000]]
    assert _fmt(money_text, values) == [money(v) for v in values]
    assert _fmt(lambda v: money_text(v, "€"), [1_250.0]) == ["€1.2k"]


def test_number_formats_on_edge_values() -> None:
    assert _fmt(pct_text, [0.125, 0.135, -0.004, 0.0, -0.0, 2.5]) == [
        "12%",
        "14%",
        "-0%",
        "0%",
        "-0%",  # as f"{-0.0:.0f}%"
        "250%",
    ]
    assert _fmt(days_ago_text, [0.4, 0.5, 1.5, 1.0, -3.0, 2.5]) == [
        "today",
        "today",
        "2 days ago",
        "1 day ago",
        "today",
        "2 days ago",
    ]
    assert _fmt(duration_text, [0.0, 1.2, 59.4, 60.0, 729.9, 730.0, 913.125, 1e9]) == [
        "1 day",
        "1 day",
        "59 days",
        "2 months",
        "24 months",
        "2 years",
        "2 years",
        "2737851 years",
    ]
    assert _fmt(grouped_int_text, [0.0, 999.0, 1000.0, 1234567.0, -98765.0]) == [
        "0",
        "999",
        "1,000",
        "1,234,567",
        "-98,765",
    ]
    assert _fmt(int_text, [3.0, -0.0, 2.0**63, -1e19, 9.2e18]) == [
        "3",
        "0",
        str(2**63),
        str(int(-1e19)),
        str(int(9.2e18)),
    ]


def test_employee_counts_round_as_with_math_expm1() -> None:
    # log1p of counts and values around half-integers, where a last-bit
    # difference of expm1 would change the rounding or the 0.5 bar
    values = [math.log1p(n) for n in range(0, 20_000)]
    values += [math.log1p(k + 0.5) for k in range(0, 2_000)]
    for k in range(2_000):  # a few units in the last place around each half
        x = math.log1p(k + 0.5)
        values += [x + d * math.ulp(x) for d in range(-3, 4)]
    values += [math.log1p(0.5) + d * 1e-17 for d in range(-20, 21)]
    frame = pl.DataFrame({"v": values})
    got = frame.select(
        round_even(employees(pl.col("v"))).alias("n"),
        (employees(pl.col("v")) >= 0.5).alias("bar"),
    )
    expected = [math.expm1(min(v, 30.0)) for v in values]
    assert got["n"].to_list() == [float(round(e)) for e in expected]
    assert got["bar"].to_list() == [e >= 0.5 for e in expected]
