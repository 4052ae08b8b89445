"""Scheduled pipelines across partitions definitions.

The nightly and monthly-retrain pipelines span the unpartitioned raw layer, cutoff
partitions and cutoff x division partitions, and a Dagster run covers one partition
of one partitions definition. A schedule therefore starts a pipeline with an
``ingest_job`` run tagged ``gosales/pipeline``; when it succeeds,
``scheduled_pipeline_sensor`` chooses the cutoff from what was ingested, plans the
partitioned runs in stages (lib/automation.py) and requests each stage's runs once the
previous stage's runs have finished. Every run is an ordinary partitioned run of a
project job, tagged with its pipeline, so the UI shows each asset partition it
materialized and the runs of one pipeline can be filtered by ``gosales/pipeline_id``.

(One asset backfill would order the runs too, but Dagster 1.13 needs minutes to plan
a backfill that spans the star schema and the division layers of this graph: its root
search maps every star asset's partitions downstream, through the all-cutoffs mapping
into ``propensity_model``, to every daily cutoff.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any, cast

import dagster as dg

from gosales_assets.config import GosalesConfig
from gosales_assets.defs.automation.jobs import (
    division_nightly_job,
    feature_matrix_job,
    features_base_job,
    labels_job,
    model_job,
    scoring_job,
    star_job,
    whitespace_accounts_job,
)
from gosales_assets.defs.automation.publish import PIPELINE_TAG, PUBLISH_JOB
from gosales_assets.defs.monitoring.assets import drift_job
from gosales_assets.lib.automation import (
    PIPELINES,
    NoCutoffError,
    Pipeline,
    Plan,
    Run,
    RunState,
    StoreFacts,
    advance,
    choose_cutoff,
    newest_month_end,
    nightly_plan,
    read_store_facts,
    retrain_plan,
)
from gosales_assets.lib.store import Store, StoreLockedError
from gosales_assets.partitions import Partitions

PIPELINE_ID_TAG = "gosales/pipeline_id"  # the run id of the pipeline's ingest run
SCHEDULED_TAG = "gosales/scheduled_for"
CUTOFF_TAG = "gosales/cutoff"
STAGE_TAG = "gosales/stage"
PIPELINE_SENSOR = "scheduled_pipeline_sensor"
INGEST_JOB = "ingest_job"
PIPELINE_JOBS = [
    star_job,
    features_base_job,
    labels_job,
    feature_matrix_job,
    model_job,
    scoring_job,
    whitespace_accounts_job,
    drift_job,
    division_nightly_job,
]
# Steps whose failure alone leaves a run's division in its pipeline: drift never
# stops publishing (its failure alerts like any failed run), so a
# ``division_nightly_job`` run that failed only in drift counts as a success for
# the stages after it.
NON_STOPPING_STEPS: dict[str, frozenset[str]] = {
    division_nightly_job.name: frozenset({"drift"}),
}
# The scheduled ingest runs looked at per tick (newest first); handled ones are
# remembered in the cursor while they are in this window.
LOOKBACK_RUNS = 50
# A sensor tick must stay short: wait at most this long for the store's lock.
FACTS_LOCK_WAIT_SECONDS = 10.0
_FAILED = {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def pipeline_run_request(pipeline: Pipeline, scheduled: dt.datetime) -> dg.RunRequest:
    """The first run of a scheduled pipeline: ``ingest_job``, tagged for the sensor."""
    when = scheduled.isoformat()
    return dg.RunRequest(
        run_key=f"{pipeline}-{when}",
        job_name=INGEST_JOB,
        tags={PIPELINE_TAG: pipeline, SCHEDULED_TAG: when},
    )


def newest_partition(parts: Partitions, when: dt.datetime) -> dt.date:
    """The newest cutoff partition that exists at ``when`` (a complete day)."""
    with dg.partition_loading_context(effective_dt=when):
        key = parts.cutoff.get_last_partition_key()
    if key is None:
        raise NoCutoffError(f"the cutoff dimension has no partition yet at {when}")
    return dt.date.fromisoformat(key)


def plan_for(
    cfg: GosalesConfig,
    parts: Partitions,
    pipeline: Pipeline,
    scheduled: dt.datetime,
    facts: StoreFacts,
) -> Plan:
    """The runs of the pipeline, from the store as ingested."""
    cutoff = choose_cutoff(
        cfg.automation.nightly_cutoff,
        newest_partition=newest_partition(parts, scheduled),
        load_date=cfg.ingest.effective_load_date(scheduled.date()),
        last_data_date=facts.last_order_date,
        cutoff_start=cfg.partitions.cutoff_start,
    )
    if pipeline == "nightly":
        targets = cfg.target_names
        return nightly_plan(cutoff, targets, facts.scorable(targets, cutoff))
    return retrain_plan(cfg, newest_month_end(cutoff, cfg.partitions.cutoff_start))


def _scheduled_time(record: Any) -> dt.datetime:
    """When the pipeline was scheduled (its tag), else when its ingest run was made."""
    text = record.dagster_run.tags.get(SCHEDULED_TAG)
    if text:
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            pass
    created: dt.datetime = record.create_timestamp
    return created if created.tzinfo else created.replace(tzinfo=dt.UTC)


def run_states(instance: dg.DagsterInstance, pipeline_id: str) -> dict[Run, RunState]:
    """The state of every run of a pipeline by (job, partition); the newest run of a
    partition counts (a re-execution from the UI replaces a failed run)."""
    states: dict[Run, RunState] = {}
    runs = instance.get_runs(filters=dg.RunsFilter(tags={PIPELINE_ID_TAG: pipeline_id}))
    for run in reversed(runs):  # oldest first, so the newest run wins
        key = run.tags.get("dagster/partition")
        if key is None:
            continue
        if run.status == dg.DagsterRunStatus.SUCCESS:
            states[(run.job_name, key)] = "success"
        elif run.status in _FAILED:
            tolerated = NON_STOPPING_STEPS.get(run.job_name)
            states[(run.job_name, key)] = (
                "success"
                if tolerated and _failed_steps(instance, run.run_id) <= tolerated
                else "failed"
            )
        else:
            states[(run.job_name, key)] = "pending"
    return states


def _failed_steps(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    """The step keys that failed in a run; a run canceled or failed outside its
    steps names a pseudo step, so it never counts as tolerated."""
    failures = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    steps = {e.step_key or "<run>" for e in failures}
    return steps or {"<run>"}


def _requests(
    pipeline_id: str, plan: Plan, stage: int, runs: tuple[Run, ...]
) -> list[dg.RunRequest]:
    return [
        dg.RunRequest(
            run_key=f"{pipeline_id}:{job}:{key}",
            job_name=job,
            partition_key=key,
            tags={
                PIPELINE_TAG: plan.pipeline,
                PIPELINE_ID_TAG: pipeline_id,
                CUTOFF_TAG: plan.cutoff.isoformat(),
                STAGE_TAG: str(stage + 1),
            },
        )
        for job, key in runs
    ]


def _start_pipelines(
    context: dg.SensorEvaluationContext,
    cfg: GosalesConfig,
    parts: Partitions,
    recent: list[Any],
    handled: set[str],
    active: dict[str, Any],
    messages: list[str],
) -> str | None:
    """Plan a pipeline for the newest successful scheduled ingest run of each kind
    not handled yet. Returns why nothing could be decided (the store was busy)."""
    todo: dict[str, list[Any]] = {}
    for record in recent:  # newest first
        run = record.dagster_run
        if run.run_id in handled or run.status != dg.DagsterRunStatus.SUCCESS:
            continue
        todo.setdefault(run.tags[PIPELINE_TAG], []).append(record)
    if not todo:
        return None
    store = dataclasses.replace(
        Store.from_config(cfg),
        lock_timeout_seconds=min(
            FACTS_LOCK_WAIT_SECONDS, cfg.ingest.lock_timeout_seconds
        ),
    )
    try:
        facts = read_store_facts(store)
    except StoreLockedError as err:
        return f"the store is busy; retrying next tick ({err})"
    for pipeline in sorted(todo):
        records = todo[pipeline]
        # older successes of the same pipeline are superseded by the newest
        handled.update(r.dagster_run.run_id for r in records)
        pipeline_id = records[0].dagster_run.run_id
        try:
            plan = plan_for(
                cfg, parts, cast(Pipeline, pipeline), _scheduled_time(records[0]), facts
            )
        except NoCutoffError as err:
            messages.append(f"{pipeline} after run {pipeline_id}: {err}")
            context.log.warning(messages[-1])
            continue
        notes = "".join(f"; {note}" for note in plan.notes)
        context.log.info(
            f"{pipeline} pipeline {pipeline_id} starts cutoff={plan.cutoff} "
            f"stages={len(plan.stages)}{notes}"
        )
        active[pipeline_id] = {"plan": plan.to_json(), "stage": 0, "dropped": []}
    return None


def _publish_request(pipeline_id: str, plan: Plan) -> dg.RunRequest:
    """The pipeline's one refresh of the analyst copy, when it ends (also when it
    stopped early: what its runs committed passed their checks)."""
    return dg.RunRequest(
        run_key=f"{pipeline_id}:{PUBLISH_JOB}",
        job_name=PUBLISH_JOB,
        tags={
            PIPELINE_ID_TAG: pipeline_id,
            CUTOFF_TAG: plan.cutoff.isoformat(),
            "gosales/after_pipeline": plan.pipeline,
        },
    )


def _advance_pipelines(
    context: dg.SensorEvaluationContext, active: dict[str, Any], messages: list[str]
) -> list[dg.RunRequest]:
    """Move every active pipeline on; drop the finished and stopped ones (and
    request their publication)."""
    requests: list[dg.RunRequest] = []
    for pipeline_id in sorted(active):
        entry = active[pipeline_id]
        plan = Plan.from_json(entry["plan"])
        states = run_states(context.instance, pipeline_id)
        progress = advance(plan, entry["stage"], entry["dropped"], states)
        for note in progress.notes:
            context.log.warning(f"{plan.pipeline} pipeline {pipeline_id}: {note}")
        if progress.finished or progress.stopped:
            without = ", ".join(progress.dropped)
            outcome = progress.stopped or (
                f"finished without {without}" if without else "finished"
            )
            messages.append(
                f"{plan.pipeline} pipeline {pipeline_id} cutoff={plan.cutoff}: "
                f"{outcome}"
            )
            context.log.info(messages[-1])
            del active[pipeline_id]
            requests.append(_publish_request(pipeline_id, plan))
            continue
        entry["stage"], entry["dropped"] = progress.stage, list(progress.dropped)
        requests += _requests(pipeline_id, plan, progress.stage, progress.requests)
    return requests


def build_pipeline_sensor(
    cfg: GosalesConfig, parts: Partitions, publish_job: dg.JobDefinition
) -> dg.SensorDefinition:
    @dg.sensor(
        name=PIPELINE_SENSOR,
        jobs=[*PIPELINE_JOBS, publish_job],
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Runs the scheduled pipelines after their ingest: when an "
        "ingest_job run tagged gosales/pipeline (nightly_schedule, "
        "monthly_retrain_schedule, or a manual launch with that tag) succeeds, choose "
        "the cutoff from the ingested data, then request the partitioned runs stage "
        "by stage (star, base features, labels and feature matrices, models, scores "
        "and whitespace, the cross-division list) as each stage finishes, and "
        "publish_job once at the end.",
    )
    def scheduled_pipeline_sensor(
        context: dg.SensorEvaluationContext,
    ) -> dg.SensorResult | dg.SkipReason:
        state = json.loads(context.cursor) if context.cursor else {}
        handled: set[str] = set(state.get("handled", []))
        active: dict[str, Any] = dict(state.get("active", {}))
        messages: list[str] = []
        recent = context.instance.get_run_records(
            filters=dg.RunsFilter(
                job_name=INGEST_JOB, tags={PIPELINE_TAG: list(PIPELINES)}
            ),
            limit=LOOKBACK_RUNS,
        )
        busy = _start_pipelines(
            context, cfg, parts, list(recent), handled, active, messages
        )
        if busy:
            return dg.SkipReason(busy)  # the cursor stays: the same runs next tick
        requests = _advance_pipelines(context, active, messages)
        keep = {r.dagster_run.run_id for r in recent}
        cursor = json.dumps(
            {"handled": sorted(handled & keep), "active": active}, sort_keys=True
        )
        if requests:
            return dg.SensorResult(run_requests=requests, cursor=cursor)
        waiting = [
            f"{a['plan']['pipeline']} {pid} at stage {a['stage'] + 1}"
            for pid, a in sorted(active.items())
        ]
        if waiting:
            messages.append(f"waiting for runs: {', '.join(waiting)}")
        return dg.SensorResult(
            skip_reason="; ".join(messages)
            or "no scheduled ingest run has succeeded since",
            cursor=cursor,
        )

    return scheduled_pipeline_sensor
