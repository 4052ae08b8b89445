"""The one label definition (DATA_CONTRACT section 4).

``label = 1`` iff the customer's net GP over the target's SKUs (denylisted SKUs removed)
in the window ``(C, end(C, W)]`` is strictly above the threshold. Training, scoring,
validation and the sample-data ground truth all call :func:`window_net_gp`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from gosales_assets.lib.checks import CheckOutcome
from gosales_assets.lib.timeutil import window_end


def target_predicate(skus: Iterable[str], denylist: Iterable[str] = ()) -> pl.Expr:
    """The one target predicate: a line is the target's iff its SKU is in the set."""
    allowed = sorted(set(skus) - set(denylist))
    return pl.col("sku").is_in(allowed)


def window_net_gp(
    lines: pl.LazyFrame | pl.DataFrame,
    *,
    skus: Iterable[str],
    cutoff: dt.date,
    months: int,
    denylist: Iterable[str] = (),
) -> pl.LazyFrame:
    """Net GP per customer over the target's lines in ``(cutoff, end(cutoff, months)]``.

    ``lines`` needs ``customer_id``, ``order_date`` (Date), ``sku``, ``gross_profit``.
    Customers without a target line in the window are absent (net GP 0).
    """
    end = window_end(cutoff, months)
    return (
        lines.lazy()
        .filter(
            (pl.col("order_date") > cutoff)
            & (pl.col("order_date") <= end)
            & target_predicate(skus, denylist)
        )
        .group_by("customer_id")
        .agg(pl.col("gross_profit").sum().alias("net_gp"))
    )


def positive_customers(
    lines: pl.LazyFrame | pl.DataFrame,
    *,
    skus: Iterable[str],
    cutoff: dt.date,
    months: int,
    threshold: float = 0.0,
    denylist: Iterable[str] = (),
) -> pl.LazyFrame:
    """Customers labelled 1 at ``cutoff`` (net GP strictly above ``threshold``)."""
    return (
        window_net_gp(lines, skus=skus, cutoff=cutoff, months=months, denylist=denylist)
        .filter(pl.col("net_gp") > threshold)
        .select("customer_id")
    )


LABEL_COLUMNS: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "label": pl.Int8(),
    "net_gp": pl.Float64(),
    "is_new_logo": pl.Int8(),
    "is_expansion": pl.Int8(),
    "is_renewal_like": pl.Int8(),
    "window_end": pl.Date(),
}


@dataclass(frozen=True)
class LabelSet:
    """Labels of one (cutoff, target) with the facts needed to audit them."""

    frame: pl.DataFrame  # LABEL_COLUMNS, sorted by customer_id
    window_end: dt.date
    first_line_date: dt.date | None  # earliest window line used
    last_line_date: dt.date | None  # latest window line used
    lines_used: int


def window_state(
    cutoff: dt.date, months: int, data_through: dt.date | None
) -> str | None:
    """Why labels at ``cutoff`` cannot be built yet (censored); None if complete."""
    end = window_end(cutoff, months)
    if data_through is None:
        return "no sales data has been ingested"
    if end > data_through:
        return (
            f"label window ({cutoff}, {end}] is not complete: the data covers "
            f"{data_through}; labels at {cutoff} will exist once it reaches {end}"
        )
    return None


