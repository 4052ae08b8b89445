"""Table TreeSHAP (lib/models/treeshap.py) equals xgboost's exact TreeSHAP."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from gosales_assets.lib.models import treeshap
from gosales_assets.lib.models.scorers import TreeScorer
from gosales_assets.lib.models.treeshap import compile_trees, leaf_table

TOL = 2e-6  # xgboost accumulates in float32


def _data(seed: int, n: int = 1500, f: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f))
    X[:, 3] = np.round(X[:, 3])  # ties at thresholds
    X[rng.random(X.shape) < 0.15] = np.nan  # missing values take default branches
    clean = np.nan_to_num(X)
    y = (clean[:, 0] + clean[:, 1] * clean[:, 2] + rng.normal(size=n) > 0).astype(int)
    return X, y


def _booster(X: np.ndarray, y: np.ndarray, depth: int, rounds: int = 12) -> xgb.Booster:
    params = {
        "max_depth": depth,
        "eta": 0.3,
        "objective": "binary:logistic",
        "subsample": 0.8,
        "seed": 1,
        "nthread": 1,
    }
    return xgb.train(params, xgb.DMatrix(X, label=y), rounds)


def _reference(b: xgb.Booster, X: np.ndarray, n_trees: int) -> np.ndarray:
    out = b.predict(xgb.DMatrix(X), pred_contribs=True, iteration_range=(0, n_trees))
    return np.asarray(out, dtype=np.float64)[:, :-1]


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("seed", [0, 1])
def test_equals_xgboost_exact_treeshap(depth: int, seed: int) -> None:
    X, y = _data(seed)
    b = _booster(X, y, depth)
    n_trees = 9  # a prefix of the forest, as early stopping leaves it
    tables = compile_trees(bytes(b.save_raw(raw_format="json")), n_trees)
    assert tables is not None
    got = tables.contributions(X)
    ref = _reference(b, X, n_trees)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() < TOL
    # the same features on paths split twice (5 features, depth 6): still exact
    assert np.abs(got).sum() > 0


def test_leaf_tables_by_hand() -> None:
    # one feature: v * (o - z)
    t = leaf_table(2.0, [0.25])
    assert t[:, 0].tolist() == [2.0 * (0 - 0.25), 2.0 * (1 - 0.25)]
    # two features: phi_1 = v (o1 - z1) (z2 / 2 + o2 / 2); pattern bit k = o_k
    v, z1, z2 = 3.0, 0.4, 0.7
    t = leaf_table(v, [z1, z2])
    for pattern in range(4):
        o1, o2 = pattern & 1, (pattern >> 1) & 1
        assert t[pattern, 0] == pytest.approx(v * (o1 - z1) * (z2 + o2) / 2)
        assert t[pattern, 1] == pytest.approx(v * (o2 - z2) * (z1 + o1) / 2)


def test_block_size_and_threads_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _data(3, n=700)
    b = _booster(X, y, 4)
    tables = compile_trees(bytes(b.save_raw(raw_format="json")), 12)
    assert tables is not None
    whole = tables.contributions(X, nthread=1)
    monkeypatch.setattr(treeshap, "ROW_CHUNK", 64)
    assert np.array_equal(tables.contributions(X, nthread=1), whole)
    assert np.array_equal(tables.contributions(X, nthread=2), whole)


def test_empty_rows_and_wrong_width() -> None:
    X, y = _data(4, n=300)
    tables = compile_trees(bytes(_booster(X, y, 3).save_raw(raw_format="json")), 5)
    assert tables is not None
    assert tables.contributions(X[:0]).shape == (0, X.shape[1])
    with pytest.raises(ValueError, match="5 columns"):
        tables.contributions(X[:, :3])


def test_models_it_does_not_cover_keep_xgboost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = _data(5, n=400)
    multi = xgb.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
        xgb.DMatrix(X, label=np.asarray(y) + (X[:, 0] > 1)),
        3,
    )
    assert compile_trees(bytes(multi.save_raw(raw_format="json")), 3) is None
    deep = bytes(_booster(X, y, 4, rounds=2).save_raw(raw_format="json"))
    assert compile_trees(deep, 2) is not None
    monkeypatch.setattr(treeshap, "MAX_DEPTH", 2)  # paths deeper than the limit
    assert compile_trees(deep, 2) is None
    linear = xgb.train({"booster": "gblinear"}, xgb.DMatrix(X, label=y), 2)
    assert compile_trees(bytes(linear.save_raw(raw_format="json")), 2) is None


def test_tree_scorer_uses_the_tables_and_keeps_saabas() -> None:
    X, y = _data(6)
    b = _booster(X, y, 3)
    scorer = TreeScorer(raw_model=bytes(b.save_raw("ubj")), n_trees=10, nthread=1)
    assert scorer.treeshap_tables() is not None
    exact = scorer.contributions(X, "treeshap")
    assert np.abs(exact - scorer.xgboost_contributions(X, "treeshap")).max() < TOL
    saabas = scorer.contributions(X, "saabas")
    assert np.array_equal(saabas, scorer.xgboost_contributions(X, "saabas"))
    assert not np.allclose(saabas, exact)
