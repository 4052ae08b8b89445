"""Modeling: metrics, training with out-of-time validation, calibration, model cards.

Public API::

    settings = ModelingSettings.from_dict({...})       # or ModelingSettings()
    model = train_model(examples, feature_names, validation_cutoff, settings)
    p = model.predict_proba(features)                  # calibrated probabilities
    reasons = model.explain(features, top_n=3)         # per-row top contributions
    blob = serialize(model); model_version(model); deserialize(blob)
    card = model_card(model, target, cutoff); card_markdown(card)
    shuffled_label_control(examples, feature_names, validation_cutoff, settings, seed)

Pure logic (numpy, polars, scikit-learn, xgboost, shap); no Dagster import. Every
reported metric is out-of-time; see docs/metrics.md.
"""

from __future__ import annotations

from gosales_assets.lib.models.card import (
    card_markdown,
    matplotlib_available,
    model_card,
    plot_calibration,
    plot_gains,
)
from gosales_assets.lib.models.controls import (
    shuffle_labels_within_cutoff,
    shuffled_label_control,
)
from gosales_assets.lib.models.data import training_cutoffs
from gosales_assets.lib.models.model import (
    PriorRateModel,
    TrainedModel,
    deserialize,
    model_version,
    serialize,
)
from gosales_assets.lib.models.selection import select_configuration
from gosales_assets.lib.models.settings import ModelingSettings
from gosales_assets.lib.models.train import train_model

__all__ = [
    "ModelingSettings",
    "PriorRateModel",
    "TrainedModel",
    "card_markdown",
    "deserialize",
    "matplotlib_available",
    "model_card",
    "model_version",
    "plot_calibration",
    "plot_gains",
    "select_configuration",
    "serialize",
    "shuffle_labels_within_cutoff",
    "shuffled_label_control",
    "train_model",
    "training_cutoffs",
]
