"""Forward validation: scores made at a cutoff against what the accounts then bought.

Public API::

    settings = ForwardSettings(top_k_percents=(5, 10, 20), resamples=1000, seed=42)
    frame, unscored = evaluation_frame(scores, labels)   # labelled accounts, ranked
    result = compute_forward(frame, settings, baseline, unscored)
    outcomes = forward_checks(result, margins)           # ERROR + per-margin WARN
    metrics_table(result, cutoff, target, window_end, model_version)
    gains_table(result, cutoff, target)
    closed_partitions(scored, data_through(con), cfg.window_months)
    card_metrics(artifacts_root, target, model_version)  # the card's out-of-time values

Pure logic (numpy, polars, DuckDB reads); no Dagster import. Definitions in
docs/metrics.md ("Forward validation").
"""

from __future__ import annotations

from gosales_assets.lib.validation.bootstrap import (
    Interval,
    bootstrap_intervals,
    percentile_interval,
    resample_indices,
)
from gosales_assets.lib.validation.checks import (
    check_table,
    compare,
    forward_checks,
    margin_check_name,
)
from gosales_assets.lib.validation.forward import (
    FORWARD_TABLE,
    GAINS_TABLE,
    ForwardResult,
    ForwardSettings,
    compute_forward,
    evaluation_frame,
    gains_table,
    metric_values,
    metrics_table,
    summary_markdown,
    undefined_reason,
)
from gosales_assets.lib.validation.inputs import card_metrics, read_partition
from gosales_assets.lib.validation.windows import closed_partitions, data_through

__all__ = [
    "FORWARD_TABLE",
    "GAINS_TABLE",
    "ForwardResult",
    "ForwardSettings",
    "Interval",
    "bootstrap_intervals",
    "card_metrics",
    "check_table",
    "closed_partitions",
    "compare",
    "compute_forward",
    "data_through",
    "evaluation_frame",
    "forward_checks",
    "gains_table",
    "margin_check_name",
    "metric_values",
    "metrics_table",
    "percentile_interval",
    "read_partition",
    "resample_indices",
    "summary_markdown",
    "undefined_reason",
]
