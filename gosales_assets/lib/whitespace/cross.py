"""The cross-division list of one cutoff: one opportunity per account.

Algorithm (``docs/whitespace.md``):

1. The list has ``L`` slots: the number of distinct accounts selected by at least one
   target's capacity. In ``per_rep`` / ``per_segment`` mode each rep / segment keeps
   as many slots as it has distinct selected accounts.
2. The pool is every eligible (account, target) row of every target's full ranked
   list, ordered ``score desc, p_icp desc, customer_id asc, target asc``.
3. Walk the pool and place a row unless its account is already placed, its group is
   full, or its target already holds ``cap_n = max(1, floor(division_share_cap x
   L))`` slots. A slot refused by the cap goes to the next best row of another target,
   so the cap binds over the full list, not only inside the pre-selected rows.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from gosales_assets.lib.whitespace.rank import WhitespaceResult
from gosales_assets.lib.whitespace.settings import WhitespaceSettings

_POOL_COLUMNS = [
    "customer_id",
    "score",
    "p_icp",
    "rank",
    "grade",
    "selected",
    "rep",
    "segment",
    "reason",
]
_SCHEMA = {
    "list_rank": pl.Int64,
    "customer_id": pl.String,
    "target": pl.String,
    "score": pl.Float64,
    "p_icp": pl.Float64,
    "grade": pl.String,
    "target_rank": pl.Int64,
    "best_target": pl.String,
    "is_best_target": pl.Boolean,
    "other_targets": pl.String,
    "rep": pl.String,
    "segment": pl.String,
    "reason": pl.String,
}
_POOL_SCHEMA = {
    "customer_id": pl.String,
    "target": pl.String,
    "score": pl.Float64,
    "p_icp": pl.Float64,
    "target_rank": pl.Int64,
    "grade": pl.String,
    "selected": pl.Boolean,
    "rep": pl.String,
    "segment": pl.String,
    "reason": pl.String,
}
_NO_GROUP = "(none)"


@dataclass(frozen=True)
class CrossDivisionResult:
    frame: pl.DataFrame  # one row per placed account, by list_rank
    counts: dict[str, Any]


def _pool(ranked: Mapping[str, pl.DataFrame | WhitespaceResult]) -> pl.DataFrame:
    frames = []
    for target in sorted(ranked):
        item = ranked[target]
        frame = item.ranked if isinstance(item, WhitespaceResult) else item
        missing = [c for c in _POOL_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"cross_division: target {target!r} lacks {missing}")
        frames.append(
            frame.with_columns(
                pl.lit(target).alias("target"), pl.col("rank").alias("target_rank")
            ).select(pl.col(c).cast(t) for c, t in _POOL_SCHEMA.items())
        )
    if not frames:
        return pl.DataFrame(schema=_POOL_SCHEMA)
    return pl.concat(frames).sort(
        ["score", "p_icp", "customer_id", "target"],
        descending=[True, True, False, False],
    )


def cross_division(
    ranked: Mapping[str, pl.DataFrame | WhitespaceResult],
    settings: WhitespaceSettings,
) -> CrossDivisionResult:
    """One list per cutoff: each account once, with its best allowed target.

    ``ranked``: target -> that target's ranked list (``WhitespaceResult`` or its
    ``ranked`` frame) at one cutoff. Output columns: ``list_rank, customer_id,
    target, score, p_icp, grade, target_rank, best_target, is_best_target,
    other_targets`` (the account's other eligible targets, best first, ``"; "``
    joined), ``rep, segment, reason``. ``counts``: list size, slots filled and
    unfilled, the cap in slots, slots per target, rows refused by the cap or by a full
    group, accounts moved off their best target.
    """
    pool = _pool(ranked)
    cap_share = settings.capacity.division_share_cap
    mode = settings.capacity.mode
    group_col = {"per_rep": "rep", "per_segment": "segment"}.get(mode)
    ids = pool["customer_id"].to_list()
    targets = pool["target"].to_list()
    groups = (
        [g if g is not None else _NO_GROUP for g in pool[group_col].to_list()]
        if group_col
        else [_NO_GROUP] * pool.height
    )
    selected = pool["selected"].to_list()
    quotas: dict[str, int] = {}
    seen: set[str] = set()
    for cid, g, sel in zip(ids, groups, selected, strict=True):
        if sel and cid not in seen:
            seen.add(cid)
            quotas[g] = quotas.get(g, 0) + 1
    size = len(seen)
    if cap_share is None:
        cap_n = size
    else:
        cap_n = max(1, math.floor(cap_share * size + 1e-9)) if size else 0
    placed: dict[str, int] = {}  # customer_id -> pool row
    per_target: Counter[str] = Counter()
    per_group: Counter[str] = Counter()
    cap_refused = group_refused = 0
    for i, cid in enumerate(ids):
        if len(placed) >= size:
            break
        if cid in placed:
            continue
        if per_group[groups[i]] >= quotas.get(groups[i], 0):
            group_refused += 1
            continue
        if per_target[targets[i]] >= cap_n:
            cap_refused += 1
            continue
        placed[cid] = i
        per_target[targets[i]] += 1
        per_group[groups[i]] += 1

    # every account's eligible targets, best first (pool order)
    alts = pool.group_by("customer_id", maintain_order=True).agg(
        pl.col("target").alias("_targets")
    )
    alt_of = dict(
        zip(alts["customer_id"].to_list(), alts["_targets"].to_list(), strict=True)
    )
    rows = [placed[c] for c in sorted(placed, key=lambda c: placed[c])]
    picked = pool[rows] if rows else pool.clear()
    best = [alt_of[c][0] for c in picked["customer_id"].to_list()]
    others = [
        "; ".join(t for t in alt_of[c] if t != tgt)
        for c, tgt in zip(
            picked["customer_id"].to_list(), picked["target"].to_list(), strict=True
        )
    ]
    frame = picked.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("list_rank"),
        pl.Series("best_target", best, dtype=pl.String),
        pl.Series("other_targets", others, dtype=pl.String),
    ).with_columns((pl.col("target") == pl.col("best_target")).alias("is_best_target"))
    frame = frame.select(list(_SCHEMA)).cast(_SCHEMA)
    counts = {
        "list_size": size,
        "slots_filled": frame.height,
        "slots_unfilled": size - frame.height,
        "division_share_cap": cap_share,
        "cap_slots": cap_n,
        "per_target": {t: per_target[t] for t in sorted(ranked)},
        "cap_refused_rows": cap_refused,
        "group_refused_rows": group_refused,
        "moved_off_best_target": int((~frame["is_best_target"]).sum()),
        "group_quotas": dict(sorted(quotas.items())) if group_col else {},
    }
    return CrossDivisionResult(frame=frame, counts=counts)
