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


class SampleDataConfig(Strict):
    customers: int = Field(default=5000, ge=10)
    start: dt.date
    end: dt.date
    seed: int = 0
    ground_truth_cutoffs: tuple[dt.date, ...] = ()
    ground_truth_simulations: int = Field(default=20, ge=1, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> SampleDataConfig:
        if self.end <= self.start:
            raise ValueError("'end' must be after 'start'")
        return self
