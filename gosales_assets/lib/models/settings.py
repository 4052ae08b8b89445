"""Modeling settings: one frozen dataclass with the defaults of the engine.

The configuration layer (``gosales_assets/config.py``) owns the YAML keys; this class is
what the pure modeling code consumes. ``ModelingSettings.from_dict`` accepts a plain
mapping (for example a pydantic model's ``model_dump()``); unknown keys are refused so a
typo in the configuration is never silently ignored.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FAMILIES = ("xgboost", "logreg")
CALIBRATION_METHODS = ("platt", "isotonic")

# metric name -> True when higher is better
_FIXED_METRICS = {
    "auc": True,
    "pr_auc": True,
    "brier": False,
    "log_loss": False,
    "calibration_mae": False,
}
_AT_K = re.compile(r"^(lift|capture|gp_capture|gp_weighted_lift)@(\d+(?:\.\d+)?)$")


def metric_direction(name: str) -> bool:
    """True when a larger value of the named metric is better.

    Known names: ``auc``, ``pr_auc``, ``brier``, ``log_loss``, ``calibration_mae``,
    ``lift@K``, ``capture@K``, ``gp_capture@K``, ``gp_weighted_lift@K`` (K a
    percentage).
    """
    if name in _FIXED_METRICS:
        return _FIXED_METRICS[name]
    if _AT_K.match(name):
        return True
    raise ValueError(
        f"unknown metric {name!r}; use one of {sorted(_FIXED_METRICS)} or "
        "lift@K / capture@K / gp_capture@K / gp_weighted_lift@K"
    )


def metric_k(name: str) -> float | None:
    """The K of an ``...@K`` metric name, else None."""
    m = _AT_K.match(name)
    return float(m.group(2)) if m else None


# metrics that depend on the probability values, not only on the ranking
_CALIBRATION_METRICS = frozenset({"brier", "log_loss", "calibration_mae"})


def rank_metric(name: str) -> bool:
    """True when the metric depends only on the order of the scores (AUC, PR-AUC and
    every ``...@K``): a strictly increasing calibration leaves it unchanged, so the
    training compares grid points on the uncalibrated score (docs/metrics.md)."""
    metric_direction(name)  # refuses unknown names
    return name not in _CALIBRATION_METRICS


@dataclass(frozen=True)
class ModelingSettings:
    """Everything the trainer needs; defaults are the engine's defaults.

    Grids are tuples; the grid is their Cartesian product in field order.
    """

    # training cutoffs (used by the orchestration layer to pick the cutoffs)
    training_cutoff_count: int = 3
    training_cutoff_spacing_months: int = 6
    # model families, in the order they are tried (also the final tie-break order)
    families: tuple[str, ...] = FAMILIES
    # xgboost grid and fixed parameters
    xgb_max_depth: tuple[int, ...] = (3, 4)
    xgb_learning_rate: tuple[float, ...] = (0.3,)
    xgb_min_child_weight: tuple[float, ...] = (5.0,)
    xgb_subsample: float = 0.8
    xgb_colsample_bytree: float = 0.8
    xgb_n_estimators: int = 400  # maximum number of boosting rounds
    xgb_early_stopping_rounds: int = 25  # 0 disables early stopping
    # threads (0 = every core); speed only: the model is the same for any count
    xgb_n_jobs: int = 0
    xgb_tree_method: str = "hist"
    xgb_max_bin: int = 256
    # logistic regression grid (StandardScaler -> LogisticRegression)
    logreg_c: tuple[float, ...] = (1.0,)
    logreg_l1_ratio: tuple[float, ...] = (0.0,)
    logreg_max_iter: int = 1000
    logreg_tol: float = 1e-3
    # calibration (cross-fitted on the training cutoffs, see docs/metrics.md)
    calibration_methods: tuple[str, ...] = CALIBRATION_METHODS
    calibration_folds: int = 3
    isotonic_min_positives: int = 200
    # fitting sample: every positive and a seeded share of the negatives enter each
    # fit; calibrators are fit on every row (docs/metrics.md, "Fitting sample")
    negative_sampling_ratio: float = 2.0  # negatives kept per positive; 0 keeps all
    negative_sampling_min: int = 20000  # never fewer negatives than this per fit
    # selection on the out-of-time validation cutoff
    selection_metric: str = "lift@10"
    selection_tie_break: str = "brier"
    selection_tie_tolerance: float = 1e-9
    # reporting
    top_k_percents: tuple[float, ...] = (5, 10, 20)
    gp_lift_k_percent: float = 10
    calibration_bins: int = 10
    # guardrails
    min_positives_train: int = 30
    min_positives_validation: int = 10
    degenerate_std: float = 1e-9
    prior_pseudo_count: float = 1.0  # fallback prior: (pos + a/2) / (rows + a)
    # randomness and explanations
    seed: int = 42
    shap_sample: int = 2000

    def __post_init__(self) -> None:
        errors: list[str] = []
        if not self.families:
            errors.append("families: at least one family is required")
        for fam in self.families:
            if fam not in FAMILIES:
                errors.append(f"families: unknown family {fam!r} (known: {FAMILIES})")
        if len(set(self.families)) != len(self.families):
            errors.append("families: duplicates")
        for meth in self.calibration_methods:
            if meth not in CALIBRATION_METHODS:
                errors.append(
                    f"calibration_methods: unknown method {meth!r} "
                    f"(known: {CALIBRATION_METHODS})"
                )
        if not self.calibration_methods:
            errors.append("calibration_methods: at least one method is required")
        for name in ("selection_metric", "selection_tie_break"):
            try:
                metric_direction(getattr(self, name))
            except ValueError as err:
                errors.append(f"{name}: {err}")
        grids = {
            "xgb_max_depth": self.xgb_max_depth,
            "xgb_learning_rate": self.xgb_learning_rate,
            "xgb_min_child_weight": self.xgb_min_child_weight,
            "logreg_c": self.logreg_c,
            "logreg_l1_ratio": self.logreg_l1_ratio,
            "top_k_percents": self.top_k_percents,
        }
        for name, values in grids.items():
            if not values:
                errors.append(f"{name}: must not be empty")
        if any(d < 1 for d in self.xgb_max_depth):
            errors.append("xgb_max_depth: must be >= 1")
        if any(not 0 < v <= 1 for v in self.xgb_learning_rate):
            errors.append("xgb_learning_rate: must be in (0, 1]")
        if any(v < 0 for v in self.xgb_min_child_weight):
            errors.append("xgb_min_child_weight: must be >= 0")
        for name in ("xgb_subsample", "xgb_colsample_bytree"):
            if not 0 < getattr(self, name) <= 1:
                errors.append(f"{name}: must be in (0, 1]")
        if any(not (c > 0 and math.isfinite(c)) for c in self.logreg_c):
            errors.append("logreg_c: must be positive and finite")
        if any(not 0 <= r <= 1 for r in self.logreg_l1_ratio):
            errors.append("logreg_l1_ratio: must be in [0, 1]")
        if any(not 0 < k <= 100 for k in self.top_k_percents):
            errors.append("top_k_percents: must be in (0, 100]")
        if not 0 < self.gp_lift_k_percent <= 100:
            errors.append("gp_lift_k_percent: must be in (0, 100]")
        positive_ints = (
            "training_cutoff_count",
            "training_cutoff_spacing_months",
            "xgb_n_estimators",
            "xgb_max_bin",
            "logreg_max_iter",
            "calibration_bins",
        )
        for name in positive_ints:
            if getattr(self, name) < 1:
                errors.append(f"{name}: must be >= 1")
        if self.calibration_folds < 2:
            errors.append("calibration_folds: must be >= 2")
        non_negative = (
            "xgb_n_jobs",
            "xgb_early_stopping_rounds",
            "isotonic_min_positives",
            "min_positives_train",
            "min_positives_validation",
            "shap_sample",
            "selection_tie_tolerance",
            "degenerate_std",
            "negative_sampling_min",
        )
        for name in non_negative:
            if getattr(self, name) < 0:
                errors.append(f"{name}: must be >= 0")
        ratio = self.negative_sampling_ratio
        if not (math.isfinite(ratio) and ratio >= 0):
            errors.append("negative_sampling_ratio: must be >= 0 and finite")
        if self.prior_pseudo_count < 0:
            errors.append("prior_pseudo_count: must be >= 0")
        if self.xgb_tree_method not in ("hist", "approx", "exact"):
            errors.append("xgb_tree_method: must be hist, approx or exact")
        if errors:
            raise ValueError("invalid modeling settings: " + "; ".join(errors))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ModelingSettings:
        """Build from a mapping; lists become tuples; unknown keys are refused."""
        data = dict(data or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown modeling setting(s): {unknown}")
        clean = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**clean)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able mapping (tuples become lists)."""
        return {
            f.name: list(v) if isinstance(v, tuple) else v
            for f in dataclasses.fields(self)
            for v in [getattr(self, f.name)]
        }

    @property
    def threads(self) -> int:
        """xgboost threads to use: ``xgb_n_jobs``, or every core when it is 0."""
        return resolve_threads(self.xgb_n_jobs)

    @property
    def gp_lift_metric(self) -> str:
        return f"gp_weighted_lift@{_fmt_k(self.gp_lift_k_percent)}"


def resolve_threads(n: int) -> int:
    """``n`` threads, or the machine's core count (at least 1) when ``n`` is 0."""
    return n if n > 0 else max(os.cpu_count() or 1, 1)


def _fmt_k(k: float) -> str:
    """``10.0 -> '10'``, ``2.5 -> '2.5'`` (metric-name form of a percentage)."""
    return f"{int(k)}" if float(k).is_integer() else f"{k:g}"


def k_label(k: float) -> str:
    return _fmt_k(k)
