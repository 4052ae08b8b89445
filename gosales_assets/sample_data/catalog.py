"""The product catalog as arrays: SKUs, product groups, prices and affinities.

A product group is one (division, family, sale_type) of the SKU map. The simulation
draws purchases per customer and group, then picks a SKU inside the group. Everything
is derived from the configured SKU map plus the sale-type rules; seeded noise gives
each SKU its own price and popularity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gosales_assets.config import SkuMap
from gosales_assets.sample_data import rules
from gosales_assets.sample_data.timeline import LOG_SEASON


@dataclass(frozen=True)
class Catalog:
    skus: tuple[str, ...]
    divisions: tuple[str, ...]  # sorted division names
    sku_division: np.ndarray  # (S,) index into divisions
    sku_group: np.ndarray  # (S,) group index
    unit_gp: np.ndarray  # (S,) median GP per unit
    margin: np.ndarray  # (S,)
    qty_extra: np.ndarray  # (S,)
    zero_gp_rate: np.ndarray  # (S,)
    asset: np.ndarray  # (S,) bool
    anchor: np.ndarray  # (S,) bool: purchases attach subscriptions
    sku_sub: np.ndarray  # (S,) subscription index k, -1 when not a subscription
    sub_skus: np.ndarray  # (K,) SKU index of each subscription
    attach_cand: np.ndarray  # (S, C) subscription indices, -1 padded
    attach_n: np.ndarray  # (S,) number of candidates
    group_names: tuple[str, ...]
    group_division: np.ndarray  # (G,) index into divisions
    group_skus: np.ndarray  # (G, M) SKU indices, -1 padded
    group_sku_logit: np.ndarray  # (G, M) popularity, -inf padded
    group_sku_elast: np.ndarray  # (G, M) size elasticity of the choice
    base_log: np.ndarray  # (G,) log monthly base rate
    size_elasticity: np.ndarray  # (G,)
    season_log: np.ndarray  # (G, 12) log seasonal factor per calendar month
    is_sub: np.ndarray  # (G,) bool: subscription group
    sub_group: np.ndarray  # (K, G) one-hot: subscription -> group
    stream: np.ndarray  # (G,) invoice stream
    deal: np.ndarray  # (G,) bool
    credit_rate: np.ndarray  # (G,)
    companion_rate: np.ndarray  # (G,) 0 for single-SKU and subscription groups
    aff_own: np.ndarray  # (G, G) rate multiplier - 1 while the row group is owned
    aff_recent: np.ndarray  # (G, G) ... while it was bought recently
    group_sale_type: tuple[str, ...]

    @property
    def n_groups(self) -> int:
        return len(self.group_names)


def _dyadic(x: np.ndarray) -> np.ndarray:
    """Round to multiples of 2**-10 (float32): sums of up to a few dozen such numbers
    below ~300 are exact, whatever the order of summation."""
    return (np.round(x * 1024.0) / 1024.0).astype(np.float32)


def _tokens(sku: str) -> set[str]:
    return {t for t in sku.lower().split("_") if t and t != "new"}


def _attach_candidates(
    sku_map: SkuMap, sub_index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """For each anchor SKU, the subscriptions of its family it may attach.

    Per subscription sale type, the candidates sharing most name tokens with the anchor
    win (``SWX_Core`` -> ``Core_New_UAP``); a customer's latent preference picks among
    sale types.
    """
    entries = sku_map.entries
    lists: list[list[int]] = []
    for entry in entries:
        chosen: list[int] = []
        if rules.rule_for(entry.sale_type).anchor:
            subs = [
                e for e in entries if e.sku in sub_index and e.family == entry.family
            ]
            for sale_type in dict.fromkeys(e.sale_type for e in subs):
                same = [e for e in subs if e.sale_type == sale_type]
                score = [len(_tokens(e.sku) & _tokens(entry.sku)) for e in same]
                chosen += [
                    sub_index[e.sku]
                    for e, s in zip(same, score, strict=True)
                    if s == max(score)
                ]
        lists.append(chosen)
    width = max(1, max(len(c) for c in lists))
    cand = np.full((len(entries), width), -1, dtype=np.int64)
    for i, chosen in enumerate(lists):
        cand[i, : len(chosen)] = chosen
    return cand, np.array([len(c) for c in lists], dtype=np.int64)


def _affinity(
    table: tuple[tuple[str, str, float, bool], ...],
    sale_types: list[str],
    families: list[str],
) -> np.ndarray:
    n = len(sale_types)
    out = np.zeros((n, n))
    for src, dst, boost, same_family in table:
        for i in range(n):
            if sale_types[i] != src:
                continue
            for j in range(n):
                if sale_types[j] == dst and (
                    not same_family or families[i] == families[j]
                ):
                    out[i, j] += boost
    return out


def _platforms(
    group_rules: list[rules.SaleTypeRule], sale_types: list[str], families: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Platform groups (anchors whose family also sells other sale types, e.g. modules
    or subscriptions) and add-on groups (anchors of a platform's sale type that are not
    platforms themselves)."""
    n = len(sale_types)
    platform = np.array(
        [
            group_rules[i].anchor
            and any(families[j] == families[i] and sale_types[j] != sale_types[i]
                    for j in range(n))
            for i in range(n)
        ]
    )  # fmt: skip
    platform_types = {sale_types[i] for i in range(n) if platform[i]}
    addon = np.array(
        [not platform[i] and sale_types[i] in platform_types for i in range(n)]
    )
    return platform, addon


