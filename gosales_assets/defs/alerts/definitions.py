from __future__ import annotations

import dagster as dg

from gosales_assets.config import current_config
from gosales_assets.defs.alerts.resources import NotifierResource
from gosales_assets.defs.alerts.sensors import build_check_alert_sensor


@dg.definitions
def defs() -> dg.Definitions:
    cfg = current_config()
    return dg.Definitions(
        sensors=[build_check_alert_sensor(cfg.alerts.min_interval_seconds)],
        resources={"alert_notifier": NotifierResource.from_config(cfg)},
    )
