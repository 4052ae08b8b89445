"""Jobs: one per layer and partitions definition (a Dagster job runs one partition of
one partitions definition). ``gosales run``, the schedules and the sensors of this
folder launch them by name (plans in lib/automation.py refer to these names)."""

from __future__ import annotations

import dagster as dg

# The asset selection of every asset job, by job name.
SELECTIONS: dict[str, dg.AssetSelection] = {
    "ingest_job": dg.AssetSelection.groups("raw"),
    "star_job": dg.AssetSelection.groups("star"),
    "labels_job": dg.AssetSelection.groups("labels"),
    "features_base_job": dg.AssetSelection.assets(
        ["features", "feature_catalog"],
        ["features", "customer_base"],
        ["features", "als_embeddings"],
    ),
    "feature_matrix_job": dg.AssetSelection.assets(["features", "feature_matrix"]),
    "model_job": dg.AssetSelection.groups("models"),
    "scoring_job": dg.AssetSelection.assets(
        ["scoring", "icp_scores"], ["scoring", "whitespace"]
    ),
    "whitespace_accounts_job": dg.AssetSelection.assets(
        ["scoring", "whitespace_accounts"]
    ),
    # the nightly work of one (cutoff, division) whose model is already trained, in
    # one run: one run's overhead instead of three (feature matrix, scoring, drift)
    "division_nightly_job": dg.AssetSelection.assets(
        ["features", "feature_matrix"],
        ["scoring", "icp_scores"],
        ["scoring", "whitespace"],
        ["monitoring", "drift"],
    ),
}

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=SELECTIONS["ingest_job"],
    description="Read, validate and store the raw folder.",
)

star_job = dg.define_asset_job(
    "star_job",
    selection=SELECTIONS["star_job"],
    description="Build the star schema as of one cutoff.",
)

labels_job = dg.define_asset_job(
    "labels_job",
    selection=SELECTIONS["labels_job"],
    description="Labels for one (cutoff, division) once its window is complete.",
)

features_base_job = dg.define_asset_job(
    "features_base_job",
    selection=SELECTIONS["features_base_job"],
    description="Per-cutoff features: catalog, customer base, ALS embeddings.",
)

feature_matrix_job = dg.define_asset_job(
    "feature_matrix_job",
    selection=SELECTIONS["feature_matrix_job"],
    description="The feature matrix of one (cutoff, division).",
)

model_job = dg.define_asset_job(
    "model_job",
    selection=SELECTIONS["model_job"],
    description="Train the calibrated model of one (cutoff, division).",
)

scoring_job = dg.define_asset_job(
    "scoring_job",
    selection=SELECTIONS["scoring_job"],
    description="ICP scores and the whitespace list of one (cutoff, division).",
)

whitespace_accounts_job = dg.define_asset_job(
    "whitespace_accounts_job",
    selection=SELECTIONS["whitespace_accounts_job"],
    description="The cross-division whitespace list of one cutoff, and its export.",
)

division_nightly_job = dg.define_asset_job(
    "division_nightly_job",
    selection=SELECTIONS["division_nightly_job"],
    description="The nightly work of one (cutoff, division) with its model already "
    "trained: the feature matrix, ICP scores, the whitespace list and drift "
    "monitoring, in one run.",
)
