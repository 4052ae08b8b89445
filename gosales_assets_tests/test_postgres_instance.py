"""The production Dagster instance (deploy/dagster.postgres.yaml): runs, event logs and
schedules in PostgreSQL, credentials only from the environment, queued runs and the same
pools as the local instance. The ``postgres`` tests materialize a small partition of the
real graph on a throwaway server and read what landed there with SQL."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.events import DagsterEventType
from dagster._core.instance.config import dagster_instance_config
from dagster._core.run_coordinator import QueuedRunCoordinator

from gosales_assets.config import PROJECT_ROOT, GosalesConfig
from gosales_assets.sample_data import generate
from gosales_assets_tests.conftest import point_env_at, run_job
from gosales_assets_tests.pg_server import REQUIRE_ENV, PgServer, unavailable

DEPLOY = PROJECT_ROOT / "deploy"
PG_VARS = (
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_DB",
    "DAGSTER_PG_USERNAME",
    "DAGSTER_PG_PASSWORD",
)
CUTOFF = "2023-06-30"


def _instance_home(tmp_path: Path, name: str) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(DEPLOY / name, home / "dagster.yaml")
    return home


def _point_instance_at(
    monkeypatch: pytest.MonkeyPatch, home: Path, server: PgServer, db: str
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    values = (server.host, str(server.port), db, server.user, server.password)
    for var, value in zip(PG_VARS, values, strict=True):
        monkeypatch.setenv(var, value)


@pytest.mark.parametrize("name", ["dagster.postgres.yaml", "dagster.ducklake.yaml"])
def test_deploy_instance_files_are_valid_and_hold_no_credentials(
    tmp_path: Path, name: str
) -> None:
    home = _instance_home(tmp_path, name)
    config, _ = dagster_instance_config(str(home))
    db = config["storage"]["postgres"]["postgres_db"]
    # every connection field is an environment reference, never a literal
    assert db.pop("scheme") == "postgresql+psycopg2"
    assert db == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "db_name": {"env": "DAGSTER_PG_DB"},
        "username": {"env": "DAGSTER_PG_USERNAME"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
    }
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["telemetry"] == {"enabled": False}
    local = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": "dagster/backfill", "limit": limits[0]["limit"]} in limits
    if name == "dagster.postgres.yaml":
        # the same pools and run limits as the local instance
        assert config["concurrency"] == local["concurrency"]
    else:
        # DuckLake takes several writers: the pool is raised; one run per partition
        assert config["concurrency"]["pools"]["default_limit"] > 1
        assert {
            "key": "dagster/partition",
            "value": {"applyLimitPerUniqueValue": True},
            "limit": 1,
        } in limits


def test_missing_credentials_name_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _instance_home(tmp_path, "dagster.postgres.yaml")
    for var in PG_VARS:
        monkeypatch.setenv(var, "x")
    monkeypatch.delenv("DAGSTER_PG_PASSWORD")
    with pytest.raises(Exception, match="DAGSTER_PG_PASSWORD"):
        dg.DagsterInstance.from_config(str(home))


def test_a_missing_server_skips_unless_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL: gone"):
        unavailable("gone")
    monkeypatch.setenv(REQUIRE_ENV, "1")  # make test-postgres, CI
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL required"):
        unavailable("gone")


@pytest.mark.postgres
def test_runs_events_and_materializations_land_in_postgres(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cfg: GosalesConfig,
    pg_server: PgServer,
    pg_database: str,
) -> None:
    raw = tmp_path / "raw"
    generate(
        raw,
        cfg,
        customers=40,
        start=dt.date(2022, 7, 1),
        end=dt.date(2023, 9, 30),
        seed=5,
    )
    point_env_at(monkeypatch, tmp_path, raw, "2023-10-31")
    home = _instance_home(tmp_path, "dagster.postgres.yaml")
    _point_instance_at(monkeypatch, home, pg_server, pg_database)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        ingest = run_job("ingest_job", instance)
        star = run_job("star_job", instance, CUTOFF)
        assert ingest.success and star.success
        assert instance.get_run_by_id(star.run_id) is not None

    q = pg_server.query
    runs = q(pg_database, "SELECT run_id, pipeline_name, status, partition FROM runs")
    assert sorted((r[1], r[2], r[3]) for r in runs) == [
        ("ingest_job", "SUCCESS", None),
        ("star_job", "SUCCESS", CUTOFF),
    ]
    assert {r[0] for r in runs} == {ingest.run_id, star.run_id}
    events = dict(
        q(
            pg_database,
            "SELECT dagster_event_type, count(*) FROM event_logs WHERE run_id = %s "
            "AND dagster_event_type IS NOT NULL GROUP BY 1",
            (star.run_id,),
        )
    )
    # stored under the event type values (RUN_START is "PIPELINE_START")
    assert events[DagsterEventType.RUN_START.value] == 1
    assert events[DagsterEventType.RUN_SUCCESS.value] == 1
    assert events[DagsterEventType.STEP_SUCCESS.value] >= 1
    assert events[DagsterEventType.ASSET_CHECK_EVALUATION.value] >= 1
    mats = q(
        pg_database,
        "SELECT asset_key, partition FROM event_logs "
        "WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND run_id = %s",
        (star.run_id,),
    )
    star_keys = {key for key, part in mats if part == CUTOFF}
    assert '["star", "fact_transactions"]' in star_keys
    assert '["star", "dim_customer"]' in star_keys
    assert len(star_keys) == len(mats)  # every star table at the cutoff partition
    indexed = {r[0] for r in q(pg_database, "SELECT asset_key FROM asset_keys")}
    assert '["raw", "sales_lines"]' in indexed and star_keys <= indexed
    tables = {
        r[0]
        for r in q(
            pg_database,
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public'",
        )
    }
    assert {"runs", "event_logs", "instigators", "jobs", "job_ticks"} <= tables


@pytest.mark.postgres
def test_ducklake_instance_raises_the_writer_pool(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pg_server: PgServer,
    pg_database: str,
) -> None:
    home = _instance_home(tmp_path, "dagster.ducklake.yaml")
    _point_instance_at(monkeypatch, home, pg_server, pg_database)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit == 4
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None and queue.max_concurrent_runs == 8
