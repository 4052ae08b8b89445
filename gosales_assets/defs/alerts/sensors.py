"""``check_alert_sensor``: every failed asset check evaluation (WARN included) and
every failed run becomes exactly one alert per (asset, check, partition).

How it reads the event log (verified on Dagster 1.13.27): the default SQLite instance
storage is sharded per run, and there ``get_event_records`` cannot page
``ASSET_CHECK_EVALUATION`` records across runs with a storage-id cursor (it raises
"Called `get_event_records` on a run-sharded event log storage with a cursor that is
not run-aware"). Run status changes, however, are indexed across runs on every
storage. So the cursor is the storage id of the newest *finished-run* event processed
(``fetch_run_status_changes`` for RUN_SUCCESS, RUN_FAILURE and RUN_CANCELED), and for
each newly finished run the sensor reads that run's ``ASSET_CHECK_EVALUATION`` records
with ``get_records_for_run``. Consequences: checks of a run alert once the run has
finished (blocking checks that stop a run are recorded before the step fails, so they
alert with the failed run); a tick never sees half a run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import dagster as dg

from gosales_assets.defs.alerts.resources import NotifierResource
from gosales_assets.lib.alerts import (
    CheckEvaluation,
    dispatch,
    plan_alerts,
    run_evaluation,
    summarize_metadata,
)

FINISHED_RUN_EVENTS = (
    dg.DagsterEventType.RUN_SUCCESS,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.RUN_CANCELED,
)
RUNS_PER_TICK = 100  # the rest is read on the next tick
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
FAILURE_TEXT_MAX = 1000


def parse_cursor(cursor: str | None) -> int:
    """The sensor cursor: the newest finished-run event storage id processed."""
    if not cursor:
        return 0
    try:
        value = int(cursor)
    except ValueError:
        raise ValueError(
            f"check_alert_sensor cursor {cursor!r} is not an event storage id; "
            "reset the sensor's cursor in the UI (Sensors > check_alert_sensor)"
        ) from None
    if value < 0:
        raise ValueError(f"check_alert_sensor cursor {cursor!r} is negative")
    return value


def finished_runs_after(
    instance: dg.DagsterInstance, after: int, limit: int = RUNS_PER_TICK
) -> tuple[list[dg.EventLogRecord], int]:
    """Finished-run events with a storage id above ``after``, oldest first, and the
    new cursor. Each status is read separately; when a status has more than ``limit``
    new events, only events up to its last one fetched are taken, so that nothing
    between the old and the new cursor is ever skipped."""
    records: list[dg.EventLogRecord] = []
    boundary = math.inf
    for event_type in FINISHED_RUN_EVENTS:
        result = instance.fetch_run_status_changes(
            dg.RunStatusChangeRecordsFilter(event_type, after_storage_id=after),
            limit=limit,
            ascending=True,
        )
        batch = list(result.records)
        if len(batch) >= limit:
            boundary = min(boundary, batch[-1].storage_id)
        records.extend(batch)
    taken = sorted(
        (r for r in records if r.storage_id <= boundary), key=lambda r: r.storage_id
    )
    return taken, (taken[-1].storage_id if taken else after)


def _run_records(
    instance: dg.DagsterInstance, run_id: str, event_type: dg.DagsterEventType
) -> Iterator[dg.EventLogRecord]:
    cursor = None
    while True:
        conn = instance.get_records_for_run(run_id, cursor=cursor, of_type=event_type)
        yield from conn.records
        if not conn.has_more or conn.cursor == cursor:
            return
        cursor = conn.cursor


def run_partition(tags: dict[str, str]) -> str | None:
    """The partition a run materialized: its partition tag, or ``start...end`` for a
    single-run range; None for an unpartitioned run."""
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start}...{end}"
    return None


def _metadata_value(value: Any) -> Any:
    return getattr(value, "value", value)


def check_evaluations(
    instance: dg.DagsterInstance, run_id: str, run_partition_key: str | None
) -> list[CheckEvaluation]:
    """Every asset check evaluation of one run, in event order."""
    out = []
    for rec in _run_records(
        instance, run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ):
        event = rec.event_log_entry.dagster_event
        if event is None:
            continue
        data = event.asset_check_evaluation_data
        out.append(
            CheckEvaluation(
                asset_key=data.asset_key.to_user_string(),
                check_name=data.check_name,
                partition=data.partition or run_partition_key,
                passed=bool(data.passed),
                severity=data.severity.value,
                description=data.description or "",
                metadata=summarize_metadata(
                    {k: _metadata_value(v) for k, v in data.metadata.items()}
                ),
                run_id=run_id,
                timestamp=rec.timestamp,
            )
        )
    return out


def failure_description(instance: dg.DagsterInstance, record: Any) -> str:
    """The first failed step and its error, else the run failure message."""
    for rec in _run_records(instance, record.run_id, dg.DagsterEventType.STEP_FAILURE):
        event = rec.event_log_entry.dagster_event
        error = getattr(getattr(event, "step_failure_data", None), "error", None)
        if event is not None and error is not None:
            while error.cause is not None:  # the user's exception, not the wrapper
                error = error.cause
            message = error.message.strip()
            if error.cls_name == "Failure":  # our own actionable message
                message = message.split(": ", 1)[-1]
            text = f"step {event.step_key} failed: {message}"
            return text[:FAILURE_TEXT_MAX]
    return (record.event_log_entry.message or "the run failed")[:FAILURE_TEXT_MAX]


def evaluations_of_run(
    instance: dg.DagsterInstance, record: Any, alert_on_run_failure: bool
) -> list[CheckEvaluation]:
    """The check evaluations of one finished run, plus the run itself as the pseudo
    check ``run_failure`` (failed: only when no ERROR check failed, which already
    explains the failure; succeeded: resolves an earlier run failure)."""
    run = instance.get_run_by_id(record.run_id)
    if run is None:  # deleted since it finished
        return []
    partition = run_partition(dict(run.tags))
    evaluations = check_evaluations(instance, run.run_id, partition)
    if not alert_on_run_failure:
        return evaluations
    event_type = record.event_log_entry.dagster_event_type
    when = record.timestamp
    if event_type == dg.DagsterEventType.RUN_FAILURE:
        explained = any(not e.passed and e.severity == "ERROR" for e in evaluations)
        if not explained:
            evaluations.append(
                run_evaluation(
                    run.job_name,
                    partition,
                    False,
                    failure_description(instance, record),
                    run.run_id,
                    when,
                )
            )
    elif event_type == dg.DagsterEventType.RUN_SUCCESS:
        evaluations.append(
            run_evaluation(run.job_name, partition, True, "", run.run_id, when)
        )
    return evaluations


def build_check_alert_sensor(minimum_interval_seconds: int) -> dg.SensorDefinition:
    @dg.sensor(
        name="check_alert_sensor",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Turns failed asset checks (WARN and ERROR) and failed runs into alerts: "
            "one per (asset, check, partition) while it stays failed, written to the "
            "alert log and sent to the configured Slack/Teams channels. "
            "See docs/runbook.md."
        ),
    )
    def check_alert_sensor(
        context: dg.SensorEvaluationContext, alert_notifier: NotifierResource
    ) -> dg.SkipReason:
        after = parse_cursor(context.cursor)
        runs, cursor = finished_runs_after(context.instance, after)
        evaluations = [
            ev
            for rec in runs
            for ev in evaluations_of_run(
                context.instance, rec, alert_notifier.alert_on_run_failure
            )
        ]
        alert_log = alert_notifier.alert_log(context.log)
        plan = plan_alerts(
            evaluations,
            alert_log.open_alerts(),
            alert_notifier.severities,
            alert_notifier.silence_rules(),
        )
        report = dispatch(plan, alert_notifier.fan_out(context.log), alert_log)
        for alert in report.sent:
            context.log.warning(
                f"alert {alert.dedup_key} ({alert.severity}): {alert.description} "
                f"deliveries={dict(alert.deliveries)}"
            )
        context.update_cursor(str(cursor))
        return dg.SkipReason(
            f"{len(runs)} finished run(s), {len(evaluations)} evaluation(s) read; "
            f"{report.summary}"
        )

    return check_alert_sensor
