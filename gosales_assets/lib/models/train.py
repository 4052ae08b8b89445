"""Training: grid x families, out-of-time validation, cross-fitted calibration,
selection, refit of the selected configuration on every cutoff, guardrails.

The protocol (docs/metrics.md) in one paragraph: the newest cutoff of ``examples`` is
the validation cutoff, the others are the training cutoffs. Every grid point is fit on
the training cutoffs (xgboost early-stops on the validation cutoff) and its raw,
uncalibrated score is measured on the validation cutoff. Rank metrics (the default
``lift@10``) do not depend on a strictly increasing calibration, so the grid points
are compared on the raw score and only the best one (all tied ones, when the
tie-break needs probabilities) is calibrated: a calibrator chosen and fitted on
out-of-fold scores of the training cutoffs (folds grouped by customer). The selected
configuration is refit, with the same hyper-parameters, number of trees and
calibration method, on all cutoffs: that is the shipped model; the reported metrics
are the validation metrics of the same configuration fit without the validation
cutoff. Every fit sees all positives of its rows and a seeded sample of the negatives
(``sampling.py``); calibrators see every row.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import xgboost as xgb

from gosales_assets.lib.models import metrics as mx
from gosales_assets.lib.models.calibration import (
    IDENTITY,
    CalibrationChoice,
    choose_calibrator,
    group_folds,
)
from gosales_assets.lib.models.data import TrainingData, prepare
from gosales_assets.lib.models.families import (
    Dataset,
    FitResult,
    described_params,
    fit_family,
    grid,
    reference_bins,
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
from gosales_assets.lib.models.sampling import SampleInfo, fit_sample, sample_draws
from gosales_assets.lib.models.selection import select_configuration, tied_best
from gosales_assets.lib.models.settings import ModelingSettings, k_label, rank_metric

log = logging.getLogger("gosales.models")


@dataclass
class _Point:
    """One grid point: its selection-table row, its fit on the training cutoffs and,
    once calibrated, its calibrator and calibrated validation probabilities."""

    family: str
    params: dict[str, Any]
    row: dict[str, Any]
    fit: FitResult | None = None
    raw_valid: np.ndarray | None = None
    choice: CalibrationChoice | None = None
    calibrated_valid: np.ndarray | None = None

    @property
    def n_rounds(self) -> int | None:
        best = None if self.fit is None else self.fit.best_iteration
        return None if best is None else best + 1


class _CrossFit:
    """Customer-grouped folds over the rows of one fit set, for out-of-fold scores.

    Fold ``k``'s model is fit on the fitting sample of the other folds' rows and
    scores every row of fold ``k`` (sampled or not), so the calibrator learns the real
    positive rate. ``usable`` is False when a fold's fit rows have one class. A fold's
    matrix exists only while its model is fit (peak memory: one fold at a time).
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        customers: np.ndarray,
        draws: np.ndarray,
        bins: xgb.QuantileDMatrix | None,
        s: ModelingSettings,
    ) -> None:
        self.X, self.y, self.bins = X, y, bins
        self.folds = group_folds(customers, s.calibration_folds, s.seed)
        self.sets: list[tuple[np.ndarray, np.ndarray]] = []  # (fit rows, scored mask)
        for f in np.unique(self.folds):
            test = self.folds == f
            rest = np.flatnonzero(~test)
            keep = rest[
                fit_sample(
                    y[rest],
                    draws[rest],
                    s.negative_sampling_ratio,
                    s.negative_sampling_min,
                )
            ]
            self.sets.append((keep, test))
        self.usable = all(
            test.any() and 0 < y[keep].sum() < keep.size for keep, test in self.sets
        )

    def oof_scores(
        self,
        family: str,
        params: dict[str, Any],
        n_rounds: int | None,
        s: ModelingSettings,
    ) -> np.ndarray:
        oof = np.empty(self.y.size, dtype=np.float64)
        for keep, test in self.sets:
            ds = Dataset(self.X[keep], self.y[keep], self.bins)
            fit = fit_family(family, params, ds, s, n_rounds=n_rounds)
            del ds
            oof[test] = fit.scorer.raw(self.X[test])
        return oof

    def calibrate(
        self,
        family: str,
        params: dict[str, Any],
        n_rounds: int | None,
        s: ModelingSettings,
        force: str | None = None,
    ) -> CalibrationChoice:
        n, pos = int(self.y.size), int(self.y.sum())
        if not self.usable:
            return CalibrationChoice(
                IDENTITY, "cross-fit impossible (a fold has one class)", {}, n, pos
            )
        oof = self.oof_scores(family, params, n_rounds, s)
        return choose_calibrator(
            oof,
            self.y,
            self.folds,
            s.calibration_methods,
            s.isotonic_min_positives,
            s.selection_tie_tolerance,
            force=force,
        )


