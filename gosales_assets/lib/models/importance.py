"""Global feature importance: mean |SHAP| on a seeded sample, or a labelled fallback.

- xgboost: ``shap.TreeExplainer`` on the booster (log-odds SHAP values);
- logreg: exact linear SHAP values against the training mean (what
  ``shap.LinearExplainer`` computes for independent features), no sampling noise;
- if SHAP fails: permutation importance, the mean |change of the raw score| when one
  column is shuffled (seeded), which needs no label. ``method`` says which was used.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import polars as pl

from gosales_assets.lib.models.scorers import LinearScorer, TreeScorer

log = logging.getLogger("gosales.models")

IMPORTANCE_SCHEMA = {"feature": pl.String, "importance": pl.Float64, "rank": pl.Int32}


def empty_importance() -> pl.DataFrame:
    return pl.DataFrame(schema=IMPORTANCE_SCHEMA)


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted row indices of a seeded sample without replacement (all when n<=size)."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def _frame(names: Sequence[str], values: np.ndarray) -> pl.DataFrame:
    order = np.argsort(-values, kind="stable")
    return pl.DataFrame(
        {
            "feature": [names[i] for i in order],
            "importance": [float(values[i]) for i in order],
            "rank": list(range(1, len(order) + 1)),
        },
        schema=IMPORTANCE_SCHEMA,
    )


def permutation_importance(scorer: object, X: np.ndarray, seed: int) -> np.ndarray:
    """Mean |raw score change| when each column is permuted (seeded, label-free)."""
    base = scorer.raw(X)  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    out = np.zeros(X.shape[1], dtype=np.float64)
    for j in range(X.shape[1]):
        Xp = X.copy()
        Xp[:, j] = Xp[rng.permutation(X.shape[0]), j]
        out[j] = float(np.mean(np.abs(scorer.raw(Xp) - base)))  # type: ignore[attr-defined]
    return out


def global_importance(
    scorer: object, X: np.ndarray, names: Sequence[str], seed: int
) -> tuple[pl.DataFrame, str]:
    """Importance per feature on the sample ``X`` and the method used."""
    if X.shape[0] == 0 or X.shape[1] == 0:
        return empty_importance(), "none (no rows or no features)"
    if isinstance(scorer, LinearScorer):
        vals = np.mean(np.abs(scorer.contributions(X)), axis=0)
        return _frame(
            names, vals
        ), "linear_shap (exact, log-odds, training-mean baseline)"
    if isinstance(scorer, TreeScorer):
        try:
            with warnings.catch_warnings():  # shap's import warns about matplotlib
                warnings.simplefilter("ignore")
                import shap

            explainer = shap.TreeExplainer(scorer.booster())
            sv = np.asarray(explainer.shap_values(X), dtype=np.float64)
            if sv.ndim == 3:  # (rows, features, classes)
                sv = sv[..., -1]
            if sv.shape != X.shape or not np.all(np.isfinite(sv)):
                raise ValueError(f"unexpected SHAP output shape {sv.shape}")
            vals = np.mean(np.abs(sv), axis=0)
            return _frame(names, vals), "shap.TreeExplainer (mean |SHAP|, log-odds)"
        except Exception as err:  # documented fallback
            log.warning("SHAP failed (%s); using permutation importance", err)
            vals = permutation_importance(scorer, X, seed)
            method = (
                f"permutation (mean |score change|); shap failed: "
                f"{type(err).__name__}: {err}"
            )
            return _frame(names, vals), method
    return empty_importance(), "none (fallback model)"
