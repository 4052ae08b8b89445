"""The published analyst copy: ``publish_job`` and the sensor that refreshes it after
every successful run (thin wrappers over lib/publish.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from gosales_assets.defs.common import POOL
from gosales_assets.lib.publish import publish_store
from gosales_assets.resources.store import DuckDBStoreResource

PUBLISH_JOB = "publish_job"
PUBLISH_SENSOR = "publish_after_success_sensor"
# Runs of a scheduled pipeline carry this tag; the pipeline publishes once at its end
# (pipeline.py) instead of after every stage.
PIPELINE_TAG = "gosales/pipeline"
# Runs of publish_job that have not begun: a new one would copy nothing newer.
_PENDING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]


def build_publish_job(
    published_path: Path, exclude: Sequence[str] = ()
) -> dg.JobDefinition:
    left_out = f" without {', '.join(exclude)}" if exclude else ""

    @dg.op(
        name="publish_store",
        pool=POOL,  # no writer runs while the copy is taken
        out=dg.Out(dg.Nothing),
        description=f"Copy the curated store{left_out}, read-only and verified, to "
        f"{published_path} (atomic replace; open analyst sessions keep their copy).",
    )
    def publish_store_op(context, store: DuckDBStoreResource) -> Any:
        report = publish_store(store.store(), published_path, exclude=exclude)
        context.log.info(
            f"published path={report.path} tables={len(report.checksums)} "
            f"mode={report.mode} partitions_written={report.partitions_written} "
            f"tables_verified={report.tables_verified} "
            f"excluded={','.join(report.excluded) or '-'} "
            f"size_bytes={report.size_bytes} seconds={report.seconds}"
        )
        yield dg.Output(
            None,
            metadata={
                "path": dg.MetadataValue.path(str(report.path)),
                "source": report.source,
                "tables": len(report.checksums),
                "excluded": dg.MetadataValue.json(report.excluded),
                "mode": report.mode,
                "partitions_written": report.partitions_written,
                "tables_verified": report.tables_verified,
                "size_bytes": report.size_bytes,
                "seconds": report.seconds,
                "checksums": dg.MetadataValue.json(report.checksums),
            },
        )

    @dg.job(
        name=PUBLISH_JOB,
        description="Refresh the read-only analyst copy of the curated store "
        f"({published_path}).",
        tags={"gosales/kind": "publish"},
    )
    def publish_job() -> None:
        publish_store_op()

    return publish_job


def build_publish_sensor(publish_job: dg.JobDefinition) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        name=PUBLISH_SENSOR,
        run_status=dg.DagsterRunStatus.SUCCESS,
        request_job=publish_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="After every successful run of this code location (jobs, "
        "backfills, raw_extract_sensor ingests), request publish_job unless one is "
        "already waiting to start. The runs of a scheduled pipeline are published "
        "once, when the pipeline ends (scheduled_pipeline_sensor).",
    )
    def publish_after_success_sensor(
        context: dg.RunStatusSensorContext,
    ) -> dg.RunRequest | dg.SkipReason:
        run = context.dagster_run
        if run.job_name == PUBLISH_JOB:
            return dg.SkipReason("a publish run succeeded; nothing new to publish")
        if PIPELINE_TAG in run.tags:
            return dg.SkipReason(
                f"run {run.run_id} is part of the {run.tags[PIPELINE_TAG]} pipeline, "
                "which publishes when it ends"
            )
        pending = context.instance.get_runs(
            filters=dg.RunsFilter(job_name=PUBLISH_JOB, statuses=_PENDING), limit=1
        )
        if pending:
            return dg.SkipReason(
                f"publish run {pending[0].run_id} has not started yet; it will copy "
                f"what run {run.run_id} wrote"
            )
        return dg.RunRequest(
            run_key=f"publish-after-{run.run_id}",
            tags={"gosales/after_run": run.run_id},
        )

    return publish_after_success_sensor
