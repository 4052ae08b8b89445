"""The trained model object, its fallback and its canonical serialization.

``serialize`` writes a pickle (protocol 4) of a plain dict: a canonical JSON string for
every description field and raw bytes for the fitted arrays and XGBoost's UBJSON
model. No estimator object is pickled, so the same training gives byte-identical bytes
and ``model_version`` (the sha256 of those bytes) is stable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np
import polars as pl

from gosales_assets.lib.models.calibration import IDENTITY, Calibrator
from gosales_assets.lib.models.scorers import (
    LinearScorer,
    TreeScorer,
    scorer_from_state,
)
from gosales_assets.lib.models.topk import top_k_columns

FORMAT = "gosales-model"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PriorRateModel:
    """Fallback scorer: the smoothed training prevalence for every row."""

    rate: float
    family: str = "prior_rate"

    def raw(self, X: np.ndarray) -> np.ndarray:
        return np.full(X.shape[0], self.rate, dtype=np.float64)

    def contributions(self, X: np.ndarray, method: str = "treeshap") -> np.ndarray:
        return np.zeros(X.shape, dtype=np.float64)

    def to_state(self) -> dict[str, Any]:
        return {"family": "prior_rate", "rate": float(self.rate)}


Scorer = LinearScorer | TreeScorer | PriorRateModel


def smoothed_rate(positives: int, rows: int, pseudo_count: float) -> float:
    """``(positives + a/2) / (rows + a)``; 0.0 when there is nothing to count."""
    den = rows + pseudo_count
    return float((positives + pseudo_count / 2) / den) if den > 0 else 0.0


def feature_matrix(
    features: pl.DataFrame,
    names: Sequence[str],
    dtype: type[np.floating] = np.float64,
) -> np.ndarray:
    """C-ordered ``dtype`` matrix of ``names`` (in that order); refuses missing or
    non-finite values, which break the feature contract (docs/features.md). The
    training uses float32 (XGBoost's own precision); scoring float64."""
    missing = [c for c in names if c not in features.columns]
    if missing:
        head = missing[:5]
        raise ValueError(f"feature column(s) missing: {head} ({len(missing)} in all)")
    if not names:
        return np.zeros((features.height, 0), dtype=dtype)
    pl_dtype = pl.Float32 if dtype == np.float32 else pl.Float64
    X = features.select([pl.col(c).cast(pl_dtype) for c in names]).to_numpy(order="c")
    X = np.ascontiguousarray(X, dtype=dtype)
    bad = ~np.isfinite(X)
    if bad.any():
        cols = [names[j] for j in np.flatnonzero(bad.any(axis=0))[:5]]
        raise ValueError(
            f"{int(bad.sum())} null/NaN/infinite feature value(s) (or beyond the "
            f"{np.dtype(dtype).name} range), e.g. in {cols}"
        )
    return X


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """A calibrated model with its out-of-time evaluation (see docs/metrics.md).

    The *shipped* model (``scorer`` + ``calibrator``) is refit on every cutoff; all
    reported metrics (``validation_metrics``, ``gains``, ``calibration_bins``,
    ``selection_table``) come from the *evaluated* model of the same configuration,
    fit on ``evaluation_fit_cutoffs`` only, and scored on ``validation_cutoff``.
    """

    family: str
    params: dict[str, Any]
    feature_names: tuple[str, ...]
    calibration: str
    calibration_reason: str
    is_fallback: bool
    fallback_reason: str | None
    training_cutoffs: tuple[dt.date, ...]
    validation_cutoff: dt.date
    evaluation_fit_cutoffs: tuple[dt.date, ...]
    evaluation_fit_rows: int
    calibration_fit_rows: int
    shipped_fit_cutoffs: tuple[dt.date, ...]
    shipped_fit_rows: int
    counts: pl.DataFrame
    validation_metrics: dict[str, float]
    gains: pl.DataFrame
    calibration_bins: pl.DataFrame
    thresholds: dict[str, float]
    selection_table: pl.DataFrame
    selection_metric: str
    selection_tie_break: str
    shap_importance: pl.DataFrame
    importance_method: str
    seed: int
    settings: dict[str, Any]
    notes: tuple[str, ...]
    scorer: Scorer = field(repr=False)
    calibrator: Calibrator = field(default=IDENTITY, repr=False)
    evaluated_calibrator: Calibrator = field(default=IDENTITY, repr=False)
    timings: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    # -- prediction -------------------------------------------------------------
    def matrix(self, features: pl.DataFrame) -> np.ndarray:
        return feature_matrix(features, self.feature_names)

    def predict_proba(self, features: pl.DataFrame) -> np.ndarray:
        """Calibrated probability per row of ``features`` (columns by name)."""
        X = self.matrix(features)
        return self.calibrator.transform(self.scorer.raw(X))

    def contributions(
        self, features: pl.DataFrame, method: str = "treeshap"
    ) -> np.ndarray:
        """Per-feature contributions to the raw score's log-odds (rows x features);
        ``method`` for trees: ``treeshap`` (exact) or ``saabas`` (path attribution)."""
        return self.scorer.contributions(self.matrix(features), method)

    def explain(
        self,
        features: pl.DataFrame,
        top_n: int = 3,
        direction: Literal["positive", "abs"] = "positive",
        method: str = "treeshap",
    ) -> pl.DataFrame:
        """Top ``top_n`` contributions per row: ``[customer_id,] feature_i,
        contribution_i`` for i = 1..top_n.

        ``positive`` ranks by contribution (largest push up first); ``abs`` by
        magnitude. Ties keep feature order. Contributions are TreeSHAP values
        (xgboost; Saabas path attributions with ``method="saabas"``) or exact linear
        SHAP values against the training mean (logreg), on the log-odds scale of the
        uncalibrated score (calibration is monotone). A fallback model has no
        contributions: features and values are null.
        """
        if top_n < 1:
            raise ValueError("top_n must be >= 1")
        X = self.matrix(features)
        n, f = X.shape
        out: dict[str, pl.Series] = {}
        if "customer_id" in features.columns:
            out["customer_id"] = features["customer_id"]
        usable = not self.is_fallback and f > 0
        contrib = (
            self.scorer.contributions(X, method) if usable and n else np.zeros((n, 0))
        )
        key = np.abs(contrib) if direction == "abs" else contrib
        order = top_k_columns(key, top_n) if usable and n else None
        names = pl.Series(self.feature_names, dtype=pl.String)
        for i in range(top_n):
            if order is None or i >= order.shape[1]:
                out[f"feature_{i + 1}"] = pl.Series([None] * n, dtype=pl.String)
                out[f"contribution_{i + 1}"] = pl.Series([None] * n, dtype=pl.Float64)
                continue
            col = order[:, i]
            out[f"feature_{i + 1}"] = names.gather(col).alias(f"feature_{i + 1}")
            out[f"contribution_{i + 1}"] = pl.Series(
                contrib[np.arange(n), col], dtype=pl.Float64
            )
        return pl.DataFrame(out)


# -- canonical serialization ------------------------------------------------------

_DTYPES: dict[str, pl.DataType] = {
    "Int8": pl.Int8(),
    "Int16": pl.Int16(),
    "Int32": pl.Int32(),
    "Int64": pl.Int64(),
    "UInt32": pl.UInt32(),
    "Float64": pl.Float64(),
    "String": pl.String(),
    "Boolean": pl.Boolean(),
    "Date": pl.Date(),
}


def frame_to_state(df: pl.DataFrame) -> dict[str, Any]:
    schema = [[name, str(dtype)] for name, dtype in df.schema.items()]
    cols: dict[str, list[Any]] = {}
    for name, dtype in df.schema.items():
        values = df[name].to_list()
        if dtype == pl.Date:
            values = [None if v is None else v.isoformat() for v in values]
        cols[name] = values
    return {"schema": schema, "columns": cols}


def frame_from_state(st: dict[str, Any]) -> pl.DataFrame:
    schema = {name: _DTYPES[dtype] for name, dtype in st["schema"]}
    data: dict[str, list[Any]] = {}
    for name, dtype in schema.items():
        values = st["columns"][name]
        if dtype == pl.Date:
            values = [None if v is None else dt.date.fromisoformat(v) for v in values]
        data[name] = values
    return pl.DataFrame(data, schema=schema)


_FRAMES = ("counts", "gains", "calibration_bins", "selection_table", "shap_importance")
_DATES = ("training_cutoffs", "evaluation_fit_cutoffs", "shipped_fit_cutoffs")
_SKIP = ("scorer", "calibrator", "evaluated_calibrator", "timings")


def _scorer_state(scorer: Scorer) -> tuple[dict[str, Any], dict[str, bytes]]:
    st = scorer.to_state()
    meta = {k: v for k, v in st.items() if not isinstance(v, bytes)}
    blobs = {k: v for k, v in st.items() if isinstance(v, bytes)}
    return meta, blobs


def serialize(model: TrainedModel) -> bytes:
    """Canonical bytes of the model (pickle protocol 4 of a plain dict)."""
    meta: dict[str, Any] = {}
    for f in fields(model):
        if f.name in _SKIP:
            continue
        value = getattr(model, f.name)
        if f.name in _FRAMES:
            value = frame_to_state(value)
        elif f.name in _DATES:
            value = [d.isoformat() for d in value]
        elif f.name == "validation_cutoff":
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        meta[f.name] = value
    scorer_meta, blobs = _scorer_state(model.scorer)
    meta["scorer"] = scorer_meta
    meta["calibrator"] = model.calibrator.to_dict()
    meta["evaluated_calibrator"] = model.evaluated_calibrator.to_dict()
    text = json.dumps(meta, sort_keys=True, separators=(",", ":"), allow_nan=True)
    state = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "meta": text,
        "blobs": {k: blobs[k] for k in sorted(blobs)},
    }
    return pickle.dumps(state, protocol=4)


