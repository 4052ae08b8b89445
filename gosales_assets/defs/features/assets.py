"""Features layer: per-cutoff customer base and ALS, per (cutoff, division)
feature matrix, and the feature catalog (thin wrappers over lib.features)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg

from gosales_assets.config import GosalesConfig
from gosales_assets.defs.common import (
    OWNERS,
    POOL,
    STORE_KINDS,
    asset_key,
    check_specs,
    gate,
    layer_spec,
    selected_checks,
    table_metadata,
)
from gosales_assets.lib.checks import CheckOutcome
from gosales_assets.lib.feature_cache import (
    build_matrix,
    read_snapshot_keyed,
    remember_base,
)
from gosales_assets.lib.feature_store import (
    FEATURE_CHECKS,
    expected_columns,
    feature_checks,
    stats_summary,
    write_base,
    write_catalog,
    write_matrix,
)
from gosales_assets.lib.features import (
    build_als,
    build_customer_base,
    feature_catalog,
)
from gosales_assets.lib.features.catalog import all_specs
from gosales_assets.lib.star import STAR_TABLES
from gosales_assets.lib.store import column_schema, count_rows, partition_checksum
from gosales_assets.partitions import Partitions, cutoff_of, keys_by_dimension
from gosales_assets.resources.store import DuckDBStoreResource

BASE = "features.customer_base"
ALS = "features.als_embeddings"
MATRIX = "features.feature_matrix"
CATALOG = "features.feature_catalog"
ALS_FALLBACK_CHECK = "als_method_is_primary"
# the catalog table's own columns, described in the UI's Columns view
CATALOG_NOTES = {
    "name": "feature column name in features.feature_matrix",
    "family": "feature family (rfm, lifecycle, mix, install base, ...)",
    "scope": "all: every division; target: computed for the partition's target",
    "window": "the look-back window the feature aggregates over",
    "dtype": "column type",
    "default": "the value used when an account has no data for the feature",
    "description": "what the feature measures",
}


def build_feature_assets(
    cfg: GosalesConfig, parts: Partitions
) -> list[dg.AssetsDefinition]:
    star_deps = [asset_key(t) for t in STAR_TABLES]
    # every feature column's catalog description, shown in the UI's Columns view
    notes = {s.name: s.description for s in all_specs(cfg)}

    @dg.asset(
        key=asset_key(CATALOG),
        description="The fixed feature schema: name, family, scope, window, dtype, "
        "default and description of every feature column (from config).",
        group_name="features",
        owners=OWNERS,
        kinds=STORE_KINDS,
        pool=POOL,
    )
    def feature_catalog_asset(store: DuckDBStoreResource) -> dg.MaterializeResult:
        catalog = feature_catalog(cfg)
        with store.store().transaction() as con:
            rows = write_catalog(con, catalog)
            schema = column_schema(con, CATALOG)
        families = catalog.group_by("family").len().sort("family")
        return dg.MaterializeResult(
            metadata=table_metadata(
                CATALOG,
                schema,
                rows,
                notes=CATALOG_NOTES,
                rows_in=0,  # built from the configuration alone
                extra={
                    "families": dict(
                        zip(families["family"], families["len"], strict=True)
                    ),
                    "catalog": dg.MetadataValue.md(
                        catalog.select("name", "family", "scope", "window", "dtype")
                        .to_pandas()
                        .to_markdown(index=False)
                    ),
                },
            )
        )

    @dg.multi_asset(
        name="features_base",
        specs=[
            layer_spec(
                BASE,
                "All-division features of every customer known at the "
                "cutoff (RFM, lifecycle, trajectory, seasonality, mix, install "
                "base, firmographics, CRM).",
                parts.cutoff,
                star_deps,
            ),
            layer_spec(
                ALS,
                "ALS embeddings of the account x SKU matrix as of the cutoff "
                "(implicit, seeded; SVD fallback with a logged reason).",
                parts.cutoff,
                star_deps,
            ),
        ],
        check_specs=[
            *check_specs(BASE, FEATURE_CHECKS),
            dg.AssetCheckSpec(
                ALS_FALLBACK_CHECK,
                asset=asset_key(ALS),
                blocking=False,
                description="WARN when ALS fell back to SVD or was disabled",
            ),
        ],
        partitions_def=parts.cutoff,
        can_subset=True,
        pool=POOL,
    )
    def features_base(context, store: DuckDBStoreResource) -> Iterator[Any]:
        cutoff = cutoff_of(context)
        with store.store().connect() as con:
            snap, star_key = read_snapshot_keyed(con, cutoff)
        context.log.info(
            f"building base features cutoff={cutoff} customers={snap.customers.height} "
            f"lines={snap.fact.height}"
        )
        rows_in = sum(
            frame.height
            for frame in (
                snap.fact,
                snap.customers,
                snap.install_base,
                snap.contacts,
                snap.open_deals,
                snap.sku,
            )
        )
        base = build_customer_base(snap, cfg)
        als = build_als(snap, cfg, base=base)
        outcomes = feature_checks(base, cutoff, expected_columns(cfg, True), BASE)
        method = str(als.info.get("method"))
        outcomes.append(
            CheckOutcome(
                ALS,
                ALS_FALLBACK_CHECK,
                method == "implicit_als",
                "WARN",
                "ALS used its primary method",
                {"method": method, "reason": str(als.info.get("reason", ""))},
            )
        )
        yield from gate(context, outcomes)
        with store.store().transaction() as con:
            rows = write_base(
                con, cutoff, dataclasses.replace(base, prepared=None), als
            )
            schemas = {t: column_schema(con, t) for t in (BASE, ALS)}
            sums = {
                t: partition_checksum(con, t, {"cutoff": cutoff}) for t in (BASE, ALS)
            }
            # this process's feature matrices of the cutoff start from its preparation
            remember_base(con, store.database, cutoff, star_key, base.prepared, cfg)
        del snap
        base = dataclasses.replace(base, prepared=None)
        context.log.info(
            f"base features cutoff={cutoff} rows={rows[BASE]} als={method}"
        )
        common = {"cutoff": str(cutoff)}
        yield dg.MaterializeResult(
            asset_key=asset_key(BASE),
            metadata=table_metadata(
                BASE,
                schemas[BASE],
                rows[BASE],
                {**common, "checksum": sums[BASE], **stats_summary(base.stats)},
                partitioned=True,
                notes=notes,
                rows_in=rows_in,
            ),
        )
        yield dg.MaterializeResult(
            asset_key=asset_key(ALS),
            metadata=table_metadata(
                ALS,
                schemas[ALS],
                rows[ALS],
                {
                    **common,
                    "checksum": sums[ALS],
                    "method": method,
                    "reason": str(als.info.get("reason", "")),
                    "sku_factor_rows": rows["features.als_sku_factors"],
                },
                partitioned=True,
                notes=notes,
                rows_in=rows_in,
            ),
        )
        yield from selected_checks(context, outcomes)

    @dg.multi_asset(
        name="feature_matrix",
        specs=[
            layer_spec(
                MATRIX,
                "The model input per (cutoff, target): base, ALS and "
                "target-scope (tgt__) features; the fixed schema of "
                "features/feature_catalog. Stats in features.feature_stats.",
                parts.cutoff_division,
                [asset_key(BASE), asset_key(ALS), asset_key(CATALOG), *star_deps],
            ),
        ],
        check_specs=check_specs(MATRIX, FEATURE_CHECKS),
        partitions_def=parts.cutoff_division,
        can_subset=True,
        pool=POOL,
    )
    def feature_matrix(context, store: DuckDBStoreResource) -> Iterator[Any]:
        dims = keys_by_dimension(parts.cutoff_division, context.partition_key)
        cutoff = dt.date.fromisoformat(dims["cutoff"])
        target = dims["division"]
        with store.store().connect() as con:
            try:
                result, als = build_matrix(con, store.database, cutoff, target, cfg)
            except LookupError as err:
                raise dg.Failure(description=str(err), allow_retries=False) from None
            # what the matrix is built from (read now or held from features_base)
            rows_in = sum(
                count_rows(con, table, {"cutoff": cutoff})
                for table in (BASE, ALS, "star.fact_transactions")
            )
        outcomes = feature_checks(result, cutoff, expected_columns(cfg, False), MATRIX)
        yield from gate(context, outcomes)
        part = {"cutoff": cutoff, "division": target}
        with store.store().transaction() as con:
            rows = write_matrix(con, cutoff, target, result)
            schema = column_schema(con, MATRIX)
            checksum = partition_checksum(con, MATRIX, part)
        context.log.info(f"feature matrix cutoff={cutoff} target={target} rows={rows}")
        info = result.info
        yield dg.MaterializeResult(
            asset_key=asset_key(MATRIX),
            metadata=table_metadata(
                MATRIX,
                schema,
                rows,
                {
                    "cutoff": str(cutoff),
                    "target": target,
                    "checksum": checksum,
                    "affinity_rules": int(info.get("affinity_rules", 0) or 0),
                    "als_method": str(als.info.get("method")),
                    **stats_summary(result.stats),
                },
                partitioned=True,
                notes=notes,
                rows_in=rows_in,
            ),
        )
        yield from selected_checks(context, outcomes)

    return [feature_catalog_asset, features_base, feature_matrix]
