"""Jobs: ingestion (unpartitioned raw layer) and the per-cutoff star schema."""

from __future__ import annotations

import dagster as dg

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.groups("raw"),
    description="Read, validate and store the raw folder.",
)

star_job = dg.define_asset_job(
    "star_job",
    selection=dg.AssetSelection.groups("star"),
    description="Build the star schema as of one cutoff.",
)

labels_job = dg.define_asset_job(
    "labels_job",
    selection=dg.AssetSelection.groups("labels"),
    description="Labels for one (cutoff, division) once its window is complete.",
)

features_base_job = dg.define_asset_job(
    "features_base_job",
    selection=dg.AssetSelection.assets(
        ["features", "feature_catalog"],
        ["features", "customer_base"],
        ["features", "als_embeddings"],
    ),
    description="Per-cutoff features: catalog, customer base, ALS embeddings.",
)

feature_matrix_job = dg.define_asset_job(
    "feature_matrix_job",
    selection=dg.AssetSelection.assets(["features", "feature_matrix"]),
    description="The feature matrix of one (cutoff, division).",
)

model_job = dg.define_asset_job(
    "model_job",
    selection=dg.AssetSelection.groups("models"),
    description="Train the calibrated model of one (cutoff, division).",
)

scoring_job = dg.define_asset_job(
    "scoring_job",
    selection=dg.AssetSelection.assets(
        ["scoring", "icp_scores"], ["scoring", "whitespace"]
    ),
    description="ICP scores and the whitespace list of one (cutoff, division).",
)

whitespace_accounts_job = dg.define_asset_job(
    "whitespace_accounts_job",
    selection=dg.AssetSelection.assets(["scoring", "whitespace_accounts"]),
    description="The cross-division whitespace list of one cutoff, and its export.",
)
