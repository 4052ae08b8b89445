"""``raw_extract_sensor``: ingest a new or changed raw extract once it has settled."""

from __future__ import annotations

import json

import dagster as dg

from gosales_assets.config import GosalesConfig
from gosales_assets.defs.automation.jobs import ingest_job
from gosales_assets.lib.automation import (
    content_fingerprint,
    extract_problem,
    scan_extract,
    stat_signature,
)

RAW_SENSOR = "raw_extract_sensor"
FINGERPRINT_TAG = "gosales/raw_fingerprint"
TRIGGER_TAG = "gosales/trigger"


def build_raw_extract_sensor(cfg: GosalesConfig) -> dg.SensorDefinition:
    raw_dir = cfg.paths.raw_dir
    interval = cfg.automation.raw_sensor_interval_seconds
    status = (
        dg.DefaultSensorStatus.RUNNING
        if cfg.automation.default_status == "running"
        else dg.DefaultSensorStatus.STOPPED
    )

    @dg.sensor(
        name=RAW_SENSOR,
        job=ingest_job,
        minimum_interval_seconds=interval,
        default_status=status,
        description=f"Request ingest_job when the input files in {raw_dir} change "
        "(names, sizes, modification times) and then stay unchanged for one interval. "
        "The run key is the SHA-256 of the files' contents, so the same extract is "
        "never ingested twice (touching a file is not a new extract).",
    )
    def raw_extract_sensor(
        context: dg.SensorEvaluationContext,
    ) -> dg.SensorResult | dg.SkipReason:
        state = json.loads(context.cursor) if context.cursor else {}
        files = scan_extract(raw_dir)
        signature = stat_signature(files)
        if signature != state.get("signature"):
            state["signature"] = signature
            return dg.SensorResult(
                skip_reason=f"the raw folder {raw_dir} is new or changed; waiting "
                f"{interval}s for the extract to settle",
                cursor=json.dumps(state, sort_keys=True),
            )
        problem = extract_problem(files)
        if problem is not None:
            return dg.SkipReason(f"the raw folder {raw_dir} is not ready: {problem}")
        if state.get("requested") == signature:
            return dg.SkipReason("no new raw extract since the last request")
        try:
            fingerprint = content_fingerprint(raw_dir, files)
        except OSError as err:  # a file vanished or is unreadable mid-scan
            return dg.SkipReason(f"cannot read the raw extract yet ({err})")
        state["requested"] = signature
        context.log.info(
            f"raw extract settled fingerprint={fingerprint} files="
            f"{[f.name for f in files]}"
        )
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"raw-{fingerprint}",
                    tags={FINGERPRINT_TAG: fingerprint, TRIGGER_TAG: RAW_SENSOR},
                )
            ],
            cursor=json.dumps(state, sort_keys=True),
        )

    return raw_extract_sensor
