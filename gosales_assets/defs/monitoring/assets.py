"""Monitoring layer: ``monitoring.drift`` per (cutoff, division), a thin wrapper over
lib.monitoring.

PSI and KS of every feature and of the score against the reference cutoff, prevalence
and calibration drift. Drift never stops publishing: every drift check is non-blocking
(WARN, and ERROR variants); only the contract check on the computed values
(``drift_values_valid``) blocks the write. A partition without a reference (the first
cutoff under ``monitoring.reference: previous``, or a reference matrix that is not
materialized) is skipped with the reason, like censored labels.
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
    gate,
    selected_checks,
    table_metadata,
)
from gosales_assets.lib.monitoring import (
    BLOCKING_CHECKS,
    DRIFT_CHECKS,
    DRIFT_TABLE,
    SUMMARY_TABLE,
    NoReferenceError,
    drift_outcomes,
    drift_partition,
    write_drift,
)
from gosales_assets.lib.store import column_schema, count_rows, partition_checksum
from gosales_assets.partitions import Partitions, keys_by_dimension
from gosales_assets.resources.store import DuckDBStoreResource


def _all_cutoffs_same_division() -> dg.MultiPartitionMapping:
    return dg.MultiPartitionMapping(
        {
            "cutoff": dg.DimensionPartitionMapping("cutoff", dg.AllPartitionMapping()),
            "division": dg.DimensionPartitionMapping(
                "division", dg.IdentityPartitionMapping()
            ),
        }
    )


def build_monitoring_assets(
    cfg: GosalesConfig, parts: Partitions
) -> list[dg.AssetsDefinition]:
    key = asset_key(DRIFT_TABLE)
    earlier = _all_cutoffs_same_division()
    spec = dg.AssetSpec(
        key,
        description="Drift of the target's inputs and scores at C against a "
        "reference cutoff (monitoring.reference: the newest training cutoff of the "
        "scoring model, or the previous materialized cutoff): PSI on the reference's "
        "quantile bins and the two-sample KS statistic per feature and for p_icp, "
        "with ok/warn/error status; prevalence and calibration drift in "
        "monitoring.drift_summary. Skipped, with the reason, without a reference.",
        group_name="monitoring",
        owners=OWNERS,
        kinds=STORE_KINDS,
        partitions_def=parts.cutoff_division,
        deps=[
            asset_key("scoring.icp_scores"),
            dg.AssetDep(
                asset_key("features.feature_matrix"), partition_mapping=earlier
            ),
            dg.AssetDep(
                asset_key("models.propensity_model"), partition_mapping=earlier
            ),
            dg.AssetDep(asset_key("labels.labels"), partition_mapping=earlier),
        ],
        metadata={"partition_expr": {"cutoff": "cutoff", "division": "division"}},
        skippable=True,
    )
    checks = [
        dg.AssetCheckSpec(
            name, asset=key, description=desc, blocking=name in BLOCKING_CHECKS
        )
        for name, (_, desc) in DRIFT_CHECKS.items()
    ]

    @dg.multi_asset(
        name="drift",
        specs=[spec],
        check_specs=checks,
        partitions_def=parts.cutoff_division,
        can_subset=True,
        pool=POOL,
    )
    def drift(context, store: DuckDBStoreResource) -> Iterator[Any]:
        dims = keys_by_dimension(parts.cutoff_division, context.partition_key)
        cutoff = dt.date.fromisoformat(dims["cutoff"])
        target = dims["division"]
        with store.store().connect() as con:
            try:
                result = drift_partition(con, cfg, cutoff, target)
            except NoReferenceError as err:
                reason = f"no reference to compare with: {err}"
                context.log.warning(
                    f"drift skipped cutoff={cutoff} target={target}: {reason}"
                )
                context.log_event(
                    dg.AssetObservation(
                        asset_key=key,
                        partition=str(context.partition_key),
                        metadata={
                            "skipped": reason,
                            "reference_mode": cfg.monitoring.reference,
                        },
                    )
                )
                return
            except LookupError as err:
                raise dg.Failure(description=str(err), allow_retries=False) from None
        outcomes = drift_outcomes(
            result.rows, result.rates, cfg.monitoring, result.reference_cutoff
        )
        yield from gate(context, outcomes)  # only the contract checks block
        part = {"cutoff": cutoff, "division": target}
        with store.store().transaction() as con:
            rows = write_drift(con, result)
            schema = column_schema(con, DRIFT_TABLE)
            checksum = partition_checksum(con, DRIFT_TABLE, part)
            # the two feature matrices compared
            rows_in = sum(
                count_rows(
                    con, "features.feature_matrix", {"cutoff": c, "division": target}
                )
                for c in {cutoff, result.reference_cutoff}
            )
        statuses = result.status_counts()
        context.log.info(
            f"drift cutoff={cutoff} target={target} "
            f"reference={result.reference_cutoff} statuses={statuses}"
        )
        worst = (
            result.rows.filter((pl.col("kind") == "feature") & ~pl.col("ignored"))
            .sort(["psi", "feature", "segment"], descending=[True, False, False])
            .head(cfg.monitoring.top_n)
            .select("feature", "segment", "family", "psi", "ks", "status")
        )
        score = result.rows.filter(
            (pl.col("kind") == "score") & (pl.col("segment_by") == "*")
        ).row(0, named=True)
        yield dg.MaterializeResult(
            asset_key=key,
            metadata=table_metadata(
                DRIFT_TABLE,
                schema,
                rows[DRIFT_TABLE],
                {
                    "cutoff": str(cutoff),
                    "target": target,
                    "reference_cutoff": str(result.reference_cutoff),
                    "reference_mode": result.reference_mode,
                    "model_version": result.model_version,
                    "checksum": checksum,
                    "statuses": statuses,
                    "score_psi": round(float(score["psi"]), 6),
                    "score_ks": round(float(score["ks"]), 6),
                    "rates": dg.MetadataValue.json(
                        result.summary()
                        .select(
                            "metric",
                            "base_value",
                            "current_value",
                            "gap",
                            "tolerance",
                            "base_source",
                            "current_source",
                            "status",
                            "note",
                        )
                        .to_dicts()
                    ),
                    "summary_rows": rows[SUMMARY_TABLE],
                    "ignored_features": result.ignored,
                    "missing_in_reference": result.missing,
                    "segments_skipped": dg.MetadataValue.json(result.segments_skipped),
                    "top_psi": dg.MetadataValue.md(
                        worst.to_pandas().to_markdown(index=False)
                    ),
                },
                partitioned=True,
                rows_in=rows_in,
            ),
        )
        yield from selected_checks(context, outcomes)

    return [drift]


drift_job = dg.define_asset_job(
    "drift_job",
    selection=dg.AssetSelection.assets(["monitoring", "drift"]),
    description="Drift monitoring of one (cutoff, division) against its reference.",
)