def _rows(X: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``X[idx]``; a view when ``idx`` is a contiguous range (the training cutoffs
    come first in canonical order, so their rows always are)."""
    if idx.size and idx[-1] - idx[0] + 1 == idx.size:
        return X[idx[0] : idx[-1] + 1]
    return X[idx]


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


def _search_point(
    family: str,
    params: dict[str, Any],
    train: Dataset,
    valid: Dataset,
    gp_valid: np.ndarray | None,
    s: ModelingSettings,
) -> _Point:
    """Fit one grid point on the training cutoffs; raw metrics on the validation."""
    pt = _Point(family, params, _row(family, params))
    row = pt.row
    try:
        fit = fit_family(family, params, train, s, valid=valid)
        row["best_iteration"] = fit.best_iteration
        row["converged"] = fit.converged
        row["note"] = fit.note
        raw_v = fit.scorer.raw(valid.X)
        if not np.all(np.isfinite(raw_v)):
            row.update(status="degenerate", note="non-finite validation scores")
            return pt
        raw_m = metric_set(valid.y, raw_v, gp_valid, s)
        row.update({f"raw_{k}": v for k, v in raw_m.items()})
        std = float(raw_v.std())
        if std < s.degenerate_std or not math.isfinite(raw_m["auc"]):
            row.update(
                status="degenerate",
                note=f"validation score std {std:.3g} < {s.degenerate_std:g} "
                "or AUC undefined",
            )
            return pt
        pt.fit, pt.raw_valid = fit, raw_v
    except Exception as err:  # recorded in the selection table
        log.warning("grid point %s %s failed: %s", family, params, err)
        row.update(status="error", note=f"{type(err).__name__}: {err}")
    return pt


def _calibrate_point(
    pt: _Point,
    crossfit: _CrossFit,
    valid_y: np.ndarray,
    gp_valid: np.ndarray | None,
    s: ModelingSettings,
) -> None:
    """Cross-fit the point's calibrator on the training cutoffs; calibrated metrics
    on the validation cutoff. A failure marks the point as an error."""
    row = pt.row
    try:
        assert pt.raw_valid is not None
        choice = crossfit.calibrate(pt.family, pt.params, pt.n_rounds, s)
        cal_v = choice.calibrator.transform(pt.raw_valid)
    except Exception as err:  # recorded in the selection table
        log.warning("calibration of %s %s failed: %s", pt.family, pt.params, err)
        row.update(status="error", note=f"calibration {type(err).__name__}: {err}")
        return
    row["calibration"] = choice.calibrator.method
    row["calibration_reason"] = choice.reason
    row["cv_brier_platt"] = choice.cv_brier.get("platt")
    row["cv_brier_isotonic"] = choice.cv_brier.get("isotonic")
    row.update(metric_set(valid_y, cal_v, gp_valid, s))
    pt.choice, pt.calibrated_valid = choice, cal_v


def _column(metric: str) -> str:
    """Where selection reads a metric: the raw score for rank metrics."""
    return f"raw_{metric}" if rank_metric(metric) else metric


def _select(
    points: list[_Point],
    make_crossfit: Callable[[], _CrossFit],
    valid_y: np.ndarray,
    gp_valid: np.ndarray | None,
    s: ModelingSettings,
) -> int | None:
    """Calibrate what the selection rule needs, then apply it.

    A rank ``selection_metric`` is compared on the raw score and only the points tied
    for the best are calibrated: all of them when the tie-break needs probabilities,
    else the winner of the tie-break on the raw score. A probability
    ``selection_metric`` (brier, log_loss, calibration_mae) needs every point
    calibrated. A point whose calibration fails drops out and the next best is
    calibrated. The cross-fit folds are built on first use.
    """
    rows = [p.row for p in points]
    metric, tie = s.selection_metric, s.selection_tie_break
    m_col, t_col = _column(metric), _column(tie)
    tol = s.selection_tie_tolerance
    crossfit: _CrossFit | None = None
    while True:
        if m_col == metric:
            wanted = [i for i, r in enumerate(rows) if r["status"] == "ok"]
        else:
            wanted = tied_best(rows, metric, tol, m_col)
            if len(wanted) > 1 and t_col != tie:
                sub = [rows[i] for i in wanted]
                wanted = [wanted[tied_best(sub, tie, tol, t_col)[0]]]
        todo = [i for i in wanted if points[i].choice is None]
        if not todo:
            break
        crossfit = crossfit or make_crossfit()
        for i in todo:
            _calibrate_point(points[i], crossfit, valid_y, gp_valid, s)
    for p in points:
        if p.row["status"] == "ok" and p.choice is None:
            p.row["calibration_reason"] = (
                f"not calibrated: not the best raw {metric} (only the selected "
                "configuration is calibrated)"
            )
    return select_configuration(
        rows, metric, tie, tol, metric_column=m_col, tie_break_column=t_col
    )


def _sample_notes(
    evaluated: SampleInfo, shipped: SampleInfo, s: ModelingSettings
) -> list[str]:
    if not (evaluated.sampled or shipped.sampled):
        return [
            "Fitting sample: every row (fewer negatives than "
            f"max({s.negative_sampling_ratio:g} x positives, "
            f"{s.negative_sampling_min}))."
        ]
    return [
        "Fitting sample: each fit used every positive of its rows and the "
        f"max({s.negative_sampling_ratio:g} x positives, {s.negative_sampling_min}) "
        f"negatives with the smallest seeded draw (seed {s.seed}); class-balanced "
        "weights on the sample; calibrators fit on out-of-fold scores of every row. "
        f"Evaluated fit: {evaluated.describe()}; shipped fit: {shipped.describe()}."
    ]


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
    del examples  # the caller's frame may go; the arrays hold everything needed
    timings["prepare_s"] = time.perf_counter() - start
    reason = guard(data, names, s)
    if reason is not None:
        return fallback_model(data, names, s, reason, None, timings)
    return _train(data, names, s, timings, start)


def _train(
    data: TrainingData,
    names: list[str],
    s: ModelingSettings,
    timings: dict[str, float],
    start: float,
) -> TrainedModel:
    t, v = data.train_mask, data.valid_mask
    t_idx = np.flatnonzero(t)
    Xt = _rows(data.X, t_idx)
    draws = sample_draws(data.y.size, s.seed)
    yt, draws_t = data.y[t_idx], draws[t_idx]
    rel = fit_sample(yt, draws_t, s.negative_sampling_ratio, s.negative_sampling_min)
    eval_info = SampleInfo.of(yt, rel)
    # one label-free sketch of the training rows' features: the cut points of every
    # xgboost fit (grid, folds, shipped refit), so no fit sketches its own
    bins_t = reference_bins(Xt, s) if "xgboost" in s.families else None
    train = Dataset(Xt[rel], yt[rel], bins_t)
    valid = Dataset(data.X[v], data.y[v], bins_t)
    gp_valid = None if data.gp is None else data.gp[v]
    points: list[_Point] = []
    for i, (family, params) in enumerate(grid(s)):
        t0 = time.perf_counter()
        pt = _search_point(family, params, train, valid, gp_valid, s)
        timings[f"grid_{i:02d}_{family}_s"] = time.perf_counter() - t0
        log.info(
            "grid %s %s: %s raw %s=%s raw auc=%s best_iteration=%s",
            family,
            pt.row["params"],
            pt.row["status"],
            s.selection_metric,
            pt.row.get(f"raw_{s.selection_metric}"),
            pt.row.get("raw_auc"),
            pt.row["best_iteration"],
        )
        points.append(pt)
    train.release()  # the grid's binned and standardized matrices
    valid.release()
    del train

    t0 = time.perf_counter()
    chosen = _select(
        points,
        lambda: _CrossFit(Xt, yt, data.customer[t_idx], draws_t, bins_t, s),
        valid.y,
        gp_valid,
        s,
    )
    timings["calibration_s"] = time.perf_counter() - t0
    rows = [p.row for p in points]
    if chosen is None:
        statuses = sorted({r["status"] for r in rows})
        code = (
            "degenerate_classifier" if statuses == ["degenerate"] else "no_usable_fit"
        )
        detail = "; ".join(sorted({r["note"] for r in rows if r["note"]}))[:500]
        return fallback_model(data, names, s, f"{code}: {detail}", rows, timings)
    cand = points[chosen]
    assert cand.fit is not None and cand.choice is not None
    assert cand.calibrated_valid is not None
    family, params = cand.family, dict(cand.params)
    n_rounds = cand.n_rounds
    if n_rounds is not None:
        params["n_estimators"] = n_rounds
    y_v, cal_v = valid.y, cand.calibrated_valid
    validation_metrics = metric_set(y_v, cal_v, gp_valid, s)

    # refit the selected configuration on every cutoff: the shipped model
    t0 = time.perf_counter()
    all_keep = fit_sample(
        data.y, draws, s.negative_sampling_ratio, s.negative_sampling_min
    )
    ship_info = SampleInfo.of(data.y, all_keep)
    try:
        full = Dataset(data.X[all_keep], data.y[all_keep], bins_t)
        shipped = fit_family(family, params, full, s, n_rounds=n_rounds)
        del full
        shipped_choice = _CrossFit(
            data.X, data.y, data.customer, draws, bins_t, s
        ).calibrate(family, params, n_rounds, s, force=cand.choice.calibrator.method)
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
    if rank_metric(s.selection_metric):
        calibrated = sum(p.choice is not None for p in points)
        notes.append(
            f"Grid points were compared on the uncalibrated score's "
            f"{s.selection_metric} ({calibrated} of {len(points)} calibrated: "
            "the selected one and any tied for the best)."
        )
    if n_rounds is not None:
        notes.append(
            f"xgboost shipped with n_estimators = best_iteration + 1 = {n_rounds} "
            "(early stopping on the validation cutoff)."
        )
    if shipped.note:
        notes.append(f"shipped fit: {shipped.note}")
    notes += _sample_notes(eval_info, ship_info, s)
    notes.append(
        "Top-K thresholds are score quantiles of the shipped model on the validation "
        "cutoff's rows (no label used)."
    )
    described = described_params(family, params, s)
    described["fit_sample"] = {
        "negative_sampling_ratio": s.negative_sampling_ratio,
        "negative_sampling_min": s.negative_sampling_min,
        **ship_info.to_dict(),
    }
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
