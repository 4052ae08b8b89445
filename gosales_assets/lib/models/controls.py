"""Negative controls: the same training on labels that carry no signal."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from gosales_assets.lib.models.settings import ModelingSettings
from gosales_assets.lib.models.train import train_model


def shuffle_labels_within_cutoff(examples: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Permute ``label`` (with its ``net_gp``) among the rows of each cutoff.

    Rows are put in canonical order (cutoff, customer_id) first, and the cutoffs are
    processed in ascending order with one ``numpy.random.default_rng(seed)``, so the
    result depends only on the data and the seed. Prevalence per cutoff is unchanged.
    """
    df = examples.sort(["cutoff", "customer_id"])
    moved = ["label"] + (["net_gp"] if "net_gp" in df.columns else [])
    rng = np.random.default_rng(seed)
    cut = df["cutoff"].to_numpy()
    perm = np.arange(df.height)
    for c in np.unique(cut):
        idx = np.flatnonzero(cut == c)
        perm[idx] = idx[rng.permutation(idx.size)]
    shuffled = df.select(moved)[perm]
    return df.with_columns([shuffled[c] for c in moved])


def shuffled_label_control(
    examples: pl.DataFrame,
    feature_names: Sequence[str],
    validation_cutoff: dt.date,
    settings: ModelingSettings | None = None,
    seed: int | None = None,
) -> float:
    """Validation AUC of the full training protocol on within-cutoff shuffled labels.

    A leakage-free pipeline gives about 0.5; clearly more means the features or the
    protocol see the label. nan when the shuffled training falls back (for example
    because every classifier is degenerate on noise).
    """
    s = settings or ModelingSettings()
    shuffled = shuffle_labels_within_cutoff(examples, s.seed if seed is None else seed)
    model = train_model(shuffled, feature_names, validation_cutoff, s)
    if model.is_fallback:
        return math.nan
    value = model.validation_metrics.get("auc", math.nan)
    return float(value) if value is not None else math.nan
