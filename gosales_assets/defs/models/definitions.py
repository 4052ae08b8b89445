from __future__ import annotations

import dagster as dg

from gosales_assets.config import current_config
from gosales_assets.defs.models.assets import build_model_assets
from gosales_assets.partitions import build_partitions


@dg.definitions
def defs() -> dg.Definitions:
    cfg = current_config()
    return dg.Definitions(assets=build_model_assets(cfg, build_partitions(cfg)))
