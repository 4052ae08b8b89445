"""Training: grid x families, out-of-time validation, cross-fitted calibration,
selection, refit of the selected configuration on every cutoff, guardrails.

The protocol (docs/metrics.md) in one paragraph: the newest cutoff of ``examples`` is
the validation cutoff, the others are the training cutoffs. Every grid point is fit on
the training cutoffs (xgboost early-stops on the validation cutoff), its calibrator is
chosen and fitted on out-of-fold scores of the training cutoffs (folds grouped by
customer), and its calibrated probabilities are scored on the validation cutoff. The
best point by ``selection_metric`` (Brier tie-break) is refit, with the same
hyper-parameters, number of trees and calibration method, on all cutoffs: that is the
shipped model; the reported metrics are the validation metrics of the same
configuration fit without the validation cutoff.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from gosales_assets.lib.models import metrics as mx
from gosales_assets.lib.models.calibration import (
    IDENTITY,
    CalibrationChoice,
    choose_calibrator,
    group_folds,
)
from gosales_assets.lib.models.data import TrainingData, counts_frame, prepare
from gosales_assets.lib.models.families import Dataset, FitResult, fit_family, grid
from gosales_assets.lib.models.importance import (
    empty_importance,
    global_importance,
    sample_rows,
)
from gosales_assets.lib.models.model import PriorRateModel, TrainedModel, smoothed_rate
from gosales_assets.lib.models.selection import select_configuration
from gosales_assets.lib.models.settings import ModelingSettings, k_label

log = logging.getLogger("gosales.models")

PROTOCOL_NOTE = (
    "Reported metrics are out-of-time: the selected configuration was fit on the "
    "training cutoffs only and scored on the validation cutoff. The shipped model is "
    "the same configuration refit on all cutoffs (training + validation). Validation "
    "labels are used for xgboost early stopping and for selection, never for "
    "fitting or choosing a calibrator."
)


@dataclass
class _Candidate:
    fit: FitResult
    choice: CalibrationChoice
    calibrated_valid: np.ndarray


def _metrics(
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


def _fold_sets(
    base: Dataset, folds: np.ndarray
) -> list[tuple[Dataset, np.ndarray]] | None:
    """(fold-train dataset, fold-test mask) per fold; None if any fold is unusable."""
    out = []
    for f in np.unique(folds):
        test = folds == f
        yt = base.y[~test]
        if not test.any() or yt.size == 0 or yt.min() == yt.max():
            return None
        out.append((Dataset(base.X[~test], yt), test))
    return out


def _oof_scores(
    family: str,
    params: dict[str, Any],
    n_rounds: int | None,
    base: Dataset,
    fold_sets: list[tuple[Dataset, np.ndarray]],
    s: ModelingSettings,
) -> np.ndarray:
    oof = np.empty(base.y.size, dtype=np.float64)
    for ds, test in fold_sets:
        fit = fit_family(family, params, ds, s, n_rounds=n_rounds)
        oof[test] = fit.scorer.raw(base.X[test])
    return oof


def _calibrate(
    family: str,
    params: dict[str, Any],
    n_rounds: int | None,
    base: Dataset,
    folds: np.ndarray,
    fold_sets: list[tuple[Dataset, np.ndarray]] | None,
    s: ModelingSettings,
    force: str | None = None,
) -> CalibrationChoice:
    n, pos = int(base.y.size), int(base.y.sum())
    if fold_sets is None:
        return CalibrationChoice(
            IDENTITY, "cross-fit impossible (a fold has one class)", {}, n, pos
        )
    oof = _oof_scores(family, params, n_rounds, base, fold_sets, s)
    return choose_calibrator(
        oof,
        base.y,
        folds,
        s.calibration_methods,
        s.isotonic_min_positives,
        s.selection_tie_tolerance,
        force=force,
    )


def _guard(data: TrainingData, names: Sequence[str], s: ModelingSettings) -> str | None:
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


def _row(family: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "family": family,
        "params": json.dumps(params, sort_keys=True),
        "status": "ok",
        "note": "",
        "best_iteration": None,
        "converged": None,
        "calibration": None,
        "calibration_reason": None,
        "cv_brier_platt": None,
        "cv_brier_isotonic": None,
    }


def _evaluate_point(
    family: str,
    params: dict[str, Any],
    train: Dataset,
    valid: Dataset,
    gp_valid: np.ndarray | None,
    folds: np.ndarray,
    fold_sets: list[tuple[Dataset, np.ndarray]] | None,
    s: ModelingSettings,
) -> tuple[dict[str, Any], _Candidate | None]:
    row = _row(family, params)
    try:
        fit = fit_family(family, params, train, s, valid=valid)
        row["best_iteration"] = fit.best_iteration
        row["converged"] = fit.converged
        row["note"] = fit.note
        raw_v = fit.scorer.raw(valid.X)
        if not np.all(np.isfinite(raw_v)):
            row.update(status="degenerate", note="non-finite validation scores")
            return row, None
        raw_m = _metrics(valid.y, raw_v, gp_valid, s)
        row.update({f"raw_{k}": v for k, v in raw_m.items()})
        std = float(raw_v.std())
        if std < s.degenerate_std or not math.isfinite(raw_m["auc"]):
            row.update(
                status="degenerate",
                note=f"validation score std {std:.3g} < {s.degenerate_std:g} "
                "or AUC undefined",
            )
            return row, None
        n_rounds = None if fit.best_iteration is None else fit.best_iteration + 1
        choice = _calibrate(family, params, n_rounds, train, folds, fold_sets, s)
        row["calibration"] = choice.calibrator.method
        row["calibration_reason"] = choice.reason
        row["cv_brier_platt"] = choice.cv_brier.get("platt")
        row["cv_brier_isotonic"] = choice.cv_brier.get("isotonic")
        cal_v = choice.calibrator.transform(raw_v)
        row.update(_metrics(valid.y, cal_v, gp_valid, s))
        return row, _Candidate(fit, choice, cal_v)
    except Exception as err:  # recorded in the selection table
        log.warning("grid point %s %s failed: %s", family, params, err)
        row.update(status="error", note=f"{type(err).__name__}: {err}")
        return row, None


def _selection_frame(rows: list[dict[str, Any]], selected: int | None) -> pl.DataFrame:
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


def _base_kwargs(
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


def _fallback(
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
        metrics = _metrics(data.y[v], pv, gpv, s)
        gains = mx.gains_by_decile(data.y[v], pv, gpv)
        bins = mx.calibration_bins(data.y[v], pv, s.calibration_bins)
    return TrainedModel(
        **_base_kwargs(data, names, s),
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
        selection_table=_selection_frame(rows or [], None),
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


def train_model(
    examples: pl.DataFrame,
    feature_names: Sequence[str],
    validation_cutoff: dt.date,
    settings: ModelingSettings | None = None,
) -> TrainedModel:
    """Train, validate out-of-time, select, calibrate and refit (module docstring)."""
    s = settings or ModelingSettings()
    names = list(feature_names)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    data = prepare(examples, names, validation_cutoff)
    timings["prepare_s"] = time.perf_counter() - start
    reason = _guard(data, names, s)
    if reason is not None:
        return _fallback(data, names, s, reason, None, timings)

    t, v = data.train_mask, data.valid_mask
    train, valid = Dataset(data.X[t], data.y[t]), Dataset(data.X[v], data.y[v])
    gp_valid = None if data.gp is None else data.gp[v]
    folds = group_folds(data.customer[t], s.calibration_folds, s.seed)
    fold_sets = _fold_sets(train, folds)
    rows: list[dict[str, Any]] = []
    cands: list[_Candidate | None] = []
    for family, params in grid(s):
        t0 = time.perf_counter()
        row, cand = _evaluate_point(
            family, params, train, valid, gp_valid, folds, fold_sets, s
        )
        timings[f"grid:{family}:{row['params']}_s"] = time.perf_counter() - t0
        log.info(
            "grid %s %s: %s %s=%s brier=%s",
            family,
            row["params"],
            row["status"],
            s.selection_metric,
            row.get(s.selection_metric),
            row.get("brier"),
        )
        rows.append(row)
        cands.append(cand)
    del fold_sets
    chosen = select_configuration(
        rows, s.selection_metric, s.selection_tie_break, s.selection_tie_tolerance
    )
    if chosen is None:
        statuses = sorted({r["status"] for r in rows})
        code = (
            "degenerate_classifier" if statuses == ["degenerate"] else "no_usable_fit"
        )
        detail = "; ".join(sorted({r["note"] for r in rows if r["note"]}))[:500]
        return _fallback(data, names, s, f"{code}: {detail}", rows, timings)
    cand = cands[chosen]
    assert cand is not None
    family, params = rows[chosen]["family"], json.loads(rows[chosen]["params"])
    n_rounds = None if cand.fit.best_iteration is None else cand.fit.best_iteration + 1
    if n_rounds is not None:
        params = {**params, "n_estimators": n_rounds}
    y_v, cal_v = data.y[v], cand.calibrated_valid
    validation_metrics = _metrics(y_v, cal_v, gp_valid, s)

    # refit the selected configuration on every cutoff: the shipped model
    t0 = time.perf_counter()
    try:
        full = Dataset(data.X, data.y)
        shipped = fit_family(family, params, full, s, n_rounds=n_rounds)
        folds_all = group_folds(data.customer, s.calibration_folds, s.seed)
        shipped_choice = _calibrate(
            family,
            params,
            n_rounds,
            full,
            folds_all,
            _fold_sets(full, folds_all),
            s,
            force=cand.choice.calibrator.method,
        )
        p_ship = shipped_choice.calibrator.transform(shipped.scorer.raw(valid.X))
        if not np.all(np.isfinite(p_ship)) or float(p_ship.std()) < s.degenerate_std:
            raise ValueError("shipped model scores are constant or non-finite")
    except Exception as err:  # fall back, never ship garbage
        return _fallback(
            data,
            names,
            s,
            f"shipped_refit_failed: {type(err).__name__}: {err}",
            rows,
            timings,
        )
    timings["refit_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sample = sample_rows(valid.X.shape[0], s.shap_sample, s.seed)
    importance, method = global_importance(
        shipped.scorer, valid.X[sample], names, s.seed
    )
    timings["importance_s"] = time.perf_counter() - t0
    thresholds = mx.top_k_thresholds(p_ship, s.top_k_percents)
    notes = [PROTOCOL_NOTE]
    if n_rounds is not None:
        notes.append(
            f"xgboost shipped with n_estimators = best_iteration + 1 = {n_rounds} "
            "(early stopping on the validation cutoff)."
        )
    if shipped.note:
        notes.append(f"shipped fit: {shipped.note}")
    notes.append(
        "Top-K thresholds are score quantiles of the shipped model on the validation "
        "cutoff's rows (no label used)."
    )
    timings["total_s"] = time.perf_counter() - start
    return TrainedModel(
        **_base_kwargs(data, names, s),
        family=family,
        params=params,
        calibration=shipped_choice.calibrator.method,
        calibration_reason=cand.choice.reason,
        is_fallback=False,
        fallback_reason=None,
        calibration_fit_rows=cand.choice.rows,
        shipped_fit_cutoffs=data.cutoffs(np.ones(data.y.size, dtype=bool)),
        shipped_fit_rows=int(data.y.size),
        validation_metrics=validation_metrics,
        gains=mx.gains_by_decile(y_v, cal_v, gp_valid),
        calibration_bins=mx.calibration_bins(y_v, cal_v, s.calibration_bins),
        thresholds={k_label(k): thr for k, thr in thresholds.items()},
        selection_table=_selection_frame(rows, chosen),
        shap_importance=importance,
        importance_method=method,
        notes=tuple(notes),
        scorer=shipped.scorer,
        calibrator=shipped_choice.calibrator,
        evaluated_calibrator=cand.choice.calibrator,
        timings=timings,
    )
