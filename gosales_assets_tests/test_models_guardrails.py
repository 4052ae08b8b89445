"""Guardrails and fallbacks, settings, calibration helpers, importance fallback."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import warnings

import numpy as np
import polars as pl
import pytest

from gosales_assets.lib.models import (
    ModelingSettings,
    PriorRateModel,
    deserialize,
    model_card,
    select_configuration,
    serialize,
    train_model,
    training_cutoffs,
)
from gosales_assets.lib.models.calibration import (
    choose_calibrator,
    fit_calibrator,
    group_folds,
)
from gosales_assets.lib.models.families import Dataset, fit_xgboost
from gosales_assets.lib.models.importance import global_importance
from gosales_assets.lib.models.synthetic import CUTOFFS, synthetic_examples

VALIDATION = CUTOFFS[-1]
FAST = ModelingSettings(
    xgb_max_depth=(2,),
    xgb_learning_rate=(0.1,),
    xgb_min_child_weight=(1.0,),
    xgb_n_estimators=50,
    logreg_c=(1.0,),
    logreg_l1_ratio=(0.0,),
    shap_sample=200,
)


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, list[str]]:
    return synthetic_examples(n_customers=600, n_features=8, seed=4, intercept=-1.5)


def _relabel(df: pl.DataFrame, cutoff_expr: pl.Expr, keep: int) -> pl.DataFrame:
    """Keep only the first ``keep`` positives among the rows matching the cutoff."""
    rank = (pl.col("label").cum_sum().over("cutoff")).alias("_r")
    return (
        df.with_columns(rank)
        .with_columns(
            pl.when(cutoff_expr & (pl.col("_r") > keep))
            .then(0)
            .otherwise(pl.col("label"))
            .cast(pl.Int8)
            .alias("label")
        )
        .drop("_r")
    )


def _check_fallback(model, data, code: str) -> None:  # type: ignore[no-untyped-def]
    examples, _ = data
    assert model.is_fallback
    assert model.family == "prior_rate"
    assert isinstance(model.scorer, PriorRateModel)
    assert model.fallback_reason.startswith(code), model.fallback_reason
    p = model.predict_proba(examples)
    assert np.all((p > 0) & (p < 1)) and np.ptp(p) == 0
    ex = model.explain(examples.head(4))
    assert ex["feature_1"].null_count() == 4
    card = model_card(model, "T", VALIDATION)
    json.dumps(card, allow_nan=False)
    assert card["is_fallback"] and card["fallback_reason"] == model.fallback_reason
    assert serialize(deserialize(serialize(model))) == serialize(model)


def test_too_few_training_positives(data) -> None:  # type: ignore[no-untyped-def]
    examples, names = data
    ex = _relabel(examples, pl.col("cutoff") != VALIDATION, keep=5)
    m = train_model(ex, names, VALIDATION, FAST)
    _check_fallback(m, data, "too_few_training_positives")
    # the prior is the smoothed training prevalence, evaluated out-of-time
    train = ex.filter(pl.col("cutoff") != VALIDATION)
    prior = (train["label"].sum() + 0.5) / (train.height + 1)
    assert m.validation_metrics["mean_p"] == pytest.approx(prior)
    assert math.isnan(m.validation_metrics["lift@10"])


def test_no_validation_positives(data) -> None:  # type: ignore[no-untyped-def]
    examples, names = data
    ex = _relabel(examples, pl.col("cutoff") == VALIDATION, keep=0)
    _check_fallback(
        train_model(ex, names, VALIDATION, FAST), data, "no_validation_positives"
    )


def test_too_few_validation_positives(data) -> None:  # type: ignore[no-untyped-def]
    examples, names = data
    ex = _relabel(examples, pl.col("cutoff") == VALIDATION, keep=3)
    _check_fallback(
        train_model(ex, names, VALIDATION, FAST), data, "too_few_validation_positives"
    )


def test_constant_features_are_degenerate(data) -> None:  # type: ignore[no-untyped-def]
    examples, names = data
    ex = examples.with_columns([pl.lit(1.0).alias(n) for n in names])
    m = train_model(ex, names, VALIDATION, FAST)
    _check_fallback(m, data, "degenerate_classifier")
    assert set(m.selection_table["status"].to_list()) == {"degenerate"}


def test_missing_validation_cutoff_and_no_features(data) -> None:  # type: ignore[no-untyped-def]
    examples, names = data
    ex = examples.filter(pl.col("cutoff") != VALIDATION)
    m = train_model(ex, names, VALIDATION, FAST)
    assert m.is_fallback and m.fallback_reason.startswith("no_validation_rows")
    m = train_model(examples, [], VALIDATION, FAST)
    assert m.is_fallback and m.fallback_reason.startswith("no_features")
    only_valid = examples.filter(pl.col("cutoff") == VALIDATION)
    m = train_model(only_valid, names, VALIDATION, FAST)
    assert m.is_fallback and m.fallback_reason.startswith("no_training_cutoffs")


def test_contract_violations_raise(data) -> None:  # type: ignore[no-untyped-def]
    examples, names = data
    with pytest.raises(ValueError, match="after the validation cutoff"):
        train_model(examples, names, CUTOFFS[1], FAST)
    with pytest.raises(ValueError, match="missing"):
        train_model(examples.drop(names[0]), names, VALIDATION, FAST)
    with pytest.raises(ValueError, match="used as features"):
        train_model(examples, [*names, "net_gp"], VALIDATION, FAST)
    nan = examples.with_columns(
        pl.when(pl.col("customer_id") == "C00001")
        .then(float("nan"))
        .otherwise(pl.col(names[0]))
        .alias(names[0])
    )
    with pytest.raises(ValueError, match="NaN"):
        train_model(nan, names, VALIDATION, FAST)
    with pytest.raises(ValueError, match="duplicate"):
        train_model(pl.concat([examples, examples.head(1)]), names, VALIDATION, FAST)


def test_select_configuration_rule() -> None:
    rows = [
        {"status": "ok", "lift@10": 3.0, "brier": 0.10},
        {"status": "ok", "lift@10": 3.5, "brier": 0.09},
        {"status": "ok", "lift@10": 3.5 + 1e-12, "brier": 0.08},  # tie, lower Brier
        {"status": "degenerate", "lift@10": 9.0, "brier": 0.01},  # not eligible
        {"status": "ok", "lift@10": float("nan"), "brier": 0.001},  # nan is worst
    ]
    assert select_configuration(rows, "lift@10", "brier", 1e-9) == 2
    # a strict tolerance separates them
    assert select_configuration(rows, "lift@10", "brier", 0.0) == 2
    assert select_configuration(rows[:2], "lift@10", "brier", 1e-9) == 1
    # lower-is-better primary metric
    assert select_configuration(rows, "brier", "auc", 1e-9) == 4
    # full tie: the earliest row
    same = [{"status": "ok", "lift@10": 2.0, "brier": 0.1}] * 3
    assert select_configuration(same, "lift@10", "brier", 1e-9) == 0
    assert select_configuration([{"status": "error"}], "lift@10", "brier", 0) is None


def test_settings_from_dict() -> None:
    s = ModelingSettings.from_dict({"xgb_max_depth": [4], "seed": 7})
    assert s.xgb_max_depth == (4,) and s.seed == 7
    assert ModelingSettings.from_dict(s.to_dict()) == s
    with pytest.raises(ValueError, match="unknown modeling setting"):
        ModelingSettings.from_dict({"xgb_maxdepth": [4]})
    with pytest.raises(ValueError, match="selection_metric"):
        ModelingSettings(selection_metric="lift10")
    with pytest.raises(ValueError, match="families"):
        ModelingSettings(families=("lgbm",))
    assert ModelingSettings(selection_metric="gp_weighted_lift@10").selection_metric


def test_training_cutoffs() -> None:
    s = ModelingSettings()
    assert training_cutoffs(dt.date(2024, 12, 31), 6, s) == [
        dt.date(2023, 6, 30),
        dt.date(2023, 12, 31),
        dt.date(2024, 6, 30),
    ]
    # mid-month cutoff: the newest label window must end on or before it
    out = training_cutoffs(dt.date(2024, 8, 30), 6, s)
    assert out[-1] == dt.date(2024, 1, 31)
    assert all(c.day > 27 for c in out)


def test_group_folds_keep_customers_together() -> None:
    groups = np.array(["a", "b", "a", "c", "d", "b", "e", "f"], dtype=object)
    folds = group_folds(groups, 3, seed=1)
    for g in set(groups):
        assert len(set(folds[groups == g])) == 1
    assert np.array_equal(folds, group_folds(groups, 3, seed=1))
    assert set(folds) == {0, 1, 2}


def test_calibrators() -> None:
    rng = np.random.default_rng(0)
    s = rng.random(4000)
    y = (rng.random(4000) < s**2).astype(float)
    folds = np.arange(4000) % 3
    platt = fit_calibrator("platt", s, y)
    grid = np.linspace(0.01, 0.99, 50)
    assert np.all(np.diff(platt.transform(grid)) > 0)
    iso = fit_calibrator("isotonic", s, y)
    assert np.all(np.diff(iso.transform(grid)) >= 0)
    few = choose_calibrator(s, y, folds, ("platt", "isotonic"), 10**6, 1e-9)
    assert few.calibrator.method == "platt" and "isotonic skipped" in few.reason
    both = choose_calibrator(s, y, folds, ("platt", "isotonic"), 10, 1e-9)
    assert set(both.cv_brier) == {"platt", "isotonic"}
    best = min(both.cv_brier, key=both.cv_brier.get)  # type: ignore[arg-type]
    assert both.calibrator.method == best
    one_class = choose_calibrator(s, np.zeros(4000), folds, ("platt",), 10, 1e-9)
    assert one_class.calibrator.method == "none"


def test_importance_falls_back_to_permutation(monkeypatch, data) -> None:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():  # shap's import warns about colormaps
        warnings.simplefilter("ignore")
        import shap

    examples, names = data
    X = examples.select(names).cast(pl.Float64).to_numpy()
    y = examples["label"].to_numpy().astype(float)
    fit = fit_xgboost(
        {"max_depth": 2, "learning_rate": 0.3, "min_child_weight": 1.0},
        Dataset(X, y),
        dataclasses.replace(FAST, xgb_early_stopping_rounds=0),
        n_rounds=20,
    )
    frame, method = global_importance(fit.scorer, X[:300], names, seed=1)
    assert method.startswith("shap.TreeExplainer")
    assert frame["feature"][0] == "f00"

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("no shap today")

    monkeypatch.setattr(shap, "TreeExplainer", boom)
    frame2, method2 = global_importance(fit.scorer, X[:300], names, seed=1)
    assert method2.startswith("permutation") and "no shap today" in method2
    assert frame2["feature"][0] == "f00"
    assert frame2.height == len(names)


@pytest.mark.parametrize("C", [0.01, 1.0])
def test_elastic_net_matches_sklearn_saga(C: float) -> None:
    from sklearn.linear_model import LogisticRegression

    from gosales_assets.lib.models.families import balanced_weights, elastic_net_logreg

    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 5))
    y = (rng.random(400) < 1 / (1 + np.exp(-(-2 + z[:, 0] - 0.5 * z[:, 1])))) * 1.0
    w = balanced_weights(y)
    ref = LogisticRegression(
        C=C, l1_ratio=0.5, solver="saga", max_iter=100_000, tol=1e-10, random_state=0
    ).fit(z, y, sample_weight=w)
    coef, intercept, converged = elastic_net_logreg(z, y, w, C, 0.5, 1000, 1e-8)
    assert converged
    assert np.abs(coef - ref.coef_[0]).max() < 1e-6
    assert abs(intercept - ref.intercept_[0]) < 1e-6
    assert np.array_equal(coef == 0, ref.coef_[0] == 0)


def test_undefined_metrics_are_named_not_shown_as_nan():
    from gosales_assets.lib.models.card import metric_metadata

    metrics = {"auc": 0.5, "lift@10": float("nan"), "rows": 40, "note": "x"}
    meta = metric_metadata(metrics, is_fallback=True)
    assert meta["oot_auc"] == 0.5 and meta["oot_rows"] == 40.0
    assert "oot_lift@10" not in meta and "oot_note" not in meta
    assert meta["oot_undefined"] == (
        "lift@10: a fallback model gives every account the same score"
    )
    assert "oot_undefined" not in metric_metadata({"auc": 0.7}, is_fallback=False)
