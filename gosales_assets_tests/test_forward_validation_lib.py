"""Forward validation logic (lib/validation): metrics worked by hand on ten accounts,
the seeded bootstrap, the checks against the model card, the window rule and the
``validation:`` configuration."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from gosales_assets.config import ConfigError, load_config
from gosales_assets.lib.validation import (
    ForwardSettings,
    bootstrap_intervals,
    check_table,
    closed_partitions,
    compare,
    compute_forward,
    evaluation_frame,
    forward_checks,
    margin_check_name,
    metric_values,
    percentile_interval,
    resample_indices,
)
from gosales_assets.lib.validation.ranked import RankedMetrics, is_ranked
from gosales_assets_tests.test_config import _edit

# Ten accounts, scores all distinct. Buyers: a, c, f, i (P = 4, N = 6); the buyers'
# window GP is 100 + 300 + 50 + 50 = 500 (d's -20 is a return of a non-buyer).
IDS = list("abcdefghij")
P = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
Y = [1, 0, 1, 0, 0, 1, 0, 0, 1, 0]
GP = [100.0, 0.0, 300.0, -20.0, 0.0, 50.0, 0.0, 0.0, 50.0, 0.0]
SETTINGS = ForwardSettings(
    top_k_percents=(10.0, 20.0, 50.0),
    gp_lift_k_percent=50.0,
    calibration_bins=2,
    resamples=200,
    seed=7,
    level=0.9,
)


def _inputs(order: list[int] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    order = order or list(range(len(IDS)))
    labels = pl.DataFrame(
        {
            "customer_id": [IDS[i] for i in order],
            "label": [Y[i] for i in order],
            "net_gp": [GP[i] for i in order],
        }
    )
    scores = pl.DataFrame(
        {"customer_id": [IDS[i] for i in order], "p_icp": [P[i] for i in order]}
    )
    return scores, labels


def _result(baseline=None, settings=SETTINGS, order=None):
    scores, labels = _inputs(order)
    frame, unscored = evaluation_frame(scores, labels)
    return compute_forward(frame, settings, baseline or {}, unscored)


def test_metrics_worked_by_hand():
    r = _result()
    v = r.value
    # AUC: buyer a beats all 6 non-buyers, c beats 5 (not b), f beats 3, i beats 1
    assert v("auc") == pytest.approx(15 / 24)
    # top 10% = 1 account (a): 1 of 4 buyers; rate 1 vs base 0.4
    assert v("capture@10") == pytest.approx(0.25)
    assert v("lift@10") == pytest.approx(2.5)
    # top 20% = a, b: one buyer
    assert v("capture@20") == pytest.approx(0.25)
    assert v("lift@20") == pytest.approx(0.5 / 0.4)
    # top 50% = a..e: buyers a, c
    assert v("capture@50") == pytest.approx(0.5)
    assert v("lift@50") == pytest.approx(1.0)
    # GP capture: a's 100 of 500; a..e hold 100 + 300 of the buyers' 500
    assert v("gp_capture@10") == pytest.approx(0.2)
    assert v("gp_capture@20") == pytest.approx(0.2)
    assert v("gp_capture@50") == pytest.approx(0.8)
    assert v("gp_weighted_lift@50") == pytest.approx(0.8 / 0.5)
    # two calibration bins of five: low p mean 0.21 vs rate 0.4, high 0.7 vs 0.4
    assert v("calibration_mae") == pytest.approx((5 * 0.19 + 5 * 0.3) / 10)
    assert v("brier") == pytest.approx(2.6525 / 10)
    assert v("prevalence") == pytest.approx(0.4)
    assert v("mean_p") == pytest.approx(sum(P) / 10)
    assert (r.rows, r.positives, r.unscored) == (10, 4, 0)
    assert r.metrics["metric"].to_list() == SETTINGS.metric_names
    assert r.metrics["undefined_reason"].null_count() == r.metrics.height


def test_gains_by_decile():
    gains = _result().gains
    assert gains["decile"].to_list() == list(range(1, 11))  # one account each
    assert gains["positives"].to_list() == Y
    assert gains["cum_capture"].to_list()[:3] == pytest.approx([0.25, 0.25, 0.5])
    assert gains["cum_gp_capture"].to_list()[:3] == pytest.approx([0.2, 0.2, 0.8])


def test_input_order_does_not_matter_and_ties_break_by_customer_id():
    shuffled = [7, 2, 9, 0, 4, 1, 8, 3, 6, 5]
    assert _result(order=shuffled).metrics.equals(_result().metrics)
    scores = pl.DataFrame({"customer_id": ["z", "y", "x"], "p_icp": [0.5, 0.5, 0.9]})
    labels = pl.DataFrame(
        {"customer_id": ["x", "y", "z"], "label": [0, 1, 0], "net_gp": [0.0] * 3}
    )
    frame, _ = evaluation_frame(scores, labels)
    assert frame["customer_id"].to_list() == ["x", "y", "z"]


def test_unscored_accounts_are_counted_and_fail_the_error_check():
    scores, labels = _inputs()
    scores = scores.filter(pl.col("customer_id") != "j").with_columns(
        pl.when(pl.col("customer_id") == "a")
        .then(float("nan"))
        .otherwise(pl.col("p_icp"))
        .alias("p_icp")
    )
    frame, unscored = evaluation_frame(scores, labels)
    assert unscored == 2 and frame.height == 8
    result = compute_forward(frame, SETTINGS, {}, unscored)
    outcome = {o.name: o for o in forward_checks(result, {})}
    assert not outcome["labelled_accounts_scored"].passed
    assert outcome["labelled_accounts_scored"].blocks
    assert outcome["metrics_complete"].passed


def test_bootstrap_is_seeded_and_honours_the_settings():
    a = _result()
    assert a.metrics.equals(_result().metrics)  # same seed: identical intervals
    other = _result(settings=ForwardSettings(**{**SETTINGS.__dict__, "seed": 8}))
    assert not other.metrics["ci_low"].equals(a.metrics["ci_low"])
    assert other.metrics["value"].equals(a.metrics["value"])
    fewer = _result(settings=ForwardSettings(**{**SETTINGS.__dict__, "resamples": 3}))
    brier = fewer.metrics.filter(pl.col("metric") == "brier")
    assert brier["ci_resamples"].item() == 3  # every resample counted, no more
    auc = a.metrics.filter(pl.col("metric") == "auc").row(0, named=True)
    assert 0 < auc["ci_resamples"] <= 200  # resamples without a buyer are left out
    assert auc["ci_low"] < auc["value"] < auc["ci_high"]


def test_bootstrap_matches_explicit_resampling():
    y = np.array(Y, dtype=float)
    p = np.array(P)
    w = np.array(GP)
    out = bootstrap_intervals(
        y, p, w, lambda yy, pp, ww: {"mean": float(yy.mean())}, resamples=50,
        seed=3, level=0.8,
    )  # fmt: skip
    rng = np.random.default_rng(3)
    means = []
    for _ in range(50):
        idx = np.sort(rng.integers(0, y.size, size=y.size))
        means.append(y[idx].mean())
    low, high = np.quantile(means, [0.1, 0.9])
    assert (out["mean"].low, out["mean"].high) == (pytest.approx(low), high)
    assert out["mean"].resamples == 50
    idx = resample_indices(5, np.random.default_rng(0))
    assert idx.size == 5 and list(idx) == sorted(idx)


def test_percentile_interval_skips_undefined_resamples():
    iv = percentile_interval(np.array([np.nan, 1.0, 2.0, 3.0, np.nan]), 0.5)
    assert (iv.low, iv.high, iv.resamples) == (1.5, 2.5, 3)
    empty = percentile_interval(np.array([np.nan]), 0.9)
    assert math.isnan(empty.low) and empty.resamples == 0
    with pytest.raises(ValueError, match="level"):
        percentile_interval(np.array([1.0]), 1.0)


@pytest.mark.parametrize(
    ("forward", "oot", "higher", "status"),
    [
        (0.70, 0.80, True, "worse"),  # AUC 0.10 below, margin 0.05
        (0.75, 0.80, True, "ok"),  # exactly the margin: not more than it
        (0.90, 0.80, True, "ok"),
        (0.30, 0.20, False, "worse"),  # Brier 0.10 above
        (0.10, 0.20, False, "ok"),
        (0.70, None, True, "no_baseline"),
        (None, 0.80, True, "undefined"),
    ],
)
def test_compare(forward, oot, higher, status):
    assert compare(forward, oot, 0.05 + 1e-12, higher) == status


def test_margin_checks_against_the_model_card():
    margins = {"auc": 0.05, "brier": 0.01, "lift@10": 0.5, "capture@20": 0.1}
    card = {"auc": 0.9, "brier": 0.2655, "lift@10": 2.0}  # no capture@20 in the card
    outcomes = {o.name: o for o in forward_checks(_result(card), margins)}
    assert list(outcomes) == list(check_table(margins))
    auc = outcomes["forward_auc_vs_oot"]
    assert not auc.passed and auc.severity == "WARN" and not auc.blocks
    assert auc.metadata["status"] == "worse"
    assert auc.metadata["difference"] == pytest.approx(15 / 24 - 0.9)
    assert outcomes["forward_brier_vs_oot"].passed  # 0.26525 vs 0.2655
    assert outcomes["forward_lift_at_10_vs_oot"].passed  # 2.5 beats 2.0
    assert outcomes["forward_capture_at_20_vs_oot"].metadata["status"] == "no_baseline"
    assert outcomes["forward_capture_at_20_vs_oot"].passed
    assert outcomes["metrics_complete"].passed
    assert margin_check_name("lift@2.5") == "forward_lift_at_2_5_vs_oot"


def test_no_buyer_leaves_ranking_metrics_undefined_with_a_reason():
    scores, labels = _inputs()
    labels = labels.with_columns(pl.lit(0).alias("label"))
    frame, _ = evaluation_frame(scores, labels)
    result = compute_forward(frame, SETTINGS, {"auc": 0.8})
    rows = {r["metric"]: r for r in result.metrics.iter_rows(named=True)}
    assert (
        rows["auc"]["value"] is None
        and "no account bought" in (rows["auc"]["undefined_reason"])
    )
    assert rows["brier"]["value"] == pytest.approx(sum(p * p for p in P) / 10)
    assert rows["brier"]["undefined_reason"] is None
    outcomes = {o.name: o for o in forward_checks(result, {"auc": 0.05})}
    assert outcomes["metrics_complete"].passed
    assert outcomes["forward_auc_vs_oot"].metadata["status"] == "undefined"
    assert not outcomes["forward_auc_vs_oot"].passed


def test_incomplete_metric_rows_fail_the_error_check():
    result = _result()
    broken = result.metrics.filter(pl.col("metric") != "pr_auc").with_columns(
        pl.when(pl.col("metric") == "auc")
        .then(None)
        .otherwise(pl.col("ci_low"))
        .alias("ci_low")
    )
    outcome = forward_checks(
        type(result)(**{**result.__dict__, "metrics": broken}), {}
    )[0]
    assert outcome.name == "metrics_complete" and outcome.blocks
    assert outcome.metadata["violations"] == 2
    assert outcome.metadata["missing"] == "pr_auc"
    assert outcome.metadata["not_finite"] == "auc"


def test_closed_partitions_follow_the_label_window():
    months = {"A": 6, "B": 3}.__getitem__
    scored = [
        (dt.date(2024, 6, 30), "A"),  # ends 2024-12-31
        (dt.date(2024, 6, 30), "B"),  # ends 2024-09-30
        (dt.date(2024, 3, 31), "A"),  # ends 2024-09-30
    ]
    assert closed_partitions(scored, dt.date(2024, 9, 29), months) == []
    assert closed_partitions(scored, dt.date(2024, 9, 30), months) == [
        (dt.date(2024, 3, 31), "A"),
        (dt.date(2024, 6, 30), "B"),
    ]
    assert len(closed_partitions(scored, dt.date(2024, 12, 31), months)) == 3
    assert closed_partitions(scored, None, months) == []


def test_default_validation_config(cfg):
    v = cfg.validation
    assert (v.bootstrap.resamples, v.bootstrap.seed, v.bootstrap.level) == (
        1000,
        42,
        0.95,
    )
    assert set(v.margins) >= {"auc", "lift@10", "brier", "calibration_mae"}
    fs = cfg.forward_settings
    assert fs.resamples == 1000 and fs.top_k_percents == (5.0, 10.0, 20.0)
    assert set(check_table(v.margins)) >= {
        "metrics_complete",
        "forward_auc_vs_oot",
        "forward_lift_at_10_vs_oot",
        "forward_brier_vs_oot",
        "forward_calibration_mae_vs_oot",
    }


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    auc: 0.05 ", "    auc: -0.01 ", "margin of 'auc' must be a finite"),
        ("    auc: 0.05 ", "    auc: .nan ", "margin of 'auc' must be a finite"),
        ("    auc: 0.05 ", "    auc: .inf ", "margin of 'auc' must be a finite"),
        ("    auc: 0.05 ", "    accuracy: 0.05 ", "unknown metric 'accuracy'"),
        ("    lift@10: 0.5", "    lift@15: 0.5", "'lift@15' is not a forward metric"),
        ("resamples: 1000 ", "resamples: 0 ", "validation.bootstrap.resamples"),
        ("level: 0.95 ", "level: 1.0 ", "validation.bootstrap.level"),
        ("level: 0.95 ", "level: 0 ", "validation.bootstrap.level"),
        ("  sensor_interval_seconds: 900", "  colour: red", "validation.colour"),
    ],
)
def test_validation_config_errors_name_the_key(config_copy, old, new, message):
    _edit(config_copy, old, new)
    with pytest.raises(ConfigError, match=message):
        load_config(config_copy, env={})


# ------------------------------------------ ranked resamples (equivalence)


def _ranked_sample(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = np.sort(np.round(rng.beta(1, 6, n), 2))[::-1].copy()  # many ties
    y = (rng.random(n) < p).astype(np.float64)
    gp = rng.normal(50, 80, n)  # returns (negative GP) included
    gp[rng.random(n) < 0.05] = np.nan
    return y, p, gp


def test_ranked_resample_metrics_equal_the_metric_set_on_the_repeated_rows():
    settings = ForwardSettings(top_k_percents=(5.0, 10.0, 33.3), calibration_bins=7)
    y, p, gp = _ranked_sample(11, 300)
    metrics = RankedMetrics(y, p, gp, settings)
    rng = np.random.default_rng(0)
    n = y.size
    cases = [np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(30)]
    only_negatives = np.zeros(n, dtype=np.int64)
    only_negatives[np.flatnonzero(y == 0)[:5]] = [n - 4, 1, 1, 1, 1]
    one_row = np.zeros(n, dtype=np.int64)
    one_row[3] = n  # a constant score: the ranking metrics are undefined
    few = np.zeros(n, dtype=np.int64)
    few[[0, 1, 2]] = 1  # fewer rows than calibration bins
    for counts in [*cases, only_negatives, one_row, few]:
        idx = np.repeat(np.arange(n), counts)
        expected = metric_values(y[idx], p[idx], gp[idx], settings)
        got = metrics.of_counts(counts)
        assert list(got) == list(expected)
        for name, value in expected.items():
            same = value == got[name] or (math.isnan(value) and math.isnan(got[name]))
            assert same, (name, value, got[name])  # bit-for-bit, nan where nan


def test_forward_intervals_are_those_of_the_plain_bootstrap():
    settings = ForwardSettings(resamples=60, seed=5, calibration_bins=4)
    y, p, gp = _ranked_sample(12, 200)
    frame = pl.DataFrame(
        {"label": y.astype(np.int64), "p_icp": p, "net_gp": gp}
    ).with_columns(pl.col("net_gp").fill_nan(None))
    fast = compute_forward(frame, settings, {})
    plain = bootstrap_intervals(
        y,
        p,
        np.nan_to_num(gp, nan=0.0),
        lambda yy, pp, ww: metric_values(yy, pp, ww, settings),
        resamples=settings.resamples,
        seed=settings.seed,
        level=settings.level,
    )
    # not in ranking order (reversed): the plain bootstrap on the rows as given
    assert not is_ranked(p[::-1])
    reversed_ = compute_forward(frame.reverse(), settings, {})
    plain_reversed = bootstrap_intervals(
        y[::-1].copy(),
        p[::-1].copy(),
        np.nan_to_num(gp, nan=0.0)[::-1].copy(),
        lambda yy, pp, ww: metric_values(yy, pp, ww, settings),
        resamples=settings.resamples,
        seed=settings.seed,
        level=settings.level,
    )
    for result, intervals in ((fast, plain), (reversed_, plain_reversed)):
        rows = {r["metric"]: r for r in result.metrics.iter_rows(named=True)}
        for name, interval in intervals.items():
            row = rows[name]
            assert (row["ci_low"], row["ci_high"], row["ci_resamples"]) == (
                _none_if_nan(interval.low),
                _none_if_nan(interval.high),
                interval.resamples,
            ), name


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value
