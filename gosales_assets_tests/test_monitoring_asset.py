"""The monitoring/drift asset through Dagster: its definition (group, job, which checks
block), the skip without a reference, and the failure before C is scored."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from gosales_assets.config import load_config
from gosales_assets.lib.store import Store, replace_partition_frame
from gosales_assets_tests.conftest import point_env_at, run_job

C = dt.date(2024, 12, 31)
KEY = f"{C}|Solidworks"


def test_definition_group_job_and_blocking():
    from gosales_assets.definitions import defs

    d = defs()
    graph = d.resolve_asset_graph()
    key = dg.AssetKey(["monitoring", "drift"])
    node = graph.get(key)
    assert node.group_name == "monitoring"
    specs = {s.name: s for s in d.resolve_assets_def(key).check_specs}
    assert set(specs) == {
        "feature_psi",
        "feature_psi_error",
        "feature_ks",
        "feature_ks_error",
        "score_psi",
        "prevalence_drift",
        "calibration_drift",
        "drift_values_valid",
    }
    # drift never stops publishing; only the contract of the computed values blocks
    assert [n for n, s in specs.items() if s.blocking] == ["drift_values_valid"]
    job = d.resolve_job_def("drift_job")
    assert job.partitions_def is not None


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_copy: Path) -> Store:
    text = config_copy.read_text().replace(
        "  reference: model_training", "  reference: previous    "
    )
    config_copy.write_text(text)
    monkeypatch.setenv("GOSALES_CONFIG", str(config_copy))
    point_env_at(monkeypatch, tmp_path, tmp_path / "raw", "2025-01-31")
    cfg = load_config()
    assert cfg.monitoring.reference == "previous"
    return Store(cfg.duckdb_path)


def _matrix_and_scores(store: Store, scores: bool) -> None:
    part = {"cutoff": C, "division": "Solidworks"}
    keys = {"cutoff": [C, C], "division": ["Solidworks"] * 2, "customer_id": ["a", "b"]}
    with store.transaction() as con:
        replace_partition_frame(
            con,
            "features.feature_matrix",
            pl.DataFrame({**keys, "rfm__gp_sum__3m": [1.0, 2.0]}),
            partition=part,
            order_by=("customer_id",),
        )
        if scores:
            replace_partition_frame(
                con,
                "scoring.icp_scores",
                pl.DataFrame(
                    {
                        **keys,
                        "p_icp": [0.1, 0.2],
                        "model_version": ["v1", "v1"],
                        "model_cutoff": [C, C],
                    }
                ),
                partition=part,
                order_by=("customer_id",),
            )


def test_first_cutoff_is_skipped_with_the_reason(env):
    _matrix_and_scores(env, scores=True)
    with dg.instance_for_test() as instance:
        result = run_job("drift_job", instance, KEY)
        assert result.success
        assert result.get_asset_check_evaluations() == []
        assert not result.asset_materializations_for_node("drift")
        observations = result.asset_observations_for_node("drift")
        reason = observations[0].metadata["skipped"].value
        assert "no reference" in reason and "before 2024-12-31" in reason
    assert not env.table_exists("monitoring.drift")


def test_an_unscored_partition_fails_with_what_to_run(env):
    _matrix_and_scores(env, scores=False)
    with dg.instance_for_test() as instance:
        result = run_job("drift_job", instance, KEY)
        assert not result.success
        failure = result.get_step_failure_events()[0]
        message = str(failure.step_failure_data.error.message)
        assert "materialize scoring/icp_scores" in message
