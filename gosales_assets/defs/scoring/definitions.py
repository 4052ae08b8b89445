from __future__ import annotations

import dagster as dg

from gosales_assets.config import current_config
from gosales_assets.defs.scoring.assets import build_scoring_assets
from gosales_assets.partitions import build_partitions


@dg.definitions
def defs() -> dg.Definitions:
    cfg = current_config()
    return dg.Definitions(assets=build_scoring_assets(cfg, build_partitions(cfg)))
