"""Training protocol: out-of-time evaluation, selection, calibration, determinism."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import polars as pl
import pytest

from gosales_assets.lib.models import (
    ModelingSettings,
    TrainedModel,
    deserialize,
    model_version,
    serialize,
    shuffled_label_control,
    train_model,
)
from gosales_assets.lib.models.synthetic import CUTOFFS, synthetic_examples

VALIDATION = CUTOFFS[-1]

# small grid: one xgboost point, one logreg point (fast, still both families)
SMALL = ModelingSettings(
    xgb_max_depth=(3,),
    xgb_learning_rate=(0.1,),
    xgb_min_child_weight=(1.0,),
    xgb_n_estimators=200,
    xgb_early_stopping_rounds=20,
    logreg_c=(1.0,),
    logreg_l1_ratio=(0.0,),
    shap_sample=500,
)


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, list[str]]:
    return synthetic_examples()


@pytest.fixture(scope="module")
def model(data: tuple[pl.DataFrame, list[str]]) -> TrainedModel:
    examples, names = data
    return train_model(examples, names, VALIDATION, SMALL)


def test_real_signal_is_found_out_of_time(model: TrainedModel) -> None:
    assert not model.is_fallback
    assert model.validation_metrics["auc"] > 0.75
    assert model.validation_metrics["lift@10"] > 2.5
    assert model.family in ("xgboost", "logreg")
    assert model.calibration in ("platt", "isotonic")
    assert set(model.validation_metrics) >= {
        "auc",
        "pr_auc",
        "brier",
        "log_loss",
        "calibration_mae",
        "lift@5",
        "lift@10",
        "lift@20",
        "gp_weighted_lift@10",
    }


def test_evaluated_model_never_fit_on_the_validation_cutoff(
    model: TrainedModel, data: tuple[pl.DataFrame, list[str]]
) -> None:
    examples, _ = data
    n_valid = examples.filter(pl.col("cutoff") == VALIDATION).height
    assert model.validation_cutoff == VALIDATION
    assert VALIDATION not in model.evaluation_fit_cutoffs
    assert model.evaluation_fit_cutoffs == CUTOFFS[:-1] == model.training_cutoffs
    assert model.evaluation_fit_rows == examples.height - n_valid
    assert model.calibration_fit_rows == model.evaluation_fit_rows
    assert model.validation_metrics["rows"] == n_valid
    # the shipped model is refit on every cutoff
    assert model.shipped_fit_cutoffs == CUTOFFS
    assert model.shipped_fit_rows == examples.height
    counts = model.counts.to_dicts()
    assert [c["role"] for c in counts] == ["train", "train", "validation"]


def test_reported_tables_are_consistent(model: TrainedModel) -> None:
    # 2000 validation rows: decile 1 is exactly the top 10%
    assert model.gains["lift"][0] == pytest.approx(model.validation_metrics["lift@10"])
    assert model.gains["n"].sum() == model.validation_metrics["rows"]
    assert model.calibration_bins["n"].sum() == model.validation_metrics["rows"]
    assert set(model.thresholds) == {"5", "10", "20"}
    assert model.thresholds["5"] >= model.thresholds["10"] >= model.thresholds["20"]


def test_selection_picks_best_metric(model: TrainedModel) -> None:
    table = model.selection_table
    assert table.height == 2
    assert table["selected"].sum() == 1
    ok = table.filter(pl.col("status") == "ok")
    best = ok["lift@10"].max()
    chosen = table.filter(pl.col("selected"))
    assert chosen["lift@10"][0] == best
    assert chosen["family"][0] == model.family
    assert {"raw_auc", "raw_brier", "cv_brier_platt", "calibration"} <= set(
        table.columns
    )


def test_selection_tie_break_by_brier(data: tuple[pl.DataFrame, list[str]]) -> None:
    examples, names = data
    # lift@100 is 1.0 for every model: a guaranteed tie, decided by Brier
    settings = dataclasses.replace(SMALL, selection_metric="lift@100")
    m = train_model(examples, names, VALIDATION, settings)
    table = m.selection_table
    assert table["lift@100"].to_list() == pytest.approx([1.0, 1.0])
    chosen = table.filter(pl.col("selected"))
    assert chosen["brier"][0] == table["brier"].min()


def test_predict_proba_and_explain(
    model: TrainedModel, data: tuple[pl.DataFrame, list[str]]
) -> None:
    examples, names = data
    feats = examples.filter(pl.col("cutoff") == VALIDATION)
    p = model.predict_proba(feats)
    assert p.shape == (feats.height,)
    assert np.all((p >= 0) & (p <= 1))
    # column order does not matter: features are selected by name
    shuffled = feats.select(["customer_id", *reversed(names)])
    assert np.array_equal(model.predict_proba(shuffled), p)
    ex = model.explain(feats.head(50), top_n=3)
    assert ex.columns == [
        "customer_id",
        "feature_1",
        "contribution_1",
        "feature_2",
        "contribution_2",
        "feature_3",
        "contribution_3",
    ]
    assert ex.height == 50
    assert ex["feature_1"].is_in(names).all()
    c = ex.select("contribution_1", "contribution_2", "contribution_3").to_numpy()
    assert np.all(c[:, 0] >= c[:, 1]) and np.all(c[:, 1] >= c[:, 2])
    top = model.shap_importance["feature"].head(3).to_list()
    assert "f00" in top
    with pytest.raises(ValueError, match="missing"):
        model.predict_proba(feats.drop(names[0]))


def test_serialization_roundtrip_and_determinism(
    model: TrainedModel, data: tuple[pl.DataFrame, list[str]]
) -> None:
    examples, names = data
    blob = serialize(model)
    assert serialize(model) == blob
    again = train_model(examples, names, VALIDATION, SMALL)
    assert hashlib.sha256(serialize(again)).digest() == hashlib.sha256(blob).digest()
    assert model_version(again) == model_version(model)
    # input row order does not matter
    reordered = examples.sample(fraction=1.0, shuffle=True, seed=3)
    assert model_version(train_model(reordered, names, VALIDATION, SMALL)) == (
        model_version(model)
    )
    back = deserialize(blob)
    assert serialize(back) == blob
    feats = examples.filter(pl.col("cutoff") == VALIDATION)
    assert np.array_equal(back.predict_proba(feats), model.predict_proba(feats))
    assert back.selection_table.equals(model.selection_table)
    assert back.counts.equals(model.counts)


@pytest.mark.parametrize("family", ["logreg", "xgboost"])
def test_calibrator_never_sees_validation_labels(
    family: str, data: tuple[pl.DataFrame, list[str]]
) -> None:
    """Changing validation labels and features changes the reported metrics but
    not the calibrator (early stopping is off here: it legitimately uses validation
    labels, and so does selection, which a single family/grid point removes)."""
    examples, names = data
    settings = dataclasses.replace(
        SMALL, families=(family,), xgb_early_stopping_rounds=0, xgb_n_estimators=60
    )
    base = train_model(examples, names, VALIDATION, settings)
    rng = np.random.default_rng(5)
    coin = pl.Series("coin", rng.random(examples.height) < 0.3)
    flip = (pl.col("cutoff") == VALIDATION) & pl.lit(coin)
    label = pl.col("label")
    valid = pl.col("cutoff") == VALIDATION
    changed = examples.with_columns(
        pl.when(flip).then(1 - label).otherwise(label).cast(pl.Int8).alias("label"),
        # validation features change too: the evaluated fit must not notice
        pl.when(valid).then(-pl.col(names[0])).otherwise(pl.col(names[0])),
    )
    other = train_model(changed, names, VALIDATION, settings)
    assert other.validation_metrics["auc"] != base.validation_metrics["auc"]
    assert other.evaluated_calibrator == base.evaluated_calibrator
    cols = ["calibration", "cv_brier_platt", "cv_brier_isotonic"]
    assert other.selection_table.select(cols).equals(base.selection_table.select(cols))


def test_shuffled_label_control(
    model: TrainedModel, data: tuple[pl.DataFrame, list[str]]
) -> None:
    examples, names = data
    assert model.validation_metrics["auc"] > 0.75
    auc = shuffled_label_control(examples, names, VALIDATION, SMALL, seed=11)
    assert 0.4 <= auc <= 0.6


def test_model_card(model: TrainedModel, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gosales_assets.lib.models import (
        card_markdown,
        matplotlib_available,
        model_card,
        plot_calibration,
        plot_gains,
    )

    card = model_card(model, "Target A", VALIDATION)
    text = json.dumps(card, allow_nan=False)
    assert json.loads(text)["model_version"] == model_version(model)
    assert card["training_cutoffs"] == [c.isoformat() for c in CUTOFFS[:-1]]
    assert card["validation_cutoff"] == VALIDATION.isoformat()
    assert "out-of-time" in card["evaluation"]["protocol"]
    assert len(card["gains"]) == 10 and len(card["calibration_bins"]) == 10
    assert len(card["shap_importance_top20"]) == 20
    for key in ("auc", "pr_auc", "brier", "lift@5", "lift@10", "lift@20"):
        assert card["validation_metrics"][key] is not None
    assert card["validation_metrics"]["gp_weighted_lift@10"] > 1
    md = card_markdown(card)
    assert "# Model card: Target A" in md and "out-of-time" in md
    gains = plot_gains(card, tmp_path / "gains.png")
    cal = plot_calibration(card, tmp_path / "calibration.png")
    if matplotlib_available():
        assert gains is not None and gains.stat().st_size > 0
        assert cal is not None and cal.stat().st_size > 0
    else:
        assert gains is None and cal is None


def test_xgboost_shipped_model_is_byte_stable(
    data: tuple[pl.DataFrame, list[str]],
) -> None:
    examples, names = data
    settings = dataclasses.replace(SMALL, families=("xgboost",))
    first = train_model(examples, names, VALIDATION, settings)
    second = train_model(examples, names, VALIDATION, settings)
    assert first.family == "xgboost"
    assert first.params["n_estimators"] == first.scorer.n_trees  # type: ignore[union-attr]
    best = first.selection_table["best_iteration"][0]
    assert first.params["n_estimators"] == best + 1
    assert serialize(first) == serialize(second)
    assert model_version(first) == model_version(second)
    back = deserialize(serialize(first))
    feats = examples.filter(pl.col("cutoff") == VALIDATION)
    assert np.array_equal(back.predict_proba(feats), first.predict_proba(feats))
    assert first.importance_method.startswith("shap.TreeExplainer")
    ex = back.explain(feats.head(5), top_n=2, direction="abs")
    c = ex.select("contribution_1", "contribution_2").to_numpy()
    assert np.all(np.abs(c[:, 0]) >= np.abs(c[:, 1]))
