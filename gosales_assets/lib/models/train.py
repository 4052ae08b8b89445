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
from gosales_assets.lib.models.data import prepare
from gosales_assets.lib.models.families import (
    Dataset,
    FitResult,
    described_params,
    fit_family,
    grid,
)
from gosales_assets.lib.models.importance import global_importance, sample_rows
from gosales_assets.lib.models.model import TrainedModel
from gosales_assets.lib.models.outcome import (
    PROTOCOL_NOTE,
    base_kwargs,
    fallback_model,
    guard,
    metric_set,
    selection_frame,
)
from gosales_assets.lib.models.selection import select_configuration
from gosales_assets.lib.models.settings import ModelingSettings, k_label

log = logging.getLogger("gosales.models")


@dataclass
class _Candidate:
    fit: FitResult
    choice: CalibrationChoice
    calibrated_valid: np.ndarray


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
        raw_m = metric_set(valid.y, raw_v, gp_valid, s)
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
        row.update(metric_set(valid.y, cal_v, gp_valid, s))
        return row, _Candidate(fit, choice, cal_v)
    except Exception as err:  # recorded in the selection table
        log.warning("grid point %s %s failed: %s", family, params, err)
        row.update(status="error", note=f"{type(err).__name__}: {err}")
        return row, None


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
    reason = guard(data, names, s)
    if reason is not None:
        return fallback_model(data, names, s, reason, None, timings)

    t, v = data.train_mask, data.valid_mask
    train, valid = Dataset(data.X[t], data.y[t]), Dataset(data.X[v], data.y[v])
    gp_valid = None if data.gp is None else data.gp[v]
    folds = group_folds(data.customer[t], s.calibration_folds, s.seed)
    fold_sets = _fold_sets(train, folds)
    rows: list[dict[str, Any]] = []
    cands: list[_Candidate | None] = []
    for i, (family, params) in enumerate(grid(s)):
        t0 = time.perf_counter()
        row, cand = _evaluate_point(
            family, params, train, valid, gp_valid, folds, fold_sets, s
        )
        timings[f"grid_{i:02d}_{family}_s"] = time.perf_counter() - t0
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
        return fallback_model(data, names, s, f"{code}: {detail}", rows, timings)
    cand = cands[chosen]
    assert cand is not None
    family, params = rows[chosen]["family"], json.loads(rows[chosen]["params"])
    n_rounds = None if cand.fit.best_iteration is None else cand.fit.best_iteration + 1
    if n_rounds is not None:
        params = {**params, "n_estimators": n_rounds}
    described = described_params(family, params, s)
    y_v, cal_v = data.y[v], cand.calibrated_valid
    validation_metrics = metric_set(y_v, cal_v, gp_valid, s)

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
        return fallback_model(
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
        **base_kwargs(data, names, s),
        family=family,
        params=described,
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
        selection_table=selection_frame(rows, chosen),
        shap_importance=importance,
        importance_method=method,
        notes=tuple(notes),
        scorer=shipped.scorer,
        calibrator=shipped_choice.calibrator,
        evaluated_calibrator=cand.choice.calibrator,
        timings=timings,
    )
