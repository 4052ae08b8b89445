"""The whole graph through Dagster on a small sample: ingest, star, features, labels at
the training cutoffs, a model trained and validated out-of-time, ICP scores, the
whitespace list and its export; a re-run reproduces the same model version."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from gosales_assets.config import current_config
from gosales_assets.lib.store import Store
from gosales_assets.runner import run_pipeline
from gosales_assets.sample_data import generate
from gosales_assets_tests.conftest import point_env_at

C = dt.date(2024, 6, 30)
TARGET = "Printers"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cfg) -> Path:
    raw = tmp_path / "raw"
    generate(
        raw,
        cfg,
        customers=600,
        start=dt.date(2021, 1, 1),
        end=dt.date(2024, 6, 30),
        seed=21,
    )
    point_env_at(monkeypatch, tmp_path, raw, "2024-07-31")
    return tmp_path


def test_train_score_and_rank(env):
    cfg = current_config()
    with dg.instance_for_test() as instance:
        summary = run_pipeline(cfg, C, [TARGET], instance=instance)
        assert summary.success, summary.runs
        store = Store(cfg.duckdb_path)
        reg = store.query("SELECT * FROM models.registry").row(0, named=True)
        lineage = store.query(
            "SELECT training_cutoff, role FROM models.training_set ORDER BY 1"
        )
        # every training window closed by C; the newest cutoff validated the model
        assert lineage["training_cutoff"].to_list() == [
            dt.date(2022, 12, 31),
            dt.date(2023, 6, 30),
            dt.date(2023, 12, 31),
        ]
        assert lineage["role"].to_list() == ["train", "train", "validation"]
        assert reg["validation_cutoff"] == dt.date(2023, 12, 31)
        assert 0.5 < reg["oot_auc"] <= 1.0
        icp = store.query("SELECT * FROM scoring.icp_scores")
        n_known = store.query(
            "SELECT count(*) AS n FROM star.dim_customer WHERE cutoff = ?", [C]
        )["n"][0]
        assert icp.height == n_known
        assert icp["p_icp"].is_between(0, 1).all()
        assert (icp["model_version"] == reg["model_version"]).all()
        assert icp["reason_1"].null_count() < icp.height
        ws = store.query("SELECT * FROM scoring.whitespace WHERE selected")
        assert ws.height > 0
        # the cross-division list carries each placed row's stored reason
        accounts = store.query(
            "SELECT a.reason, w.reason AS stored FROM scoring.whitespace_accounts a "
            "JOIN scoring.whitespace w ON w.cutoff = a.cutoff "
            "AND w.division = a.target AND w.customer_id = a.customer_id"
        )
        n_accounts = store.query(
            "SELECT count(*) AS n FROM scoring.whitespace_accounts"
        )["n"][0]
        assert accounts.height == n_accounts > 0
        assert accounts["reason"].null_count() < accounts.height
        assert accounts["reason"].eq_missing(accounts["stored"]).all()
        exports = list((env / "reports").glob("whitespace_2024-06-30*.csv"))
        assert exports, "the whitespace export was not written"
        assert pl.read_csv(exports[0]).height > 0
        cards = list((env / "reports" / "models").rglob("model_card.md"))
        assert cards and "out-of-time" in cards[0].read_text().lower()
        from gosales_assets.lib.summary import top_opportunities

        top = top_opportunities(cfg, None, None, 3)
        assert "at 2024-06-30" in top and "   1. " in top and "why: " in top
        ranked = store.query("SELECT * FROM scoring.whitespace ORDER BY rank")
        # retraining the same partition gives the same model version, and re-running
        # scoring reproduces the same ranking byte for byte
        again = run_pipeline(cfg, C, [TARGET], instance=instance, skip_ingest=True)
        assert again.success
        reg2 = store.query("SELECT model_version FROM models.registry")
        assert reg2["model_version"].to_list() == [reg["model_version"]]
        assert store.query("SELECT * FROM scoring.whitespace ORDER BY rank").equals(
            ranked
        )
