"""The fitting sample (negatives subsampled per fit) and the calibrate-only-the-winner
selection: what they keep, that calibration still finds the real positive rate, and
that they stay deterministic."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import polars as pl
import pytest

from gosales_assets.lib.models import (
    ModelingSettings,
    deserialize,
    model_version,
    serialize,
    train_model,
)
from gosales_assets.lib.models.sampling import (
    SampleInfo,
    fit_sample,
    kept_negatives,
    sample_draws,
)
from gosales_assets.lib.models.settings import rank_metric
from gosales_assets.lib.models.synthetic import CUTOFFS, synthetic_examples

VALIDATION = CUTOFFS[-1]
BASE = ModelingSettings(
    xgb_max_depth=(2, 3),
    xgb_learning_rate=(0.2,),
    xgb_min_child_weight=(1.0,),
    xgb_n_estimators=80,
    xgb_early_stopping_rounds=10,
    logreg_c=(1.0,),
    logreg_l1_ratio=(0.0,),
    shap_sample=200,
    negative_sampling_ratio=0.0,
)
SAMPLED = dataclasses.replace(
    BASE, negative_sampling_ratio=3.0, negative_sampling_min=0
)


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, list[str]]:
    # about 6% positives: the sample keeps roughly a fifth of the negatives
    return synthetic_examples(n_customers=3000, n_features=8, seed=7, intercept=-3.5)


@pytest.fixture(scope="module")
def full(data: tuple[pl.DataFrame, list[str]]):  # type: ignore[no-untyped-def]
    return train_model(*data, VALIDATION, BASE)


@pytest.fixture(scope="module")
def sampled(data: tuple[pl.DataFrame, list[str]]):  # type: ignore[no-untyped-def]
    return train_model(*data, VALIDATION, SAMPLED)


def test_fit_sample_keeps_every_positive_and_the_smallest_draws() -> None:
    y = np.array([0, 1, 0, 0, 1, 0, 0, 0])
    draws = np.array([0.9, 0.5, 0.1, 0.8, 0.7, 0.3, 0.2, 0.6])
    # 2 positives, ratio 1 -> 2 negatives: rows 2 (0.1) and 6 (0.2)
    assert fit_sample(y, draws, 1.0, 0).tolist() == [1, 2, 4, 6]
    # the minimum wins over the ratio
    assert fit_sample(y, draws, 1.0, 3).tolist() == [1, 2, 4, 5, 6]
    # ratio 0, or more negatives wanted than exist: every row
    assert fit_sample(y, draws, 0.0, 0).tolist() == list(range(8))
    assert fit_sample(y, draws, 5.0, 0).tolist() == list(range(8))
    assert kept_negatives(2, 6, 1.5, 0) == 3
    assert SampleInfo.of(y, fit_sample(y, draws, 1.0, 0)).to_dict() == {
        "positives": 2,
        "negatives": 2,
        "negatives_available": 6,
    }
    # draws are seeded and reproducible
    assert np.array_equal(sample_draws(5, 3), sample_draws(5, 3))
    assert not np.array_equal(sample_draws(5, 3), sample_draws(5, 4))


def test_rank_metrics_are_told_apart_from_probability_metrics() -> None:
    for name in ("auc", "pr_auc", "lift@10", "capture@5", "gp_weighted_lift@10"):
        assert rank_metric(name)
    for name in ("brier", "log_loss", "calibration_mae"):
        assert not rank_metric(name)
    with pytest.raises(ValueError, match="unknown metric"):
        rank_metric("lift10")
    with pytest.raises(ValueError, match="negative_sampling_ratio"):
        ModelingSettings(negative_sampling_ratio=-1.0)


def test_sampled_fit_is_recorded(sampled, full, data) -> None:  # type: ignore[no-untyped-def]
    examples, _ = data
    train = examples.filter(pl.col("cutoff") != VALIDATION)
    pos = int(train["label"].sum())
    info = sampled.params["fit_sample"]
    assert info["positives"] == int(examples["label"].sum())
    assert info["negatives"] == 3 * info["positives"] < info["negatives_available"]
    assert any(f"{pos} positives + {3 * pos} of" in n for n in sampled.notes)
    # the unsampled model used every row
    assert (
        full.params["fit_sample"]["negatives"]
        == (full.params["fit_sample"]["negatives_available"])
    )
    # the calibrator was fit on every training row, not only on the sample
    assert sampled.calibration_fit_rows == sampled.evaluation_fit_rows == train.height


def test_calibration_corrects_the_sampled_prior(sampled, full) -> None:  # type: ignore[no-untyped-def]
    """With a quarter of the negatives the raw scores are far too high; the
    calibrated probabilities still match the validation positive rate."""
    m, f = sampled.validation_metrics, full.validation_metrics
    prevalence = m["prevalence"]
    assert 0.03 < prevalence < 0.1
    assert abs(m["mean_p"] - prevalence) < 0.25 * prevalence
    assert m["calibration_mae"] < 0.02
    assert m["brier"] <= f["brier"] * 1.05
    # and ranks about as well as the fit on every row
    assert m["auc"] > f["auc"] - 0.02 and m["auc"] > 0.75


def test_sampled_training_is_deterministic(sampled, data) -> None:  # type: ignore[no-untyped-def]
    examples, names = data
    reordered = examples.sample(fraction=1.0, shuffle=True, seed=1)
    again = train_model(reordered, names, VALIDATION, SAMPLED)
    assert model_version(again) == model_version(sampled)


def test_only_the_selected_point_is_calibrated(full) -> None:  # type: ignore[no-untyped-def]
    table = full.selection_table
    assert table.height == 3 and (table["status"] == "ok").all()
    calibrated = table.filter(pl.col("calibration").is_not_null())
    assert calibrated["selected"].to_list() == [True]
    # the winner has the best uncalibrated lift@10; the others were not calibrated
    assert calibrated["raw_lift@10"][0] == table["raw_lift@10"].max()
    others = table.filter(~pl.col("selected"))
    assert others["brier"].is_null().all()
    assert others["calibration_reason"].str.starts_with("not calibrated").all()


def test_a_probability_metric_calibrates_every_point(data) -> None:  # type: ignore[no-untyped-def]
    settings = dataclasses.replace(BASE, selection_metric="brier")
    model = train_model(*data, VALIDATION, settings)
    table = model.selection_table
    assert table["calibration"].is_not_null().all()
    chosen = table.filter(pl.col("selected"))
    assert chosen["brier"][0] == table["brier"].min()


def test_xgboost_threads_do_not_change_the_model(data) -> None:  # type: ignore[no-untyped-def]
    """``xgb_n_jobs`` is a speed setting only: the hist fit is deterministic
    whatever the thread count, so the model version does not depend on it."""
    one = dataclasses.replace(
        SAMPLED, families=("xgboost",), xgb_max_depth=(3,), xgb_n_jobs=1
    )
    two = dataclasses.replace(one, xgb_n_jobs=2)
    a, b = train_model(*data, VALIDATION, one), train_model(*data, VALIDATION, two)
    assert a.family == b.family == "xgboost"
    assert a.scorer.raw_model == b.scorer.raw_model  # type: ignore[union-attr]
    assert a.validation_metrics == b.validation_metrics
    # scoring and TreeSHAP reasons with more threads: the same numbers
    many = deserialize(serialize(a), nthread=2)
    features = data[0]
    assert np.array_equal(many.predict_proba(features), a.predict_proba(features))
    assert np.array_equal(many.contributions(features), a.contributions(features))


def test_thread_setting_zero_means_every_core() -> None:
    assert dataclasses.replace(SAMPLED, xgb_n_jobs=0).threads == (os.cpu_count() or 1)
    assert dataclasses.replace(SAMPLED, xgb_n_jobs=3).threads == 3
    with pytest.raises(ValueError, match="xgb_n_jobs: must be >= 0"):
        dataclasses.replace(SAMPLED, xgb_n_jobs=-1)


@pytest.mark.parametrize("power", [1.0, 3.0])
def test_platt_newton_matches_sklearn(power: float) -> None:
    from sklearn.linear_model import LogisticRegression

    from gosales_assets.lib.models.calibration import PLATT_C, logit, platt_fit

    rng = np.random.default_rng(int(power))
    s = rng.random(3000)
    y = (rng.random(3000) < s**power).astype(float)
    a, b = platt_fit(logit(s), y)
    ref = LogisticRegression(C=PLATT_C, solver="lbfgs", max_iter=1000, tol=1e-10)
    ref.fit(logit(s).reshape(-1, 1), y)
    assert a == pytest.approx(ref.coef_[0, 0], rel=1e-6)
    assert b == pytest.approx(ref.intercept_[0], rel=1e-6, abs=1e-8)


def test_saabas_reasons_are_additive_and_cheaper_alternative(data) -> None:  # type: ignore[no-untyped-def]
    """Both explanation methods split the raw log-odds over the features (they sum
    to the same margin up to the bias); they are different attributions."""
    settings = dataclasses.replace(
        SAMPLED, families=("xgboost",), xgb_max_depth=(3,), xgb_n_jobs=1
    )
    model = train_model(*data, VALIDATION, settings)
    features = data[0]
    exact = model.contributions(features)
    path = model.contributions(features, method="saabas")
    assert exact.shape == path.shape
    # same row totals: both decompose margin - bias exactly
    np.testing.assert_allclose(exact.sum(axis=1), path.sum(axis=1), atol=1e-4)
    assert not np.allclose(exact, path)
    top = model.explain(features, top_n=2, method="saabas")
    assert top.columns[-4:] == [
        "feature_1",
        "contribution_1",
        "feature_2",
        "contribution_2",
    ]
    with pytest.raises(ValueError, match="unknown explanation method"):
        model.contributions(features, method="lime")


def test_reasons_method_is_validated() -> None:
    from gosales_assets.lib.whitespace.settings import WhitespaceSettings

    assert WhitespaceSettings.from_dict({"reasons_method": "saabas"}).reasons_method
    with pytest.raises(ValueError, match="reasons_method: must be one of"):
        WhitespaceSettings.from_dict({"reasons_method": "shapley"})
