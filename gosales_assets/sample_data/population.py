"""The customer population: observable attributes, mixed-format ids and latent traits.

Observable attributes (industry, size, region, tenure) drive the latent purchase rates,
so models trained on history and firmographics have real signal to find.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from gosales_assets.sample_data import rules, world
from gosales_assets.sample_data.catalog import Catalog
from gosales_assets.sample_data.state import RowParams
from gosales_assets.sample_data.timeline import month_index, to_datetime64

PRE_START_SHARE = 0.5  # accounts created before the data starts
PRE_START_YEARS = 10
GROWTH = 0.8  # arrivals per day grow by this share from start to end
PROSPECT_SHARE = 0.15
GUID_SHARE = 0.03
LEGACY_ZERO_SHARE = 0.015  # "0" + number: a legacy id format
COLLISION_SHARE = 0.008  # pairs "00123" / "123" of different customers
ENGAGEMENT_WEIGHT = 0.8
IDIOSYNCRATIC_SD = 0.6
GLOBAL_LOG_SCALE = -0.9
CUSTOMERS_PER_REP = 300

# id kinds
ID_NUMERIC, ID_PADDED, ID_LEGACY, ID_GUID = 0, 1, 2, 3


@dataclass
class Population:
    n: int
    ids: pl.Series  # String
    id_kind: np.ndarray
    names: pl.Series  # String
    created: np.ndarray  # datetime64[D]
    industry: np.ndarray  # index into world.INDUSTRIES
    industry_sub: pl.Series  # String, some null
    region: np.ndarray  # index into world.REGIONS
    branch: np.ndarray  # index into branch_names
    employees: np.ndarray  # int64
    employees_known: np.ndarray  # bool
    rep_a: np.ndarray  # index into rep_names
    rep_b: np.ndarray
    rep_switch_month: np.ndarray  # month from which rep_b owns the account
    branch_names: tuple[str, ...]
    branch_hw_rep: np.ndarray  # (B,) hardware specialist rep of each branch
    rep_names: np.ndarray  # str
    rows: RowParams


def _created_dates(n: int, start: dt.date, end: dt.date, rng) -> np.ndarray:
    n_pre = round(n * PRE_START_SHARE)
    before = rng.integers(1, PRE_START_YEARS * 365 + 1, n_pre)
    u = rng.random(n - n_pre)
    # Inverse CDF of the density 1 + GROWTH * t on [0, 1].
    t = (np.sqrt(1.0 + 2.0 * GROWTH * u * (1.0 + GROWTH / 2.0)) - 1.0) / GROWTH
    span = (end - start).days + 1
    after = np.minimum(np.floor(t * span), span - 1).astype(np.int64)
    start64 = to_datetime64(start)
    return np.sort(np.concatenate([start64 - before, start64 + after]))


def _guids(n: int, rng) -> pl.Series:
    digits = rng.integers(0, 16, (n, 32))
    digits[:, 12] = 4  # version 4
    digits[:, 16] = 8 + digits[:, 16] % 4  # RFC 4122 variant
    chars = np.ascontiguousarray(np.array(list("0123456789abcdef"))[digits])
    hexes = pl.Series(chars.view("<U32").ravel())
    parts = [
        hexes.str.slice(a, b - a) for a, b in ((0, 8), (8, 12), (12, 16), (16, 20))
    ]
    return pl.select(pl.concat_str([*parts, hexes.str.slice(20, 12)], separator="-"))[
        :, 0
    ]


def _ids(n: int, rng) -> tuple[pl.Series, np.ndarray]:
    """Account ids: increasing numbers, some legacy zero-padded, some GUIDs, and pairs
    where ``"00" + id`` of one customer is the id of another customer."""
    number = 10_000 + np.cumsum(rng.integers(1, 6, n))
    u = rng.random(n)
    kind = np.full(n, ID_NUMERIC, dtype=np.int8)
    kind[u < GUID_SHARE + LEGACY_ZERO_SHARE] = ID_LEGACY
    kind[u < GUID_SHARE] = ID_GUID
    kind[np.argmin(u)] = ID_GUID  # at least one, however small the population
    numeric = np.flatnonzero(kind == ID_NUMERIC)
    pairs = min(max(1, round(n * COLLISION_SHARE)), len(numeric) // 2)
    chosen = rng.choice(numeric, 2 * pairs, replace=False)
    base, padded = chosen[:pairs], chosen[pairs:]
    number[padded] = number[base]
    kind[padded] = ID_PADDED
    text = pl.Series(number).cast(pl.String)
    prefix = np.select(
        [kind == ID_PADDED, kind == ID_LEGACY], ["00", "0"], default=""
    ).astype(str)
    ids = pl.Series(prefix) + text
    guid_idx = np.flatnonzero(kind == ID_GUID)
    if len(guid_idx):
        ids = ids.scatter(guid_idx, _guids(len(guid_idx), rng))
    return ids.alias("customer_id"), kind


def _names(n: int, rng) -> pl.Series:
    pre = np.array(world.NAME_PREFIXES)[rng.integers(0, len(world.NAME_PREFIXES), n)]
    core = np.array(world.NAME_CORES)[rng.integers(0, len(world.NAME_CORES), n)]
    suf = np.array(world.NAME_SUFFIXES)[rng.integers(0, len(world.NAME_SUFFIXES), n)]
    joiner = np.where(np.char.startswith(suf, ",") | (suf == ""), "", " ")
    parts = [pre, np.full(n, " "), core, joiner, suf]
    return pl.select(pl.concat_str([pl.lit(pl.Series(p)) for p in parts]))[:, 0]


def _reps(branch: np.ndarray, n_branches: int, start_m: int, end_m: int, rng):
    counts = np.bincount(branch, minlength=n_branches)
    per_branch = np.maximum(2, np.ceil(counts / CUSTOMERS_PER_REP)).astype(np.int64)
    offset = np.concatenate([[0], np.cumsum(per_branch + 1)[:-1]])
    n = len(branch)
    rep_a = offset[branch] + np.floor(rng.random(n) * per_branch[branch]).astype(
        np.int64
    )
    rep_b = offset[branch] + np.floor(rng.random(n) * per_branch[branch]).astype(
        np.int64
    )
    switch = np.where(
        rng.random(n) < 0.25,
        rng.integers(start_m, end_m + 1, n),
        np.iinfo(np.int64).max,
    )
    total = int((per_branch + 1).sum())
    first, last = np.array(world.FIRST_NAMES), np.array(world.LAST_NAMES)
    combos = len(first) * len(last)
    pick = rng.permutation(combos)[np.arange(total) % combos]
    names = np.char.add(
        np.char.add(first[pick % len(first)], " "), last[pick // len(first)]
    )
    dup = np.arange(total) // combos
    names = np.where(dup > 0, np.char.add(names, np.char.mod(" %d", dup + 1)), names)
    return rep_a, rep_b, switch, offset + per_branch, names


def _nested_choice(rng, parent: np.ndarray, n_children: np.ndarray) -> np.ndarray:
    """A uniform child of each row's parent, as an index into the flattened children."""
    offset = np.concatenate([[0], np.cumsum(n_children)[:-1]])
    within = np.floor(rng.random(len(parent)) * n_children[parent]).astype(np.int64)
    return offset[parent] + within


