"""What training reports besides the fitted model: the metric set, the guardrails,
the selection table and the prior-rate fallback model (docs/metrics.md)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from gosales_assets.lib.models import metrics as mx
from gosales_assets.lib.models.data import TrainingData, counts_frame
from gosales_assets.lib.models.importance import empty_importance
from gosales_assets.lib.models.model import PriorRateModel, TrainedModel, smoothed_rate
from gosales_assets.lib.models.settings import ModelingSettings, k_label

log = logging.getLogger("gosales.models")

PROTOCOL_NOTE = (
    "Reported metrics are out-of-time: the selected configuration was fit on the "
    "training cutoffs only and scored on the validation cutoff. The shipped model is "
    "the same configuration refit on all cutoffs (training + validation). Validation "
    "labels are used for xgboost early stopping and for selection, never for "
    "fitting or choosing a calibrator."
)


def metric_set(
    y: np.ndarray, p: np.ndarray, gp: np.ndarray | None, s: ModelingSettings
) -> dict[str, float]:
    return mx.evaluate(
        y,
        p,
        gp,
        top_k_percents=s.top_k_percents,
        gp_k_percent=s.gp_lift_k_percent,
        n_bins=s.calibration_bins,
        extra=(s.selection_metric, s.selection_tie_break),
    )


def guard(data: TrainingData, names: Sequence[str], s: ModelingSettings) -> str | None:
    """Reason to fall back before fitting anything, or None."""
    t, v = data.train_mask, data.valid_mask
    yt, yv = data.y[t], data.y[v]
    if not names:
        return "no_features: the feature list is empty"
    if not v.any():
        return (
            "no_validation_rows: no example at the validation cutoff "
            f"{data.validation_cutoff}"
        )
    if not t.any():
        return "no_training_cutoffs: only the validation cutoff has examples"
    if yt.sum() == 0:
        return "no_training_positives: the training cutoffs have no positive"
    if yt.sum() < s.min_positives_train:
        return f"too_few_training_positives: {int(yt.sum())} < {s.min_positives_train}"
    if yt.sum() == yt.size:
        return "no_training_negatives: every training example is positive"
    if yv.sum() == 0:
        return "no_validation_positives: the validation cutoff has no positive"
    if yv.sum() < s.min_positives_validation:
        return (
            f"too_few_validation_positives: {int(yv.sum())} < "
            f"{s.min_positives_validation}"
        )
    if yv.sum() == yv.size:
        return "no_validation_negatives: every validation example is positive"
    return None


def selection_frame(rows: list[dict[str, Any]], selected: int | None) -> pl.DataFrame:
    fixed: dict[str, pl.DataType] = {
        "family": pl.String(),
        "params": pl.String(),
        "status": pl.String(),
        "note": pl.String(),
        "best_iteration": pl.Int64(),
        "converged": pl.Boolean(),
        "calibration": pl.String(),
        "calibration_reason": pl.String(),
        "cv_brier_platt": pl.Float64(),
        "cv_brier_isotonic": pl.Float64(),
    }
    metric_cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in fixed and k not in metric_cols:
                metric_cols.append(k)
    plain = [c for c in metric_cols if not c.startswith("raw_")]
    raw = [c for c in metric_cols if c.startswith("raw_")]
    schema = {
        **fixed,
        **dict.fromkeys(plain + raw, pl.Float64()),
        "selected": pl.Boolean(),
    }
    data = []
    for i, r in enumerate(rows):
        rec = {k: r.get(k) for k in schema if k != "selected"}
        for k in plain + raw:
            v = rec[k]
            rec[k] = None if v is None or not math.isfinite(float(v)) else float(v)
        rec["selected"] = i == selected
        data.append(rec)
    return pl.DataFrame(data, schema=schema)


def base_kwargs(
    data: TrainingData, names: Sequence[str], s: ModelingSettings
) -> dict[str, Any]:
    t = data.train_mask
    return {
        "feature_names": tuple(names),
        "training_cutoffs": data.cutoffs(t),
        "validation_cutoff": data.validation_cutoff,
        "evaluation_fit_cutoffs": data.cutoffs(t),
        "evaluation_fit_rows": int(t.sum()),
        "counts": counts_frame(data),
        "selection_metric": s.selection_metric,
        "selection_tie_break": s.selection_tie_break,
        "seed": s.seed,
        "settings": s.to_dict(),
    }


def fallback_model(
    data: TrainingData,
    names: Sequence[str],
    s: ModelingSettings,
    reason: str,
    rows: list[dict[str, Any]] | None,
    timings: dict[str, float],
) -> TrainedModel:
    """The prior-rate model: smoothed prevalence of the training cutoffs, evaluated
    on the validation cutoff; shipped with the prevalence of all cutoffs."""
    log.warning("modeling fallback: %s", reason)
    t, v = data.train_mask, data.valid_mask
    a = s.prior_pseudo_count
    prior_train = smoothed_rate(int(data.y[t].sum()), int(t.sum()), a)
    prior_all = smoothed_rate(int(data.y.sum()), int(data.y.size), a)
    metrics: dict[str, float] = {}
    gains = mx.gains_by_decile([], [])
    bins = mx.calibration_bins([], [], s.calibration_bins)
    if v.any() and t.any():
        pv = np.full(int(v.sum()), prior_train)
        gpv = None if data.gp is None else data.gp[v]
        metrics = metric_set(data.y[v], pv, gpv, s)
        gains = mx.gains_by_decile(data.y[v], pv, gpv)
        bins = mx.calibration_bins(data.y[v], pv, s.calibration_bins)
    return TrainedModel(
        **base_kwargs(data, names, s),
        family="prior_rate",
        params={"rate": prior_all, "pseudo_count": a},
        calibration="none",
        calibration_reason="fallback model (constant prior rate)",
        is_fallback=True,
        fallback_reason=reason,
        calibration_fit_rows=0,
        shipped_fit_cutoffs=data.cutoffs(np.ones(data.y.size, dtype=bool)),
        shipped_fit_rows=int(data.y.size),
        validation_metrics=metrics,
        gains=gains,
        calibration_bins=bins,
        thresholds={k_label(k): prior_all for k in s.top_k_percents},
        selection_table=selection_frame(rows or [], None),
        shap_importance=empty_importance(),
        importance_method="none (fallback model)",
        notes=(
            PROTOCOL_NOTE,
            f"Fallback: {reason}. Validation metrics are those of the training-cutoff "
            f"prior ({prior_train:.6g}); ranking metrics are undefined for a "
            "constant score.",
        ),
        scorer=PriorRateModel(prior_all),
        timings=timings,
    )
