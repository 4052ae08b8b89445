"""ICP scores, reasons and whitespace ranking: pure polars, no Dagster, no DuckDB.

Public API (see ``docs/whitespace.md``)::

    settings = WhitespaceSettings.from_dict(cfg_whitespace_mapping)
    icp = score_icp(scores, model_version, settings, reasons=None)
    reasons = reason_text(contributions, feature_values, catalog, target=...,
                          division_names=..., top_n=settings.reasons_top_n)
    result = rank_whitespace(candidates, settings, cutoff, target, history)
    cross = cross_division({target: result, ...}, settings)
    export_whitespace(cross.frame, reports_dir, cutoff, settings)
"""

from __future__ import annotations

from gosales_assets.lib.whitespace.cross import CrossDivisionResult, cross_division
from gosales_assets.lib.whitespace.eligibility import (
    RULES,
    EligibilityOutcome,
    apply_eligibility,
    cooldown_dates,
)
from gosales_assets.lib.whitespace.export import (
    canonical,
    export_whitespace,
    write_per_rep_csvs,
    write_whitespace_csv,
)
from gosales_assets.lib.whitespace.icp import score_icp
from gosales_assets.lib.whitespace.rank import (
    OUTPUT_COLUMNS,
    WhitespaceResult,
    rank_whitespace,
    select_capacity,
    with_expected_value,
)
from gosales_assets.lib.whitespace.reasons import division_display_names, reason_text
from gosales_assets.lib.whitespace.settings import (
    CapacitySettings,
    CooldownSettings,
    EligibilitySettings,
    SignalWeights,
    WhitespaceSettings,
)
from gosales_assets.lib.whitespace.signals import (
    coverage,
    effective_weights,
    expected_value,
    normalize_within_target,
    percentile,
    typical_target_gp,
)

__all__ = [
    "OUTPUT_COLUMNS",
    "RULES",
    "CapacitySettings",
    "CooldownSettings",
    "CrossDivisionResult",
    "EligibilityOutcome",
    "EligibilitySettings",
    "SignalWeights",
    "WhitespaceResult",
    "WhitespaceSettings",
    "apply_eligibility",
    "canonical",
    "cooldown_dates",
    "coverage",
    "cross_division",
    "division_display_names",
    "effective_weights",
    "expected_value",
    "export_whitespace",
    "normalize_within_target",
    "percentile",
    "rank_whitespace",
    "reason_text",
    "score_icp",
    "select_capacity",
    "typical_target_gp",
    "with_expected_value",
    "write_per_rep_csvs",
    "write_whitespace_csv",
]
