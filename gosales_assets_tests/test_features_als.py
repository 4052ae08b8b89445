"""ALS embeddings (implicit, SVD fallback, disabled), ALS similarity and affinity."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from gosales_assets.config import DEFAULT_CONFIG_PATH, load_config
from gosales_assets.lib.features import als as als_mod
from gosales_assets.lib.features import (
    build_als,
    build_customer_base,
    build_target_features,
)
from gosales_assets.lib.features.synthetic import snapshot_from_rows, synthetic_snapshot

CFG = load_config(
    DEFAULT_CONFIG_PATH,
    env={"GOSALES_HOME": "/nonexistent/home", "GOSALES_RAW_DIR": "/nonexistent/raw"},
)
C = dt.date(2024, 6, 30)
NAMES = [f"als_f{i:02d}" for i in range(CFG.features.als.factors)]


def als_cfg(**kw):
    als = CFG.features.als.model_copy(update=kw)
    return CFG.model_copy(
        update={"features": CFG.features.model_copy(update={"als": als})}
    )


@pytest.fixture(scope="module")
def medium():
    return synthetic_snapshot(CFG, C, n_customers=400, n_lines=8000, seed=11)


SMALL = [
    {"customer_id": "a", "order_date": "2024-01-01", "sku": "PDM"},
    {"customer_id": "a", "order_date": "2024-02-01", "sku": "SWX_Core"},
    {"customer_id": "b", "order_date": "2024-01-01", "sku": "SWX_Core"},
    {"customer_id": "b", "order_date": "2024-03-01", "sku": "Training",
     "gross_profit": -5.0},
    {"customer_id": "c", "order_date": "2019-01-01", "sku": "PDM"},  # before lookback
]  # fmt: skip


def test_implicit_is_deterministic(medium) -> None:
    x, y = build_als(medium, CFG), build_als(medium, CFG)
    assert x.info["method"] == "implicit_als"
    assert x.customer_factors.equals(y.customer_factors)
    assert x.sku_factors.equals(y.sku_factors)
    assert x.customer_factors.columns == ["customer_id", *NAMES]
    assert x.customer_factors.get_column("customer_id").is_sorted()
    vals = x.customer_factors.select(NAMES).to_numpy()
    assert np.isfinite(vals).all() and np.abs(vals).sum() > 0
    assert x.info["seed"] == CFG.features.als.seed


def test_small_input_falls_back_to_svd() -> None:
    snap = snapshot_from_rows(CFG, C, SMALL)
    res = build_als(snap, CFG)
    assert res.info["method"] == "svd"
    assert "too few interactions" in res.info["reason"]
    f = res.customer_factors
    assert f.height == 3
    a = f.filter(pl.col("customer_id") == "a").select(NAMES).to_numpy()
    c = f.filter(pl.col("customer_id") == "c").select(NAMES).to_numpy()
    assert np.abs(a).sum() > 0  # a real embedding, not a silent zero
    assert np.abs(c).sum() == 0  # no interaction in the lookback
    assert res.info["customers_without_interactions"] == 1
    assert res.customer_factors.equals(build_als(snap, CFG).customer_factors)
    # Training has only a negative line: never an interaction.
    training = res.sku_factors.filter(pl.col("sku") == "Training").select(NAMES)
    assert np.abs(training.to_numpy()).sum() == 0


def test_implicit_failure_falls_back_with_reason(medium, monkeypatch) -> None:
    def boom(*_a, **_k):
        raise RuntimeError("no BLAS today")

    monkeypatch.setattr(als_mod, "_implicit", boom)
    res = build_als(medium, CFG)
    assert res.info["method"] == "svd"
    assert "no BLAS today" in res.info["reason"]
    assert np.abs(res.customer_factors.select(NAMES).to_numpy()).sum() > 0


def test_disabled_and_empty() -> None:
    snap = snapshot_from_rows(CFG, C, SMALL)
    off = build_als(snap, als_cfg(enabled=False))
    assert off.info["method"] == "disabled"
    assert off.customer_factors.select(NAMES).to_numpy().sum() == 0
    old = snapshot_from_rows(CFG, C, SMALL[-1:])
    none = build_als(old, CFG)
    assert none.info["method"] == "none" and none.info["reason"]


def test_als_similarity_and_stale_inputs() -> None:
    snap = snapshot_from_rows(CFG, C, SMALL)
    base = build_customer_base(snap, CFG)
    als = build_als(snap, CFG, base=base)
    fm = build_target_features(snap, base, als, "SWX_Seats", CFG)
    sim = dict(fm.frame.select("customer_id", "tgt__als_sim").iter_rows())
    assert sim["c"] == 0.0  # zero vector
    assert -1.0 <= sim["a"] <= 1.0 and sim["a"] > 0
    assert fm.info["als_sim_owners"] == 2
    assert fm.frame.select(NAMES).equals(als.customer_factors.select(NAMES))
    none = build_target_features(snap, base, als, "Printers", CFG)
    assert none.frame.get_column("tgt__als_sim").to_list() == [0.0, 0.0, 0.0]
    assert "no target owners" in none.info["als_sim_flag"]
    other = snapshot_from_rows(CFG, dt.date(2024, 5, 31), SMALL)
    with pytest.raises(ValueError, match="ALS factors are for"):
        build_target_features(other, build_customer_base(other, CFG), als, "PDM", CFG)


def _aff_rows() -> list[dict]:
    # E = C - 60d = 2024-05-01; exposure (2022-05-01, 2024-05-01]; outcome (E, C].
    rows: list[dict] = []
    for i in range(6):  # own Training in the exposure window; 3 later buy SWX_Core
        rows.append({"customer_id": f"x{i}", "order_date": "2023-01-01",
                     "sku": "Training"})  # fmt: skip
        if i < 3:
            rows.append({"customer_id": f"x{i}", "order_date": "2024-06-01",
                         "sku": "SWX_Core"})  # fmt: skip
    for i in range(5):  # own Services; nobody buys
        rows.append({"customer_id": f"y{i}", "order_date": "2023-01-01",
                     "sku": "Services"})  # fmt: skip
    for i in range(6):  # own CATIA before the exposure window; all buy later
        rows.append({"customer_id": f"z{i}", "order_date": "2020-01-01",
                     "sku": "CATIA"})  # fmt: skip
        rows.append({"customer_id": f"z{i}", "order_date": "2024-06-01",
                     "sku": "SWX_Core"})  # fmt: skip
    # w buys the target inside the exposure window only: not a later buyer.
    rows.append({"customer_id": "w", "order_date": "2024-04-30", "sku": "SWX_Core"})
    rows.append({"customer_id": "w", "order_date": "2023-01-01", "sku": "Training"})
    return rows


def test_affinity_uses_only_the_exposure_window() -> None:
    snap = snapshot_from_rows(CFG, C, _aff_rows())
    base = build_customer_base(snap, CFG)
    als = build_als(snap, CFG, base=base)
    fm = build_target_features(snap, base, als, "SWX_Seats", CFG)
    info = fm.info
    # exposed: x0..x5, y0..y4, w (z* only have lines outside the exposure window,
    # and their (E, C] lines are outcomes, not exposure)
    assert info["affinity_exposed_customers"] == 12
    assert info["affinity_target_buyers"] == 3
    assert info["affinity_rules"] == 2  # Training (7 owners), Services (5); no CATIA
    m, p = CFG.features.eb_prior_strength, 3 / 12
    lift_training = ((3 + m * p) / (7 + m)) / p
    lift_services = ((0 + m * p) / (5 + m)) / p
    frame = fm.frame.select(
        "customer_id", "tgt__affinity__lift_max", "tgt__affinity__n_lift_gt1"
    )
    got = {r[0]: (r[1], r[2]) for r in frame.iter_rows()}
    assert got["x0"][0] == pytest.approx(lift_training)
    assert got["x0"][1] == int(lift_training > 1)
    assert got["y0"][0] == pytest.approx(lift_services)
    assert got["z0"] == (0.0, 0)  # owns CATIA, but CATIA has no rule
    mean = fm.frame.filter(pl.col("customer_id") == "w")["tgt__affinity__lift_mean"]
    assert mean.item() == pytest.approx(lift_training)  # target SKUs are excluded
