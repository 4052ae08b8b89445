"""Metric definitions: against scikit-learn on random data, and hand-checked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from gosales_assets.lib.models import metrics as mx


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("rounding", [None, 1, 2])
def test_against_sklearn(seed: int, rounding: int | None) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    p = rng.beta(1, 4, size=n)
    y = (rng.random(n) < p).astype(float)
    if rounding is not None:  # many ties
        p = np.round(p, rounding)
    assert mx.auc(y, p) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert mx.pr_auc(y, p) == pytest.approx(
        skm.average_precision_score(y, p), abs=1e-12
    )
    assert mx.brier(y, p) == pytest.approx(skm.brier_score_loss(y, p), abs=1e-12)
    assert mx.log_loss(y, p) == pytest.approx(skm.log_loss(y, p), abs=1e-9)


def test_undefined_cases_are_nan() -> None:
    assert math.isnan(mx.auc([1, 1], [0.2, 0.3]))
    assert math.isnan(mx.pr_auc([0, 0], [0.2, 0.3]))
    assert math.isnan(mx.lift_at_k([0, 0], [0.2, 0.3], 10))
    assert math.isnan(mx.capture_at_k([0, 0], [0.2, 0.3], 10))
    assert math.isnan(mx.gp_weighted_lift_at_k([1, 0], [0.2, 0.3], [0, 5], 50))
    assert math.isnan(mx.brier([], []))
    assert mx.auc([0, 1, 0, 1], [0.5] * 4) == 0.5


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="finite"):
        mx.auc([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError, match="0 or 1"):
        mx.brier([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="length"):
        mx.brier([0, 1], [0.1])


def test_top_k_count() -> None:
    assert mx.top_k_count(10, 5) == 1  # floor(0.5) -> at least one row
    assert mx.top_k_count(1000, 10) == 100
    assert mx.top_k_count(2000, 5) == 100
    assert mx.top_k_count(3, 100) == 3
    assert mx.top_k_count(0, 10) == 0
    with pytest.raises(ValueError):
        mx.top_k_count(10, 0)


def test_lift_and_capture_by_hand() -> None:
    y = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    # top 20% = rows 0, 1: rate 0.5, overall 0.3
    assert mx.lift_at_k(y, p, 20) == pytest.approx(0.5 / 0.3)
    assert mx.capture_at_k(y, p, 20) == pytest.approx(1 / 3)
    assert mx.capture_at_k(y, p, 30) == pytest.approx(2 / 3)
    assert mx.lift_at_k(y, p, 100) == pytest.approx(1.0)


def test_ties_broken_by_row_order() -> None:
    y = [0, 1, 1, 0]
    p = [0.5, 0.5, 0.5, 0.1]
    # top 25% = 1 row: the first of the tied rows (row 0, a negative)
    assert mx.lift_at_k(y, p, 25) == 0.0
    assert mx.lift_at_k([1, 0, 1, 0], p, 25) == pytest.approx(2.0)
    assert mx.ranking(np.array(p)).tolist() == [0, 1, 2, 3]


def test_gp_weighted_lift_by_hand() -> None:
    y = [1, 1, 0, 1]
    p = [0.9, 0.1, 0.8, 0.2]
    w = [100.0, 300.0, 1000.0, -50.0]  # negative row ignored; -50 clipped to 0
    # top 50% = rows 0, 2 -> captured positive weight 100 of 400 = 0.25; / 0.5
    assert mx.gp_weighted_lift_at_k(y, p, w, 50) == pytest.approx(0.5)
    assert mx.gp_weighted_lift_at_k(y, p, w, 100) == pytest.approx(1.0)


def test_calibration_bins_and_mae_by_hand() -> None:
    y = [0, 0, 1, 1]
    p = [0.1, 0.2, 0.3, 0.4]
    bins = mx.calibration_bins(y, p, 2)
    assert bins["bin"].to_list() == [1, 2]
    assert bins["n"].to_list() == [2, 2]
    assert bins["mean_p"].to_list() == pytest.approx([0.15, 0.35])
    assert bins["mean_y"].to_list() == [0.0, 1.0]
    assert mx.calibration_mae(y, p, 2) == pytest.approx((2 * 0.15 + 2 * 0.65) / 4)
    # unequal split: 5 rows into 2 bins -> 3 + 2, weighted by size
    bins5 = mx.calibration_bins([0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9], 2)
    assert bins5["n"].to_list() == [3, 2]
    mae = (3 * abs(0.2 - 1 / 3) + 2 * abs(0.85 - 1.0)) / 5
    assert mx.calibration_mae([0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9], 2) == (
        pytest.approx(mae)
    )
    # fewer rows than bins: one bin per row
    assert mx.calibration_bins([0, 1], [0.2, 0.6], 10).height == 2


def test_gains_by_decile_by_hand() -> None:
    n = 20
    p = np.linspace(1.0, 0.05, n)  # already descending
    y = np.zeros(n)
    y[[0, 1, 2, 5, 19]] = 1
    w = np.zeros(n)
    w[[0, 5, 19]] = [50.0, 30.0, 20.0]
    g = mx.gains_by_decile(y, p, w)
    assert g["decile"].to_list() == list(range(1, 11))
    assert g["n"].to_list() == [2] * 10
    assert g["positives"].to_list() == [2, 1, 1, 0, 0, 0, 0, 0, 0, 1]
    assert g["rate"][0] == 1.0
    assert g["lift"][0] == pytest.approx(1.0 / 0.25)
    assert g["cum_capture"].to_list()[:3] == pytest.approx([0.4, 0.6, 0.8])
    assert g["cum_capture"][-1] == pytest.approx(1.0)
    assert g["cum_gp_capture"].to_list()[:3] == pytest.approx([0.5, 0.5, 0.8])
    assert g["mean_p"][0] == pytest.approx(float(p[:2].mean()))
    nogp = mx.gains_by_decile(y, p)
    assert nogp["cum_gp_capture"].null_count() == 10
    # fewer than 10 rows: only non-empty deciles
    assert mx.gains_by_decile([1, 0, 0], [0.3, 0.2, 0.1])["decile"].to_list() == [
        1,
        4,
        7,
    ]


def test_top_k_thresholds() -> None:
    p = np.arange(1, 11) / 10  # 0.1 .. 1.0
    thr = mx.top_k_thresholds(p, [10, 50, 100])
    assert thr == {10: pytest.approx(1.0), 50: pytest.approx(0.6), 100: 0.1}
    assert (p >= thr[50]).sum() == 5


def test_evaluate_constant_scores() -> None:
    y = [0, 1, 0, 1, 0]
    out = mx.evaluate(
        y, [0.4] * 5, None, top_k_percents=[20], gp_k_percent=20, n_bins=2
    )
    assert math.isnan(out["lift@20"]) and math.isnan(out["capture@20"])
    assert out["auc"] == 0.5
    assert out["brier"] == pytest.approx(np.mean((0.4 - np.array(y)) ** 2))
    assert math.isnan(out["gp_weighted_lift@20"])
