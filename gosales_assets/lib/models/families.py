"""Model families: grids, deterministic fits and the fitted scorers.

A *scorer* is the fitted, family-specific part of a model: it maps a feature matrix
to a raw score in (0, 1) and to per-feature contributions on the log-odds scale.
Scorers hold plain arrays or XGBoost's UBJSON bytes, never a pickled estimator, so
serialized models are canonical (byte-stable) and hashable.

Training matrices are float32 (what XGBoost computes in anyway; half the memory).
A :class:`Dataset` converts its matrix once: one XGBoost ``QuantileDMatrix``, shared
by every grid point fit on it and binned with cut points sketched once per fit set
(:func:`reference_bins`, label-free), and one standardized float64 copy for the
logistic family.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgboost as xgb
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from gosales_assets.lib.models.calibration import sigmoid
from gosales_assets.lib.models.scorers import LinearScorer, Scorer, TreeScorer
from gosales_assets.lib.models.settings import ModelingSettings


def grid(settings: ModelingSettings) -> list[tuple[str, dict[str, Any]]]:
    """Every (family, hyper-parameters) point, in a fixed order."""
    points: list[tuple[str, dict[str, Any]]] = []
    for fam in settings.families:
        if fam == "xgboost":
            for depth, lr, mcw in itertools.product(
                settings.xgb_max_depth,
                settings.xgb_learning_rate,
                settings.xgb_min_child_weight,
            ):
                points.append(
                    (
                        fam,
                        {
                            "max_depth": int(depth),
                            "learning_rate": float(lr),
                            "min_child_weight": float(mcw),
                        },
                    )
                )
        elif fam == "logreg":
            for c, l1 in itertools.product(settings.logreg_c, settings.logreg_l1_ratio):
                points.append((fam, {"C": float(c), "l1_ratio": float(l1)}))
    return points


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """``n / (2 * n_class)`` per row (sklearn's "balanced" sample weights)."""
    return compute_sample_weight("balanced", y).astype(np.float64)


def reference_bins(X: np.ndarray, settings: ModelingSettings) -> xgb.QuantileDMatrix:
    """Cut points (``xgb_max_bin`` per feature) of ``X``, sketched without labels or
    weights, so the binning depends on feature values only. Datasets binned with the
    same reference skip their own sketch (the costly part of building a matrix)."""
    return xgb.QuantileDMatrix(
        np.ascontiguousarray(X, dtype=np.float32),
        nthread=settings.threads,
        max_bin=settings.xgb_max_bin,
    )


@dataclass
class Dataset:
    """A feature matrix with labels and balanced weights, and the conversions the
    families need, each made once: XGBoost's binned matrix (with the shared ``bins``
    when given, else its own label-free sketch) and the standardized matrix of the
    logistic family."""

    X: np.ndarray
    y: np.ndarray
    bins: xgb.QuantileDMatrix | None = None
    w: np.ndarray = field(init=False)
    _dmatrix: tuple[object, xgb.QuantileDMatrix] | None = field(
        default=None, init=False, repr=False
    )
    _standard: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(
        default=None, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.X = np.ascontiguousarray(self.X, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.float64)
        self.w = balanced_weights(self.y)

    def binning(self, settings: ModelingSettings) -> xgb.QuantileDMatrix:
        """The cut points this dataset is binned with."""
        if self.bins is None:
            self.bins = reference_bins(self.X, settings)
        return self.bins

    def dmatrix(
        self, settings: ModelingSettings, bins: xgb.QuantileDMatrix | None = None
    ) -> xgb.QuantileDMatrix:
        """The binned matrix; an evaluation set passes the training matrix it
        evaluates as ``bins``."""
        ref = bins if bins is not None else self.binning(settings)
        if self._dmatrix is None or self._dmatrix[0] is not ref:
            self._dmatrix = (
                ref,
                xgb.QuantileDMatrix(
                    self.X,
                    label=self.y,
                    weight=self.w,
                    nthread=settings.threads,
                    max_bin=settings.xgb_max_bin,
                    ref=ref,
                ),
            )
        return self._dmatrix[1]

    def release(self) -> None:
        """Drop the cached conversions (the matrix itself stays)."""
        self._dmatrix = None
        self._standard = None

    def standardized(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(mean, scale, z)``: unweighted StandardScaler statistics (float64) and
        the standardized matrix, shared by every logistic grid point."""
        if self._standard is None:
            z = self.X.astype(np.float64)
            scaler = StandardScaler(copy=False).fit(z)
            z = scaler.transform(z)
            self._standard = (
                np.asarray(scaler.mean_, dtype=np.float64),
                np.asarray(scaler.scale_, dtype=np.float64),
                z,
            )
        return self._standard


@dataclass(frozen=True)
class FitResult:
    scorer: Scorer
    best_iteration: int | None = None  # xgboost: 0-based index of the best round
    converged: bool = True
    note: str = ""


def xgb_params(params: dict[str, Any], settings: ModelingSettings) -> dict[str, Any]:
    return {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "tree_method": settings.xgb_tree_method,
        "max_depth": params["max_depth"],
        "eta": params["learning_rate"],
        "min_child_weight": params["min_child_weight"],
        "subsample": settings.xgb_subsample,
        "colsample_bytree": settings.xgb_colsample_bytree,
        "max_bin": settings.xgb_max_bin,
        "nthread": settings.threads,
        "seed": settings.seed,
        "verbosity": 0,
    }


def fit_xgboost(
    params: dict[str, Any],
    train: Dataset,
    settings: ModelingSettings,
    *,
    valid: Dataset | None = None,
    n_rounds: int | None = None,
) -> FitResult:
    """Fit with balanced weights. With ``valid`` and early stopping enabled, stop on
    the validation (balanced) log loss and keep exactly ``best_iteration + 1`` trees;
    otherwise fit ``n_rounds`` (default ``xgb_n_estimators``) rounds."""
    nthread = settings.threads
    p = xgb_params(params, settings)
    early = valid is not None and settings.xgb_early_stopping_rounds > 0
    rounds = n_rounds if n_rounds is not None else settings.xgb_n_estimators
    if early:
        assert valid is not None
        # binned with the training matrix's cut points (XGBoost requires it as the
        # evaluation set's reference)
        train_dm = train.dmatrix(settings)
        booster = xgb.train(
            p,
            train_dm,
            num_boost_round=settings.xgb_n_estimators,
            evals=[(valid.dmatrix(settings, train_dm), "validation")],
            early_stopping_rounds=settings.xgb_early_stopping_rounds,
            verbose_eval=False,
        )
        best = int(booster.best_iteration)
        booster = booster[: best + 1]
    else:
        booster = xgb.train(p, train.dmatrix(settings), num_boost_round=rounds)
        best = rounds - 1
    raw = bytes(booster.save_raw(raw_format="ubj"))
    return FitResult(TreeScorer(raw, best + 1, nthread), best_iteration=best)


def elastic_net_logreg(
    z: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray,
    C: float,
    l1_ratio: float,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, float, bool]:
    """Elastic-net logistic regression, scikit-learn's objective, solved exactly.

    Minimizes ``sum_i s_i * logloss_i / sum(s) + (l1_ratio * |w|_1 +
    (1 - l1_ratio) / 2 * |w|^2) / (C * sum(s))`` (LogisticRegression's objective
    divided by ``C * sum(s)``) by L-BFGS-B on the split ``w = w+ - w-`` with
    ``w+, w- >= 0``, which makes the L1 term linear and the problem smooth.
    sklearn's only elastic-net solver (saga) needs thousands of epochs with
    class-balanced weights on 10^5 rows; this converges in seconds and is
    deterministic. Returns ``(coef, intercept, converged)``.
    """
    f = z.shape[1]
    s = sample_weight / sample_weight.sum()
    lam = 1.0 / (C * sample_weight.sum())

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[:f] - theta[f : 2 * f]
        margin = z @ w + theta[-1]
        loss = float(np.sum(s * (np.logaddexp(0.0, margin) - y * margin)))
        r = s * (sigmoid(margin) - y)
        g = z.T @ r
        ridge = (1.0 - l1_ratio) * w
        value = loss + lam * (
            l1_ratio * float(theta[: 2 * f].sum()) + 0.5 * float(ridge @ w)
        )
        grad = np.concatenate(
            [g + lam * (ridge + l1_ratio), -g + lam * (l1_ratio - ridge), [r.sum()]]
        )
        return value, grad

    bounds = [(0.0, None)] * (2 * f) + [(None, None)]
    res = minimize(
        objective,
        np.zeros(2 * f + 1),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={
            "maxiter": max_iter,
            "maxls": 50,
            "gtol": tol,
            "ftol": 64 * np.finfo(float).eps,
        },
    )
    coef = res.x[:f] - res.x[f : 2 * f]
    return coef, float(res.x[-1]), bool(res.success)


def fit_logreg(
    params: dict[str, Any], train: Dataset, settings: ModelingSettings
) -> FitResult:
    """StandardScaler (unweighted) then logistic regression with balanced weights.

    ``l1_ratio == 0``: L2 penalty, ``sklearn.linear_model.LogisticRegression``
    (lbfgs). ``l1_ratio > 0``: elastic net, same objective, ``elastic_net_logreg``.
    """
    mean, scale, z = train.standardized()
    l1 = params["l1_ratio"]
    if l1 == 0:
        model = LogisticRegression(
            C=params["C"],
            l1_ratio=0.0,
            solver="lbfgs",
            max_iter=settings.logreg_max_iter,
            tol=settings.logreg_tol,
            random_state=settings.seed,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(z, train.y, sample_weight=train.w)
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        coef, intercept = model.coef_[0], float(model.intercept_[0])
    else:
        coef, intercept, converged = elastic_net_logreg(
            z,
            train.y,
            train.w,
            params["C"],
            l1,
            settings.logreg_max_iter,
            settings.logreg_tol,
        )
    scorer = LinearScorer(
        mean=mean,
        scale=scale,
        coef=np.asarray(coef, dtype=np.float64),
        intercept=intercept,
    )
    note = (
        "" if converged else f"not converged in {settings.logreg_max_iter} iterations"
    )
    return FitResult(scorer, converged=converged, note=note)


def described_params(
    family: str, params: dict[str, Any], settings: ModelingSettings
) -> dict[str, Any]:
    """Every parameter needed to reproduce a fit (grid values + fixed settings)."""
    if family == "xgboost":
        return {
            **params,
            "objective": "binary:logistic",
            "subsample": settings.xgb_subsample,
            "colsample_bytree": settings.xgb_colsample_bytree,
            "max_bin": settings.xgb_max_bin,
            "tree_method": settings.xgb_tree_method,
            "n_jobs": settings.xgb_n_jobs,
            "seed": settings.seed,
            "sample_weight": "balanced",
        }
    return {
        **params,
        "solver": "lbfgs" if params["l1_ratio"] == 0 else "elastic-net L-BFGS-B",
        "max_iter": settings.logreg_max_iter,
        "tol": settings.logreg_tol,
        "scaler": "standard",
        "seed": settings.seed,
        "sample_weight": "balanced",
    }


def fit_family(
    family: str,
    params: dict[str, Any],
    train: Dataset,
    settings: ModelingSettings,
    *,
    valid: Dataset | None = None,
    n_rounds: int | None = None,
) -> FitResult:
    if family == "xgboost":
        return fit_xgboost(params, train, settings, valid=valid, n_rounds=n_rounds)
    if family == "logreg":
        return fit_logreg(params, train, settings)
    raise ValueError(f"unknown family {family!r}")
