"""Whitespace: settings, normalization, ICP scores, blend weights, eligibility,
cooldown. Every configured weight and rule is shown to change the output."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from gosales_assets.lib.whitespace import (
    RULES,
    WhitespaceSettings,
    effective_weights,
    normalize_within_target,
    percentile,
    rank_whitespace,
    score_icp,
    typical_target_gp,
)
from gosales_assets_tests.test_whitespace_fixtures import (
    CUTOFF,
    TARGET,
    frame,
    rules_frame,
    signals_frame,
)

S = WhitespaceSettings()


def rank(cands: pl.DataFrame, settings: WhitespaceSettings = S, history=None):
    return rank_whitespace(cands, settings, CUTOFF, TARGET, history)


def order(result) -> list[str]:
    return result.ranked["customer_id"].to_list()


# -- settings ----------------------------------------------------------------------


def test_settings_round_trip_and_refuse_unknown_keys() -> None:
    assert WhitespaceSettings.from_dict(S.to_dict()) == S
    assert WhitespaceSettings.from_dict(None) == S
    with pytest.raises(ValueError, match="unknown whitespace"):
        WhitespaceSettings.from_dict({"wieghts": {}})
    with pytest.raises(ValueError, match="unknown capacity"):
        WhitespaceSettings.from_dict({"capacity": {"top_shar": 0.2}})
    with pytest.raises(ValueError, match="exclude_owners"):
        WhitespaceSettings.from_dict({"eligibility": {"exclude_owners": "sometimes"}})
    with pytest.raises(ValueError, match="weights"):
        WhitespaceSettings.from_dict({"weights": {"p_icp_pct": -1}})
    with pytest.raises(ValueError, match="division_share_cap"):
        S.replace(**{"capacity.division_share_cap": 0})
    s = S.replace(**{"capacity.mode": "per_rep", "grade_cuts": {"A": 0.5}})
    assert s.capacity.mode == "per_rep" and s.grade_cuts == (("A", 0.5),)


# -- normalization -----------------------------------------------------------------


def test_zero_and_missing_signals_normalize_to_zero() -> None:
    v = pl.Series([0.0, None, 3.0, 1.0, 3.0, -1.0, float("nan")])
    out = normalize_within_target(v).to_list()
    # present: 3, 1, 3 -> ranks 2.5, 1, 2.5 of n=3
    assert out == pytest.approx([0.0, 0.0, 2.5 / 3, 1 / 3, 2.5 / 3, 0.0, 0.0])
    assert normalize_within_target(pl.Series([0.0, 0.0])).to_list() == [0.0, 0.0]


def test_percentile_average_ties() -> None:
    assert percentile(pl.Series([0.1, 0.2, 0.2, 0.5])).to_list() == [
        0.25,
        0.625,
        0.625,
        1.0,
    ]


def test_effective_weights_scale_by_coverage_and_renormalize() -> None:
    base = S.base_weights
    cov = {"p_icp_pct": 1.0, "affinity": 0.1, "als": 0.0, "ev": 1.0}
    w, f = effective_weights(base, cov, 0.2)
    assert f == {"p_icp_pct": 1.0, "affinity": 0.5, "als": 0.0, "ev": 1.0}
    total = 0.6 + 0.1 + 0.1
    assert w["affinity"] == pytest.approx(0.1 / total)
    assert w["als"] == 0.0
    assert math.fsum(w.values()) == pytest.approx(1.0)


# -- ICP scores --------------------------------------------------------------------


def test_score_icp_percentile_grade_version() -> None:
    scores = pl.DataFrame(
        {"customer_id": ["b", "a", "c", "d", "e"], "p_icp": [0.2, 0.9, 0.2, 0.5, 0.01]}
    )
    out = score_icp(scores, "v1", S)
    assert out["customer_id"].to_list() == ["a", "b", "c", "d", "e"]
    assert out["p_icp_pct"].to_list() == [1.0, 0.5, 0.5, 0.8, 0.2]
    assert out["grade"].to_list() == ["A", "C", "C", "B", "D"]
    assert set(out["model_version"].to_list()) == {"v1"}
    coarse = score_icp(scores, "v1", S.replace(grade_cuts={"A": 0.5}))
    assert coarse["grade"].to_list() == ["A", "A", "A", "A", "F"]
    lowest = score_icp(scores, "v1", S.replace(grade_cuts={"A": 0.5}, lowest_grade="Z"))
    assert lowest["grade"].to_list()[-1] == "Z"
    with_reasons = score_icp(
        scores, "v1", S, reasons=pl.DataFrame({"customer_id": ["a"], "reason_1": ["x"]})
    )
    assert with_reasons["reason_1"].to_list() == ["x", None, None, None, None]
    with pytest.raises(ValueError, match="p_icp"):
        score_icp(scores.with_columns(p_icp=pl.lit(float("nan"))), "v1", S)
    with pytest.raises(ValueError, match="duplicate"):
        score_icp(pl.concat([scores, scores]), "v1", S)


# -- the blend ---------------------------------------------------------------------


def test_blend_is_hand_checkable() -> None:
    cands = frame(
        [
            {"customer_id": "x", "p_icp": 0.8, "affinity": 2.0, "expected_value": 5.0},
            {"customer_id": "y", "p_icp": 0.4, "affinity": 0.0, "als_sim": 0.5},
        ]
    )
    s = S.replace(coverage_floor=0.0)
    r = rank(cands, s)
    x, y = r.ranked.sort("customer_id").iter_rows(named=True)
    # x: icp 1.0, affinity 1.0, als 0, ev 1.0 ; y: icp 0.5, affinity 0, als 1.0, ev 0
    assert x["score"] == pytest.approx(0.6 + 0.2 + 0.1)
    assert y["score"] == pytest.approx(0.6 * 0.5 + 0.1)
    assert r.coverage == {"p_icp_pct": 1.0, "affinity": 0.5, "als": 0.5, "ev": 0.5}


@pytest.mark.parametrize(
    ("signal", "column"),
    [
        ("p_icp_pct", "p_icp"),
        ("affinity", "affinity"),
        ("als", "als_sim"),
        ("ev", "expected_value"),
    ],
)
def test_each_weight_is_applied(signal: str, column: str) -> None:
    cands = signals_frame()
    default = rank(cands)
    only = {k: 1.0 if k == signal else 0.0 for k in S.base_weights}
    alone = rank(cands, S.replace(weights=only))
    assert alone.effective_weights[signal] == 1.0
    # ranking by that signal alone = the signal's own order (ties: p_icp, id)
    expected = cands.sort(
        [column, "p_icp", "customer_id"], descending=[True, True, False]
    )["customer_id"].to_list()
    assert order(alone) == expected
    dropped = {**S.base_weights, signal: 0.0}
    without = rank(cands, S.replace(weights=dropped))
    assert without.ranked["score"].to_list() != default.ranked["score"].to_list()


def test_coverage_floor_changes_weights_and_scores() -> None:
    rows = [
        {
            "customer_id": f"C{i}",
            "p_icp": 0.1 + i / 20,
            "als_sim": 0.3 + i / 100,
            "expected_value": 10.0 + i,
        }
        for i in range(10)
    ]
    rows[0]["affinity"] = 4.0  # coverage 0.1
    cands = frame(rows)
    scaled = rank(cands)  # floor 0.2 -> affinity factor 0.5
    plain = rank(cands, S.replace(coverage_floor=0.0))
    assert scaled.weight_factors["affinity"] == pytest.approx(0.5)
    assert scaled.effective_weights["affinity"] == pytest.approx(0.1 / 0.9)
    assert plain.effective_weights["affinity"] == pytest.approx(0.2)
    assert scaled.ranked.filter(pl.col("customer_id") == "C0")["score"].item() < (
        plain.ranked.filter(pl.col("customer_id") == "C0")["score"].item()
    )


def test_ev_quantile_cap_ties_the_top() -> None:
    cands = frame(
        [
            {"customer_id": f"C{i:02d}", "expected_value": float(i + 1)}
            for i in range(40)
        ]
    )
    capped = rank(cands).ranked.sort("expected_value")["ev_norm"].to_list()
    uncapped = (
        rank(cands, S.replace(ev_quantile_cap=1.0))
        .ranked.sort("expected_value")["ev_norm"]
        .to_list()
    )
    # 0.95 quantile of 1..40 = 38.05: 39 and 40 tie at (39 + 40) / 2 / 40
    assert capped[-3:] == pytest.approx([38 / 40, 0.9875, 0.9875])
    assert uncapped[-3:] == pytest.approx([38 / 40, 39 / 40, 1.0])
    assert rank(cands).ev_cap == pytest.approx(38.05)


def test_expected_value_from_segment_typical_gp() -> None:
    gp = [100.0, 300.0, 0.0, 1000.0, 0.0]
    seg = ["I1", "I1", "I1", "I2", "I2"]
    base = frame(
        [
            {"customer_id": f"C{i}", "industry": s, "p_icp": 0.5}
            for i, s in enumerate(seg)
        ]
    ).drop("expected_value")
    cands = base.with_columns(pl.Series("target_gp_24m", gp))
    typ = typical_target_gp(cands, "industry", 2)
    # I1 has 2 buyers (median 200); I2 has 1 buyer -> overall median of 100,300,1000
    assert typ["typical_gp"].to_list() == [200.0, 200.0, 200.0, 300.0, 300.0]
    assert typ["typical_gp_source"].to_list()[3] == "overall"
    r1 = rank(cands, S.replace(ev_min_segment_buyers=1)).ranked.sort("customer_id")
    r2 = rank(cands, S.replace(ev_min_segment_buyers=2)).ranked.sort("customer_id")
    assert r1["expected_value"].to_list() == [100.0, 100.0, 100.0, 500.0, 500.0]
    assert r2["expected_value"].to_list() == [100.0, 100.0, 100.0, 150.0, 150.0]


# -- eligibility -------------------------------------------------------------------


def ids(result) -> set[str]:
    return set(result.ranked["customer_id"].to_list())


def test_default_rules_counts_exact() -> None:
    r = rank(rules_frame())
    assert r.exclusions == {
        "missing_p_icp": 1,
        "owns_target": 2,
        "open_deal": 1,
        "recent_contact": 0,
    }
    assert list(r.exclusions) == list(RULES)
    assert r.readmitted == {"lapsed_owner": 0}
    assert ids(r) == {"A", "D", "E", "G", "H", "J"}
    assert r.counts["candidates"] - r.counts["eligible"] == sum(r.exclusions.values())
    excluded = dict(r.excluded.iter_rows())
    assert excluded == {
        "B": "owns_target",
        "C": "owns_target",
        "F": "open_deal",
        "I": "missing_p_icp",
    }
    meta = r.metadata()
    assert meta["exclusions"] == r.exclusions and meta["n_eligible"] == 6


@pytest.mark.parametrize(
    ("changes", "owned", "readmitted"),
    [
        ({"eligibility.exclude_owners": "ever"}, {"B", "C", "D"}, 1),
        (
            {
                "eligibility.exclude_owners": "ever",
                "eligibility.lapsed_readmit_days": None,
            },
            {"B", "C", "D", "E"},
            0,
        ),
        (
            {
                "eligibility.exclude_owners": "ever",
                "eligibility.lapsed_readmit_days": 400,
            },
            {"B", "C"},
            2,
        ),
        ({"eligibility.exclude_owners": "none"}, set(), 0),
        ({"eligibility.owner_recency_days": 30}, {"C"}, 0),
        ({"eligibility.owner_recency_days": 600}, {"B", "C", "D"}, 0),
    ],
)
def test_ownership_rules(changes: dict, owned: set[str], readmitted: int) -> None:
    s = S.replace(**changes)
    r = rank(rules_frame(), s)
    got = {c for c, rule in r.excluded.iter_rows() if rule == "owns_target"}
    assert got == owned
    assert r.exclusions["owns_target"] == len(owned)
    assert r.readmitted["lapsed_owner"] == readmitted
    assert not ids(r) & owned
    # no ranked account owns the target under the configured rule
    ranked = rules_frame().filter(pl.col("customer_id").is_in(list(ids(r))))
    e = s.eligibility
    for row in ranked.iter_rows(named=True):
        days = row["last_target_purchase_days"]
        if e.exclude_owners == "none":
            continue
        assert not row["active_target_install"]
        if e.exclude_owners == "recent":
            assert days is None or days > e.owner_recency_days
        else:
            lapse = e.lapsed_readmit_days
            owns = row["owns_ever"]
            assert not owns or (lapse is not None and days is not None and days > lapse)


def test_open_deal_rule() -> None:
    on = rank(rules_frame())
    off = rank(rules_frame(), S.replace(**{"eligibility.exclude_open_deal": False}))
    assert "F" not in ids(on) and "F" in ids(off)
    assert (on.exclusions["open_deal"], off.exclusions["open_deal"]) == (1, 0)


@pytest.mark.parametrize(
    ("days", "excluded"), [(None, set()), (30, {"G"}), (100, {"G", "H"})]
)
def test_recent_contact_rule(days: int | None, excluded: set[str]) -> None:
    r = rank(rules_frame(), S.replace(**{"eligibility.exclude_contacted_days": days}))
    assert r.exclusions["recent_contact"] == len(excluded)
    assert not ids(r) & excluded and {"G", "H"} - excluded <= ids(r)


# -- cooldown ----------------------------------------------------------------------


def history(rows: list[tuple[dt.date, str, str]], selected=None) -> pl.DataFrame:
    out = pl.DataFrame(
        {
            "cutoff": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "target": [r[2] for r in rows],
        }
    )
    if selected is not None:
        out = out.with_columns(pl.Series("selected", selected))
    return out


def test_cooldown_damps_recently_surfaced_accounts() -> None:
    cands = signals_frame()
    top = order(rank(cands))[0]
    earlier = CUTOFF - dt.timedelta(days=30)
    h = history([(earlier, top, TARGET)])
    cooled = rank(cands, history=h)
    row = cooled.ranked.filter(pl.col("customer_id") == top).row(0, named=True)
    assert row["cooled"] and row["last_surfaced"] == earlier
    assert row["score"] == pytest.approx(row["blend"] * 0.5)
    assert order(cooled)[0] != top and cooled.counts["cooled"] == 1
    # each setting changes the outcome
    assert order(rank(cands, S.replace(**{"cooldown.days": 10}), h))[0] == top
    factor = rank(cands, S.replace(**{"cooldown.factor": 0.9}), h)
    frow = factor.ranked.filter(pl.col("customer_id") == top).row(0, named=True)
    assert frow["score"] == pytest.approx(frow["blend"] * 0.9)


def test_cooldown_reads_only_earlier_partitions_of_the_target() -> None:
    cands = signals_frame()
    top = order(rank(cands))[0]
    day = dt.timedelta(days=1)
    ignored = history(
        [
            (CUTOFF, top, TARGET),  # the partition itself
            (CUTOFF + day, top, TARGET),  # the future
            (CUTOFF - 5 * day, top, "Other"),  # another target
            (CUTOFF - 91 * day, top, TARGET),  # outside the 90 days
        ]
    )
    assert rank(cands, history=ignored).counts["cooled"] == 0
    not_selected = history([(CUTOFF - day, top, TARGET)], selected=[False])
    assert rank(cands, history=not_selected).counts["cooled"] == 0
    edge = history([(CUTOFF - 90 * day, top, TARGET)], selected=[True])
    assert rank(cands, history=edge).counts["cooled"] == 1


# ------------------------------------------------ column-wise reasons (equivalence)


def _reasons_row_by_row(
    frame: pl.DataFrame, weights: dict[str, float], target: str, top_n: int
) -> list[str]:
    """The reason rule spelled out one account at a time."""
    from gosales_assets.lib.whitespace.formatting import money
    from gosales_assets.lib.whitespace.rank import DRIVER_MIN_NORM, SIGNAL_COLUMNS
    from gosales_assets.lib.whitespace.settings import SIGNALS

    out = []
    for r in frame.iter_rows(named=True):
        drivers = sorted(
            (-weights[s] * r[SIGNAL_COLUMNS[s][1]], i, s)
            for i, s in enumerate(SIGNALS)
            if weights[s] > 0 and r[SIGNAL_COLUMNS[s][1]] >= DRIVER_MIN_NORM
        )
        parts = []
        for _, _, s in drivers:
            if s == "p_icp_pct":
                share = 1 - r["icp_norm"] + 1 / frame.height
                top = max(1, math.ceil(share * 100 - 1e-9))
                if top <= 50:
                    parts.append(f"in the top {top}% most likely to buy {target}")
            elif s == "affinity":
                parts.append(f"buys products often bought with {target}")
            elif s == "als":
                parts.append(f"looks like existing {target} customers")
            else:
                parts.append(f"expected {target} GP about {money(r['expected_value'])}")
        parts += [r[c] for c in ("reason_1", "reason_2", "reason_3") if r[c]]
        distinct = list(dict.fromkeys(parts))[:top_n]
        out.append("; ".join(distinct) or f"fits the {target} buyer profile")
    return out


def test_reasons_are_built_column_wise_exactly_as_row_by_row():
    from gosales_assets.lib.whitespace.rank import _reasons

    n = 400
    rows = pl.DataFrame(
        {
            "i": list(range(n)),
        }
    ).with_columns(
        # every combination of four norms, so weighted parts tie across signals
        **{
            col: pl.col("i")
            .floordiv(4**k)
            .mod(4)
            .replace_strict([0, 1, 2, 3], [0.0, 0.7, 0.8, 1.0], return_dtype=pl.Float64)
            for k, col in enumerate(
                ("icp_norm", "affinity_norm", "als_norm", "ev_norm")
            )
        },
        expected_value=(pl.col("i") % 13) * 987.5 - 20.0,
        reason_1=pl.when(pl.col("i") % 4 == 0)
        .then(pl.lit(f"buys products often bought with {TARGET}"))
        .when(pl.col("i") % 4 == 1)
        .then(pl.lit(""))
        .otherwise(pl.lit("spent $5k in the last 12 months")),
        reason_2=pl.when(pl.col("i") % 3 == 0).then(pl.lit("a large account")),
        reason_3=pl.when(pl.col("i") % 5 != 0).then(
            pl.lit("spent $5k in the last 12 months")
        ),
    )
    equal = dict.fromkeys(("p_icp_pct", "affinity", "als", "ev"), 0.25)
    seen: set[str] = set()
    for weights in (
        equal,
        {"p_icp_pct": 0.5, "affinity": 0.0, "als": 0.2, "ev": 0.3},
        {"p_icp_pct": 0.0, "affinity": 0.0, "als": 0.0, "ev": 1.0},
    ):
        for top_n in (1, 3, 6):
            got = _reasons(rows, weights, TARGET, top_n).to_list()
            assert got == _reasons_row_by_row(rows, weights, TARGET, top_n)
            seen.update(got)
    assert f"fits the {TARGET} buyer profile" in seen  # some account has no part
