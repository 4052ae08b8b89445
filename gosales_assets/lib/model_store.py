"""Moving models between the trainer, the artifact folder and the DuckDB store.

- ``load_examples``: labels joined to the feature matrix for the exact training
  cutoffs of a model (refused, naming the missing partitions, when any is absent).
- ``models.registry`` ``(cutoff, division)``: the shipped model of each partition, its
  content-hash version, artifact path and out-of-time metrics.
- ``models.training_set`` ``(cutoff, division, training_cutoff)``: the lineage — which
  labelled partitions the model learned from and which one validated it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from gosales_assets.lib.artifacts import ArtifactStore
from gosales_assets.lib.models import (
    TrainedModel,
    card_markdown,
    deserialize,
    model_card,
    model_version,
    plot_calibration,
    plot_gains,
    serialize,
)
from gosales_assets.lib.store import replace_partition_frame

MODEL_KIND = "models"
MODEL_FILE = "model.bin"


class MissingTrainingData(LookupError):
    """A training cutoff's labels or features are not materialized."""


def _count(con: duckdb.DuckDBPyConnection, table: str, c: dt.date, t: str) -> int:
    try:
        row = con.execute(
            f"SELECT count(*) FROM {table} WHERE cutoff = ? AND division = ?", [c, t]
        ).fetchone()
    except duckdb.CatalogException:
        return 0
    return int(row[0]) if row else 0


def missing_partitions(
    con: duckdb.DuckDBPyConnection, target: str, cutoffs: Sequence[dt.date]
) -> list[str]:
    """``asset[cutoff|target]`` names of the training inputs that do not exist yet."""
    out = []
    for c in cutoffs:
        for table, asset in (
            ("labels.labels", "labels/labels"),
            ("features.feature_matrix", "features/feature_matrix"),
        ):
            if _count(con, table, c, target) == 0:
                out.append(f"{asset}[{c}|{target}]")
    return out


def load_examples(
    con: duckdb.DuckDBPyConnection,
    target: str,
    cutoffs: Sequence[dt.date],
    feature_names: Sequence[str],
) -> pl.DataFrame:
    """Labelled examples of ``target`` at ``cutoffs``: cutoff, customer_id, label,
    net_gp and the feature columns (labels' population; features by customer)."""
    missing = missing_partitions(con, target, cutoffs)
    if missing:
        raise MissingTrainingData(
            "training data is not materialized: "
            + ", ".join(missing)
            + ". Materialize those partitions (gosales run does it for you)."
        )
    cols = ", ".join(f'f."{n}"' for n in feature_names)
    return con.execute(
        f"""
        SELECT l.cutoff, l.customer_id, l.label, l.net_gp, {cols}
        FROM labels.labels l
        JOIN features.feature_matrix f
          ON f.cutoff = l.cutoff AND f.division = l.division
         AND f.customer_id = l.customer_id
        WHERE l.division = ? AND list_contains(?, l.cutoff)
        ORDER BY l.cutoff, l.customer_id
        """,
        [target, list(cutoffs)],
    ).pl()


def store_model(
    artifacts: ArtifactStore,
    reports_dir: Path,
    model: TrainedModel,
    target: str,
    cutoff: dt.date,
) -> dict[str, Any]:
    """Write the model and its card to the artifact folder, and the card with its
    plots to ``reports/models/``. Returns version, paths and the card."""
    blob = serialize(model)
    version = model_version(model)
    card = model_card(model, target, cutoff)
    card["model_version"] = version
    card_json = json.dumps(card, indent=2, sort_keys=True, default=str).encode()
    card_md = card_markdown(card).encode()
    folder = artifacts.put(
        MODEL_KIND,
        target,
        version,
        {MODEL_FILE: blob, "card.json": card_json, "card.md": card_md},
    )
    report = reports_dir / "models" / folder.parent.name / cutoff.isoformat()
    report.mkdir(parents=True, exist_ok=True)
    (report / "model_card.json").write_bytes(card_json)
    (report / "model_card.md").write_bytes(card_md)
    plots = {
        "gains": plot_gains(card, report / "gains.png"),
        "calibration": plot_calibration(card, report / "calibration.png"),
    }
    return {
        "version": version,
        "artifact_dir": folder,
        "report_dir": report,
        "card": card,
        "plots": {k: v for k, v in plots.items() if v is not None},
    }


def load_model(
    artifacts: ArtifactStore, target: str, version: str, nthread: int = 1
) -> TrainedModel:
    """A stored model; its trees score and explain with ``nthread`` threads."""
    return deserialize(
        artifacts.get(MODEL_KIND, target, version, MODEL_FILE), nthread=nthread
    )


REGISTRY_METRICS = (
    "auc",
    "pr_auc",
    "brier",
    "lift@5",
    "lift@10",
    "lift@20",
    "gp_weighted_lift@10",
    "calibration_mae",
)


def write_registry(
    con: duckdb.DuckDBPyConnection,
    cutoff: dt.date,
    target: str,
    model: TrainedModel,
    version: str,
    artifact_dir: Path,
    home: Path,
) -> None:
    part = {"cutoff": cutoff, "division": target}
    metrics = model.validation_metrics
    row: dict[str, Any] = {
        "cutoff": cutoff,
        "division": target,
        "model_version": version,
        "family": model.family,
        "params": json.dumps(model.params, sort_keys=True, default=str),
        "calibration": model.calibration,
        "is_fallback": model.is_fallback,
        "fallback_reason": model.fallback_reason,
        "validation_cutoff": model.validation_cutoff,
        "training_cutoffs": ",".join(str(c) for c in model.training_cutoffs),
        "n_features": len(model.feature_names),
        "artifact_path": str(artifact_dir.relative_to(home)),
        "seed": model.seed,
    }
    for name in REGISTRY_METRICS:
        value = metrics.get(name)
        row[f"oot_{name.replace('@', '_at_')}"] = (
            float(value) if value is not None else None
        )
    frame = pl.DataFrame(
        [row],
        schema_overrides={
            "fallback_reason": pl.String,
            **{f"oot_{n.replace('@', '_at_')}": pl.Float64 for n in REGISTRY_METRICS},
        },
    )
    replace_partition_frame(
        con, "models.registry", frame, partition=part, order_by=("cutoff", "division")
    )
    counts = model.counts.rename({"cutoff": "training_cutoff"}).select(
        pl.lit(cutoff, dtype=pl.Date).alias("cutoff"),
        pl.lit(target).alias("division"),
        pl.all(),
    )
    replace_partition_frame(
        con,
        "models.training_set",
        counts,
        partition=part,
        order_by=("cutoff", "division", "training_cutoff", "role"),
    )


def registry_row(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date, target: str
) -> dict[str, Any] | None:
    try:
        frame = con.execute(
            "SELECT * FROM models.registry WHERE cutoff = ? AND division = ?",
            [cutoff, target],
        ).pl()
    except duckdb.CatalogException:
        return None
    return frame.row(0, named=True) if frame.height else None
