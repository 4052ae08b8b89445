"""Automation on a real instance, as in production: the project's dagster.yaml (pool
``duckdb_write`` limit 1), the queued run coordinator, a ``dagster-daemon`` and
subprocess runs. Slow (minutes): every run starts a process that loads the code.

- Two backfills at once (feature matrices of two divisions at the same cutoff), both
  submitted before the daemon starts so their runs are queued together. The pool must
  serialize their DuckDB steps: every run succeeds, no event mentions a DuckDB lock
  conflict, the store steps never overlap in time, and every partition's rows are
  there. The publish sensor then refreshes the analyst copy, which must equal the
  store.
- The nightly pipeline: the run nightly_schedule requests, then the partitioned runs
  scheduled_pipeline_sensor requests stage by stage, in dependency order, then one
  publication.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from gosales_assets.config import PROJECT_ROOT, current_config
from gosales_assets.lib.publish import table_checksums
from gosales_assets.lib.store import Store
from gosales_assets.sample_data import generate
from gosales_assets_tests.conftest import point_env_at

pytestmark = pytest.mark.slow

C = "2024-06-30"
DIVISIONS = ("Printers", "Solidworks")
BIN = Path(sys.executable).parent
TIMEOUT_SECONDS = 900
LOCK_ERRORS = ("Could not set lock", "Conflicting lock", "StoreLockedError")
PUBLISH = "publish_job"
DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cfg) -> Path:
    raw = tmp_path / "raw"
    generate(
        raw,
        cfg,
        customers=120,
        start=dt.date(2023, 1, 1),
        end=dt.date(2024, 6, 30),
        seed=5,
    )
    point_env_at(monkeypatch, tmp_path, raw, "2024-07-31")
    dagster_home = tmp_path / "home" / "dagster"
    dagster_home.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    (tmp_path / "workspace.yaml").write_text(
        "load_from:\n  - python_module:\n"
        "      module_name: gosales_assets.definitions\n"
        "      attribute: defs\n"
        f"      working_directory: {PROJECT_ROOT}\n"
    )
    return tmp_path


def _events(instance: dg.DagsterInstance, run_id: str) -> list[dg.EventLogEntry]:
    return list(instance.all_logs(run_id))


def _step_windows(
    instance: dg.DagsterInstance, run_id: str
) -> list[tuple[float, float]]:
    """(start, end) of every step of a run."""
    starts: dict[str, float] = {}
    windows = []
    for e in _events(instance, run_id):
        kind = e.dagster_event.event_type_value if e.dagster_event else None
        if kind == "STEP_START":
            starts[e.step_key or ""] = e.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            windows.append((starts[e.step_key or ""], e.timestamp))
    return windows


def _first(instance: dg.DagsterInstance, run_id: str, kind: str) -> float:
    return min(
        e.timestamp
        for e in _events(instance, run_id)
        if e.dagster_event and e.dagster_event.event_type_value == kind
    )


def _wait(daemon_log: Path, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not done():
        if time.monotonic() > deadline:
            tail = daemon_log.read_text()[-4000:]
            pytest.fail(f"timed out; daemon log tail:\n{tail}")
        time.sleep(1.0)


@contextlib.contextmanager
def _daemon(home: Path) -> Iterator[Path]:
    """``dagster-daemon run`` on the test's workspace; yields its log file."""
    log_path = home / "daemon.log"
    with log_path.open("w") as log:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(home / "workspace.yaml")],
            cwd=PROJECT_ROOT,
            env=dict(os.environ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield log_path
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(timeout=30)


def _settled(instance: dg.DagsterInstance) -> bool:
    """Every backfill done, every run finished, and a publish run started after the
    last run that wrote (the publish sensor refreshed the copy)."""
    if not {b.status.value for b in instance.get_backfills()} <= DONE:
        return False
    records = instance.get_run_records()
    if not records or any(not r.dagster_run.is_finished for r in records):
        return False
    writes = [r.end_time or 0 for r in records if r.dagster_run.job_name != PUBLISH]
    return any(
        r.dagster_run.job_name == PUBLISH and (r.start_time or 0) >= max(writes)
        for r in records
    )


def _after_daemon(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """The runs, once the daemon is gone and no launched run is still executing (a
    run the sensor queued in the last moment stays queued)."""
    deadline = time.monotonic() + 120
    active = [
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    ]
    while instance.get_runs(filters=dg.RunsFilter(statuses=active)):
        assert time.monotonic() < deadline, "a run kept executing"
        time.sleep(1.0)
    return instance.get_runs()


def _lock_errors(instance: dg.DagsterInstance, daemon_log: Path) -> list[str]:
    texts = [
        e.message or ""
        for r in instance.get_runs()
        for e in _events(instance, r.run_id)
    ]
    texts.append(daemon_log.read_text())
    return [t for t in texts if any(m in t for m in LOCK_ERRORS)]


def test_two_backfills_over_different_divisions_at_once(home: Path):
    from gosales_assets.definitions import defs as load_defs

    cfg = current_config()
    defs = load_defs()
    env = dict(os.environ)
    workspace = str(home / "workspace.yaml")
    with dg.DagsterInstance.get() as instance:
        # the partitions both backfills read: raw, star and base features at C
        for job, key in (
            ("ingest_job", None),
            ("star_job", C),
            ("features_base_job", C),
        ):
            result = defs.resolve_job_def(job).execute_in_process(
                instance=instance, partition_key=key, raise_on_error=False
            )
            assert result.success, job
        # both backfills are requested before the daemon runs: their runs queue together
        submitters = [
            subprocess.Popen(
                [
                    str(BIN / "dagster"),
                    "job",
                    "backfill",
                    "-w",
                    workspace,
                    "-j",
                    "feature_matrix_job",
                    "--partitions",
                    f"{C}|{division}",
                    "--noprompt",
                ],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for division in DIVISIONS
        ]
        for proc in submitters:
            out, _ = proc.communicate(timeout=300)
            assert proc.returncode == 0, out
        backfills = instance.get_backfills()
        assert len(backfills) == 2
        ids = {b.backfill_id for b in backfills}

        def backfill_runs() -> list[dg.DagsterRun]:
            return instance.get_runs(
                filters=dg.RunsFilter(tags={"dagster/backfill": sorted(ids)})
            )

        with _daemon(home) as daemon_log:
            _wait(
                daemon_log,
                lambda: _settled(instance) and len(backfill_runs()) == len(DIVISIONS),
            )
        runs = _after_daemon(instance)
        statuses = {b.status.value for b in instance.get_backfills()}
        assert statuses <= {"COMPLETED", "COMPLETED_SUCCESS"}, statuses
        failed = [(r.job_name, r.run_id) for r in runs if r.is_failure]
        assert not failed, failed
        matrix_runs = backfill_runs()
        assert sorted(r.tags["dagster/partition"] for r in matrix_runs) == [
            f"{C}|{d}" for d in DIVISIONS
        ]
        # no run ever hit DuckDB's file lock (the pool kept writers apart)
        assert not _lock_errors(instance, daemon_log)
        # both backfills' runs were queued before either store step started (the run
        # queue allows 4 runs, 2 per backfill tag), yet no two store steps overlapped:
        # the queue held the second run back for the duckdb_write pool
        enqueued = [
            _first(instance, r.run_id, "PIPELINE_ENQUEUED") for r in matrix_runs
        ]
        matrix_steps = [
            w for r in matrix_runs for w in _step_windows(instance, r.run_id)
        ]
        assert max(enqueued) < min(start for start, _ in matrix_steps)
        windows = sorted(
            w
            for r in runs
            if r.job_name != "ingest_job"
            for w in _step_windows(instance, r.run_id)
        )
        for (_, end), (start, _) in itertools.pairwise(windows):
            assert end <= start, windows
        blocked = [
            line
            for line in daemon_log.read_text().splitlines()
            if "blocked by global concurrency limits" in line
        ]
        assert blocked and all("duckdb_write" in line for line in blocked)
    # nothing lost: each division's feature matrix holds every known customer
    store = Store.from_config(cfg)
    with store.connect(read_only=True) as con:
        known = con.execute(
            "SELECT count(*) FROM star.dim_customer WHERE cutoff = ?", [C]
        ).fetchone()
        counts = dict(
            con.execute(
                "SELECT division, count(*) FROM features.feature_matrix "
                "WHERE cutoff = ? GROUP BY division",
                [C],
            ).fetchall()
        )
        expected = table_checksums(con)
    assert known is not None and known[0] > 0
    assert counts == {d: known[0] for d in DIVISIONS}
    # the copy: every table but the feature matrix (automation.publish_exclude)
    assert "features.feature_matrix" in expected
    del expected["features.feature_matrix"]
    with duckdb.connect(str(cfg.published_path), read_only=True) as copy:
        assert table_checksums(copy) == expected


def test_the_nightly_pipeline_runs_through_the_daemon(
    home: Path, config_copy: Path, monkeypatch: pytest.MonkeyPatch
):
    """The run nightly_schedule requests (a tagged ingest_job) -> the daemon runs it
    -> scheduled_pipeline_sensor requests star, base features and both divisions'
    feature matrices stage by stage -> the publish sensor refreshes the copy."""
    text = config_copy.read_text()
    first = text.index("targets:\n") + len("targets:\n")
    last = text.index("\n\n", first)
    targets = "  - {name: CPE, division: CPE}\n  - {name: PDM, division: PDM}"
    config_copy.write_text(text[:first] + targets + text[last:])
    monkeypatch.setenv("GOSALES_CONFIG", str(config_copy))
    cfg = current_config()
    assert cfg.target_names == ["CPE", "PDM"]
    from gosales_assets.definitions import defs as load_defs

    schedule = load_defs().resolve_schedule_def("nightly_schedule")
    with dg.DagsterInstance.get() as instance:
        when = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when
        ) as context:
            [request] = schedule.evaluate_tick(context).run_requests
        launch = subprocess.run(
            [
                str(BIN / "dagster"),
                "job",
                "launch",
                "-w",
                str(home / "workspace.yaml"),
                "-j",
                str(request.job_name),
                "--tags",
                json.dumps(dict(request.tags)),
            ],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert launch.returncode == 0, launch.stdout + launch.stderr

        def pipeline_runs() -> list[dg.DagsterRun]:
            return [
                r
                for r in instance.get_runs()
                if "gosales/pipeline_id" in r.tags and r.job_name != "publish_job"
            ]

        def done() -> bool:
            runs = instance.get_runs()
            return all(r.is_finished for r in runs) and any(
                r.job_name == "publish_job" and "gosales/pipeline_id" in r.tags
                for r in runs
            )

        with _daemon(home) as daemon_log:
            _wait(daemon_log, done)
        runs = _after_daemon(instance)
        failed = [(r.job_name, r.run_id) for r in runs if r.is_failure]
        assert not failed, failed
        assert not _lock_errors(instance, daemon_log)
        [ingest] = [r for r in runs if r.job_name == "ingest_job"]
        assert ingest.tags["gosales/pipeline"] == "nightly"
        # the nightly cutoff: the newest order date ingested (newest_data)
        with Store.from_config(cfg).connect(read_only=True) as con:
            newest = con.execute(
                "SELECT max(order_date) FROM raw.sales_lines"
            ).fetchone()
        assert newest is not None
        c = newest[0].isoformat()
        assert {(r.job_name, r.tags["dagster/partition"]) for r in pipeline_runs()} == {
            ("star_job", c),
            ("features_base_job", c),
            *{("feature_matrix_job", f"{c}|{t}") for t in cfg.target_names},
        }
        for run in pipeline_runs():
            assert run.tags["gosales/pipeline_id"] == ingest.run_id
            assert run.tags["gosales/cutoff"] == c
            assert run.tags["dagster/sensor_name"] == "scheduled_pipeline_sensor"

        def materialized(key: str, partition: str | None) -> float:
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey(key.split("/")),
                    asset_partitions=None if partition is None else [partition],
                ),
                limit=1,
            ).records
            assert records, f"{key} [{partition}] was not materialized"
            return records[0].timestamp

        star = materialized("star/fact_transactions", c)
        base = materialized("features/customer_base", c)
        catalog = materialized("features/feature_catalog", None)
        matrices = [
            materialized("features/feature_matrix", f"{c}|{t}")
            for t in cfg.target_names
        ]
        assert materialized("raw/sales_lines", None) < star < base < min(matrices)
        assert catalog < min(matrices)
        # the pipeline published once, after its last run
        [publish] = [r for r in runs if r.job_name == "publish_job"]
        assert publish.tags["gosales/pipeline_id"] == ingest.run_id
    # no model is registered, so the nightly scored nothing; the copy is current
    with Store.from_config(cfg).connect(read_only=True) as con:
        tables = table_checksums(con)
    assert "features.feature_matrix" in tables
    assert not any(t.startswith("scoring.") for t in tables)
    del tables["features.feature_matrix"]  # left out of the copy by default
    with duckdb.connect(str(cfg.published_path), read_only=True) as copy:
        assert table_checksums(copy) == tables
