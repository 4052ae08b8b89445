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
