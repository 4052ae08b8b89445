"""Scoring layer: ICP scores and whitespace lists per (cutoff, division), and the
cross-division list per cutoff (thin wrappers over lib.scoring_store and
lib.whitespace)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg
import numpy as np
import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.defs.common import (
    OWNERS,
    POOL,
    STORE_KINDS,
    asset_key,
    check_specs,
    gate,
    layer_spec,
    outcomes_from,
    selected_checks,
    table_metadata,
)
from gosales_assets.lib.scoring_store import (
    NoModelError,
    candidates,
    history,
    read_ranked,
    score_partition,
    with_keys,
    with_reasons,
)
from gosales_assets.lib.star import STAR_TABLES
from gosales_assets.lib.store import (
    column_schema,
    partition_checksum,
    replace_partition_frame,
)
from gosales_assets.lib.whitespace import (
    cross_division,
    export_whitespace,
    rank_whitespace,
)
from gosales_assets.partitions import Partitions, cutoff_of, keys_by_dimension
from gosales_assets.resources.store import DuckDBStoreResource

ICP = "scoring.icp_scores"
WHITESPACE = "scoring.whitespace"
ACCOUNTS = "scoring.whitespace_accounts"

ICP_CHECKS: dict[str, tuple[str, str]] = {
    "p_icp_is_probability": ("ERROR", "every p_icp is a finite number in [0, 1]"),
    "model_trained_on_or_before_cutoff": (
        "ERROR",
        "leakage: the scoring model's cutoff is on or before the scoring cutoff",
    ),
    "model_not_fallback": ("WARN", "scores come from a trained model, not the prior"),
}
WS_CHECKS: dict[str, tuple[str, str]] = {
    "no_owner_ranked": (
        "ERROR",
        "no ranked account owns the target under the configured ownership rule",
    ),
    "rank_is_dense_and_unique": ("ERROR", "ranks are 1..n without ties"),
}


def build_scoring_assets(
    cfg: GosalesConfig, parts: Partitions
) -> list[dg.AssetsDefinition]:
    model_dep = dg.AssetDep(
        asset_key("models.propensity_model"),
        partition_mapping=dg.MultiPartitionMapping(
            {
                "cutoff": dg.DimensionPartitionMapping(
                    "cutoff", dg.AllPartitionMapping()
                ),
                "division": dg.DimensionPartitionMapping(
                    "division", dg.IdentityPartitionMapping()
                ),
            }
        ),
    )

    @dg.multi_asset(
        name="icp_scores",
        specs=[
            layer_spec(
                ICP,
                "Calibrated propensity p_icp of every account known at C, its "
                "percentile within the target, grade, the model version (newest model "
                "trained on or before C) and the top reasons as readable text.",
                parts.cutoff_division,
                [asset_key("features.feature_matrix"), model_dep],
            )
        ],
        check_specs=check_specs(ICP, ICP_CHECKS),
        partitions_def=parts.cutoff_division,
        can_subset=True,
        pool=POOL,
    )
    def icp_scores(context, store: DuckDBStoreResource) -> Iterator[Any]:
        dims = keys_by_dimension(parts.cutoff_division, context.partition_key)
        cutoff = dt.date.fromisoformat(dims["cutoff"])
        target = dims["division"]
        with store.store().connect() as con:
            try:
                icp, entry, _ = score_partition(con, cfg, cutoff, target)
            except (NoModelError, LookupError) as err:
                raise dg.Failure(description=str(err), allow_retries=False) from None
        p = icp["p_icp"].to_numpy()
        bad = {
            "p_icp_is_probability": int(np.sum(~np.isfinite(p) | (p < 0) | (p > 1))),
            "model_trained_on_or_before_cutoff": int(entry["cutoff"] > cutoff),
            "model_not_fallback": int(bool(entry["is_fallback"])),
        }
        outcomes = outcomes_from(
            ICP,
            ICP_CHECKS,
            bad,
            {
                "model_version": entry["model_version"],
                "model_cutoff": str(entry["cutoff"]),
                "fallback_reason": entry.get("fallback_reason") or "",
            },
        )
        yield from gate(context, outcomes)
        part = {"cutoff": cutoff, "division": target}
        with store.store().transaction() as con:
            rows = replace_partition_frame(
                con,
                ICP,
                with_keys(icp, cutoff, target),
                partition=part,
                order_by=("cutoff", "division", "customer_id"),
            )
            schema = column_schema(con, ICP)
            checksum = partition_checksum(con, ICP, part)
        grades = icp.group_by("grade").len().sort("grade")
        yield dg.MaterializeResult(
            asset_key=asset_key(ICP),
            metadata=table_metadata(
                ICP,
                schema,
                rows,
                {
                    "cutoff": str(cutoff),
                    "target": target,
                    "checksum": checksum,
                    "model_version": entry["model_version"],
                    "model_cutoff": str(entry["cutoff"]),
                    "mean_p_icp": round(float(icp["p_icp"].mean() or 0.0), 6),
                    "grades": dict(zip(grades["grade"], grades["len"], strict=True)),
                },
                partitioned=True,
                rows_in=icp.height,
            ),
        )
        yield from selected_checks(context, outcomes)

    @dg.multi_asset(
        name="whitespace",
        specs=[
            layer_spec(
                WHITESPACE,
                "Ranked whitespace of the target at C: blend of p_icp "
                "percentile, basket affinity, ALS similarity, expected value (weights "
                "from config, scaled by coverage), eligibility rules, cooldown and "
                "capacity; every exclusion counted (scoring.whitespace_exclusions).",
                parts.cutoff_division,
                [
                    asset_key(ICP),
                    asset_key("features.feature_matrix"),
                    *[asset_key(t) for t in STAR_TABLES],
                ],
            )
        ],
        check_specs=check_specs(WHITESPACE, WS_CHECKS),
        partitions_def=parts.cutoff_division,
        can_subset=True,
        pool=POOL,
    )
    def whitespace(context, store: DuckDBStoreResource) -> Iterator[Any]:
        dims = keys_by_dimension(parts.cutoff_division, context.partition_key)
        cutoff = dt.date.fromisoformat(dims["cutoff"])
        target = dims["division"]
        settings = cfg.whitespace_settings
        with store.store().connect() as con:
            icp = con.execute(
                "SELECT * EXCLUDE (cutoff, division) FROM scoring.icp_scores "
                "WHERE cutoff = ? AND division = ?",
                [cutoff, target],
            ).pl()
            if icp.height == 0:
                raise dg.Failure(
                    description=f"no icp_scores at {cutoff}|{target}; materialize "
                    "scoring/icp_scores first",
                    allow_retries=False,
                )
            cands = candidates(con, cutoff, target, icp)
            past = history(con, cutoff, target)
        result = rank_whitespace(cands, settings, cutoff, target, past)
        ranked = result.ranked
        owns = cands.select(
            "customer_id",
            (pl.col("owns_ever").fill_null(True)).alias("_owns"),
            pl.col("last_target_purchase_days"),
            pl.col("active_target_install").fill_null(True).alias("_active"),
        )
        elig = settings.eligibility
        joined = ranked.join(owns, on="customer_id", how="left")
        if elig.exclude_owners == "none":
            owners = 0
        elif elig.exclude_owners == "ever":
            owners = int(joined.filter(pl.col("_owns") | pl.col("_active")).height)
        else:
            recent = pl.col("last_target_purchase_days") <= elig.owner_recency_days
            owners = int(
                joined.filter(recent.fill_null(False) | pl.col("_active")).height
            )
        n = ranked.height
        dense = bool(
            np.array_equal(ranked["rank"].sort().to_numpy(), np.arange(1, n + 1))
        )
        outcomes = outcomes_from(
            WHITESPACE,
            WS_CHECKS,
            {"no_owner_ranked": owners, "rank_is_dense_and_unique": int(not dense)},
            {"rule": elig.exclude_owners},
        )
        yield from gate(context, outcomes)
        part = {"cutoff": cutoff, "division": target}
        with store.store().transaction() as con:
            rows = replace_partition_frame(
                con,
                WHITESPACE,
                with_keys(ranked, cutoff, target),
                partition=part,
                order_by=("cutoff", "division", "rank"),
            )
            replace_partition_frame(
                con,
                "scoring.whitespace_exclusions",
                with_keys(result.excluded, cutoff, target),
                partition=part,
                order_by=("cutoff", "division", "customer_id"),
            )
            schema = column_schema(con, WHITESPACE)
            checksum = partition_checksum(con, WHITESPACE, part)
        for note in result.notes:
            context.log.warning(f"whitespace {cutoff}|{target}: {note}")
        meta = result.metadata()
        yield dg.MaterializeResult(
            asset_key=asset_key(WHITESPACE),
            metadata=table_metadata(
                WHITESPACE,
                schema,
                rows,
                {
                    "checksum": checksum,
                    "exclusions": result.exclusions,
                    "effective_weights": result.effective_weights,
                    "coverage": result.coverage,
                    "summary": dg.MetadataValue.json(meta),
                },
                partitioned=True,
                rows_in=icp.height
                + cands.height
                + (past.height if past is not None else 0),
            ),
        )
        yield from selected_checks(context, outcomes)

    @dg.asset(
        key=asset_key(ACCOUNTS),
        description="The cross-division whitespace list at C: one row per selected "
        "(account, target), best target first, with the per-division share cap "
        "applied over the full list; exported to reports/whitespace_<cutoff>.csv.",
        group_name="scoring",
        owners=OWNERS,
        kinds=STORE_KINDS,
        partitions_def=parts.cutoff,
        deps=[asset_key(WHITESPACE)],
        pool=POOL,
    )
    def whitespace_accounts(
        context, store: DuckDBStoreResource
    ) -> dg.MaterializeResult:
        cutoff = cutoff_of(context)
        settings = cfg.whitespace_settings
        with store.store().connect() as con:
            ranked = read_ranked(con, cutoff, reasons=False)
        if not ranked:
            raise dg.Failure(
                description=f"no whitespace list at {cutoff}; materialize "
                "scoring/whitespace for the targets first",
                allow_retries=False,
            )
        cross = cross_division(ranked, settings)
        targets = sorted(ranked)
        rows_in = sum(part.height for part in ranked.values())
        del ranked
        with store.store().transaction() as con:
            frame = with_reasons(con, cutoff, cross.frame)  # the placed rows' only
            rows = replace_partition_frame(
                con,
                ACCOUNTS,
                with_keys(frame, cutoff, None),
                partition={"cutoff": cutoff},
                order_by=("cutoff", "list_rank"),
            )
            schema = column_schema(con, ACCOUNTS)
        files = export_whitespace(frame, cfg.paths.reports_dir, cutoff, settings)
        return dg.MaterializeResult(
            metadata=table_metadata(
                ACCOUNTS,
                schema,
                rows,
                {
                    "targets": targets,
                    "counts": dg.MetadataValue.json(cross.counts),
                    "exports": [str(f) for f in files]
                    if isinstance(files, list)
                    else str(files),
                },
                partitioned=True,
                rows_in=rows_in,
            ),
        )

    return [icp_scores, whitespace, whitespace_accounts]
