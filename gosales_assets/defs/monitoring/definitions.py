from __future__ import annotations

import dagster as dg

from gosales_assets.config import current_config
from gosales_assets.defs.monitoring.assets import build_monitoring_assets, drift_job
from gosales_assets.partitions import build_partitions


@dg.definitions
def defs() -> dg.Definitions:
    cfg = current_config()
    return dg.Definitions(
        assets=build_monitoring_assets(cfg, build_partitions(cfg)), jobs=[drift_job]
    )
