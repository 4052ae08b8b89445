"""Optional inputs: sales contacts, open deals and the installed-asset base.

Contacts and deals are drawn each month from the state at the start of the month
(outreach scaled by engagement, follow-ups after purchases, deals scaled by the current
purchase intent). They never feed back into purchases, so they carry information about
the latent intent but none about the future draws.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from gosales_assets.lib.contract import ASSETS, CONTACTS, OPEN_DEALS, schema_of
from gosales_assets.sample_data.catalog import Catalog
from gosales_assets.sample_data.sampling import poisson_hits
from gosales_assets.sample_data.state import CREDIT, NEVER, Events, RowParams, SimState
from gosales_assets.sample_data.timeline import draw_days, to_dates, to_datetime64

CONTACT_RATE = 0.05  # outreach contacts per customer-month (average engagement)
FOLLOW_UP_P = 0.35  # contact in the month after a purchase
EMPTY_DIVISION_P = 0.3  # contacts logged without a division
DEAL_RATE = 0.25  # deals opened per expected purchase
PROSPECT_INTENT = 0.3  # prospects are pursued as if this share of their latent rates
DEAL_MEAN_DAYS = 60.0


@dataclass
class ExtrasLog:
    """Contacts and deals accumulated over the months (arrays of row indices etc.)."""

    contacts: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    deals: list[tuple[np.ndarray, ...]] = field(default_factory=list)


def _pick_group(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column per row of ``weights`` with probability proportional to the weight;
    -1 for rows without weight."""
    cum = np.cumsum(weights, axis=1)
    total = cum[:, -1]
    u = rng.random(len(weights)) * total
    idx = np.minimum((cum <= u[:, None]).sum(axis=1), weights.shape[1] - 1)
    return np.where(total > 0, idx, -1)


def record_month(
    log: ExtrasLog,
    cat: Catalog,
    rows: RowParams,
    st: SimState,
    rates: tuple[np.ndarray, np.ndarray],
    month: int,
    rng: np.random.Generator,
) -> None:
    """Draw this month's contacts and newly opened deals; ``rates`` are the month's
    purchase rates (rows, rates) from :func:`simulate.purchase_rates`."""
    exists = rows.created_month <= month
    prospect = exists & ~rows.buyer
    intent = np.zeros(rows.base.shape, dtype=np.float32)
    intent[rates[0]] = rates[1]
    intent[prospect] = PROSPECT_INTENT * np.exp(rows.base[prospect])
    reachable = exists & (st.active | ~rows.buyer)

    rate = CONTACT_RATE * np.exp(0.4 * rows.engagement) * reachable
    hit, n_out = poisson_hits(rng, rate)
    out_rows = np.repeat(hit, n_out)
    out_group = _pick_group(intent[out_rows], rng)
    last = (
        st.last_month.max(axis=1) if st.last_month.shape[1] else np.full(rows.n, NEVER)
    )
    follow_rows = np.flatnonzero(
        (last == month - 1) & (rng.random(rows.n) < FOLLOW_UP_P)
    )
    follow_group = np.argmax(st.last_month[follow_rows], axis=1)
    c_rows = np.concatenate([out_rows, follow_rows])
    c_group = np.concatenate([out_group, follow_group])
    division = np.where(c_group >= 0, cat.group_division[np.maximum(c_group, 0)], -1)
    division[rng.random(len(c_rows)) < EMPTY_DIVISION_P] = -1
    log.contacts.append(
        (
            c_rows,
            np.full(len(c_rows), month),
            draw_days(rng, month, 0, len(c_rows)),
            division,
        )
    )

    deal_rate = DEAL_RATE * intent * cat.deal[None, :] * reachable[:, None]
    hit, n = poisson_hits(rng, deal_rate)
    r, g = np.divmod(np.repeat(hit, n), deal_rate.shape[1])
    duration = 7 + rng.geometric(1.0 / DEAL_MEAN_DAYS, len(r))
    log.deals.append(
        (
            r,
            np.full(len(r), month),
            draw_days(rng, month, 0, len(r)),
            cat.group_division[g],
            duration,
        )
    )


def _cat(parts: list[tuple[np.ndarray, ...]], width: int) -> list[np.ndarray]:
    if not parts:
        return [np.zeros(0, dtype=np.int64)] * width
    return [np.concatenate([p[i] for p in parts]) for i in range(width)]


def contacts_frame(
    log: ExtrasLog, cat: Catalog, ids: pl.Series, start: dt.date, end: dt.date
) -> pl.DataFrame:
    row, month, day, division = _cat(log.contacts, 4)
    divisions = pl.Series(
        np.array(cat.divisions, dtype=object)[np.maximum(division, 0)]
    )
    frame = pl.DataFrame(
        {
            "customer_id": ids.gather(row),
            "contact_date": to_dates(month, day),
            "division": divisions.scatter(np.flatnonzero(division < 0), None),
        },
        schema=schema_of(CONTACTS),
    )
    return frame.filter(pl.col("contact_date").is_between(start, end)).sort(
        "customer_id", "contact_date", "division", nulls_last=True
    )


def deals_frame(
    log: ExtrasLog, cat: Catalog, ids: pl.Series, start: dt.date, end: dt.date
) -> pl.DataFrame:
    row, month, day, division, duration = _cat(log.deals, 5)
    opened = to_dates(month, day)
    closed = opened + duration.astype("timedelta64[D]")
    frame = pl.DataFrame(
        {
            "customer_id": ids.gather(row),
            "division": np.array(cat.divisions, dtype=object)[division],
            "opened_date": opened,
            "closed_date": closed,
        },
        schema=schema_of(OPEN_DEALS),
    ).filter(pl.col("opened_date").is_between(start, end))
    still_open = pl.col("closed_date") > end
    return frame.with_columns(
        pl.when(still_open)
        .then(None)
        .otherwise(pl.col("closed_date"))
        .alias("closed_date")
    ).sort("customer_id", "opened_date", "division", "closed_date", nulls_last=True)


def assets_frame(
    ev: Events, cat: Catalog, ids: pl.Series, end: dt.date
) -> pl.DataFrame:
    """Installed products: every positive purchase of an asset SKU, renewals included,
    from the whole simulated history (also before the sales data starts)."""
    keep = (ev.kind != CREDIT) & (ev.qty > 0) & cat.asset[ev.sku]
    keep &= to_dates(ev.month, ev.day) <= to_datetime64(end)
    sel = ev.select(keep)
    sku = sel.sku.astype(np.int64)
    frame = pl.DataFrame(
        {
            "customer_id": ids.gather(sel.row),
            "sku": np.array(cat.skus, dtype=object)[sku],
            "purchase_date": to_dates(sel.month, sel.day),
            "is_sub": cat.sku_sub[sku] >= 0,
            "quantity": sel.qty.astype(np.float64),
        }
    )
    expiry = pl.col("purchase_date").dt.offset_by("1y").dt.offset_by("-1d")
    return (
        frame.with_columns(
            pl.when(pl.col("is_sub"))
            .then(expiry)
            .otherwise(None)
            .alias("expiration_date")
        )
        .select(list(schema_of(ASSETS)))
        .cast(schema_of(ASSETS))
        .sort("customer_id", "purchase_date", "sku", "quantity")
    )
