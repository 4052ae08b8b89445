from __future__ import annotations

import dagster as dg

from gosales_assets.config import current_config
from gosales_assets.defs.validation.assets import (
    build_forward_job,
    build_validation_assets,
)
from gosales_assets.defs.validation.sensors import build_label_window_sensor
from gosales_assets.partitions import build_partitions


@dg.definitions
def defs() -> dg.Definitions:
    cfg = current_config()
    return dg.Definitions(
        assets=build_validation_assets(cfg, build_partitions(cfg)),
        jobs=[build_forward_job()],
        sensors=[build_label_window_sensor(cfg)],
    )
