"""The star snapshot the feature engine reads, and its defensive as-of-cutoff guard.

The lead's reader hands over the star tables of partition ``C`` (their ``cutoff``
column dropped). The star already holds only rows dated on or before ``C``; the guard
here re-applies that rule anyway, so a feature at ``C`` can never see a later row even
when a caller passes unfiltered frames. It also conforms every frame to a fixed schema
(missing optional columns become typed nulls; an empty optional frame is fine) and
records the newest source date actually used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl


@dataclass(frozen=True)
class StarSnapshot:
    """The star schema at cutoff ``C`` as polars frames."""

    cutoff: dt.date
    fact: pl.DataFrame  # star.fact_transactions at C
    customers: pl.DataFrame  # star.dim_customer at C
    install_base: pl.DataFrame  # star.install_base at C
    contacts: pl.DataFrame  # star.contacts at C (may be empty)
    open_deals: pl.DataFrame  # star.open_deals at C (may be empty)
    sku: pl.DataFrame  # star.dim_sku


S, D, F, I64, B = pl.String(), pl.Date(), pl.Float64(), pl.Int64(), pl.Boolean()

FACT_SCHEMA: dict[str, pl.DataType] = {
    "invoice_id": S,
    "line_no": I64,
    "order_date": D,
    "customer_id": S,
    "sku": S,
    "division": S,
    "family": S,
    "sale_type": S,
    "quantity": F,
    "gross_profit": F,
    "revenue": F,
    "rep": S,
    "branch": S,
}
CUSTOMER_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": S,
    "customer_name": S,
    "industry": S,
    "industry_sub": S,
    "region": S,
    "employees": I64,
    "created_date": D,
    "is_orphan": B,
    "first_order_date": D,
    "last_order_date": D,
    "n_lines": I64,
    "n_invoices": I64,
}
INSTALL_BASE_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": S,
    "sku": S,
    "division": S,
    "purchase_date": D,
    "expiration_date": D,
    "quantity": F,
    "is_active": B,
}
CONTACTS_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": S,
    "contact_date": D,
    "division": S,
}
OPEN_DEALS_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": S,
    "division": S,
    "opened_date": D,
    "closed_date": D,
    "is_open": B,
}
SKU_SCHEMA: dict[str, pl.DataType] = {
    "sku": S,
    "division": S,
    "family": S,
    "sale_type": S,
    "sku_position": I64,
}
# Columns without which a frame is unusable (a non-empty frame must have them).
REQUIRED: dict[str, tuple[str, ...]] = {
    "fact": ("invoice_id", "order_date", "customer_id", "sku", "gross_profit"),
    "customers": ("customer_id",),
    "install_base": ("customer_id", "sku", "purchase_date"),
    "contacts": ("customer_id", "contact_date"),
    "open_deals": ("customer_id", "division", "opened_date"),
    "sku": ("sku", "division"),
}
# The columns the feature engine reads from each frame; the others are conformed to
# typed nulls, so a reader may leave them out (``feature_store.read_snapshot`` does).
ENGINE_COLUMNS: dict[str, tuple[str, ...]] = {
    "fact": (
        "invoice_id",
        "line_no",
        "order_date",
        "customer_id",
        "sku",
        "division",
        "quantity",
        "gross_profit",
        "revenue",
    ),
    "customers": ("customer_id", "industry", "region", "employees", "created_date"),
    "install_base": (
        "customer_id",
        "sku",
        "division",
        "purchase_date",
        "expiration_date",
        "quantity",
    ),
    "contacts": ("customer_id", "contact_date", "division"),
    "open_deals": ("customer_id", "division", "opened_date", "closed_date"),
    "sku": ("sku", "division"),
}
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "fact": FACT_SCHEMA,
    "customers": CUSTOMER_SCHEMA,
    "install_base": INSTALL_BASE_SCHEMA,
    "contacts": CONTACTS_SCHEMA,
    "open_deals": OPEN_DEALS_SCHEMA,
    "sku": SKU_SCHEMA,
}


def conform(name: str, frame: pl.DataFrame | None) -> pl.DataFrame:
    """``frame`` with exactly the columns of ``SCHEMAS[name]``, typed (extra dropped).

    A missing optional column becomes a typed null column; a frame with no rows may
    lack any column. A non-empty frame without a required column is an error.
    """
    schema = SCHEMAS[name]
    if frame is None:
        frame = pl.DataFrame()
    if frame.height > 0:
        missing = [c for c in REQUIRED[name] if c not in frame.columns]
        if missing:
            raise ValueError(f"snapshot.{name}: missing required column(s) {missing}")
    exprs = [
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
        for c, t in schema.items()
    ]
    if frame.width == 0:
        return pl.DataFrame(schema=schema)
    return frame.select(exprs)


@dataclass(frozen=True)
class GuardedSnapshot:
    """The conformed snapshot, everything dated on or before the cutoff."""

    cutoff: dt.date
    fact: pl.DataFrame
    customers: pl.DataFrame  # roster: known at C, unique, sorted by customer_id
    install_base: pl.DataFrame
    contacts: pl.DataFrame
    open_deals: pl.DataFrame
    sku: pl.DataFrame
    source_max_dates: dict[str, dt.date | None]
    info: dict[str, Any]


def _max_date(frame: pl.DataFrame, col: str) -> dt.date | None:
    value = frame.get_column(col).max() if frame.height else None
    return value if isinstance(value, dt.date) else None


def guard(snap: StarSnapshot) -> GuardedSnapshot:
    """Conform the frames and drop (and count) anything dated after the cutoff.

    Rules (the star's own, re-applied): lines ``order_date <= C``; assets
    ``purchase_date <= C`` (active at C = expiration null or after C); contacts
    ``contact_date <= C``; deals opened on or before C, a close after C is not known
    yet (closed_date null, open). The roster is every customer known at C (created on
    or before C or undated, or with a line on or before C); a ``created_date`` after C
    is treated as unknown. Lines of customers outside the roster are dropped (counted).
    """
    c = snap.cutoff
    info: dict[str, Any] = {"cutoff": c.isoformat()}
    fact = conform("fact", snap.fact)
    n0 = fact.height
    fact = fact.filter(
        pl.col("order_date").is_not_null()
        & pl.col("customer_id").is_not_null()
        & pl.col("sku").is_not_null()
        & pl.col("gross_profit").is_not_null()
    )
    info["fact_rows_null_key_dropped"] = n0 - fact.height
    n1 = fact.height
    fact = fact.filter(pl.col("order_date") <= c)
    info["fact_rows_after_cutoff_dropped"] = n1 - fact.height

    cust = conform("customers", snap.customers).filter(
        pl.col("customer_id").is_not_null()
    )
    n_c = cust.height
    cust = cust.unique(subset="customer_id", keep="first", maintain_order=True)
    info["customer_duplicates_dropped"] = n_c - cust.height
    buyers = fact.select("customer_id").unique()
    created_ok = pl.col("created_date").is_null() | (pl.col("created_date") <= c)
    with_lines = pl.col("customer_id").is_in(buyers.get_column("customer_id"))
    n_c = cust.height
    cust = cust.filter(created_ok | with_lines)
    info["customers_created_after_cutoff_dropped"] = n_c - cust.height
    info["customers_created_after_cutoff_kept_undated"] = cust.filter(
        ~created_ok
    ).height
    cust = cust.with_columns(
        pl.when(created_ok).then(pl.col("created_date")).alias("created_date")
    ).sort("customer_id")
    n_f = fact.height
    fact = fact.join(cust.select("customer_id"), on="customer_id", how="semi")
    info["fact_rows_unknown_customer_dropped"] = n_f - fact.height
    info["fact_rows_used"] = fact.height

    ib = conform("install_base", snap.install_base)
    n_i = ib.height
    ib = ib.filter(
        pl.col("purchase_date").is_not_null() & (pl.col("purchase_date") <= c)
    )
    ib = ib.with_columns(
        (pl.col("expiration_date").is_null() | (pl.col("expiration_date") > c)).alias(
            "is_active"
        )
    )
    info["install_base_rows_after_cutoff_dropped"] = n_i - ib.height

    ct = conform("contacts", snap.contacts)
    n_t = ct.height
    ct = ct.filter(pl.col("contact_date").is_not_null() & (pl.col("contact_date") <= c))
    info["contacts_after_cutoff_dropped"] = n_t - ct.height

    deals = conform("open_deals", snap.open_deals)
    n_d = deals.height
    deals = deals.filter(
        pl.col("opened_date").is_not_null() & (pl.col("opened_date") <= c)
    )
    info["open_deals_after_cutoff_dropped"] = n_d - deals.height
    late_close = pl.col("closed_date").is_not_null() & (pl.col("closed_date") > c)
    info["open_deals_close_after_cutoff_masked"] = deals.filter(late_close).height
    deals = deals.with_columns(
        pl.when(late_close)
        .then(None)
        .otherwise(pl.col("closed_date"))
        .alias("closed_date")
    ).with_columns(pl.col("closed_date").is_null().alias("is_open"))

    sku = conform("sku", snap.sku)
    maxes: dict[str, dt.date | None] = {
        "fact.order_date": _max_date(fact, "order_date"),
        "customers.created_date": _max_date(cust, "created_date"),
        "install_base.purchase_date": _max_date(ib, "purchase_date"),
        "contacts.contact_date": _max_date(ct, "contact_date"),
        "open_deals.opened_date": _max_date(deals, "opened_date"),
        "open_deals.closed_date": _max_date(deals, "closed_date"),
    }
    late = {k: v for k, v in maxes.items() if v is not None and v > c}
    if late:  # cannot happen after the filters above; a hard stop if it ever does
        raise AssertionError(f"source dates after cutoff {c}: {late}")
    # Expiration dates are scheduled attributes of assets bought on or before C,
    # not events; they may lie after C and are reported separately.
    info["install_base_expiration_max"] = _iso(_max_date(ib, "expiration_date"))
    return GuardedSnapshot(
        cutoff=c,
        fact=fact,
        customers=cust,
        install_base=ib,
        contacts=ct,
        open_deals=deals,
        sku=sku,
        source_max_dates=maxes,
        info=info,
    )


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
