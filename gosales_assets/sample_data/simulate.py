"""The vectorized monthly step of the simulation, shared by the main run and the
ground-truth re-simulation.

Within a month every rate depends only on the state at the start of the month, so:

- purchases and credits are Poisson processes over the month's day density, and the
  part of a month after a day ``min_day`` is the same process thinned to those days;
- a subscription due this month renews (or not) on its anniversary day;
- the state (ownership, recency, subscriptions, churn) changes only at the month end.

That is what makes re-simulating from a mid-month cutoff exact: history up to the cutoff
stays, and only the days after it are drawn again (``min_day`` = the cutoff's day).
"""

from __future__ import annotations

import numpy as np

from gosales_assets.sample_data import rules
from gosales_assets.sample_data.catalog import Catalog
from gosales_assets.sample_data.sampling import poisson_hits
from gosales_assets.sample_data.state import (
    ATTACH,
    CREDIT,
    NEVER,
    PURCHASE,
    RENEWAL,
    Events,
    RowParams,
    SimState,
)
from gosales_assets.sample_data.timeline import days_in_month, draw_days, tail_mass

TENURE_BOOST = 1.0  # log-rate boost of a brand-new account (onboarding) ...
TENURE_DECAY = 4.0  # ... decaying over this many months
EXTRA_PO_RATE = 0.04  # share of purchase lines on a separate same-day invoice
ADJUSTMENT_SHARE = 0.3  # share of credits that are price adjustments (quantity 0)
SEAT_CHANGE_RATE = 0.15  # share of renewals that change the seat count


