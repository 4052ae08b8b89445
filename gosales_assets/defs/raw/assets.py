"""Raw layer: read the raw folder, validate every record, store ``raw.*`` tables."""

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
from gosales_assets.lib.ingest import (
    RawInputError,
    prepare_raw_folder,
    staged_raw_folder,
)
from gosales_assets.lib.raw_store import (
    LOAD_REPORT_TABLE,
    QUARANTINE_TABLE,
    RAW_CHECKS,
    RAW_TABLES,
    publish_raw,
    raw_checks,
    raw_checksums,
)
from gosales_assets.resources.store import DuckDBStoreResource

RAW_DESCRIPTIONS = {
    "raw.sales_lines": "Valid, typed sales lines (long input, or the wide sales log "
    "unpivoted), one per (invoice_id, line_no), with source file and row.",
    "raw.customers": "Valid, typed customer rows.",
    "raw.assets": "Valid install-base rows (empty when the optional file is absent).",
    "raw.contacts": "Valid CRM contact rows (empty when absent).",
    "raw.open_deals": "Valid deal rows (empty when absent).",
    "raw.quarantine": "Every rejected input record with file, row, column and reason.",
}


def build_raw_ingest(cfg: GosalesConfig) -> dg.AssetsDefinition:
    tables = [*RAW_TABLES, QUARANTINE_TABLE]
    specs = [
        dg.AssetSpec(
            asset_key(t),
            description=RAW_DESCRIPTIONS[t],
            group_name="raw",
            owners=OWNERS,
            kinds=STORE_KINDS,
        )
        for t in tables
    ]
    check_specs = [
        dg.AssetCheckSpec(name, asset=asset_key(table), description=desc, blocking=True)
        for name, (table, desc) in RAW_CHECKS.items()
    ]

    @dg.multi_asset(
        name="raw_ingest",
        specs=specs,
        check_specs=check_specs,
        pool=POOL,
        description=f"Read and validate the raw folder ({cfg.paths.raw_dir}).",
    )
    def raw_ingest(context, store: DuckDBStoreResource) -> Iterator[Any]:
        context.log.info(
            f"reading raw folder path={cfg.paths.raw_dir} "
            f"batch_lines={cfg.ingest.batch_lines} "
            f"memory_limit_mb={cfg.ingest.memory_limit_mb}"
        )
        load_date = cfg.ingest.effective_load_date()
        try:  # file-level checks first: a refused folder never opens the store
            prepared = prepare_raw_folder(cfg.paths.raw_dir, cfg)
        except RawInputError as err:
            raise dg.Failure(
                description=f"raw input refused, nothing was written: {err}",
                allow_retries=False,
            ) from None
        # Stage, audit, then publish in one transaction: a refused input or a failed
        # blocking check rolls back, and the previous raw tables stay as they were.
        with store.store().transaction() as con:
            try:
                with staged_raw_folder(
                    con, cfg.paths.raw_dir, cfg, prepared=prepared
                ) as load:
                    outcomes = raw_checks(con, load.views, load_date)
                    if any(o.blocks for o in outcomes):
                        yield from (check_result(o) for o in outcomes)
                        raise dg.Failure(description=str(BlockingCheckError(outcomes)))
                    schemas = publish_raw(con, load.views, load.report)
            except RawInputError as err:
                raise dg.Failure(
                    description=f"raw input refused, nothing was written: {err}",
                    allow_retries=False,
                ) from None
            checksums = raw_checksums(con)
        by_reason: dict[str, int] = dict(load.report["quarantined"])
        context.log.info(
            f"raw ingested lines={load.rows['raw.sales_lines']} "
            f"customers={load.rows['raw.customers']} "
            f"quarantined={load.rows[QUARANTINE_TABLE]} by_reason={by_reason}"
        )
        files = {f["file"]: f.get("sha256", "") for f in load.files}
        rows_in = sum(int(f["rows_read"]) for f in load.report["files"].values())
        for table in tables:
            extra: dict[str, Any] = {"checksum": checksums[table]}
            if table == "raw.sales_lines":
                extra |= {
                    "source_files": files,
                    "load_date": str(load_date),
                    "load_report": dg.MetadataValue.json(load.report),
                }
            if table == QUARANTINE_TABLE:
                extra |= {"quarantined_by_reason": by_reason}
            yield dg.MaterializeResult(
                asset_key=asset_key(table),
                metadata=table_metadata(
                    table, schemas[table], load.rows[table], extra, rows_in=rows_in
                ),
            )
        yield from (check_result(o) for o in outcomes)

    return raw_ingest


__all__ = ["LOAD_REPORT_TABLE", "build_raw_ingest"]
