"""Whitespace ranking of one (cutoff, target): eligibility, blend, cooldown, capacity.

See ``docs/whitespace.md`` for the formulas. Everything is deterministic: the order is
``score desc, p_icp desc, customer_id asc`` and no randomness is involved.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from gosales_assets.lib.whitespace.eligibility import (
    apply_eligibility,
    cooldown_dates,
)
from gosales_assets.lib.whitespace.formatting import money
from gosales_assets.lib.whitespace.settings import SIGNALS, WhitespaceSettings
from gosales_assets.lib.whitespace.signals import (
    coverage,
    effective_weights,
    expected_value,
    grade_expr,
    normalize_within_target,
    percentile,
    present_mask,
    quantile_cap,
    typical_target_gp,
)

# input column of each raw signal, and its normalized output column
SIGNAL_COLUMNS = {
    "p_icp_pct": ("p_icp", "icp_norm"),
    "affinity": ("affinity", "affinity_norm"),
    "als": ("als_sim", "als_norm"),
    "ev": ("expected_value", "ev_norm"),
}
DRIVER_MIN_NORM = 0.7  # a signal is named in the reason when its norm is >= this
RANK_ORDER = (["score", "p_icp", "customer_id"], [True, True, False])

OUTPUT_COLUMNS = [
    "customer_id",
    "rank",
    "score",
    "score_pct",
    "grade",
    "selected",
    "cooled",
    "last_surfaced",
    "blend",
    "p_icp",
    "p_icp_pct",
    "icp_norm",
    "affinity",
    "affinity_norm",
    "als_sim",
    "als_norm",
    "expected_value",
    "ev_norm",
    "rep",
    "segment",
    "reason",
]


@dataclass(frozen=True)
class WhitespaceResult:
    """The ranked list of one (cutoff, target) and everything needed to audit it."""

    cutoff: dt.date
    target: str
    ranked: pl.DataFrame  # OUTPUT_COLUMNS, sorted by rank
    excluded: pl.DataFrame  # customer_id, rule
    exclusions: dict[str, int]
    readmitted: dict[str, int]
    coverage: dict[str, float]
    base_weights: dict[str, float]
    weight_factors: dict[str, float]
    effective_weights: dict[str, float]
    counts: dict[str, int]
    ev_cap: float | None
    notes: tuple[str, ...] = field(default=())

    def metadata(self) -> dict[str, Any]:
        """JSON-able summary for asset metadata and logs."""
        return {
            "cutoff": self.cutoff.isoformat(),
            "target": self.target,
            **{f"n_{k}": v for k, v in self.counts.items()},
            "exclusions": dict(self.exclusions),
            "readmitted": dict(self.readmitted),
            "coverage": {k: round(v, 6) for k, v in self.coverage.items()},
            "base_weights": dict(self.base_weights),
            "weight_factors": {k: round(v, 6) for k, v in self.weight_factors.items()},
            "effective_weights": {
                k: round(v, 6) for k, v in self.effective_weights.items()
            },
            "ev_cap": self.ev_cap,
            "notes": list(self.notes),
        }


def quota(n: int, share: float) -> int:
    """``max(1, floor(share * n))`` for a non-empty group, else 0."""
    return 0 if n <= 0 else max(1, math.floor(share * n + 1e-9))


def with_expected_value(
    candidates: pl.DataFrame, settings: WhitespaceSettings
) -> pl.DataFrame:
    """Add ``typical_gp`` and ``expected_value = p_icp x typical_gp``.

    Needs ``target_gp_24m`` and the segment column; computed over every candidate
    (owners included: they define what an account of the segment typically spends).
    """
    seg = settings.capacity.segment_column
    typ = typical_target_gp(candidates, seg, settings.ev_min_segment_buyers)
    out = candidates.with_columns(typ["typical_gp"], typ["typical_gp_source"])
    return out.with_columns(expected_value(out["p_icp"], out["typical_gp"]))


def _prepare(
    candidates: pl.DataFrame, settings: WhitespaceSettings, notes: list[str]
) -> pl.DataFrame:
    for col in ("customer_id", "p_icp"):
        if col not in candidates.columns:
            raise ValueError(f"rank_whitespace: missing column {col!r}")
    frame = candidates.with_columns(
        pl.col("customer_id").cast(pl.String), pl.col("p_icp").cast(pl.Float64)
    )
    if frame["customer_id"].null_count() or frame["customer_id"].is_duplicated().any():
        raise ValueError("rank_whitespace: customer_id must be unique and non-null")
    if "p_icp_pct" not in frame.columns:
        frame = frame.with_columns(percentile(frame["p_icp"]).alias("p_icp_pct"))
    if "expected_value" not in frame.columns:
        if "target_gp_24m" in frame.columns:
            seg = settings.capacity.segment_column
            if seg not in frame.columns:
                notes.append(f"{seg!r} absent: typical GP is the overall median")
                frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(seg))
            frame = with_expected_value(frame, settings)
        else:
            notes.append("no expected_value or target_gp_24m: EV signal is 0")
    for name in ("affinity", "als_sim", "expected_value"):
        if name not in frame.columns:
            if name != "expected_value":
                notes.append(f"{name} column absent: signal is 0")
            frame = frame.with_columns(pl.lit(0.0).alias(name))
    seg = settings.capacity.segment_column
    for col, src in (("rep", "rep"), ("segment", seg)):
        if src in frame.columns:
            frame = frame.with_columns(pl.col(src).cast(pl.String).alias(col))
        else:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(col))
    if settings.capacity.mode == "per_rep" and "rep" not in candidates.columns:
        raise ValueError("rank_whitespace: capacity mode per_rep needs a 'rep' column")
    if settings.capacity.mode == "per_segment" and seg not in candidates.columns:
        raise ValueError(f"rank_whitespace: capacity mode per_segment needs {seg!r}")
    return frame.sort("customer_id")


def select_capacity(ranked: pl.DataFrame, settings: WhitespaceSettings) -> pl.Series:
    """The ``selected`` flag of a frame sorted by rank.

    - ``overall``: the best ``quota(n, top_share)`` accounts.
    - ``per_segment``: the best ``quota(n_g, top_share)`` of each segment (a null
      segment is one group).
    - ``per_rep``: the best ``per_rep_max`` accounts of each rep, or
      ``quota(n_g, top_share)`` when ``per_rep_max`` is null (no rep is one group).
    """
    c = settings.capacity
    if c.mode == "overall":
        k = quota(ranked.height, c.top_share)
        return ranked.select((pl.int_range(pl.len()) < k).alias("selected"))["selected"]
    group = "rep" if c.mode == "per_rep" else "segment"
    pos = pl.int_range(pl.len()).over(group)
    n_g = pl.len().over(group)
    if c.mode == "per_rep" and c.per_rep_max is not None:
        limit = pl.lit(c.per_rep_max)
    else:
        limit = pl.max_horizontal(
            pl.lit(1), (n_g.cast(pl.Float64) * c.top_share + 1e-9).floor()
        )
    out = ranked.select((pos < limit).alias("selected"))
    return out["selected"]


def _reasons(
    frame: pl.DataFrame, weights: dict[str, float], target: str, top_n: int
) -> pl.Series:
    """``reason``: signal drivers (norm >= DRIVER_MIN_NORM, largest weighted part
    first, ties in ``SIGNALS`` order), then the ICP model's reasons
    (``reason_1..``), distinct, ``top_n`` parts; ``fits the <target> buyer
    profile`` when there is none. Column-wise: the drivers' order comes from
    pairwise comparisons of their weighted parts, not from a sort per row.
    """
    icp_cols = sorted(
        (c for c in frame.columns if c.startswith("reason_") and c[7:].isdigit()),
        key=lambda c: int(c[7:]),
    )
    active = [s for s in SIGNALS if weights[s] > 0]
    norm = {s: pl.col(SIGNAL_COLUMNS[s][1]) for s in active}
    driver = {s: norm[s] >= DRIVER_MIN_NORM for s in active}
    part = {s: pl.lit(-weights[s]) * norm[s] for s in active}
    texts: dict[str, pl.Expr] = {}
    work = frame
    for s in active:
        if s == "p_icp_pct":
            share = pl.lit(1) - norm[s] + pl.lit(1 / frame.height)  # at or above
            top = pl.max_horizontal(
                pl.lit(1), (share * 100 - 1e-9).ceil().cast(pl.Int64)
            )
            texts[s] = (
                pl.when(top <= 50)
                .then(
                    pl.format(
                        "in the top {}% most likely to buy {}", top, pl.lit(target)
                    )
                )
                .otherwise(pl.lit(None, dtype=pl.String))
            )
        elif s == "affinity":
            texts[s] = pl.lit(f"buys products often bought with {target}")
        elif s == "als":
            texts[s] = pl.lit(f"looks like existing {target} customers")
        else:
            # the amount is formatted once per distinct value of the drivers
            values = frame.filter(driver[s])["expected_value"].unique()
            amounts = pl.DataFrame(
                {
                    "expected_value": values,
                    "_money": [money(v) for v in values.to_list()],
                },
                schema={
                    "expected_value": frame.schema["expected_value"],
                    "_money": pl.String,
                },
            )
            work = work.join(
                amounts, on="expected_value", how="left", maintain_order="left"
            )
            texts[s] = pl.format(
                "expected {} GP about {}", pl.lit(target), pl.col("_money")
            )
    # evaluated in stages over materialized columns: each expression once
    w = ["_w_" + s for s in active]
    d = ["_d_" + s for s in active]
    t = ["_t_" + s for s in active]
    work = work.select(
        *[part[s].alias(w[i]) for i, s in enumerate(active)],
        *[driver[s].alias(d[i]) for i, s in enumerate(active)],
        *[texts[s].alias(t[i]) for i, s in enumerate(active)],
        *[pl.col(c).cast(pl.String) for c in icp_cols],
    )
    # slot of each driver: how many drivers come before it
    slots: list[pl.Expr] = []
    for i in range(len(active)):
        before = pl.lit(0, dtype=pl.Int32)
        for j in range(len(active)):
            if j == i:
                continue
            ahead = (pl.col(w[j]) < pl.col(w[i])) | (
                (pl.col(w[j]) == pl.col(w[i])) & pl.lit(j < i)
            )
            before = before + (pl.col(d[j]) & ahead).cast(pl.Int32)
        slots.append(pl.when(pl.col(d[i])).then(before).alias(f"_slot_{i}"))
    work = work.with_columns(slots)
    ordered = [
        pl.coalesce(
            *[
                pl.when(pl.col(f"_slot_{i}") == k).then(pl.col(t[i]))
                for i in range(len(active))
            ],
            pl.lit(None, dtype=pl.String),
        )
        for k in range(len(active))
    ]
    ordered += [pl.col(c) for c in icp_cols]
    names = [f"_part_{i}" for i in range(len(ordered))]
    work = work.select(
        *[
            pl.when(e != "").then(e).alias(n)  # an empty reason is no reason
            for e, n in zip(ordered, names, strict=True)
        ]
    )
    # keep the first occurrence of each part, then the first top_n of those
    firsts = []
    for i, n in enumerate(names):
        new = pl.col(n).is_not_null()
        for prev in names[:i]:
            new = new & (pl.col(n) != pl.col(prev)).fill_null(True)
        firsts.append(new.alias(f"_new_{i}"))
    work = work.with_columns(firsts)
    shown: list[pl.Expr] = []
    for i, n in enumerate(names):
        rank = pl.sum_horizontal(
            pl.lit(0, dtype=pl.Int32),
            *[pl.col(f"_new_{j}").cast(pl.Int32) for j in range(i)],
        )
        shown.append(pl.when(pl.col(f"_new_{i}") & (rank < top_n)).then(pl.col(n)))
    joined = (
        pl.concat_str(shown, separator="; ", ignore_nulls=True)
        if shown
        else pl.lit(None, dtype=pl.String)
    )
    reason = (
        pl.when(joined.fill_null("") == "")
        .then(pl.lit(f"fits the {target} buyer profile"))
        .otherwise(joined)
    )
    return work.select(reason.alias("reason"))["reason"]


def rank_whitespace(
    candidates: pl.DataFrame,
    settings: WhitespaceSettings,
    cutoff: dt.date,
    target: str,
    history: pl.DataFrame | None = None,
) -> WhitespaceResult:
    """Rank every eligible account for ``target`` at ``cutoff``.

    ``candidates`` (one row per account known at the cutoff): ``customer_id,
    p_icp`` and, as the configured rules need them, ``p_icp_pct`` (else computed),
    ``affinity``, ``als_sim``, ``expected_value`` (or ``target_gp_24m`` to compute
    it), ``owns_ever``, ``last_target_purchase_days`` (null = never),
    ``active_target_install``, ``open_deal``, ``last_contact_days`` (null = never),
    ``rep``, the segment column, ``reason_1..`` (ICP reasons). ``history``: earlier
    whitespace rows for the cooldown (see ``cooldown_dates``).
    """
    notes: list[str] = []
    frame = _prepare(candidates, settings, notes)
    outcome = apply_eligibility(frame, settings)
    notes += outcome.notes
    el = outcome.eligible
    cov = {s: coverage(el[SIGNAL_COLUMNS[s][0]]) for s in SIGNALS}
    base = settings.base_weights
    weights, factors = effective_weights(base, cov, settings.coverage_floor)
    ev_raw = el["expected_value"].cast(pl.Float64)
    cap = quantile_cap(ev_raw, settings.ev_quantile_cap)
    ev_capped = ev_raw if cap is None else ev_raw.clip(upper_bound=cap)
    el = el.with_columns(
        normalize_within_target(el["p_icp"]).alias("icp_norm"),
        normalize_within_target(el["affinity"]).alias("affinity_norm"),
        normalize_within_target(el["als_sim"]).alias("als_norm"),
        normalize_within_target(ev_capped, present_mask(ev_raw)).alias("ev_norm"),
    )
    blend = pl.lit(0.0)
    for s in SIGNALS:  # fixed order: identical floating-point sums every run
        blend = blend + pl.lit(weights[s]) * pl.col(SIGNAL_COLUMNS[s][1])
    last = cooldown_dates(el["customer_id"], history, cutoff, target, settings)
    el = el.with_columns(blend.alias("blend"), last.alias("last_surfaced"))
    el = el.with_columns(pl.col("last_surfaced").is_not_null().alias("cooled"))
    el = el.with_columns(
        pl.when(pl.col("cooled"))
        .then(pl.col("blend") * settings.cooldown.factor)
        .otherwise(pl.col("blend"))
        .alias("score")
    )
    by, desc = RANK_ORDER
    el = el.sort(by, descending=desc).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("rank")
    )
    el = el.with_columns(percentile(el["score"]).alias("score_pct"))
    el = el.with_columns(
        grade_expr(
            pl.col("score_pct"), settings.grade_cuts, settings.lowest_grade
        ).alias("grade"),
        select_capacity(el, settings),
        _reasons(el, weights, target, settings.reasons_top_n),
    )
    ranked = el.select(OUTPUT_COLUMNS)
    counts = {
        "candidates": frame.height,
        "eligible": ranked.height,
        "excluded": outcome.excluded.height,
        "selected": int(ranked["selected"].sum()),
        "cooled": int(ranked["cooled"].sum()),
    }
    return WhitespaceResult(
        cutoff=cutoff,
        target=target,
        ranked=ranked,
        excluded=outcome.excluded,
        exclusions=outcome.exclusions,
        readmitted=outcome.readmitted,
        coverage=cov,
        base_weights=base,
        weight_factors=factors,
        effective_weights=weights,
        counts=counts,
        ev_cap=cap,
        notes=tuple(notes),
    )
