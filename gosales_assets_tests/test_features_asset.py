"""Feature assets through Dagster: catalog, base + ALS per cutoff, matrix per
(cutoff, division), with their checks and metadata."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from gosales_assets.config import current_config
from gosales_assets.lib.features import feature_catalog
from gosales_assets.lib.store import Store
from gosales_assets.sample_data import generate
from gosales_assets_tests.conftest import point_env_at, run_job


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cfg) -> Path:
    raw = tmp_path / "raw"
    generate(
        raw,
        cfg,
        customers=200,
        start=dt.date(2021, 1, 1),
        end=dt.date(2023, 12, 31),
        seed=9,
    )
    point_env_at(monkeypatch, tmp_path, raw, "2024-01-31")
    return tmp_path


def test_feature_assets_end_to_end(env):
    with dg.instance_for_test() as instance:
        assert run_job("ingest_job", instance).success
        # the matrix refuses to run before its cutoff's base exists
        assert run_job("star_job", instance, "2023-06-30").success
        early = run_job("feature_matrix_job", instance, "2023-06-30|Solidworks")
        assert not early.success
        failure = early.get_step_failure_events()[0]
        assert "materialize features/customer_base" in str(
            failure.step_failure_data.error.message
        )
        base = run_job("features_base_job", instance, "2023-06-30")
        assert base.success
        checks = {e.check_name: e.passed for e in base.get_asset_check_evaluations()}
        assert checks["no_sources_after_cutoff"] and checks["schema_matches_catalog"]
        matrix = run_job("feature_matrix_job", instance, "2023-06-30|Solidworks")
        assert matrix.success
        evals = matrix.get_asset_check_evaluations()
        assert {e.check_name for e in evals} == {
            "no_sources_after_cutoff",
            "schema_matches_catalog",
            "values_finite",
            "one_row_per_customer",
        }
        assert all(e.passed for e in evals)
        mat = matrix.asset_materializations_for_node("feature_matrix")[0]
        assert mat.metadata["features"].value == len(feature_catalog(current_config()))
    store = Store(current_config().duckdb_path)
    n_customers = store.query(
        "SELECT count(*) AS n FROM star.dim_customer WHERE cutoff = '2023-06-30'"
    )["n"][0]
    fm = store.query("SELECT * FROM features.feature_matrix")
    assert fm.height == n_customers
    catalog = store.query("SELECT name FROM features.feature_catalog ORDER BY position")
    assert fm.columns[3:] == catalog["name"].to_list()
    stats = store.query(
        "SELECT division, count(*) AS n FROM features.feature_stats GROUP BY 1 "
        "ORDER BY 1"
    )
    assert stats["division"].to_list() == ["*", "Solidworks"]
