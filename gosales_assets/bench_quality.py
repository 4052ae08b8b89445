"""Model quality in the benchmark: each target's out-of-time metrics next to the
planted ground truth's (the sample data's oracle) on the same validation labels, and
their ratios (model / oracle; null when either is unknown)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from gosales_assets.config import GosalesConfig


def model_quality(cfg: GosalesConfig, ground_truth: Path) -> list[dict[str, Any]]:
    """Each target's out-of-time AUC and lift@10 next to the planted ground truth's
    (the oracle p_true scored on the same validation labels)."""
    import polars as pl

    from gosales_assets.lib.models.metrics import auc, lift_at_k
    from gosales_assets.lib.store import Store

    store = Store.from_config(cfg)
    reg = store.query(
        "SELECT r.division, r.validation_cutoff, r.oot_auc, r.oot_lift_at_10, "
        "r.is_fallback, t.positives FROM models.registry r "
        "JOIN models.training_set t ON t.cutoff = r.cutoff "
        "AND t.division = r.division AND t.role = 'validation' ORDER BY r.division"
    )
    truth = pl.read_parquet(ground_truth) if ground_truth.exists() else None
    out: list[dict[str, Any]] = []
    for row in reg.iter_rows(named=True):
        entry: dict[str, Any] = {
            "oracle_auc": None,
            "oracle_lift10": None,
            "auc_ratio": None,
            "lift10_ratio": None,
            "target": row["division"],
            "validation_cutoff": str(row["validation_cutoff"]),
            "validation_positives": row["positives"],
            "model_auc": row["oot_auc"],
            "model_lift10": row["oot_lift_at_10"],
            "is_fallback": row["is_fallback"],
        }
        if truth is not None:
            labels = store.query(
                "SELECT customer_id, label FROM labels.labels "
                "WHERE cutoff = ? AND division = ?",
                [row["validation_cutoff"], row["division"]],
            )
            joined = labels.join(
                truth.filter(
                    (pl.col("cutoff") == row["validation_cutoff"])
                    & (pl.col("target") == row["division"])
                ).select("customer_id", "p_true"),
                on="customer_id",
                how="inner",
            )
            if joined.height and joined["label"].n_unique() == 2:
                y = joined["label"].to_numpy()
                p = joined["p_true"].to_numpy()
                entry["oracle_auc"] = float(auc(y, p))
                entry["oracle_lift10"] = float(lift_at_k(y, p, 10))
                entry["auc_ratio"] = _ratio(row["oot_auc"], entry["oracle_auc"])
                entry["lift10_ratio"] = _ratio(
                    row["oot_lift_at_10"], entry["oracle_lift10"]
                )
        out.append(entry)
    return out


def _ratio(model: float | None, oracle: float | None) -> float | None:
    if model is None or oracle is None or not oracle or math.isnan(model):
        return None
    return round(float(model) / float(oracle), 4)