def build_catalog(sku_map: SkuMap, rng: np.random.Generator) -> Catalog:
    entries = sku_map.entries
    divisions = tuple(sorted({e.division for e in entries}))
    keys = list(dict.fromkeys((e.division, e.family, e.sale_type) for e in entries))
    group_of = {k: i for i, k in enumerate(keys)}
    sku_group = np.array(
        [group_of[(e.division, e.family, e.sale_type)] for e in entries]
    )
    group_rules = [rules.rule_for(k[2]) for k in keys]
    sku_rules = [rules.rule_for(e.sale_type) for e in entries]
    n_sku, n_grp = len(entries), len(keys)

    subs = [
        e.sku
        for e, r in zip(entries, sku_rules, strict=True)
        if r.kind == "subscription"
    ]
    sub_index = {s: k for k, s in enumerate(subs)}
    sku_sub = np.array([sub_index.get(e.sku, -1) for e in entries], dtype=np.int64)
    attach_cand, attach_n = _attach_candidates(sku_map, sub_index)

    width = int(np.bincount(sku_group, minlength=n_grp).max())
    group_skus = np.full((n_grp, width), -1, dtype=np.int64)
    for g in range(n_grp):
        members = np.flatnonzero(sku_group == g)
        group_skus[g, : len(members)] = members
    sku_logit = np.where(
        group_skus >= 0, rng.normal(0.0, 0.7, group_skus.shape), -np.inf
    )
    sku_elast = np.where(group_skus >= 0, rng.normal(0.0, 0.25, group_skus.shape), 0.0)

    sale_types = [k[2] for k in keys]
    families = [k[1] for k in keys]
    platform, addon = _platforms(group_rules, sale_types, families)
    base = np.array([r.base_rate for r in group_rules])
    base *= np.where(platform, rules.PLATFORM_BASE_FACTOR, 1.0)
    base *= np.where(addon, rules.ADDON_BASE_FACTOR, 1.0)
    # Stored as rate multipliers minus one: purchase_rates adds them in rate space.
    aff_own = _affinity(rules.OWN_AFFINITY, sale_types, families)
    aff_own += rules.PLATFORM_TO_ADDON * np.outer(platform, addon)
    aff_own += rng.normal(0.0, rules.AFFINITY_NOISE, aff_own.shape)
    aff_recent = _affinity(rules.RECENT_AFFINITY, sale_types, families)
    aff_own, aff_recent = (_dyadic(np.expm1(a)) for a in (aff_own, aff_recent))

    is_sub = np.array([r.kind == "subscription" for r in group_rules])
    sub_group = np.zeros((len(subs), n_grp), dtype=np.float32)
    sub_group[np.arange(len(subs)), sku_group[sku_sub >= 0]] = 1.0
    season = np.array([r.seasonality for r in group_rules])
    return Catalog(
        skus=tuple(e.sku for e in entries),
        divisions=divisions,
        sku_division=np.array([divisions.index(e.division) for e in entries]),
        sku_group=sku_group,
        unit_gp=np.array([r.unit_gp for r in sku_rules])
        * rng.lognormal(0, 0.35, n_sku),
        margin=np.array([r.margin for r in sku_rules]),
        qty_extra=np.array([r.qty_extra for r in sku_rules]),
        zero_gp_rate=np.array([r.zero_gp_rate for r in sku_rules]),
        asset=np.array([r.asset for r in sku_rules]),
        anchor=np.array([r.anchor for r in sku_rules]),
        sku_sub=sku_sub,
        sub_skus=np.flatnonzero(sku_sub >= 0),
        attach_cand=attach_cand,
        attach_n=attach_n,
        group_names=tuple(f"{d}/{f}/{s}" for d, f, s in keys),
        group_division=np.array([divisions.index(k[0]) for k in keys]),
        group_skus=group_skus,
        group_sku_logit=sku_logit,
        group_sku_elast=sku_elast,
        base_log=np.log(base) + rng.normal(0.0, 0.25, n_grp),
        size_elasticity=np.array([r.size_elasticity for r in group_rules])
        + rng.normal(0.0, 0.15, n_grp),
        season_log=(season[:, None] * LOG_SEASON[None, :]).astype(np.float32),
        is_sub=is_sub,
        sub_group=sub_group,
        stream=np.array([r.stream for r in group_rules], dtype=np.int64),
        deal=np.array([r.deal for r in group_rules]),
        credit_rate=np.array([r.credit_rate for r in group_rules]),
        companion_rate=np.where(
            (np.bincount(sku_group, minlength=n_grp) >= 2) & ~is_sub,
            np.array([r.companion_rate for r in group_rules]),
            0.0,
        ),
        aff_own=aff_own,
        aff_recent=aff_recent,
        group_sale_type=tuple(sale_types),
    )
