"""Star layer: per-cutoff snapshots of the curated star schema (thin wrapper)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg

from gosales_assets.config import GosalesConfig
from gosales_assets.defs.common import (
    OWNERS,
    POOL,
    STORE_KINDS,
    asset_key,
    check_result,
    table_metadata,
)
from gosales_assets.lib.checks import BlockingCheckError
from gosales_assets.lib.raw_store import QUARANTINE_TABLE, RAW_TABLES
from gosales_assets.lib.star import (
    STAR_CHECKS,
    STAR_DESCRIPTIONS,
    STAR_TABLES,
    build_star,
)
from gosales_assets.lib.store import count_rows
from gosales_assets.partitions import Partitions, cutoff_of
from gosales_assets.resources.store import DuckDBStoreResource


class _Rollback(Exception):
    """Raised inside the write transaction to roll it back."""


def build_star_assets(cfg: GosalesConfig, parts: Partitions) -> dg.AssetsDefinition:
    raw_deps = [asset_key(t) for t in [*RAW_TABLES, QUARANTINE_TABLE]]
    specs = [
        dg.AssetSpec(
            asset_key(t),
            description=STAR_DESCRIPTIONS[t],
            group_name="star",
            owners=OWNERS,
            kinds=STORE_KINDS,
            deps=raw_deps,
            partitions_def=parts.cutoff,
            metadata={"partition_expr": "cutoff"},
        )
        for t in STAR_TABLES
    ]
    check_specs = [
        dg.AssetCheckSpec(name, asset=asset_key(table), description=desc, blocking=True)
        for name, (table, desc, _) in STAR_CHECKS.items()
    ]

    @dg.multi_asset(
        name="star_schema",
        specs=specs,
        check_specs=check_specs,
        partitions_def=parts.cutoff,
        pool=POOL,
        description="Build every star table as of the cutoff in one transaction.",
    )
    def star_schema(context, store: DuckDBStoreResource) -> Iterator[Any]:
        cutoff = cutoff_of(context)
        context.log.info(f"building star schema cutoff={cutoff}")
        build = None
        rows_in = 0
        try:
            with store.store().transaction() as con:
                build = build_star(con, cfg, cutoff)
                rows_in = sum(count_rows(con, t) for t in RAW_TABLES)
                if any(o.blocks for o in build.checks):
                    raise _Rollback
        except _Rollback:
            assert build is not None
            yield from (check_result(o) for o in build.checks)
            raise dg.Failure(
                description=str(BlockingCheckError(build.checks)),
                metadata={"cutoff": str(cutoff)},
            ) from None
        for table in STAR_TABLES:
            extra: dict[str, Any] = {
                "cutoff": str(cutoff),
                "checksum": build.checksums[table],
            }
            if table == "star.quarantine":
                extra["quarantined_by_reason"] = build.quarantine_by_reason
            if table == "star.dim_customer":
                extra["orphan_customers"] = build.orphans
            yield dg.MaterializeResult(
                asset_key=asset_key(table),
                metadata=table_metadata(
                    table,
                    build.schemas[table],
                    build.rows[table],
                    extra,
                    partitioned=True,
                    rows_in=rows_in,
                ),
            )
        yield from (check_result(o) for o in build.checks)

    return star_schema
