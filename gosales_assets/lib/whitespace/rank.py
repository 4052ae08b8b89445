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
from gosales_assets.lib.whitespace.templates import money

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
        return pl.Series("selected", [i < k for i in range(ranked.height)], pl.Boolean)
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
    first), then the ICP model's reasons (``reason_1..``), distinct, ``top_n`` parts.
    """
    icp_cols = sorted(
        (c for c in frame.columns if c.startswith("reason_") and c[7:].isdigit()),
        key=lambda c: int(c[7:]),
    )
    norms = {s: frame[SIGNAL_COLUMNS[s][1]].to_list() for s in SIGNALS}
    ev = frame["expected_value"].to_list()
    icp = [frame[c].cast(pl.String).to_list() for c in icp_cols]
    out: list[str] = []
    for r in range(frame.height):
        drivers = sorted(
            (-weights[s] * norms[s][r], i, s)
            for i, s in enumerate(SIGNALS)
            if weights[s] > 0 and norms[s][r] >= DRIVER_MIN_NORM
        )
        parts: list[str] = []
        for _, _, s in drivers:
            if s == "p_icp_pct":
                share = 1 - norms[s][r] + 1 / frame.height  # accounts at or above
                top = max(1, math.ceil(share * 100 - 1e-9))
                if top <= 50:
                    parts.append(f"in the top {top}% most likely to buy {target}")
            elif s == "affinity":
                parts.append(f"buys products often bought with {target}")
            elif s == "als":
                parts.append(f"looks like existing {target} customers")
            else:
                parts.append(f"expected {target} GP about {money(ev[r])}")
        parts += [col[r] for col in icp if col[r]]
        distinct = list(dict.fromkeys(parts))[:top_n]
        out.append("; ".join(distinct) or f"fits the {target} buyer profile")
    return pl.Series("reason", out, dtype=pl.String)


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
