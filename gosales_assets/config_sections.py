"""The per-section models of ``config/gosales.yaml`` (paths, partitions, ingestion,
labels, features, sample data). ``gosales_assets.config`` assembles them."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Strict(BaseModel):
    """Frozen, and unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PathsConfig(Strict):
    raw_dir: Path
    home: Path
    reports_dir: Path
    sku_map: Path


class PartitionsConfig(Strict):
    cutoff_start: dt.date
    cutoff_end_offset_days: int = Field(default=0, ge=0, le=366)


class IngestConfig(Strict):
    load_date: dt.date | None = None
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    lock_timeout_seconds: float = Field(default=120.0, ge=0, allow_inf_nan=False)
    # Streaming ingestion: physical lines (CSV) or rows (Parquet) validated per batch,
    # and DuckDB's memory limit while staging (it spills to disk beyond it).
    batch_lines: int = Field(default=100_000, ge=1)
    memory_limit_mb: int = Field(default=768, ge=64)

    @field_validator("date_formats")
    @classmethod
    def _formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must list at least one date format")
        probe = dt.date(2024, 11, 27)
        for fmt in value:
            try:
                ok = dt.datetime.strptime(probe.strftime(fmt), fmt).date() == probe
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(
                    f"{fmt!r} is not a date format that round-trips a full date "
                    "(it needs year, month and day, e.g. %Y-%m-%d)"
                )
        return value

    def effective_load_date(self, today: dt.date | None = None) -> dt.date:
        return self.load_date or today or dt.datetime.now(dt.UTC).date()


