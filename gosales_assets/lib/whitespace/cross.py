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
_CHUNK = 1 << 18  # pool rows turned into Python integers at a time


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
        if "reason" not in frame.columns:  # the caller adds the reasons afterwards
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("reason"))
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


def _codes(column: pl.Expr) -> pl.Expr:
    """Small integers standing for a column's values (equal values, equal codes),
    comparable only within the frame of one ``select``."""
    return column.cast(pl.Categorical).to_physical().cast(pl.Int64)


def _walk(
    codes: pl.DataFrame,
    quotas: Mapping[int, int],
    size: int,
    cap_n: int,
) -> tuple[list[int], int, int]:
    """The greedy placement of ``cross_division`` (inherently sequential: a row's
    fate depends on every row placed before it), over the pool's integer codes
    ``c`` (account), ``t`` (target), ``g`` (group), a chunk at a time, stopping once
    ``size`` accounts are placed.

    Returns the placed pool rows (in pool order) and the rows refused by the target
    cap and by a full group."""
    placed: set[int] = set()
    rows: list[int] = []
    per_target: Counter[int] = Counter()
    per_group: Counter[int] = Counter()
    cap_refused = group_refused = 0
    for offset in range(0, codes.height, _CHUNK):
        if len(placed) >= size:
            break
        chunk = codes.slice(offset, _CHUNK)
        for i, (cid, tgt, grp) in enumerate(
            zip(
                chunk["c"].to_list(),
                chunk["t"].to_list(),
                chunk["g"].to_list(),
                strict=True,
            ),
            start=offset,
        ):
            if len(placed) >= size:
                break
            if cid in placed:
                continue
            if per_group[grp] >= quotas.get(grp, 0):
                group_refused += 1
                continue
            if per_target[tgt] >= cap_n:
                cap_refused += 1
                continue
            placed.add(cid)
            rows.append(i)
            per_target[tgt] += 1
            per_group[grp] += 1
    return rows, cap_refused, group_refused


def cross_division(
    ranked: Mapping[str, pl.DataFrame | WhitespaceResult],
    settings: WhitespaceSettings,
) -> CrossDivisionResult:
    """One list per cutoff: each account once, with its best allowed target.

    ``ranked``: target -> that target's ranked list (``WhitespaceResult`` or its
    ``ranked`` frame) at one cutoff; a frame without ``reason`` gives null reasons
    (the store path reads the long reason texts of the placed rows only, see
    :func:`gosales_assets.lib.scoring_store.with_reasons`). Output columns:
    ``list_rank, customer_id, target, score, p_icp, grade, target_rank,
    best_target, is_best_target, other_targets`` (the account's other eligible
    targets, best first, ``"; "`` joined), ``rep, segment, reason``. ``counts``:
    list size, slots filled and unfilled, the cap in slots, slots per target, rows
    refused by the cap or by a full group, accounts moved off their best target.
    """
    pool = _pool(ranked)
    cap_share = settings.capacity.division_share_cap
    mode = settings.capacity.mode
    group_col = {"per_rep": "rep", "per_segment": "segment"}.get(mode)
    group = pl.col(group_col).fill_null(_NO_GROUP) if group_col else pl.lit(_NO_GROUP)
    # each rep / segment keeps as many slots as it has distinct selected accounts
    # (an account counts for the group of its best selected row)
    firsts = (
        pool.filter(pl.col("selected"))
        .unique("customer_id", keep="first", maintain_order=True)
        .select("customer_id", group.alias("group"))  # the id keeps a literal's height
    )
    size = firsts.height
    by_group = firsts.group_by("group").len()
    quota_of = dict(
        zip(by_group["group"].to_list(), by_group["len"].to_list(), strict=True)
    )
    if cap_share is None:
        cap_n = size
    else:
        cap_n = max(1, math.floor(cap_share * size + 1e-9)) if size else 0
    codes = pool.select(  # one select: one coding
        _codes(pl.col("customer_id")).alias("c"),
        _codes(pl.col("target")).alias("t"),
        _codes(group).alias("g"),
        group.alias("group"),
    )
    names = codes.select("group", "g").unique()
    quotas = {
        int(code): int(quota_of.get(name, 0))
        for name, code in zip(
            names["group"].to_list(), names["g"].to_list(), strict=True
        )
    }
    rows, cap_refused, group_refused = _walk(codes, quotas, size, cap_n)
    picked = pool[rows] if rows else pool.clear()
    frame = picked.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("list_rank")
    ).join(
        _alternatives(pool, picked), on="customer_id", how="left", maintain_order="left"
    )
    frame = frame.with_columns(
        pl.col("other_targets").fill_null(""),
        (pl.col("target") == pl.col("best_target")).alias("is_best_target"),
    )
    frame = frame.select(list(_SCHEMA)).cast(_SCHEMA)
    slots = frame.group_by("target").len()
    per_target = dict(
        zip(slots["target"].to_list(), slots["len"].to_list(), strict=True)
    )
    counts = {
        "list_size": size,
        "slots_filled": frame.height,
        "slots_unfilled": size - frame.height,
        "division_share_cap": cap_share,
        "cap_slots": cap_n,
        "per_target": {t: int(per_target.get(t, 0)) for t in sorted(ranked)},
        "cap_refused_rows": cap_refused,
        "group_refused_rows": group_refused,
        "moved_off_best_target": int((~frame["is_best_target"]).sum()),
        "group_quotas": dict(sorted(quota_of.items())) if group_col else {},
    }
    return CrossDivisionResult(frame=frame, counts=counts)


def _alternatives(pool: pl.DataFrame, picked: pl.DataFrame) -> pl.DataFrame:
    """Per placed account: its best eligible target and its other eligible targets
    (best first, ``"; "`` joined), in pool order."""
    mine = pool.select("customer_id", "target").join(
        picked.select("customer_id", pl.col("target").alias("_placed")),
        on="customer_id",
        how="inner",
        maintain_order="left",
    )
    best = mine.unique("customer_id", keep="first", maintain_order=True).select(
        "customer_id", pl.col("target").alias("best_target")
    )
    others = (
        mine.filter(pl.col("target") != pl.col("_placed"))
        .group_by("customer_id", maintain_order=True)
        .agg(pl.col("target").str.join("; ").alias("other_targets"))
    )
    return best.join(others, on="customer_id", how="left")
