"""Input checks and array preparation for training (``examples`` -> numpy)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from gosales_assets.lib.models.model import feature_matrix
from gosales_assets.lib.models.settings import ModelingSettings
from gosales_assets.lib.timeutil import training_cutoffs as timeutil_training_cutoffs

KEY_COLUMNS = ("cutoff", "customer_id", "label")
COUNTS_SCHEMA = {
    "cutoff": pl.Date,
    "role": pl.String,
    "rows": pl.Int64,
    "positives": pl.Int64,
    "prevalence": pl.Float64,
    "net_gp_positives": pl.Float64,
}


@dataclass(frozen=True)
class TrainingData:
    """Examples as arrays in canonical row order (cutoff, customer_id); ``X`` is
    float32 (XGBoost's precision; half the memory of float64)."""

    X: np.ndarray
    y: np.ndarray
    gp: np.ndarray | None
    cutoff: np.ndarray  # datetime.date objects
    customer: np.ndarray  # str
    validation_cutoff: dt.date

    @property
    def valid_mask(self) -> np.ndarray:
        return self.cutoff == self.validation_cutoff

    @property
    def train_mask(self) -> np.ndarray:
        return ~self.valid_mask

    def cutoffs(self, mask: np.ndarray) -> tuple[dt.date, ...]:
        return tuple(sorted(set(self.cutoff[mask].tolist())))


def prepare(
    examples: pl.DataFrame, feature_names: Sequence[str], validation_cutoff: dt.date
) -> TrainingData:
    """Check the contract of ``examples`` and convert it to arrays.

    Raises ``ValueError`` only for inputs that break the contract: missing columns,
    null or non-0/1 labels, duplicate ``(cutoff, customer_id)``, a cutoff after the
    validation cutoff (that would be leakage), null/NaN/infinite features.
    """
    missing = [c for c in KEY_COLUMNS if c not in examples.columns]
    if missing:
        raise ValueError(f"examples lack column(s) {missing}")
    overlap = set(feature_names) & {*KEY_COLUMNS, "net_gp"}
    if overlap:
        raise ValueError(
            f"key or outcome column(s) used as features: {sorted(overlap)}"
        )
    if len(set(feature_names)) != len(feature_names):
        raise ValueError("feature_names contains duplicates")
    df = examples.with_columns(
        pl.col("cutoff").cast(pl.Date), pl.col("customer_id").cast(pl.String)
    ).sort(["cutoff", "customer_id"])
    if df["label"].null_count():
        raise ValueError("label has null values")
    labels = df["label"].cast(pl.Float64).to_numpy()
    if labels.size and not np.all((labels == 0) | (labels == 1)):
        raise ValueError("label must be 0 or 1")
    if df.select(pl.struct("cutoff", "customer_id").is_duplicated().any()).item():
        raise ValueError("duplicate (cutoff, customer_id) rows in examples")
    late = df.filter(pl.col("cutoff") > validation_cutoff)
    if late.height:
        raise ValueError(
            "examples contain cutoffs after the validation cutoff "
            f"{validation_cutoff}: "
            f"{sorted(set(late['cutoff'].to_list()))[:3]}"
        )
    gp = None
    if "net_gp" in df.columns:
        gp = df["net_gp"].cast(pl.Float64).fill_null(0.0).fill_nan(0.0).to_numpy()
    return TrainingData(
        X=feature_matrix(df, list(feature_names), np.float32),
        y=labels.astype(np.float64),
        gp=None if gp is None else np.asarray(gp, dtype=np.float64),
        cutoff=np.asarray(df["cutoff"].to_list(), dtype=object),
        customer=np.asarray(df["customer_id"].to_list(), dtype=object),
        validation_cutoff=validation_cutoff,
    )


def counts_frame(data: TrainingData) -> pl.DataFrame:
    rows = []
    for c in data.cutoffs(np.ones(data.y.size, dtype=bool)):
        m = data.cutoff == c
        n = int(m.sum())
        pos = int(data.y[m].sum())
        gp = None
        if data.gp is not None:
            gp = float(np.clip(data.gp[m], 0, None)[data.y[m] == 1].sum())
        rows.append(
            {
                "cutoff": c,
                "role": "validation" if c == data.validation_cutoff else "train",
                "rows": n,
                "positives": pos,
                "prevalence": pos / n if n else None,
                "net_gp_positives": gp,
            }
        )
    return pl.DataFrame(rows, schema=COUNTS_SCHEMA)


def training_cutoffs(
    cutoff: dt.date, window_months: int, settings: ModelingSettings
) -> list[dt.date]:
    """Month-end training cutoffs for a model at ``cutoff``, oldest first: the one
    window arithmetic of :func:`gosales_assets.lib.timeutil.training_cutoffs` with
    the count and spacing of ``settings``."""
    return timeutil_training_cutoffs(
        cutoff,
        window_months,
        settings.training_cutoff_count,
        settings.training_cutoff_spacing_months,
    )
