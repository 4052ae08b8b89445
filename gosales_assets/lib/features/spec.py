"""Feature specification types, the schema layout a configuration decides, constants."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.features.naming import LIFE, als_names, unique_slugs, wlabel

DAYS_PER_MONTH = 365.25 / 12
# Fixed windows of the families that do not follow ``features.windows_months``.
TRAJECTORY_MONTHS = 12
MIX_MONTHS = 24
SHORT_MONTHS = 12
DTYPES: dict[str, pl.DataType] = {
    "Float64": pl.Float64(),
    "Int32": pl.Int32(),
    "Int8": pl.Int8(),
}


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    family: str
    scope: str  # "all" | "target"
    window: str  # "12m", "life", "30d", ""
    dtype: str  # key of DTYPES
    default: float | None  # fill for nulls; None = data-derived (see stats.fill_value)
    description: str
    winsor: bool = False


@dataclass(frozen=True)
class Layout:
    """Everything about the schema that the configuration decides."""

    windows: tuple[int, ...]
    divisions: tuple[str, ...]
    div_slug: dict[str, str]
    expiring_days: tuple[int, ...]
    crm_days: tuple[int, ...]
    floor_days: int
    cap_days: int
    als: tuple[str, ...]
    month_buckets: int  # month buckets kept before lumping older history

    @property
    def window_keys(self) -> list[tuple[str, int | None]]:
        """(label, months) for each RFM window, then lifetime (months None)."""
        return [(wlabel(m), m) for m in self.windows] + [(LIFE, None)]


def layout(cfg: GosalesConfig) -> Layout:
    f = cfg.features
    divisions = tuple(cfg.sku_map.divisions)
    return Layout(
        windows=tuple(f.windows_months),
        divisions=divisions,
        div_slug=unique_slugs(divisions),
        expiring_days=tuple(f.expiring_days),
        crm_days=tuple(f.crm_windows_days),
        floor_days=f.recency_floor_days,
        cap_days=max(f.recency_cap_days, f.recency_floor_days),
        als=tuple(als_names(f.als.factors)),
        month_buckets=max(
            (*f.windows_months, MIX_MONTHS, TRAJECTORY_MONTHS, f.als.lookback_months)
        ),
    )