def build_labels(
    population: pl.DataFrame,
    history: pl.LazyFrame | pl.DataFrame,
    window_lines: pl.LazyFrame | pl.DataFrame,
    *,
    skus: Iterable[str],
    cutoff: dt.date,
    months: int,
    threshold: float = 0.0,
    mode: str = "expansion",
    denylist: Iterable[str] = (),
) -> LabelSet:
    """Labels per customer at ``cutoff`` for one target (DATA_CONTRACT section 4).

    ``population``: every customer known at the cutoff (``customer_id``).
    ``history``: lines dated on or before the cutoff (``customer_id``, ``order_date``,
    ``sku``); used only for the population (expansion mode) and the cohorts.
    ``window_lines``: lines with ``customer_id``, ``order_date``, ``sku``,
    ``gross_profit``; only those in ``(cutoff, end(cutoff, months)]`` are used.
    """
    skus = list(skus)
    denylist = list(denylist)
    end = window_end(cutoff, months)
    hist = (
        history.lazy()
        .filter(pl.col("order_date") <= cutoff)
        .group_by("customer_id")
        .agg(
            pl.len().alias("_n_any"),
            target_predicate(skus, denylist).sum().alias("_n_target"),
        )
    )
    used = (
        window_lines.lazy()
        .filter(
            (pl.col("order_date") > cutoff)
            & (pl.col("order_date") <= end)
            & target_predicate(skus, denylist)
        )
        .collect()
    )
    net = window_net_gp(
        used, skus=skus, cutoff=cutoff, months=months, denylist=denylist
    )
    frame = (
        population.lazy()
        .select("customer_id")
        .unique()
        .join(hist, on="customer_id", how="left")
        .join(net, on="customer_id", how="left")
        .with_columns(
            pl.col("_n_any").fill_null(0),
            pl.col("_n_target").fill_null(0),
            pl.col("net_gp").fill_null(0.0),
        )
    )
    if mode == "expansion":
        frame = frame.filter(pl.col("_n_any") > 0)
    elif mode != "all":
        raise ValueError(f"label mode must be 'expansion' or 'all', got {mode!r}")
    out = (
        frame.select(
            "customer_id",
            (pl.col("net_gp") > threshold).cast(pl.Int8).alias("label"),
            pl.col("net_gp").round(6),
            (pl.col("_n_any") == 0).cast(pl.Int8).alias("is_new_logo"),
            ((pl.col("_n_any") > 0) & (pl.col("_n_target") == 0))
            .cast(pl.Int8)
            .alias("is_expansion"),
            (pl.col("_n_target") > 0).cast(pl.Int8).alias("is_renewal_like"),
            pl.lit(end, dtype=pl.Date).alias("window_end"),
        )
        .sort("customer_id")
        .collect()
    )
    dates = used["order_date"]
    return LabelSet(
        frame=out,
        window_end=end,
        first_line_date=dates.min() if used.height else None,  # type: ignore[arg-type]
        last_line_date=dates.max() if used.height else None,  # type: ignore[arg-type]
        lines_used=used.height,
    )


# name -> (severity, description)
LABEL_CHECKS: dict[str, tuple[str, str]] = {
    "label_window_respected": (
        "ERROR",
        "leakage: every line behind a label is dated inside (C, end(C, W)]",
    ),
    "one_row_per_customer": ("ERROR", "one label row per customer"),
    "one_cohort_per_customer": ("ERROR", "exactly one cohort flag is 1 per customer"),
    "prevalence_in_band": (
        "WARN",
        "the positive rate is inside labels.prevalence_band",
    ),
}


def label_checks(
    labels: LabelSet, cutoff: dt.date, band: tuple[float, float]
) -> list[CheckOutcome]:
    frame = labels.frame
    outside = 0
    if labels.first_line_date is not None and labels.first_line_date <= cutoff:
        outside += 1
    if labels.last_line_date is not None and labels.last_line_date > labels.window_end:
        outside += 1
    n = frame.height
    positives = int(frame["label"].sum()) if n else 0
    prevalence = positives / n if n else 0.0
    cohort_sum = frame.select(
        pl.sum_horizontal("is_new_logo", "is_expansion", "is_renewal_like")
    ).to_series()
    bad = {
        "label_window_respected": outside,
        "one_row_per_customer": n - frame["customer_id"].n_unique() if n else 0,
        "one_cohort_per_customer": int((cohort_sum != 1).sum()) if n else 0,
        "prevalence_in_band": 0 if band[0] <= prevalence <= band[1] else 1,
    }
    meta = {
        "cutoff": str(cutoff),
        "window_end": str(labels.window_end),
        "first_line_date": str(labels.first_line_date),
        "last_line_date": str(labels.last_line_date),
        "prevalence": round(prevalence, 6),
        "band": f"{band[0]}..{band[1]}",
    }
    return [
        CheckOutcome(
            "labels.labels",
            name,
            bad[name] == 0,
            LABEL_CHECKS[name][0],  # type: ignore[arg-type]
            LABEL_CHECKS[name][1],
            {"violations": bad[name], **meta},
        )
        for name in LABEL_CHECKS
    ]