class LabelsConfig(Strict):
    window_months: int = Field(default=6, ge=1, le=36)
    gp_min_threshold: float = 0.0
    mode: Literal["expansion", "all"] = "expansion"
    denylist_skus: tuple[str, ...] = ()
    prevalence_band: tuple[float, float] = (0.001, 0.5)

    @field_validator("prevalence_band")
    @classmethod
    def _band(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 <= low < high <= 1:
            raise ValueError("must be [low, high] with 0 <= low < high <= 1")
        return value

    @field_validator("gp_min_threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class AlsConfig(Strict):
    enabled: bool = True
    factors: int = Field(default=16, ge=2, le=256)
    iterations: int = Field(default=15, ge=1, le=200)
    regularization: float = Field(default=0.05, gt=0, allow_inf_nan=False)
    alpha: float = Field(
        default=10.0, gt=0, allow_inf_nan=False
    )  # confidence = 1 + alpha * log1p(gp)
    lookback_months: int = Field(default=36, ge=1, le=240)
    seed: int = 7
    threads: int = Field(default=1, ge=1)


class FeaturesConfig(Strict):
    windows_months: tuple[int, ...] = (3, 6, 12, 24)
    recency_floor_days: int = Field(default=0, ge=0)
    recency_cap_days: int = Field(default=3650, ge=1)
    winsor_upper_quantile: float = Field(
        default=0.99, gt=0.5, le=1.0, allow_inf_nan=False
    )
    eb_prior_strength: float = Field(
        default=5.0, gt=0, allow_inf_nan=False
    )  # pseudo-events for shares
    affinity_lag_days: int = Field(default=60, ge=0)
    affinity_exposure_months: int = Field(default=24, ge=1)
    affinity_min_support: int = Field(default=5, ge=1)
    expiring_days: tuple[int, ...] = (30, 90, 180)
    crm_windows_days: tuple[int, ...] = (30, 90)
    als: AlsConfig = AlsConfig()

    @field_validator("windows_months", "expiring_days", "crm_windows_days")
    @classmethod
    def _positive_sorted(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(v < 1 for v in value):
            raise ValueError("must list positive integers")
        return tuple(sorted(set(value)))


class SpendShiftConfig(Strict):
    """A deliberate spend shift of the sample data (drift scenarios): the gross profit
    and revenue of ``industry``'s accounts (``share`` of them, drawn with the seed) are
    multiplied by ``factor`` on every line dated on or after ``from``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    industry: str
    factor: float = Field(gt=0, allow_inf_nan=False)
    start: dt.date = Field(alias="from")
    share: float = Field(default=1.0, gt=0, le=1, allow_inf_nan=False)

    @field_validator("industry")
    @classmethod
    def _known_industry(cls, value: str) -> str:
        from gosales_assets.sample_data.shift import industry_names

        value = value.strip()
        if value not in industry_names():
            raise ValueError(
                f"unknown industry {value!r}; known: {', '.join(industry_names())}"
            )
        return value


class SampleDataConfig(Strict):
    customers: int = Field(default=5000, ge=10)
    start: dt.date
    end: dt.date
    seed: int = 0
    ground_truth_cutoffs: tuple[dt.date, ...] = ()
    ground_truth_simulations: int = Field(default=20, ge=1, le=1000)
    shifts: tuple[SpendShiftConfig, ...] = ()  # none: the plain sample data

    @model_validator(mode="after")
    def _ordered(self) -> SampleDataConfig:
        if self.end <= self.start:
            raise ValueError("'end' must be after 'start'")
        return self


class DriftThresholds(Strict):
    """Alert levels of a drift distance (PSI or KS): WARN at or above ``warn``,
    ERROR at or above ``error``."""

    warn: float = Field(gt=0, allow_inf_nan=False)
    error: float = Field(gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> DriftThresholds:
        if not self.warn < self.error:
            raise ValueError(f"warn ({self.warn}) must be below error ({self.error})")
        return self


class KsThresholds(DriftThresholds):
    """KS statistics are in [0, 1]."""

    error: float = Field(gt=0, le=1, allow_inf_nan=False)


class RateTolerance(Strict):
    """A rate gap (prevalence, calibration) is tolerated up to
    ``max(absolute, relative x the reference or observed rate)``."""

    absolute: float = Field(gt=0, le=1, allow_inf_nan=False)
    relative: float = Field(gt=0, allow_inf_nan=False)


# Features whose values are re-estimated or re-fitted at every cutoff, or grow with the
# clock, so that comparing raw values across cutoffs measures the re-estimation rather
# than the accounts (docs/metrics.md "Drift"). Their drift is stored, status "ignored".
DRIFT_IGNORE_DEFAULT: tuple[str, ...] = (
    "als_f*",  # ALS coordinates: a new fit is rotated / sign-flipped
    "*gp_share__*",  # empirical-Bayes shares: shrunk to a prior re-estimated at C
    "*firm__industry_rate",  # smoothed target rate of the group, re-estimated at C
    "*firm__region_rate",
    "firm__industry_freq",  # share of accounts in the group, re-estimated at C
    "firm__region_freq",
    "tgt__affinity__*",  # market-basket rules re-mined at C
    "lifecycle__tenure_days",  # clock features: + (C - reference) for every account
    "firm__account_age_days",
    "tgt__lifecycle__months_since_first",
)


class MonitoringConfig(Strict):
    """Drift of features and scores against a reference cutoff (docs/metrics.md)."""

    reference: Literal["model_training", "previous"] = "model_training"
    bins: int = Field(default=10, ge=2, le=100)  # PSI: quantile bins of the reference
    epsilon: float = Field(default=1e-4, gt=0, le=0.01, allow_inf_nan=False)
    psi: DriftThresholds = DriftThresholds(warn=0.1, error=0.25)
    ks: KsThresholds = KsThresholds(warn=0.1, error=0.2)
    score_psi: DriftThresholds = DriftThresholds(warn=0.1, error=0.25)
    # family-wise chance, per partition, that sampling noise alone passes a threshold
    alpha: float = Field(default=0.01, gt=0, lt=0.5, allow_inf_nan=False)
    segment_column: Literal["industry", "region"] | None = "industry"
    min_segment_rows: int = Field(default=100, ge=10)
    prevalence: RateTolerance = RateTolerance(absolute=0.02, relative=0.5)
    calibration: RateTolerance = RateTolerance(absolute=0.02, relative=0.25)
    top_n: int = Field(default=10, ge=1, le=1000)  # offending features in metadata
    ignore_features: tuple[str, ...] = DRIFT_IGNORE_DEFAULT  # glob patterns

    @field_validator("ignore_features")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(p.strip() for p in value)
        if any(not p for p in cleaned):
            raise ValueError("must list non-empty feature names or glob patterns")
        return cleaned


class AuditConfig(Strict):
    """``gosales audit``: the leakage controls run on demand (docs/robustness.md)."""

    appended_lines: int = Field(default=200, ge=1, le=1_000_000)
    shuffled_auc_tolerance: float = Field(
        default=0.05, gt=0, lt=0.5, allow_inf_nan=False
    )
    shuffled_auc_z: float = Field(default=3.0, gt=0, le=10, allow_inf_nan=False)
    seed: int = 17


class BootstrapConfig(Strict):
    """The seeded percentile bootstrap behind every forward-validation interval."""

    resamples: int = Field(default=1000, ge=1, le=100_000)
    seed: int = 42
    level: float = Field(default=0.95, gt=0, lt=1, allow_inf_nan=False)


class ValidationConfig(Strict):
    """Forward validation (``validation.forward_metrics``; docs/metrics.md).

    ``margins``: metric -> how much worse than the model card's out-of-time value the
    forward value may be before its WARN check fails (absolute, in the metric's unit;
    "worse" is lower for auc/pr_auc/lift/capture, higher for brier, log_loss and
    calibration_mae). Every metric needs a K the models report (modeling).
    """

    bootstrap: BootstrapConfig = BootstrapConfig()
    margins: dict[str, float] = Field(
        default_factory=lambda: {
            "auc": 0.05,
            "lift@10": 0.5,
            "brier": 0.01,
            "calibration_mae": 0.02,
        }
    )
    sensor_interval_seconds: int = Field(default=900, ge=30, le=86_400)

    @field_validator("margins")
    @classmethod
    def _margins(cls, value: dict[str, float]) -> dict[str, float]:
        from gosales_assets.lib.models.settings import metric_direction

        for name, margin in value.items():
            try:
                metric_direction(name)
            except ValueError as err:
                raise ValueError(str(err)) from None
            if not (math.isfinite(margin) and margin >= 0):
                raise ValueError(
                    f"margin of {name!r} must be a finite number >= 0, got {margin}"
                )
        return value
