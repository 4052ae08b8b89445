"""Models layer: a calibrated propensity model per (cutoff, division), trained on the
labelled partitions of earlier cutoffs whose windows closed by the cutoff and validated
out-of-time on the newest of them (thin wrapper over lib.models / lib.model_store)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from gosales_assets.config import GosalesConfig
from gosales_assets.defs.common import (
    OWNERS,
    POOL,
    asset_key,
    check_specs,
    gate,
    selected_checks,
    table_metadata,
)
from gosales_assets.lib.artifacts import ArtifactStore
from gosales_assets.lib.checks import CheckOutcome
from gosales_assets.lib.features.catalog import all_specs
from gosales_assets.lib.model_store import (
    MissingTrainingData,
    load_examples,
    store_model,
    write_registry,
)
from gosales_assets.lib.models import matplotlib_available, train_model
from gosales_assets.lib.models.card import metric_metadata
from gosales_assets.lib.store import column_schema, count_rows
from gosales_assets.lib.timeutil import window_end
from gosales_assets.partitions import Partitions, keys_by_dimension, training_plan
from gosales_assets.resources.store import DuckDBStoreResource

MODEL = "models.propensity_model"
REGISTRY = "models.registry"

# name -> (severity, description)
MODEL_CHECKS: dict[str, tuple[str, str]] = {
    "validated_out_of_time": (
        "ERROR",
        "the validation cutoff is newer than every fit cutoff of the evaluated model "
        "and its label window closed on or before the model cutoff",
    ),
    "features_match_catalog": (
        "ERROR",
        "the model's features are exactly the feature catalog's",
    ),
    "not_a_fallback": (
        "WARN",
        "a real model was trained (not the prior-rate fallback)",
    ),
}


def _model_checks(
    model: Any, cutoff: dt.date, months: int, names: list[str]
) -> list[CheckOutcome]:
    fit = list(model.evaluation_fit_cutoffs)
    oot = all(c < model.validation_cutoff for c in fit) and (
        window_end(model.validation_cutoff, months) <= cutoff
    )
    same = list(model.feature_names) == names
    meta = {
        "validation_cutoff": str(model.validation_cutoff),
        "evaluation_fit_cutoffs": ",".join(str(c) for c in fit),
        "fallback_reason": model.fallback_reason or "",
    }
    bad = {
        "validated_out_of_time": 0 if oot else 1,
        "features_match_catalog": 0 if same else 1,
        "not_a_fallback": 1 if model.is_fallback else 0,
    }
    return [
        CheckOutcome(
            MODEL,
            name,
            bad[name] == 0,
            sev,
            desc,  # type: ignore[arg-type]
            {"violations": bad[name], **meta},
        )
        for name, (sev, desc) in MODEL_CHECKS.items()
    ]


def _png_markdown(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f"![{path.stem}](data:image/png;base64,{data})"


def build_model_assets(
    cfg: GosalesConfig, parts: Partitions
) -> list[dg.AssetsDefinition]:
    key = asset_key(MODEL)
    # A model at C reads labels and features of several earlier cutoffs of the same
    # division; the exact partitions are in its metadata and models.training_set.
    mapping = dg.MultiPartitionMapping(
        {
            "cutoff": dg.DimensionPartitionMapping("cutoff", dg.AllPartitionMapping()),
            "division": dg.DimensionPartitionMapping(
                "division", dg.IdentityPartitionMapping()
            ),
        }
    )
    spec = dg.AssetSpec(
        key,
        description="Calibrated propensity model of the target: trained on the "
        "labelled partitions of earlier month-end cutoffs whose windows closed by C, "
        "validated out-of-time on the newest, refit on all with the chosen "
        "configuration. Artifact in $GOSALES_HOME/artifacts, row in models.registry, "
        "card in reports/models/.",
        group_name="models",
        owners=OWNERS,
        kinds={"xgboost", "scikitlearn", "duckdb"},
        partitions_def=parts.cutoff_division,
        deps=[
            dg.AssetDep(asset_key("labels.labels"), partition_mapping=mapping),
            dg.AssetDep(
                asset_key("features.feature_matrix"), partition_mapping=mapping
            ),
        ],
        skippable=True,
    )

    @dg.multi_asset(
        name="propensity_model",
        specs=[spec],
        check_specs=check_specs(MODEL, MODEL_CHECKS),
        partitions_def=parts.cutoff_division,
        can_subset=True,
        pool=POOL,
    )
    def propensity_model(context, store: DuckDBStoreResource) -> Iterator[Any]:
        dims = keys_by_dimension(parts.cutoff_division, context.partition_key)
        cutoff = dt.date.fromisoformat(dims["cutoff"])
        target = dims["division"]
        plan = training_plan(cfg, cutoff, target)
        names = [s.name for s in all_specs(cfg)]
        context.log.info(
            f"training cutoff={cutoff} target={target} on "
            f"{', '.join(map(str, plan))} (validation {plan[-1]})"
        )
        with store.store().connect() as con:
            try:
                examples = load_examples(con, target, plan, names)
            except MissingTrainingData as err:
                raise dg.Failure(description=str(err), allow_retries=False) from None
            rows_in = sum(
                count_rows(con, table, {"cutoff": c, "division": target})
                for table in ("labels.labels", "features.feature_matrix")
                for c in plan
            )
        model = train_model(examples, names, plan[-1], cfg.modeling_settings)
        outcomes = _model_checks(model, cutoff, cfg.window_months(target), names)
        yield from gate(context, outcomes)
        stored = store_model(
            ArtifactStore(cfg.artifacts_dir),
            cfg.paths.reports_dir,
            model,
            target,
            cutoff,
        )
        with store.store().transaction() as con:
            write_registry(
                con,
                cutoff,
                target,
                model,
                stored["version"],
                stored["artifact_dir"],
                cfg.paths.home,
            )
            schema = column_schema(con, REGISTRY)
        m = model.validation_metrics
        context.log.info(
            f"model cutoff={cutoff} target={target} version={stored['version']} "
            f"family={model.family} fallback={model.is_fallback} "
            f"oot_auc={m.get('auc')} oot_lift10={m.get('lift@10')}"
        )
        plots = "\n\n".join(_png_markdown(p) for p in stored["plots"].values())
        if not plots:
            plots = (
                "No plots: the validation cutoff had nothing to plot."
                if matplotlib_available()
                else "No plots: matplotlib is not installed."
            )
        yield dg.MaterializeResult(
            asset_key=key,
            metadata=table_metadata(
                REGISTRY,
                schema,
                1,
                {
                    "model_version": stored["version"],
                    "family": model.family,
                    "calibration": model.calibration,
                    "is_fallback": model.is_fallback,
                    "fallback_reason": model.fallback_reason or "",
                    "training_partitions": [f"{c}|{target}" for c in plan],
                    "validation_partition": f"{plan[-1]}|{target}",
                    **metric_metadata(m, model.is_fallback),
                    "artifact": str(stored["artifact_dir"]),
                    "model_card": dg.MetadataValue.md(
                        (stored["report_dir"] / "model_card.md").read_text()
                    ),
                    "plots": dg.MetadataValue.md(plots),
                    **{
                        f"{name}_plot": dg.MetadataValue.path(str(path))
                        for name, path in stored["plots"].items()
                    },
                },
                partitioned=True,
                rows_in=rows_in,
            ),
        )
        yield from selected_checks(context, outcomes)

    return [propensity_model]
