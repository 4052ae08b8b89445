"""Checks of a forward validation: completeness (ERROR, blocking) and, per metric with
a configured margin, the forward value against the model card's out-of-time value
(WARN)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import polars as pl

from gosales_assets.lib.checks import CheckOutcome
from gosales_assets.lib.models.settings import metric_direction
from gosales_assets.lib.validation.forward import FORWARD_TABLE, ForwardResult

COMPLETE = "metrics_complete"
SCORED = "labelled_accounts_scored"


def margin_check_name(metric: str) -> str:
    """``lift@10`` -> ``forward_lift_at_10_vs_oot`` (a valid Dagster check name)."""
    slug = re.sub(r"[^A-Za-z0-9_]", "_", metric.replace("@", "_at_"))
    return f"forward_{slug}_vs_oot"


def check_table(margins: Mapping[str, float]) -> dict[str, tuple[str, str]]:
    """Check name -> (severity, description) for the configured margins."""
    table: dict[str, tuple[str, str]] = {
        COMPLETE: (
            "ERROR",
            "one row per forward metric; every metric defined on the data has a "
            "finite value and a finite bootstrap interval",
        ),
        SCORED: (
            "ERROR",
            "every labelled account at C has a finite score at C",
        ),
    }
    for metric, margin in sorted(margins.items()):
        direction = "below" if metric_direction(metric) else "above"
        table[margin_check_name(metric)] = (
            "WARN",
            f"forward {metric} is not {direction} the model card's out-of-time "
            f"{metric} by more than {margin:g} (validation.margins)",
        )
    return table


def _finite(value: Any) -> bool:
    return value is not None and math.isfinite(float(value))


def _complete(result: ForwardResult) -> CheckOutcome:
    expected = result.settings.metric_names
    names = result.metrics["metric"].to_list()
    missing = sorted(set(expected) - set(names))
    extra = sorted(set(names) - set(expected))
    duplicated = len(names) - len(set(names))
    broken = [
        row["metric"]
        for row in result.metrics.iter_rows(named=True)
        if row["undefined_reason"] is None
        and not (
            _finite(row["value"])
            and _finite(row["ci_low"])
            and _finite(row["ci_high"])
            and row["ci_low"] <= row["ci_high"]
        )
    ]
    undefined = result.metrics.filter(pl.col("undefined_reason").is_not_null())
    violations = len(missing) + len(extra) + duplicated + len(broken)
    severity, description = check_table({})[COMPLETE]
    return CheckOutcome(
        FORWARD_TABLE,
        COMPLETE,
        violations == 0,
        severity,  # type: ignore[arg-type]
        description,
        {
            "violations": violations,
            "missing": ", ".join(missing),
            "unexpected": ", ".join(extra),
            "duplicated": duplicated,
            "not_finite": ", ".join(broken),
            "undefined": ", ".join(
                f"{m}: {r}"
                for m, r in zip(
                    undefined["metric"], undefined["undefined_reason"], strict=True
                )
            ),
            "rows": result.rows,
            "positives": result.positives,
        },
    )


def _scored(result: ForwardResult) -> CheckOutcome:
    severity, description = check_table({})[SCORED]
    return CheckOutcome(
        FORWARD_TABLE,
        SCORED,
        result.unscored == 0,
        severity,  # type: ignore[arg-type]
        description,
        {"violations": result.unscored, "rows": result.rows},
    )


def compare(
    forward: float | None, oot: float | None, margin: float, higher_is_better: bool
) -> str:
    """``ok``, ``worse`` (beyond the margin), ``no_baseline`` or ``undefined``."""
    if not _finite(oot):
        return "no_baseline"
    if not _finite(forward):
        return "undefined"
    assert forward is not None and oot is not None
    shortfall = oot - forward if higher_is_better else forward - oot
    return "worse" if shortfall > margin else "ok"


def forward_checks(
    result: ForwardResult, margins: Mapping[str, float]
) -> list[CheckOutcome]:
    """Outcomes of every check in ``check_table(margins)``, in that order.

    A margin check fails when the forward value is worse than the out-of-time value
    by more than the margin, or when the forward value is undefined although the
    card has one; it passes, saying so, when the card has no value to compare.
    """
    outcomes = [_complete(result), _scored(result)]
    table = check_table(margins)
    rows = {r["metric"]: r for r in result.metrics.iter_rows(named=True)}
    for metric, margin in sorted(margins.items()):
        row = rows.get(metric, {})
        status = compare(
            row.get("value"), row.get("oot_value"), margin, metric_direction(metric)
        )
        name = margin_check_name(metric)
        severity, description = table[name]
        value, oot = row.get("value"), row.get("oot_value")
        outcomes.append(
            CheckOutcome(
                FORWARD_TABLE,
                name,
                status in ("ok", "no_baseline"),
                severity,  # type: ignore[arg-type]
                description,
                {
                    "status": status,
                    "forward": value,
                    "ci_low": row.get("ci_low"),
                    "ci_high": row.get("ci_high"),
                    "out_of_time": oot,
                    "margin": margin,
                    "difference": value - oot
                    if _finite(value) and _finite(oot)
                    else None,
                    "undefined_reason": row.get("undefined_reason") or "",
                },
            )
        )
    return outcomes
