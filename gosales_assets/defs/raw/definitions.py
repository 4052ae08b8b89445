from __future__ import annotations

import dagster as dg

from gosales_assets.config import current_config
from gosales_assets.defs.raw.assets import build_raw_ingest


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_raw_ingest(current_config())])
