"""Labels layer: ``labels.labels`` per (cutoff, division), a thin wrapper.

Labels at ``C`` read exactly the window ``(C, end(C, W)]`` of ``raw.sales_lines`` plus
the star snapshot at ``C`` (population and cohorts). While the data does not cover the
window, the partition is skipped with the reason; it is never written half-complete.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.defs.common import (
    OWNERS,
    POOL,
    STORE_KINDS,
    asset_key,
    check_specs,
    gate,
    selected_checks,
    table_metadata,
)
from gosales_assets.lib.labels import (
    LABEL_CHECKS,
    build_labels,
    label_checks,
    window_state,
)
from gosales_assets.lib.store import (
    column_schema,
    partition_checksum,
    replace_partition_frame,
)
from gosales_assets.lib.timeutil import window_end
from gosales_assets.partitions import Partitions, keys_by_dimension
from gosales_assets.resources.store import DuckDBStoreResource

TABLE = "labels.labels"


def build_labels_asset(cfg: GosalesConfig, parts: Partitions) -> dg.AssetsDefinition:
    key = asset_key(TABLE)

    spec = dg.AssetSpec(
        key,
        description="Label per customer: 1 iff net GP of the target's SKUs in "
        "(C, end(C, W)] is above labels.gp_min_threshold; cohorts; skipped while the "
        "window is incomplete.",
        group_name="labels",
        owners=OWNERS,
        kinds=STORE_KINDS,
        partitions_def=parts.cutoff_division,
        deps=[
            asset_key("raw.sales_lines"),
            asset_key("star.dim_customer"),
            asset_key("star.fact_transactions"),
        ],
        metadata={"partition_expr": {"cutoff": "cutoff", "division": "division"}},
        skippable=True,
    )

    # can_subset makes the outputs optional, so a censored partition is skipped
    # (nothing materialized, no check results) instead of failing the run.
    @dg.multi_asset(
        name="labels",
        specs=[spec],
        check_specs=check_specs(TABLE, LABEL_CHECKS),
        partitions_def=parts.cutoff_division,
        can_subset=True,
        pool=POOL,
    )
    def labels(context, store: DuckDBStoreResource) -> Iterator[Any]:
        dims = keys_by_dimension(parts.cutoff_division, context.partition_key)
        cutoff = dt.date.fromisoformat(dims["cutoff"])
        target = dims["division"]
        skus = cfg.target_skus(target)
        months = cfg.window_months(target)
        lab = cfg.labels
        with store.store().connect() as con:
            row = con.execute("SELECT max(order_date) FROM raw.sales_lines").fetchone()
            data_through = row[0] if row else None
            reason = window_state(cutoff, months, data_through)
            if reason is not None:
                context.log.warning(
                    f"labels skipped cutoff={cutoff} target={target}: {reason}"
                )
                context.log_event(
                    dg.AssetObservation(
                        asset_key=key,
                        partition=str(context.partition_key),
                        metadata={"skipped": reason, "data_through": str(data_through)},
                    )
                )
                return
            population = con.execute(
                "SELECT customer_id FROM star.dim_customer WHERE cutoff = ?", [cutoff]
            ).pl()
            history = con.execute(
                "SELECT customer_id, sku, max(order_date) AS order_date "
                "FROM star.fact_transactions WHERE cutoff = ? GROUP BY ALL",
                [cutoff],
            ).pl()
            window = con.execute(
                "SELECT customer_id, order_date, sku, gross_profit "
                "FROM raw.sales_lines WHERE order_date > ? AND order_date <= ? "
                "AND list_contains(?, sku)",
                [cutoff, window_end(cutoff, months), skus],
            ).pl()
        result = build_labels(
            population,
            history,
            window,
            skus=skus,
            cutoff=cutoff,
            months=months,
            threshold=lab.gp_min_threshold,
            mode=lab.mode,
            denylist=lab.denylist_skus,
        )
        outcomes = label_checks(result, cutoff, lab.prevalence_band)
        yield from gate(context, outcomes)
        frame = result.frame.select(
            pl.lit(cutoff, dtype=pl.Date).alias("cutoff"),
            pl.lit(target).alias("division"),
            pl.all(),
        )
        part = {"cutoff": cutoff, "division": target}
        order = ("cutoff", "division", "customer_id")
        with store.store().transaction() as con:
            rows = replace_partition_frame(
                con, TABLE, frame, partition=part, order_by=order
            )
            checksum = partition_checksum(con, TABLE, part)
            schema = column_schema(con, TABLE)
        positives = int(frame["label"].sum())
        context.log.info(
            f"labels cutoff={cutoff} target={target} rows={rows} positives={positives}"
        )
        yield dg.MaterializeResult(
            asset_key=key,
            metadata=table_metadata(
                TABLE,
                schema,
                rows,
                {
                    "cutoff": str(cutoff),
                    "target": target,
                    "window_end": str(result.window_end),
                    "window_months": months,
                    "data_through": str(data_through),
                    "mode": lab.mode,
                    "gp_min_threshold": lab.gp_min_threshold,
                    "positives": positives,
                    "prevalence": round(positives / rows, 6) if rows else 0.0,
                    "new_logo": int(frame["is_new_logo"].sum()),
                    "expansion": int(frame["is_expansion"].sum()),
                    "renewal_like": int(frame["is_renewal_like"].sum()),
                    "window_lines_used": result.lines_used,
                    "checksum": checksum,
                },
                partitioned=True,
                rows_in=population.height + history.height + window.height,
            ),
        )
        yield from selected_checks(context, outcomes)

    return labels