def purchase_rates(
    cat: Catalog, rows: RowParams, st: SimState, month: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows that can buy in ``month`` and their monthly purchase rate per group, given
    the state at the start of the month."""
    idx = np.flatnonzero(st.active & rows.buyer & (rows.created_month < month))
    last = st.last_month[idx]
    # Affinities add up in rate space: each owned group is one more reason to buy,
    # log(1 + sum_i (exp(A_ij) - 1)), so owning many groups does not compound. The
    # matrices hold multiples of 2**-10, so these float32 products are exact.
    factor = np.dot((last != NEVER).astype(np.float32), cat.aff_own)
    recent = last >= month - rules.RECENT_MONTHS
    factor += np.dot(recent.astype(np.float32), cat.aff_recent)
    factor += np.float32(1.0)
    np.maximum(factor, np.float32(0.05), out=factor)
    logit = np.log(factor, out=factor)
    logit += rows.base[idx]
    logit += cat.season_log[:, month % 12]
    tenure = np.maximum(month - rows.created_month[idx], 0).astype(np.float32)
    logit += (np.float32(TENURE_BOOST) * np.exp(-tenure / np.float32(TENURE_DECAY)))[
        :, None
    ]
    lam = np.exp(logit, out=logit)
    if st.sub_due.shape[1]:
        # A subscription group is bought anew only while no subscription runs.
        running = (st.sub_due[idx] >= month).astype(np.float32)
        lam[np.dot(running, cat.sub_group) > 0] = 0.0
    return idx, lam


def _cents(x: np.ndarray) -> np.ndarray:
    return np.rint(x * 100.0).astype(np.int64)


def _revenue(cat: Catalog, sku: np.ndarray, gp: np.ndarray, rng: np.random.Generator):
    noise = rng.lognormal(0.0, 0.05, len(sku))
    return np.rint(gp / cat.margin[sku] * noise).astype(np.int64)


def _choose_sku(
    cat: Catalog,
    group: np.ndarray,
    log_size: np.ndarray,
    rng: np.random.Generator,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """A SKU of each ``group`` by popularity and company size; never ``exclude``."""
    logits = cat.group_sku_logit[group] + cat.group_sku_elast[group] * log_size[:, None]
    if exclude is not None:
        logits[cat.group_skus[group] == exclude[:, None]] = -np.inf
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(group)) * cum[:, -1]
    idx = np.minimum((cum <= u[:, None]).sum(axis=1), cat.group_skus.shape[1] - 1)
    return cat.group_skus[group, idx]


def _priced(cat, rows, r, sku, rng) -> tuple[np.ndarray, np.ndarray]:
    """Quantity and GP (cents) of purchase lines of ``sku`` by rows ``r``."""
    size = len(r)
    qty = 1 + rng.poisson(cat.qty_extra[sku] * rows.size_q[r])
    unit = cat.unit_gp[sku] * rows.price[r] * rng.lognormal(0.0, 0.15, size)
    gp = _cents(qty * unit)
    gp[rng.random(size) < cat.zero_gp_rate[sku]] = 0  # warranty parts, free seats
    return qty, gp


def _purchases(cat, rows, idx, lam, month, min_day, mass, rng) -> Events:
    hit, n = poisson_hits(rng, lam * mass)
    r, g = np.divmod(np.repeat(hit, n), lam.shape[1])
    r = idx[r]
    size = len(r)
    sku = _choose_sku(cat, g, rows.log_size[r], rng)
    day = draw_days(rng, month, min_day, size)
    qty, gp = _priced(cat, rows, r, sku, rng)
    extra_po = rng.random(size) < EXTRA_PO_RATE
    return Events.build(
        row=r, month=np.full(size, month), day=day, sku=sku, qty=qty, gp=gp,
        rev=_revenue(cat, sku, gp, rng), kind=np.full(size, PURCHASE),
        stream=cat.stream[g] + rules.STREAM_EXTRA_PO * extra_po,
    )  # fmt: skip


def _companions(cat, rows, bought: Events, rng) -> Events:
    """Multi-line orders: with the group's ``companion_rate`` a purchase's invoice
    also has a line of another SKU of the same product group (a second seat type or
    printer model), so no target's membership changes, only its GP and line count."""
    sku = bought.sku.astype(np.int64)
    g = cat.sku_group[sku]
    src = np.flatnonzero(rng.random(len(sku)) < cat.companion_rate[g])
    r = bought.row[src]
    other = _choose_sku(cat, g[src], rows.log_size[r], rng, exclude=sku[src])
    qty, gp = _priced(cat, rows, r, other, rng)
    return Events.build(
        row=r, month=bought.month[src], day=bought.day[src], sku=other, qty=qty,
        gp=gp, rev=_revenue(cat, other, gp, rng), kind=np.full(len(r), PURCHASE),
        stream=bought.stream[src],
    )  # fmt: skip


def _attachments(cat, rows, st, bought: Events, month, rng) -> Events:
    """Subscriptions sold with an anchor purchase (same invoice); co-termed when one
    already runs."""
    sku = bought.sku.astype(np.int64)
    r = bought.row
    keep = cat.anchor[sku] & (cat.attach_n[sku] > 0) & (bought.qty > 0)
    keep &= rng.random(len(r)) < rows.attach_p[r]
    sku, r, src = sku[keep], r[keep], np.flatnonzero(keep)
    pick = np.floor(rows.sub_pref[r] * cat.attach_n[sku]).astype(np.int64)
    k = cat.attach_cand[sku, pick]
    sub_sku = cat.sub_skus[k]
    qty = bought.qty[src].astype(np.int64)
    due = st.sub_due[r, k]
    frac = np.where(due >= month, np.clip((due - month) / 12.0, 1 / 12, 1.0), 1.0)
    unit = cat.unit_gp[sub_sku] * rows.price[r] * rng.lognormal(0.0, 0.1, len(r))
    gp = _cents(qty * unit * frac)
    gp[rng.random(len(r)) < cat.zero_gp_rate[sub_sku]] = 0  # bundled first year
    return Events.build(
        row=r, month=bought.month[src], day=bought.day[src], sku=sub_sku, qty=qty,
        gp=gp, rev=_revenue(cat, sub_sku, gp, rng), kind=np.full(len(r), ATTACH),
        stream=bought.stream[src],
    )  # fmt: skip


def _renewals(cat, rows, st, month, min_day, rng) -> Events:
    if not len(cat.sub_skus):
        return Events.empty()
    day = np.minimum(st.sub_day, days_in_month(month))
    due = (st.sub_due == month) & (day > min_day)
    due &= (st.active & rows.buyer)[:, None]
    r, k = np.nonzero(due)
    renew = rng.random(len(r)) < rows.renew_p[r]
    r, k = r[renew], k[renew]
    seats = st.sub_seats[r, k]
    change = rng.random(len(r)) < SEAT_CHANGE_RATE
    seats = np.maximum(1, seats + change * rng.integers(-1, 3, len(r)))
    sku = cat.sub_skus[k]
    gp = _cents(
        seats * cat.unit_gp[sku] * rows.price[r] * rng.lognormal(0, 0.08, len(r))
    )
    return Events.build(
        row=r, month=np.full(len(r), month), day=day[r, k], sku=sku, qty=seats, gp=gp,
        rev=_revenue(cat, sku, gp, rng), kind=np.full(len(r), RENEWAL),
        stream=np.full(len(r), rules.STREAM_RENEWAL),
    )  # fmt: skip


def _credits(cat, rows, st, month, min_day, mass, rng) -> Events:
    """Returns and price adjustments after recent purchases (negative GP)."""
    recent = st.last_month >= month - rules.RECENT_MONTHS
    recent &= (st.active & rows.buyer)[:, None]
    r, g = np.nonzero(recent)
    hit, n = poisson_hits(rng, cat.credit_rate[g] * mass)
    r, g = np.repeat(r[hit], n), np.repeat(g[hit], n)
    size = len(r)
    sku = st.last_sku[r, g]
    adjust = rng.random(size) < ADJUSTMENT_SHARE
    qty = np.where(adjust, 0, -(1 + rng.poisson(0.2, size)))
    share = np.where(adjust, rng.uniform(0.05, 0.3, size), rng.uniform(0.6, 1.0, size))
    units = np.maximum(-qty, 1)
    gp = np.minimum(-_cents(units * cat.unit_gp[sku] * rows.price[r] * share), -1)
    return Events.build(
        row=r, month=np.full(size, month), day=draw_days(rng, month, min_day, size),
        sku=sku, qty=qty, gp=gp, rev=_revenue(cat, sku, gp, rng),
        kind=np.full(size, CREDIT), stream=np.full(size, rules.STREAM_CREDIT),
    )  # fmt: skip


def step(
    cat: Catalog,
    rows: RowParams,
    st: SimState,
    month: int,
    rng: np.random.Generator,
    min_day: int = 0,
) -> tuple[Events, tuple[np.ndarray, np.ndarray]]:
    """Events of ``month`` on days after ``min_day``, and the month's purchase rates
    (see :func:`purchase_rates`)."""
    idx, lam = purchase_rates(cat, rows, st, month)
    mass = tail_mass(month, min_day)
    parts: list[Events] = []
    if mass > 0:
        bought = _purchases(cat, rows, idx, lam, month, min_day, mass, rng)
        parts += [bought, _attachments(cat, rows, st, bought, month, rng)]
        parts.append(_companions(cat, rows, bought, rng))
        parts.append(_credits(cat, rows, st, month, min_day, mass, rng))
    parts.append(_renewals(cat, rows, st, month, min_day, rng))
    return Events.concat(parts), (idx, lam)


def update(
    cat: Catalog,
    rows: RowParams,
    st: SimState,
    ev: Events,
    month: int,
    rng: np.random.Generator,
) -> None:
    """Apply a whole month's events to the state, then draw churn at the month end."""
    bought = ev.kind != CREDIT
    r, sku = ev.row[bought], ev.sku[bought].astype(np.int64)
    g = cat.sku_group[sku]
    st.last_month[r, g] = month
    st.last_sku[r, g] = sku
    n_subs = st.sub_due.shape[1]
    if n_subs:
        st.sub_due[st.sub_due == month] = NEVER  # lapsed unless renewed below
        ren = ev.kind == RENEWAL
        rr, kk = ev.row[ren], cat.sku_sub[ev.sku[ren]]
        st.sub_due[rr, kk] = month + rules.SUBSCRIPTION_MONTHS
        st.sub_seats[rr, kk] = ev.qty[ren]
        new = ((ev.kind == PURCHASE) | (ev.kind == ATTACH)) & (ev.qty > 0)
        new &= cat.sku_sub[ev.sku] >= 0
        key = ev.row[new] * n_subs + cat.sku_sub[ev.sku[new]]
        order = np.argsort(key, kind="stable")
        key = key[order]
        uniq, first = np.unique(key, return_index=True)
        if len(uniq):
            qty = np.add.reduceat(ev.qty[new][order].astype(np.int64), first)
            day = np.minimum.reduceat(ev.day[new][order].astype(np.int64), first)
            rr, kk = np.divmod(uniq, n_subs)
            running = st.sub_due[rr, kk] > month
            st.sub_seats[rr, kk] = np.where(running, st.sub_seats[rr, kk] + qty, qty)
            st.sub_day[rr, kk] = np.where(running, st.sub_day[rr, kk], day)
            st.sub_due[rr, kk] = np.where(
                running, st.sub_due[rr, kk], month + rules.SUBSCRIPTION_MONTHS
            )
    quiet = rng.random(rows.n) < rows.churn_h
    st.active &= ~(quiet & (rows.created_month < month))