def deserialize(data: bytes, nthread: int = 1) -> TrainedModel:
    """Inverse of ``serialize`` (timings are not kept)."""
    state = pickle.loads(data)  # our own artifact format
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError("not a serialized gosales model")
    if state.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"unsupported model format {state.get('format_version')}")
    meta = json.loads(state["meta"])
    kwargs: dict[str, Any] = {}
    for f in fields(TrainedModel):
        if f.name in _SKIP:
            continue
        value = meta[f.name]
        if f.name in _FRAMES:
            value = frame_from_state(value)
        elif f.name in _DATES:
            value = tuple(dt.date.fromisoformat(d) for d in value)
        elif f.name == "validation_cutoff":
            value = dt.date.fromisoformat(value)
        elif f.name in ("feature_names", "notes"):
            value = tuple(value)
        kwargs[f.name] = value
    sc = {**meta["scorer"], **state["blobs"]}
    scorer: Scorer
    if sc["family"] == "prior_rate":
        scorer = PriorRateModel(float(sc["rate"]))
    else:
        scorer = scorer_from_state(sc, nthread=nthread)
    return TrainedModel(
        **kwargs,
        scorer=scorer,
        calibrator=Calibrator.from_dict(meta["calibrator"]),
        evaluated_calibrator=Calibrator.from_dict(meta["evaluated_calibrator"]),
    )


def model_version(model: TrainedModel) -> str:
    """First 16 hex digits of the sha256 of ``serialize(model)``."""
    return hashlib.sha256(serialize(model)).hexdigest()[:16]
