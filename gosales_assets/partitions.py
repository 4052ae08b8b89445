"""The cutoff x division partitions and key helpers.

- ``cutoff``: a daily time dimension (a nightly run materializes the newest cutoff;
  training cutoffs are month-ends on the same dimension). Start date from config.
- ``division``: a static dimension of the configured target names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg

from gosales_assets.config import GosalesConfig

CUTOFF_DIM = "cutoff"
DIVISION_DIM = "division"


@dataclass(frozen=True)
class Partitions:
    cutoff: dg.DailyPartitionsDefinition
    division: dg.StaticPartitionsDefinition
    cutoff_division: dg.MultiPartitionsDefinition


def build_partitions(cfg: GosalesConfig) -> Partitions:
    cutoff = dg.DailyPartitionsDefinition(
        start_date=cfg.partitions.cutoff_start.isoformat(),
        end_offset=-cfg.partitions.cutoff_end_offset_days,
    )
    division = dg.StaticPartitionsDefinition(cfg.target_names)
    both = dg.MultiPartitionsDefinition({CUTOFF_DIM: cutoff, DIVISION_DIM: division})
    return Partitions(cutoff=cutoff, division=division, cutoff_division=both)


def cutoff_of(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> dt.date:
    """The cutoff date of a run on a cutoff- or (cutoff, division)-partitioned asset."""
    key = str(context.partition_key)
    return dt.date.fromisoformat(key.split("|")[0])


def keys_by_dimension(
    partitions_def: dg.MultiPartitionsDefinition, partition_key: str
) -> dict[str, str]:
    """Split a multi-partition key (also when it arrives as a plain str)."""
    mpk = partitions_def.get_partition_key_from_str(str(partition_key))
    return dict(mpk.keys_by_dimension)


def training_plan(cfg: GosalesConfig, cutoff: dt.date, target: str) -> list[dt.date]:
    """The month-end training cutoffs of the model of ``target`` at ``cutoff``
    (oldest first; the newest is the out-of-time validation cutoff)."""
    from gosales_assets.lib.models.data import training_cutoffs as plan

    return plan(cutoff, cfg.window_months(target), cfg.modeling_settings)
