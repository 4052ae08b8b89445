"""The nightly and monthly-retrain schedules (cron and time zone from
``automation`` in config). Each starts its pipeline with a tagged ``ingest_job`` run;
``scheduled_pipeline_sensor`` (pipeline.py) launches the rest once it succeeds."""

from __future__ import annotations

import dagster as dg

from gosales_assets.config import GosalesConfig
from gosales_assets.defs.automation.jobs import ingest_job
from gosales_assets.defs.automation.pipeline import pipeline_run_request

NIGHTLY_SCHEDULE = "nightly_schedule"
RETRAIN_SCHEDULE = "monthly_retrain_schedule"


def default_status(cfg: GosalesConfig) -> dg.DefaultScheduleStatus:
    if cfg.automation.default_status == "running":
        return dg.DefaultScheduleStatus.RUNNING
    return dg.DefaultScheduleStatus.STOPPED


def build_schedules(cfg: GosalesConfig) -> list[dg.ScheduleDefinition]:
    auto = cfg.automation

    @dg.schedule(
        name=NIGHTLY_SCHEDULE,
        cron_schedule=auto.nightly_cron,
        execution_timezone=auto.timezone,
        job=ingest_job,
        default_status=default_status(cfg),
        description="Nightly: ingest the raw folder, then (scheduled_pipeline_sensor) "
        "star schema, features, ICP scores and whitespace of every division at the "
        f"newest cutoff ({auto.nightly_cutoff}), with the registered models.",
    )
    def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return pipeline_run_request("nightly", context.scheduled_execution_time)

    @dg.schedule(
        name=RETRAIN_SCHEDULE,
        cron_schedule=auto.retrain_cron,
        execution_timezone=auto.timezone,
        job=ingest_job,
        default_status=default_status(cfg),
        description="Monthly: ingest the raw folder, then (scheduled_pipeline_sensor) "
        "train every target at the newest month-end cutoff on its training "
        "partitions and re-score that cutoff with the new models.",
    )
    def monthly_retrain_schedule(
        context: dg.ScheduleEvaluationContext,
    ) -> dg.RunRequest:
        return pipeline_run_request("retrain", context.scheduled_execution_time)

    return [nightly_schedule, monthly_retrain_schedule]
