"""Validation layer: forward validation per (cutoff, division), a thin wrapper over
lib.validation.

Once the label window ``(C, end(C, W)]`` has closed, the scores made at C
(``scoring.icp_scores``) are compared with what the accounts bought in the window
(``labels.labels`` at C). Before that the partition is skipped with the reason, like
the labels it needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg

from gosales_assets.config import GosalesConfig
from gosales_assets.defs.common import (
    POOL,
    asset_key,
    check_specs,
    gate,
    layer_spec,
    selected_checks,
    table_metadata,
)
from gosales_assets.lib.labels import window_state
from gosales_assets.lib.store import column_schema, replace_partition_frame
from gosales_assets.lib.timeutil import window_end
from gosales_assets.lib.validation import (
    FORWARD_TABLE,
    GAINS_TABLE,
    card_metrics,
    check_table,
    compute_forward,
    data_through,
    evaluation_frame,
    forward_checks,
    gains_table,
    metrics_table,
    read_partition,
    summary_markdown,
)
from gosales_assets.partitions import Partitions, keys_by_dimension
from gosales_assets.resources.store import DuckDBStoreResource

ICP = "scoring.icp_scores"
LABELS = "labels.labels"
FORWARD_JOB = "forward_validation_job"


def _missing(what: str, cutoff: dt.date, target: str, asset: str) -> dg.Failure:
    return dg.Failure(
        description=f"no {what} at {cutoff}|{target}; materialize {asset} for that "
        f"partition first ({FORWARD_JOB} materializes the labels with the metrics)",
        allow_retries=False,
    )


def build_validation_assets(
    cfg: GosalesConfig, parts: Partitions
) -> list[dg.AssetsDefinition]:
    margins = dict(cfg.validation.margins)
    checks = check_table(margins)
    key = asset_key(FORWARD_TABLE)

    # can_subset makes the output optional, so an open window is skipped (nothing
    # materialized, no check results) instead of failing the run.
    @dg.multi_asset(
        name="forward_metrics",
        specs=[
            layer_spec(
                FORWARD_TABLE,
                "Forward validation of the scores made at C: once the label window "
                "(C, end(C, W)] has closed, AUC, PR-AUC, Brier, log loss, calibration "
                "MAE, lift / capture / GP capture at the models' K's, each with a "
                "seeded bootstrap interval and the model card's out-of-time value; "
                "gains by decile in validation.forward_gains. Skipped, with the "
                "reason, while the window is open.",
                parts.cutoff_division,
                [asset_key(ICP), asset_key(LABELS)],
            )
        ],
        check_specs=check_specs(FORWARD_TABLE, checks),
        partitions_def=parts.cutoff_division,
        can_subset=True,
        pool=POOL,
    )
    def forward_metrics(context, store: DuckDBStoreResource) -> Iterator[Any]:
        dims = keys_by_dimension(parts.cutoff_division, context.partition_key)
        cutoff = dt.date.fromisoformat(dims["cutoff"])
        target = dims["division"]
        months = cfg.window_months(target)
        end = window_end(cutoff, months)
        with store.store().connect() as con:
            through = data_through(con)
            reason = window_state(cutoff, months, through)
            if reason is not None:
                context.log.warning(
                    f"forward validation skipped cutoff={cutoff} target={target}: "
                    f"{reason}"
                )
                context.log_event(
                    dg.AssetObservation(
                        asset_key=key,
                        partition=str(context.partition_key),
                        metadata={"skipped": reason, "data_through": str(through)},
                    )
                )
                return
            scores = read_partition(
                con, ICP, ["customer_id", "p_icp", "model_version"], cutoff, target
            )
            labels = read_partition(
                con,
                LABELS,
                ["customer_id", "label", "net_gp", "window_end"],
                cutoff,
                target,
            )
        if scores.height == 0:
            raise _missing("ICP scores", cutoff, target, "scoring/icp_scores")
        if labels.height == 0:
            raise _missing("labels", cutoff, target, "labels/labels")
        built_for = set(labels["window_end"].unique().to_list())
        if built_for != {end}:
            raise dg.Failure(
                description=f"labels at {cutoff}|{target} were built for the window "
                f"ending {sorted(built_for)}, not {end} (window_months changed?); "
                "re-materialize labels/labels for that partition",
                allow_retries=False,
            )
        versions = sorted(scores["model_version"].unique().to_list())
        if len(versions) != 1:
            raise dg.Failure(
                description=f"scores at {cutoff}|{target} come from several models "
                f"{versions}; re-materialize scoring/icp_scores",
                allow_retries=False,
            )
        version = versions[0]
        baseline = card_metrics(cfg.artifacts_dir, target, version)
        if baseline is None:
            context.log.warning(
                f"model card of {target} {version} not found under "
                f"{cfg.artifacts_dir}: no out-of-time value to compare with"
            )
        settings = cfg.forward_settings
        frame, unscored = evaluation_frame(scores, labels)
        result = compute_forward(frame, settings, baseline or {}, unscored)
        outcomes = forward_checks(result, margins)
        yield from gate(context, outcomes)
        part = {"cutoff": cutoff, "division": target}
        with store.store().transaction() as con:
            rows = replace_partition_frame(
                con,
                FORWARD_TABLE,
                metrics_table(result, cutoff, target, end, version),
                partition=part,
                order_by=("cutoff", "division", "metric"),
            )
            replace_partition_frame(
                con,
                GAINS_TABLE,
                gains_table(result, cutoff, target),
                partition=part,
                order_by=("cutoff", "division", "decile"),
            )
            schema = column_schema(con, FORWARD_TABLE)
        values = {
            r["metric"]: r["value"]
            for r in result.metrics.iter_rows(named=True)
            if r["value"] is not None
        }
        context.log.info(
            f"forward validation cutoff={cutoff} target={target} rows={result.rows} "
            f"positives={result.positives} auc={values.get('auc')} "
            f"model={version}"
        )
        yield dg.MaterializeResult(
            asset_key=key,
            metadata=table_metadata(
                FORWARD_TABLE,
                schema,
                rows,
                {
                    **values,
                    "cutoff": str(cutoff),
                    "target": target,
                    "window_end": str(end),
                    "data_through": str(through),
                    "labelled_accounts": result.rows,
                    "positives": result.positives,
                    "model_version": version,
                    "model_card": "found" if baseline is not None else "not found",
                    "bootstrap": f"{settings.resamples} resamples, seed "
                    f"{settings.seed}, level {settings.level}",
                    "metrics": dg.MetadataValue.md(summary_markdown(result)),
                    "gains": dg.MetadataValue.json(
                        result.gains.fill_nan(None).to_dicts()
                    ),
                },
                partitioned=True,
                rows_in=scores.height + labels.height,
            ),
        )
        yield from selected_checks(context, outcomes)

    return [forward_metrics]


def build_forward_job() -> dg.UnresolvedAssetJobDefinition:
    """Labels and forward metrics of one (cutoff, division): the labels are built
    (or refreshed) from the now complete window, then compared with the scores."""
    return dg.define_asset_job(
        FORWARD_JOB,
        selection=dg.AssetSelection.assets(asset_key(LABELS), asset_key(FORWARD_TABLE)),
        description="Forward validation of one (cutoff, division) whose label window "
        "has closed: its labels, then the forward metrics of the scores made at C.",
    )