def _latent_rows(
    cat: Catalog,
    industry: np.ndarray,
    region: np.ndarray,
    employees: np.ndarray,
    created: np.ndarray,
    rng: np.random.Generator,
) -> RowParams:
    """Latent traits. Purchase rates per product group combine the group's base rate,
    industry and region effects (sale-type rules plus seeded noise), company size,
    a shared engagement factor and idiosyncratic noise."""
    n, n_grp = len(industry), cat.n_groups
    log_size = np.log(employees / 50.0)
    ind_eff = rng.normal(0.0, 0.45, (len(world.INDUSTRIES), n_grp))
    for i, ind in enumerate(world.INDUSTRIES):
        ind_eff[i] += [ind.effects.get(st, 0.0) for st in cat.group_sale_type]
    reg_eff = rng.normal(0.0, 0.15, (len(world.REGIONS), n_grp))
    z = rng.standard_normal(n)
    base = rng.standard_normal((n, n_grp), dtype=np.float32)
    base *= np.float32(IDIOSYNCRATIC_SD)
    base += (
        cat.base_log[None, :]
        + ind_eff[industry]
        + reg_eff[region]
        + cat.size_elasticity[None, :] * log_size[:, None]
        + (ENGAGEMENT_WEIGHT * z + GLOBAL_LOG_SCALE)[:, None]
    ).astype(np.float32)
    renew_p = 1.0 / (1.0 + np.exp(-(1.4 + 0.5 * z + rng.normal(0.0, 0.6, n))))
    return RowParams(
        base=base,
        engagement=z,
        renew_p=renew_p,
        attach_p=rules.ATTACH_PROBABILITY * renew_p,
        churn_h=0.005 * np.exp(-0.35 * z + rng.normal(0.0, 0.5, n)),
        price=rng.lognormal(0.0, 0.12, n) * (employees / 50.0) ** -0.02,
        sub_pref=rng.random(n),
        log_size=log_size,
        size_q=np.clip((employees / 50.0) ** 0.35, 0.3, 8.0),
        created_month=created.astype("datetime64[M]").astype(np.int64) + 1970 * 12,
        buyer=rng.random(n) >= PROSPECT_SHARE,
    )


def build_population(
    n: int, start: dt.date, end: dt.date, cat: Catalog, rng: np.random.Generator
) -> Population:
    created = _created_dates(n, start, end, rng)
    ids, kind = _ids(n, rng)
    names = _names(n, rng)

    inds = world.INDUSTRIES
    weights = np.array([i.weight for i in inds])
    industry = rng.choice(len(inds), n, p=weights / weights.sum())
    subs = np.array([s for i in inds for s in i.subs], dtype=object)
    sub_idx = _nested_choice(rng, industry, np.array([len(i.subs) for i in inds]))
    industry_sub = pl.Series(subs[sub_idx], dtype=pl.String)
    industry_sub = industry_sub.scatter(np.flatnonzero(rng.random(n) < 0.03), None)

    regions = list(world.REGIONS.values())
    region_w = np.array([w for w, _ in regions])
    region = rng.choice(len(regions), n, p=region_w / region_w.sum())
    branch = _nested_choice(rng, region, np.array([len(b) for _, b in regions]))

    median = np.array([i.employees_median for i in inds])[industry]
    employees = np.clip(np.rint(median * rng.lognormal(0.0, 1.1, n)), 1, 250_000)
    employees = employees.astype(np.int64)
    rows = _latent_rows(cat, industry, region, employees, created, rng)
    branch_names = tuple(b for _, branches in regions for b in branches)
    rep_a, rep_b, switch, hw_rep, rep_names = _reps(
        branch, len(branch_names), month_index(start), month_index(end), rng
    )
    return Population(
        n=n,
        ids=ids,
        id_kind=kind,
        names=names.alias("customer_name"),
        created=created,
        industry=industry,
        industry_sub=industry_sub.alias("industry_sub"),
        region=region,
        branch=branch,
        employees=employees,
        employees_known=rng.random(n) >= 0.03,
        rep_a=rep_a,
        rep_b=rep_b,
        rep_switch_month=switch,
        branch_names=branch_names,
        branch_hw_rep=hw_rep,
        rep_names=rep_names,
        rows=rows,
    )
