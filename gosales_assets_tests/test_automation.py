"""Schedules, sensors and the published copy (defs/automation, lib/automation): the
configuration, the cutoff and partition plans, and every schedule and sensor evaluated
against a real instance."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from gosales_assets.config import ConfigError, current_config, load_config
from gosales_assets.lib.automation import (
    NoCutoffError,
    Plan,
    StoreFacts,
    advance,
    choose_cutoff,
    content_fingerprint,
    extract_problem,
    newest_month_end,
    nightly_plan,
    read_store_facts,
    retrain_plan,
    scan_extract,
    stat_signature,
)
from gosales_assets.lib.publish import table_checksums
from gosales_assets.lib.store import Store
from gosales_assets_tests.conftest import point_env_at
from gosales_assets_tests.test_definitions import CUSTOMERS, SALES

UTC = dt.UTC
D = dt.date


def _defs() -> dg.Definitions:
    from gosales_assets.definitions import defs

    return defs()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


# --------------------------------------------------------------------- configuration


def test_automation_defaults(cfg, tmp_path):
    auto = cfg.automation
    assert (auto.nightly_cron, auto.retrain_cron, auto.timezone) == (
        "0 2 * * *",
        "0 4 1 * *",
        "UTC",
    )
    assert auto.default_status == "stopped" and auto.nightly_cutoff == "newest_data"
    assert cfg.published_path == tmp_path / "home" / "published" / "gosales.duckdb"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('nightly_cron: "0 2 * * *"', 'nightly_cron: "0 25 * * *"', "nightly_cron"),
        ('retrain_cron: "0 4 1 * *"', 'retrain_cron: "@sometimes"', "retrain_cron"),
        ("timezone: UTC", "timezone: Mars/Olympus", "automation.timezone"),
        ("default_status: stopped", "default_status: paused", "default_status"),
        ("nightly_cutoff: newest_data", "nightly_cutoff: today", "nightly_cutoff"),
        (
            "raw_sensor_interval_seconds: 60",
            "raw_sensor_interval_seconds: 1",
            "raw_sensor_interval_seconds",
        ),
        ("publish_path: null", "publish_path: copy.csv", "must name a .duckdb file"),
        ("publish_path: null", "publish_path: x.duckdb\n  colour: red", "colour"),
        (
            "    - features.feature_matrix",
            "    - feature_matrix",
            r"\['feature_matrix'\] are not schema.table names",
        ),
        (
            "    - features.feature_matrix",
            "    - features.feature_matrix\n    - features.feature_matrix",
            "listed more than once",
        ),
    ],
)
def test_bad_automation_config_names_the_key(config_copy, old, new, message):
    _edit(config_copy, old, new)
    with pytest.raises(ConfigError, match=message):
        load_config(config_copy, env={})


def test_the_feature_matrix_is_left_out_of_the_copy_by_default(config_copy):
    assert load_config(config_copy, env={}).automation.publish_exclude == [
        "features.feature_matrix"
    ]


def test_publish_path_is_relative_to_home(config_copy, tmp_path):
    _edit(config_copy, "publish_path: null", "publish_path: share/analysts.duckdb")
    cfg = load_config(config_copy, env={"GOSALES_HOME": str(tmp_path / "h")})
    assert cfg.published_path == tmp_path / "h" / "share" / "analysts.duckdb"


# ------------------------------------------------------------------- cutoffs, plans


def test_choose_cutoff():
    kw = {"newest_partition": D(2026, 11, 26), "cutoff_start": D(2021, 1, 1)}
    data = {"load_date": D(2026, 11, 27), **kw}
    assert choose_cutoff("newest_data", last_data_date=D(2026, 6, 30), **data) == D(
        2026, 6, 30
    )
    # rows dated today (allowed when the load date is today) never make a cutoff
    assert choose_cutoff("newest_data", last_data_date=D(2026, 11, 27), **data) == D(
        2026, 11, 26
    )
    assert choose_cutoff("load_date", last_data_date=None, **data) == D(2026, 11, 26)
    fixed = {"load_date": D(2026, 6, 30), **kw}
    assert choose_cutoff("load_date", last_data_date=D(2026, 6, 1), **fixed) == D(
        2026, 6, 30
    )
    with pytest.raises(NoCutoffError, match="no sales lines"):
        choose_cutoff("newest_data", last_data_date=None, **data)
    with pytest.raises(NoCutoffError, match=r"before partitions\.cutoff_start"):
        choose_cutoff("newest_data", last_data_date=D(2020, 5, 1), **data)
    assert newest_month_end(D(2026, 6, 29), D(2021, 1, 1)) == D(2026, 5, 31)
    assert newest_month_end(D(2026, 6, 30), D(2021, 1, 1)) == D(2026, 6, 30)
    with pytest.raises(NoCutoffError, match="no month-end"):
        newest_month_end(D(2021, 1, 20), D(2021, 1, 1))


def test_nightly_plan_scores_only_targets_with_a_model():
    facts = StoreFacts(D(2024, 7, 1), {"A": D(2024, 6, 30), "B": D(2024, 7, 31)})
    c = D(2024, 7, 1)
    plan = nightly_plan(c, ["A", "B"], facts.scorable(["A", "B", "C"], c))
    assert [[s.job for s in stage] for stage in plan.stages] == [
        ["star_job"],
        ["features_base_job"],
        ["division_nightly_job", "feature_matrix_job"],
        ["whitespace_accounts_job"],
    ]
    # A (with a model) gets matrix, scores and drift in one run; B only its matrix
    assert plan.keys_of("division_nightly_job") == ["2024-07-01|A"]
    assert plan.keys_of("feature_matrix_job") == ["2024-07-01|B"]
    assert plan.notes == ("not scored, no model trained on or before 2024-07-01: B",)
    unscored = nightly_plan(c, ["A"], [])
    assert [s.job for s in unscored.stages[-1]] == ["feature_matrix_job"]
    assert Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan


def test_advance_moves_stage_by_stage_and_leaves_failed_divisions_out():
    plan = nightly_plan(D(2024, 7, 1), ["A", "B"], ["A", "B"])
    c = "2024-07-01"
    star, base = ("star_job", c), ("features_base_job", c)
    div_a, div_b = (
        ("division_nightly_job", f"{c}|A"),
        ("division_nightly_job", f"{c}|B"),
    )
    accounts = ("whitespace_accounts_job", c)
    start = advance(plan, 0, [], {})
    assert (start.stage, start.requests, start.finished) == (0, (star,), False)
    # a requested run that exists but has not finished is waited for, not re-requested
    assert advance(plan, 0, [], {star: "pending"}).requests == ()
    nxt = advance(plan, 0, [], {star: "success"})
    assert (nxt.stage, nxt.requests) == (1, (base,))
    divisions = advance(plan, 1, [], {star: "success", base: "success"})
    assert (divisions.stage, divisions.requests) == (2, (div_a, div_b))
    # B's run fails: there is no cross-division list, and the pipeline ends
    done = {star: "success", base: "success", div_a: "success", div_b: "failed"}
    end = advance(plan, 2, [], done)
    assert end.finished and end.dropped == ("B",) and accounts not in end.requests
    assert end.notes == (
        f"division_nightly_job [{c}|B] failed; B is left out from here",
    )
    # everything succeeds: the cross-division list is built last
    ok = {**done, div_b: "success"}
    assert advance(plan, 2, [], ok).requests == (accounts,)
    assert advance(plan, 3, [], {**ok, accounts: "success"}).finished
    # a failed cutoff-level run stops the pipeline
    stopped = advance(plan, 1, [], {star: "success", base: "failed"})
    assert (
        stopped.stopped
        == f"features_base_job [{c}] failed; the later stages depend on it"
    )


def test_retrain_plan_covers_every_training_partition(cfg):
    plan = retrain_plan(cfg, D(2024, 6, 30))
    assert [[s.job for s in stage] for stage in plan.stages] == [
        ["star_job"],
        ["features_base_job"],
        ["labels_job", "feature_matrix_job"],
        ["model_job"],
        ["scoring_job"],
        ["whitespace_accounts_job", "drift_job"],
    ]
    training = ["2022-12-31", "2023-06-30", "2023-12-31"]
    assert plan.keys_of("star_job") == [*training, "2024-06-30"]
    assert plan.keys_of("labels_job") == sorted(
        f"{c}|{t}" for c in training for t in cfg.target_names
    )
    assert len(plan.keys_of("feature_matrix_job")) == 4 * len(cfg.target_names)
    assert plan.keys_of("model_job") == sorted(
        f"2024-06-30|{t}" for t in cfg.target_names
    )
    assert plan.keys_of("whitespace_accounts_job") == ["2024-06-30"]
    with pytest.raises(NoCutoffError, match="train on cutoffs from 2019-12-31"):
        retrain_plan(cfg, D(2021, 6, 30))


def test_store_facts(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    assert read_store_facts(store) == StoreFacts(None)
    with store.transaction() as con:
        con.execute("CREATE SCHEMA raw")
        con.execute(
            "CREATE TABLE raw.sales_lines AS SELECT DATE '2024-07-01' AS order_date"
        )
        con.execute("CREATE SCHEMA models")
        con.execute(
            "CREATE TABLE models.registry AS SELECT * FROM (VALUES "
            "('A', DATE '2024-06-30'), ('A', DATE '2023-12-31'), "
            "('B', DATE '2024-06-30')) t(division, cutoff)"
        )
    facts = read_store_facts(store)
    assert facts.last_order_date == D(2024, 7, 1)
    assert dict(facts.first_model_cutoff) == {"A": D(2023, 12, 31), "B": D(2024, 6, 30)}
    assert facts.scorable(["A", "B"], D(2024, 1, 31)) == ["A"]


# ----------------------------------------------------------------------- raw extract


def test_extract_fingerprints(tmp_path):
    raw = tmp_path / "raw"
    assert scan_extract(raw) == ()
    raw.mkdir()
    (raw / "sales_lines.csv").write_text(SALES)
    (raw / "notes.txt").write_text("ignored")
    (raw / ".customers.csv.part").write_text("a copy in progress")
    files = scan_extract(raw)
    assert [f.name for f in files] == ["sales_lines.csv"]
    assert extract_problem(files) == "no customers file yet"
    (raw / "customers.csv").write_text(CUSTOMERS)
    files = scan_extract(raw)
    assert extract_problem(files) is None
    first = (stat_signature(files), content_fingerprint(raw, files))
    os.utime(raw / "customers.csv", ns=(1, 1))
    touched = scan_extract(raw)
    assert stat_signature(touched) != first[0]
    assert content_fingerprint(raw, touched) == first[1]  # same content
    (raw / "customers.csv").write_text(CUSTOMERS.replace("Acme", "Acne"))
    assert content_fingerprint(raw, scan_extract(raw)) != first[1]


# ------------------------------------------------------------------- Dagster objects


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "sales_lines.csv").write_text(SALES)
    (raw / "customers.csv").write_text(CUSTOMERS)
    point_env_at(monkeypatch, tmp_path, raw, "2024-12-31")
    return tmp_path


def test_automation_is_visible_and_valid(env):
    defs = _defs()
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assert {"nightly_schedule", "monthly_retrain_schedule"} <= {
        s.name for s in repo.schedule_defs
    }
    assert {
        "raw_extract_sensor",
        "scheduled_pipeline_sensor",
        "publish_after_success_sensor",
    } <= {s.name for s in repo.sensor_defs}
    nightly = defs.resolve_schedule_def("nightly_schedule")
    retrain = defs.resolve_schedule_def("monthly_retrain_schedule")
    assert (nightly.cron_schedule, nightly.execution_timezone) == ("0 2 * * *", "UTC")
    assert retrain.cron_schedule == "0 4 1 * *"
    stopped = dg.DefaultScheduleStatus.STOPPED
    assert nightly.default_status == retrain.default_status == stopped
    sensors = {s.name: s for s in repo.sensor_defs}
    assert sensors["raw_extract_sensor"].minimum_interval_seconds == 60
    running = dg.DefaultSensorStatus.RUNNING
    assert sensors["scheduled_pipeline_sensor"].default_status == running
    assert sensors["publish_after_success_sensor"].default_status == running
    publish = defs.resolve_job_def("publish_job")
    assert {n.definition.pool for n in publish.graph.node_dict.values()} == {
        "duckdb_write"
    }
    # every job a plan names exists
    planned = {
        s.job
        for stage in retrain_plan(current_config(), D(2024, 6, 30)).stages
        for s in stage
    }
    for job in planned:
        defs.resolve_job_def(job)


def test_schedules_follow_the_config(env, config_copy, monkeypatch):
    _edit(config_copy, 'nightly_cron: "0 2 * * *"', 'nightly_cron: "30 1 * * 1-5"')
    _edit(config_copy, "timezone: UTC", "timezone: Europe/Berlin")
    _edit(config_copy, "default_status: stopped", "default_status: running")
    _edit(
        config_copy,
        "raw_sensor_interval_seconds: 60",
        "raw_sensor_interval_seconds: 15",
    )
    monkeypatch.setenv("GOSALES_CONFIG", str(config_copy))
    defs = _defs()
    nightly = defs.resolve_schedule_def("nightly_schedule")
    assert nightly.cron_schedule == "30 1 * * 1-5"
    assert nightly.execution_timezone == "Europe/Berlin"
    assert nightly.default_status == dg.DefaultScheduleStatus.RUNNING
    raw = defs.resolve_sensor_def("raw_extract_sensor")
    assert raw.minimum_interval_seconds == 15
    assert raw.default_status == dg.DefaultSensorStatus.RUNNING


@pytest.mark.parametrize(
    ("schedule", "pipeline", "when"),
    [
        ("nightly_schedule", "nightly", dt.datetime(2024, 7, 5, 2, 0, tzinfo=UTC)),
        ("monthly_retrain_schedule", "retrain", dt.datetime(2024, 7, 1, 4, tzinfo=UTC)),
    ],
)
def test_schedules_start_their_pipeline_with_a_tagged_ingest(
    env, schedule, pipeline, when
):
    defs = _defs()
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when
        ) as context,
    ):
        data = defs.resolve_schedule_def(schedule).evaluate_tick(context)
    [request] = data.run_requests
    assert request.job_name == "ingest_job"
    assert request.run_key == f"{pipeline}-{when.isoformat()}"
    assert request.tags["gosales/pipeline"] == pipeline
    assert request.tags["gosales/scheduled_for"] == when.isoformat()
    job = defs.resolve_job_def("ingest_job")
    assert dg.validate_run_config(job, request.run_config) is not None


def _tick(sensor: dg.SensorDefinition, cursor: str | None, **kw: object):
    """One sensor evaluation (the context is closed, as the daemon does)."""
    with dg.build_sensor_context(cursor=cursor, **kw) as context:  # type: ignore[arg-type]
        return sensor.evaluate_tick(context)


def test_raw_extract_sensor_requests_each_settled_extract_once(env):
    raw = env / "raw"
    defs = _defs()
    sensor = defs.resolve_sensor_def("raw_extract_sensor")
    first = _tick(sensor, None)
    assert not first.run_requests and "waiting 60s" in first.skip_message
    second = _tick(sensor, first.cursor)
    [request] = second.run_requests
    fingerprint = content_fingerprint(raw, scan_extract(raw))
    assert request.run_key == f"raw-{fingerprint}"
    assert request.tags["gosales/raw_fingerprint"] == fingerprint
    assert request.job_name in (None, "ingest_job")
    quiet = _tick(sensor, second.cursor)
    assert not quiet.run_requests and "no new raw extract" in quiet.skip_message
    # a touched but identical extract maps to the same run key (the daemon skips it)
    os.utime(raw / "sales_lines.csv", ns=(5, 5))
    settling = _tick(sensor, quiet.cursor)
    assert not settling.run_requests
    again = _tick(sensor, settling.cursor)
    assert [r.run_key for r in again.run_requests] == [request.run_key]
    # a changed extract settles, then gets a new key; a half-copied one waits
    (raw / "customers.csv").write_text(CUSTOMERS + '999,"New Co",Mfg,,East,5,\n')
    changed = _tick(sensor, _tick(sensor, again.cursor).cursor)
    assert [r.run_key for r in changed.run_requests] != [request.run_key]
    assert len(changed.run_requests) == 1
    (raw / "customers.csv").unlink()
    missing = _tick(sensor, _tick(sensor, changed.cursor).cursor)
    assert not missing.run_requests
    assert "not ready: no customers file yet" in missing.skip_message


def test_pipeline_sensor_runs_a_scheduled_pipeline_stage_by_stage(env):
    defs = _defs()
    repo = defs.get_repository_def()
    sensor = defs.resolve_sensor_def("scheduled_pipeline_sensor")
    ingest = defs.resolve_job_def("ingest_job")
    targets = load_config().target_names
    with dg.instance_for_test() as instance:

        def tick(cursor: str | None):
            return _tick(sensor, cursor, instance=instance, repository_def=repo)

        idle = tick(None)
        assert not idle.run_requests and "no scheduled ingest" in idle.skip_message
        # an untagged ingest (manual, raw_extract_sensor) does not start a pipeline
        assert ingest.execute_in_process(instance=instance).success
        assert not tick(None).run_requests
        ids = {}
        for pipeline, when in (
            ("nightly", "2024-07-05T02:00:00+00:00"),
            ("retrain", "2024-07-01T04:00:00+00:00"),
        ):
            tags = {"gosales/pipeline": pipeline, "gosales/scheduled_for": when}
            result = ingest.execute_in_process(instance=instance, tags=tags)
            assert result.success
            ids[pipeline] = result.run_id
        first = tick(None)
        by_pipeline: dict[str, list[dg.RunRequest]] = {}
        for request in first.run_requests:
            by_pipeline.setdefault(request.tags["gosales/pipeline"], []).append(request)
        # stage 1 of each: the star schema; the nightly at the newest order date
        # ingested (no model yet: nothing will be scored), the retrain at the newest
        # month-end and every training cutoff of its models
        [star] = by_pipeline["nightly"]
        assert (star.job_name, star.partition_key) == ("star_job", "2024-07-01")
        assert star.tags["gosales/pipeline_id"] == ids["nightly"]
        assert star.tags["gosales/cutoff"] == "2024-07-01"
        assert star.run_key == f"{ids['nightly']}:star_job:2024-07-01"
        assert sorted(r.partition_key for r in by_pipeline["retrain"]) == [
            "2022-12-31",
            "2023-06-30",
            "2023-12-31",
            "2024-06-30",
        ]
        # nothing new until stage 1 has run; the same requests come back (same run
        # keys, so the daemon launches each once) while the runs do not exist
        again = tick(first.cursor)
        assert {r.run_key for r in again.run_requests} == {
            r.run_key for r in first.run_requests
        }
        star_run = defs.resolve_job_def("star_job").execute_in_process(
            instance=instance, partition_key="2024-07-01", tags=dict(star.tags)
        )
        assert star_run.success
        second = tick(first.cursor)
        nightly = [
            r for r in second.run_requests if r.tags["gosales/pipeline"] == "nightly"
        ]
        assert [(r.job_name, r.partition_key) for r in nightly] == [
            ("features_base_job", "2024-07-01")
        ]
        assert nightly[0].tags["gosales/stage"] == "2"
        base = defs.resolve_job_def("features_base_job").execute_in_process(
            instance=instance, partition_key="2024-07-01", tags=dict(nightly[0].tags)
        )
        assert base.success
        third = tick(second.cursor)
        matrices = [
            r for r in third.run_requests if r.tags["gosales/pipeline"] == "nightly"
        ]
        assert sorted(r.partition_key for r in matrices) == sorted(
            f"2024-07-01|{t}" for t in targets
        )
        assert {r.job_name for r in matrices} == {"feature_matrix_job"}
    state = json.loads(third.cursor)
    assert sorted(state["handled"]) == sorted(ids.values())
    assert state["active"][ids["nightly"]]["stage"] == 2


def test_publish_job_and_the_sensor_that_requests_it(env):
    defs = _defs()
    cfg = current_config()
    sensor = defs.resolve_sensor_def("publish_after_success_sensor")
    publish = defs.resolve_job_def("publish_job")
    with dg.instance_for_test() as instance:
        ingest = defs.resolve_job_def("ingest_job").execute_in_process(
            instance=instance
        )

        def evaluate(result):
            context = dg.build_run_status_sensor_context(
                sensor_name=sensor.name,
                dagster_event=result.get_run_success_event(),
                dagster_instance=instance,
                dagster_run=result.dagster_run,
            )
            return sensor(context)

        request = evaluate(ingest)
        assert isinstance(request, dg.RunRequest)
        assert request.run_key == f"publish-after-{ingest.run_id}"
        # a publish run that has not started yet will copy this run's writes too
        pending = instance.create_run_for_job(job_def=publish)
        skipped = evaluate(ingest)
        assert (
            isinstance(skipped, dg.SkipReason)
            and pending.run_id in skipped.skip_message
        )
        instance.delete_run(pending.run_id)
        result = publish.execute_in_process(instance=instance)
        assert result.success
        assert isinstance(evaluate(result), dg.SkipReason)  # never publishes itself
        # a scheduled pipeline's runs are published once, when the pipeline ends
        tags = {"gosales/pipeline": "nightly"}
        scheduled = defs.resolve_job_def("ingest_job").execute_in_process(
            instance=instance, tags=tags
        )
        skipped = evaluate(scheduled)
        assert isinstance(skipped, dg.SkipReason)
        assert "publishes when it ends" in skipped.skip_message
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    meta = output.event_specific_data.metadata
    with Store.from_config(cfg).connect(read_only=True) as live:
        expected = table_checksums(live)
    with duckdb.connect(str(cfg.published_path), read_only=True) as copy:
        assert table_checksums(copy) == expected
    assert "raw.sales_lines" in expected
    assert meta["checksums"].data == expected
    assert meta["tables"].value == len(expected)
    assert meta["excluded"].data == []  # no feature matrix yet
    assert meta["mode"].value == "full"  # the first copy


def test_a_failed_publish_is_reported_and_the_runs_stand(env, monkeypatch):
    """``run_pipeline`` publishes through ``publish_job``; the op's error reaches
    the summary (and the CLI's warning), the materialization runs stay successful."""
    from gosales_assets import runner
    from gosales_assets.lib.publish import PublishError

    cfg = current_config()

    def materialized(*args, **kwargs):
        return runner.RunSummary(cutoff=dt.date(2024, 12, 31), runs=[("x", "id", True)])

    def refuse(*args, **kwargs):
        raise PublishError("the copy of the store does not match it (tables [a.b])")

    monkeypatch.setattr(runner, "materialize", materialized)
    monkeypatch.setattr("gosales_assets.defs.automation.publish.publish_store", refuse)
    seen: list[tuple[str, bool]] = []
    with dg.instance_for_test() as instance:
        summary = runner.run_pipeline(
            cfg,
            None,
            instance=instance,
            observer=lambda job, key, result, inst: seen.append((job, result.success)),
        )
    assert summary.success and summary.published is None
    assert summary.publish_error == (
        "gosales_assets.lib.publish.PublishError: the copy of the store does not "
        "match it (tables [a.b])"
    )
    assert seen == [("publish_job", False)]
    assert not cfg.published_path.exists()


def test_a_division_run_that_failed_only_in_drift_keeps_its_division():
    """Drift never stops publishing: a ``division_nightly_job`` run whose only failed
    step is drift counts as a success for the later stages; any other failed step
    (or drift failing in another job) fails the division."""
    from gosales_assets.defs.automation.pipeline import PIPELINE_ID_TAG, run_states

    def job_failing_in(job_name: str, failing: str) -> dg.JobDefinition:
        @dg.op(name="scores")
        def scores() -> int:
            if failing == "scores":
                raise ValueError("boom")
            return 1

        @dg.op(name="drift")
        def drift(value: int) -> None:
            if failing == "drift":
                raise ValueError("boom")

        @dg.job(name=job_name)
        def job() -> None:
            drift(scores())

        return job

    with dg.instance_for_test() as instance:
        cases = {
            "A": ("division_nightly_job", "drift"),
            "B": ("division_nightly_job", "scores"),
            "C": ("drift_job", "drift"),
        }
        for division, (job_name, failing) in cases.items():
            result = job_failing_in(job_name, failing).execute_in_process(
                instance=instance,
                raise_on_error=False,
                tags={
                    PIPELINE_ID_TAG: "p1",
                    "dagster/partition": f"2024-07-01|{division}",
                },
            )
            assert not result.success
        states = run_states(instance, "p1")
    assert states == {
        ("division_nightly_job", "2024-07-01|A"): "success",
        ("division_nightly_job", "2024-07-01|B"): "failed",
        ("drift_job", "2024-07-01|C"): "failed",
    }
