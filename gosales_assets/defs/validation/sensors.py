"""``label_window_sensor``: forward validation as soon as a label window closes.

A scored partition ``(C, division)`` (``scoring/icp_scores`` materialized) can be
validated once the ingested data reaches ``end(C, W)`` (the labels' window rule). The
sensor requests one run of ``forward_validation_job`` per such partition that has no
``validation/forward_metrics`` materialization yet, with the partition key as run key:
a partition is requested once, and a failed run is not requested again (re-execute it
from the UI, or ``gosales run`` validates it on its next run).

The cursor holds the storage ids of the newest ``raw/sales_lines`` and
``scoring/icp_scores`` materializations: only an ingest or new scores can close a window
or add a partition to validate, so between them a tick does not open the store. A tick
that finds the store locked by a writer skips without advancing the cursor.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import dagster as dg
import duckdb

from gosales_assets.config import GosalesConfig
from gosales_assets.defs.common import asset_key
from gosales_assets.defs.validation.assets import FORWARD_JOB, ICP
from gosales_assets.lib.store import Store, StoreLockedError
from gosales_assets.lib.validation import FORWARD_TABLE, closed_partitions, data_through
from gosales_assets.partitions import build_partitions, keys_by_dimension
from gosales_assets.resources.store import DuckDBStoreResource

SENSOR = "label_window_sensor"
RAW_LINES = "raw.sales_lines"


def pending_forward_partitions(
    instance: dg.DagsterInstance,
    cfg: GosalesConfig,
    through: dt.date | None,
    targets: Iterable[str] | None = None,
) -> list[str]:
    """Partition keys (sorted) of scored partitions of ``targets`` (default: all)
    whose label window the data covers and that have no forward metrics yet."""
    parts = build_partitions(cfg)
    wanted = set(targets or cfg.target_names) & set(cfg.target_names)
    scored = instance.get_materialized_partitions(asset_key(ICP))
    done = instance.get_materialized_partitions(asset_key(FORWARD_TABLE))
    candidates = []
    for key in sorted(scored - done):
        dims = keys_by_dimension(parts.cutoff_division, key)
        if dims["division"] in wanted:  # not a target removed from the config
            candidates.append((dt.date.fromisoformat(dims["cutoff"]), dims["division"]))
    return [
        str(dg.MultiPartitionKey({"cutoff": c.isoformat(), "division": t}))
        for c, t in closed_partitions(candidates, through, cfg.window_months)
    ]


def read_data_through(store: Store, wait: bool = True) -> dt.date | None:
    """The newest ingested order date. ``wait=False``: do not wait for the store's
    lock (raises :class:`StoreLockedError` at once when a writer holds it)."""
    if not wait:
        store = dataclasses.replace(store, lock_timeout_seconds=0.0)
    with store.connect(read_only=True) as con:
        return data_through(con)


def _newest_storage_id(instance: dg.DagsterInstance, table: str) -> int | None:
    records = instance.fetch_materializations(asset_key(table), limit=1).records
    return records[0].storage_id if records else None


def build_label_window_sensor(cfg: GosalesConfig) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR,
        job_name=FORWARD_JOB,
        minimum_interval_seconds=cfg.validation.sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests forward_validation_job for every scored (cutoff, "
        "division) whose label window the ingested data now covers and that has no "
        "forward metrics yet (one run per partition; run key = partition key).",
    )
    def label_window_sensor(
        context: dg.SensorEvaluationContext, store: DuckDBStoreResource
    ) -> Any:
        instance = context.instance
        marks = {
            "raw": _newest_storage_id(instance, RAW_LINES),
            "scores": _newest_storage_id(instance, ICP),
        }
        previous = json.loads(context.cursor) if context.cursor else {}
        if all(previous.get(k) == v for k, v in marks.items()):
            return dg.SkipReason("no ingest and no new scores since the last tick")
        try:
            through = read_data_through(store.store(), wait=False)
        except StoreLockedError:
            return dg.SkipReason("the store is locked by a writer; trying next tick")
        except duckdb.IOException as err:
            return dg.SkipReason(f"the store cannot be read yet: {err}")
        keys = pending_forward_partitions(instance, cfg, through)
        cursor = json.dumps({**marks, "data_through": str(through)}, sort_keys=True)
        if not keys:
            return dg.SensorResult(
                skip_reason=f"no scored partition has a newly closed label window "
                f"(data through {through})",
                cursor=cursor,
            )
        context.log.info(f"requesting forward validation of {', '.join(keys)}")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=k, partition_key=k) for k in keys],
            cursor=cursor,
        )

    return label_window_sensor
