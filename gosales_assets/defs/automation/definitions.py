"""Automation: schedules, sensors and the published analyst copy (the jobs are in
jobs.py)."""

from __future__ import annotations

import dagster as dg

from gosales_assets.config import current_config
from gosales_assets.defs.automation.pipeline import build_pipeline_sensor
from gosales_assets.defs.automation.publish import (
    build_publish_job,
    build_publish_sensor,
)
from gosales_assets.defs.automation.schedules import build_schedules
from gosales_assets.defs.automation.sensors import build_raw_extract_sensor
from gosales_assets.partitions import build_partitions


@dg.definitions
def defs() -> dg.Definitions:
    cfg = current_config()
    publish_job = build_publish_job(cfg.published_path, cfg.automation.publish_exclude)
    return dg.Definitions(
        jobs=[publish_job],
        schedules=build_schedules(cfg),
        sensors=[
            build_raw_extract_sensor(cfg),
            build_pipeline_sensor(cfg, build_partitions(cfg), publish_job),
            build_publish_sensor(publish_job),
        ],
    )
