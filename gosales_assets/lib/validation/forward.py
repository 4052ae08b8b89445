"""Forward validation of one (cutoff, target): the scores made at C against what the
accounts then bought in the label window ``(C, end(C, W)]``.

The labels are ``labels.labels`` at C (the one label definition); every metric comes
from :func:`gosales_assets.lib.models.metrics.evaluate`, the function behind the model
card's out-of-time numbers, so a forward value and the card's value of the same name
are the same quantity on different data. Each metric gets a seeded percentile bootstrap
interval (``lib/validation/bootstrap.py``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from gosales_assets.lib.models.metrics import evaluate, gains_by_decile
from gosales_assets.lib.models.settings import k_label
from gosales_assets.lib.validation.bootstrap import (
    bootstrap_intervals,
    percentile_interval,
)
from gosales_assets.lib.validation.ranked import (
    RankedMetrics,
    bootstrap_ranked,
    is_ranked,
)

FORWARD_TABLE = "validation.forward_metrics"
GAINS_TABLE = "validation.forward_gains"


@dataclass(frozen=True)
class ForwardSettings:
    """What forward validation computes: the model card's K's and calibration bins,
    and the bootstrap (number of resamples, seed, interval level)."""

    top_k_percents: tuple[float, ...] = (5.0, 10.0, 20.0)
    gp_lift_k_percent: float = 10.0
    calibration_bins: int = 10
    resamples: int = 1000
    seed: int = 42
    level: float = 0.95

    def __post_init__(self) -> None:
        if not self.top_k_percents or any(
            not 0 < k <= 100 for k in self.top_k_percents
        ):
            raise ValueError("top_k_percents: must list percentages in (0, 100]")
        if not 0 < self.gp_lift_k_percent <= 100:
            raise ValueError("gp_lift_k_percent: must be in (0, 100]")
        if self.calibration_bins < 1:
            raise ValueError("calibration_bins: must be >= 1")
        if self.resamples < 1:
            raise ValueError("resamples: must be >= 1")
        if not 0 < self.level < 1:
            raise ValueError("level: must be in (0, 1)")

    @property
    def metric_names(self) -> list[str]:
        """Every forward metric, in report order."""
        ks = [k_label(k) for k in self.top_k_percents]
        return [
            "auc",
            "pr_auc",
            "brier",
            "log_loss",
            "calibration_mae",
            *[f"{kind}@{k}" for kind in ("lift", "capture", "gp_capture") for k in ks],
            f"gp_weighted_lift@{k_label(self.gp_lift_k_percent)}",
            "prevalence",
            "mean_p",
        ]


def metric_values(
    y: np.ndarray, p: np.ndarray, gp: np.ndarray, settings: ForwardSettings
) -> dict[str, float]:
    """The forward metrics of one sample (nan where undefined)."""
    out = evaluate(
        y,
        p,
        gp,
        top_k_percents=settings.top_k_percents,
        gp_k_percent=settings.gp_lift_k_percent,
        n_bins=settings.calibration_bins,
    )
    return {name: out[name] for name in settings.metric_names}


def undefined_reason(
    name: str, *, rows: int, positives: int, constant: bool, positive_gp: float
) -> str | None:
    """Why a metric has no value on this data (docs/metrics.md), else None."""
    kind = name.split("@")[0]
    if rows == 0:
        return "no labelled account"
    if kind in ("auc", "pr_auc", "lift", "capture") and positives == 0:
        return "no account bought the target in the window"
    if kind == "auc" and positives == rows:
        return "every labelled account bought the target in the window"
    if kind in ("lift", "capture", "gp_capture", "gp_weighted_lift") and constant:
        return "every score is equal: the ranking carries no information"
    if kind in ("gp_capture", "gp_weighted_lift") and positive_gp <= 0:
        return "the buyers carry no positive gross profit in the window"
    return None


@dataclass(frozen=True)
class ForwardResult:
    """Forward metrics of one (cutoff, target)."""

    metrics: pl.DataFrame  # metric, value, ci_low, ci_high, ci_resamples, ...
    gains: pl.DataFrame  # gains_by_decile of the labelled accounts
    rows: int  # labelled accounts with a score
    positives: int
    unscored: int  # labelled accounts without a finite score
    settings: ForwardSettings

    def value(self, metric: str) -> float | None:
        row = self.metrics.filter(pl.col("metric") == metric)
        return row["value"][0] if row.height else None


def evaluation_frame(
    scores: pl.DataFrame, labels: pl.DataFrame
) -> tuple[pl.DataFrame, int]:
    """The labelled accounts with their score, in ranking order, and the number of
    labelled accounts without a finite score.

    ``scores``: ``customer_id, p_icp``; ``labels``: ``customer_id, label, net_gp``.
    The population is the labels' (the accounts the label definition covers at C).
    Ranking order is score descending, then ``customer_id``: the metrics break ties
    by row order, so ties are broken by ``customer_id`` as in the model card.
    """
    joined = labels.select("customer_id", "label", "net_gp").join(
        scores.select("customer_id", "p_icp"), on="customer_id", how="left"
    )
    scored = pl.col("p_icp").is_not_null() & pl.col("p_icp").is_finite()
    unscored = joined.height - int(joined.select(scored.sum()).item())
    frame = joined.filter(scored).sort(
        ["p_icp", "customer_id"], descending=[True, False]
    )
    return frame, unscored


_METRIC_SCHEMA = {
    "metric": pl.String,
    "value": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "ci_resamples": pl.Int64,
    "oot_value": pl.Float64,
    "undefined_reason": pl.String,
}


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def compute_forward(
    frame: pl.DataFrame,
    settings: ForwardSettings,
    baseline: Mapping[str, float | None],
    unscored: int = 0,
) -> ForwardResult:
    """Forward metrics, bootstrap intervals and gains of an :func:`evaluation_frame`.

    ``baseline``: the model card's out-of-time metrics (``validation_metrics``);
    a metric the card lacks has no ``oot_value``. Undefined values are null, with
    the reason in ``undefined_reason``.
    """
    y = frame["label"].cast(pl.Float64).to_numpy()
    p = frame["p_icp"].cast(pl.Float64).to_numpy()
    gp = frame["net_gp"].cast(pl.Float64).fill_null(0.0).to_numpy()
    rows, positives = int(y.size), int(y.sum())
    values = metric_values(y, p, gp, settings)
    if rows and is_ranked(p):
        # the evaluation frame is in ranking order: the same seeded resamples and
        # the same metric values, without sorting each resample
        draws = bootstrap_ranked(
            RankedMetrics(y, p, gp, settings), settings.resamples, settings.seed
        )
        intervals = {
            name: percentile_interval(v, settings.level) for name, v in draws.items()
        }
    else:
        intervals = bootstrap_intervals(
            y,
            p,
            gp,
            lambda yy, pp, ww: metric_values(yy, pp, ww, settings),
            resamples=settings.resamples,
            seed=settings.seed,
            level=settings.level,
        )
    constant = rows == 0 or float(p.max() - p.min()) == 0.0
    positive_gp = float(np.clip(gp, 0.0, None)[y == 1].sum()) if rows else 0.0
    records = []
    for name in settings.metric_names:
        reason = undefined_reason(
            name,
            rows=rows,
            positives=positives,
            constant=constant,
            positive_gp=positive_gp,
        )
        ci = intervals.get(name)
        records.append(
            {
                "metric": name,
                "value": _finite_or_none(values[name]),
                "ci_low": _finite_or_none(ci.low) if ci else None,
                "ci_high": _finite_or_none(ci.high) if ci else None,
                "ci_resamples": ci.resamples if ci else 0,
                "oot_value": _finite_or_none(baseline.get(name)),
                "undefined_reason": reason,
            }
        )
    return ForwardResult(
        metrics=pl.DataFrame(records, schema=_METRIC_SCHEMA),
        gains=gains_by_decile(y, p, gp),
        rows=rows,
        positives=positives,
        unscored=unscored,
        settings=settings,
    )


def metrics_table(
    result: ForwardResult,
    cutoff: dt.date,
    target: str,
    window_end: dt.date,
    model_version: str,
) -> pl.DataFrame:
    """Rows of ``validation.forward_metrics`` for one partition, sorted by metric."""
    s = result.settings
    return result.metrics.select(
        pl.lit(cutoff, dtype=pl.Date).alias("cutoff"),
        pl.lit(target).alias("division"),
        "metric",
        "value",
        "ci_low",
        "ci_high",
        pl.lit(s.level).alias("ci_level"),
        "ci_resamples",
        pl.lit(s.resamples, dtype=pl.Int64).alias("resamples"),
        pl.lit(s.seed, dtype=pl.Int64).alias("seed"),
        pl.lit(result.rows, dtype=pl.Int64).alias("n"),
        pl.lit(result.positives, dtype=pl.Int64).alias("positives"),
        "oot_value",
        "undefined_reason",
        pl.lit(window_end, dtype=pl.Date).alias("window_end"),
        pl.lit(model_version).alias("model_version"),
    ).sort("metric")


def gains_table(result: ForwardResult, cutoff: dt.date, target: str) -> pl.DataFrame:
    """Rows of ``validation.forward_gains`` (decile 1 = highest scores)."""
    return result.gains.select(
        pl.lit(cutoff, dtype=pl.Date).alias("cutoff"),
        pl.lit(target).alias("division"),
        pl.all(),
    ).sort("decile")


def summary_markdown(result: ForwardResult) -> str:
    """The forward metrics as a Markdown table (value, interval, out-of-time)."""

    def fmt(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.4f}"

    pct = f"{result.settings.level:.0%}"
    lines = [
        f"| metric | forward | {pct} interval | out-of-time |",
        "|---|---|---|---|",
    ]
    for row in result.metrics.iter_rows(named=True):
        interval = (
            "n/a"
            if row["ci_low"] is None
            else f"[{fmt(row['ci_low'])}, {fmt(row['ci_high'])}]"
        )
        value = fmt(row["value"])
        if row["undefined_reason"]:
            value = f"n/a ({row['undefined_reason']})"
        lines.append(
            f"| {row['metric']} | {value} | {interval} | {fmt(row['oot_value'])} |"
        )
    return "\n".join(lines)
