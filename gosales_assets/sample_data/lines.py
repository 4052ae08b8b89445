"""From simulated events to the contract's ``sales_lines`` and ``customers`` tables.

Events of one customer on one day share an invoice per stream (software, hardware,
renewal, credit memo, an occasional second purchase order), so a customer often has
several invoices on one day. Within an invoice a SKU appears once (same-SKU events are
summed) and ``line_no`` is the SKU's 1-based position in the SKU map, which is also what
the wide-log reader assigns: long and wide layouts of the same data unpivot alike.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from gosales_assets.lib.contract import CUSTOMERS, SALES_LINES, schema_of
from gosales_assets.sample_data import rules, world
from gosales_assets.sample_data.catalog import Catalog
from gosales_assets.sample_data.population import ID_NUMERIC, Population
from gosales_assets.sample_data.state import Events
from gosales_assets.sample_data.timeline import to_dates, to_datetime64

ORPHAN_SHARE = 0.003  # buying customers left out of the customers file
HARDWARE_STREAMS = (
    rules.STREAM_HARDWARE,
    rules.STREAM_HARDWARE + rules.STREAM_EXTRA_PO,
)


def sales_lines(
    ev: Events, cat: Catalog, pop: Population, start: dt.date, end: dt.date
) -> pl.DataFrame:
    dates = to_dates(ev.month, ev.day)
    keep = (dates >= to_datetime64(start)) & (dates <= to_datetime64(end))
    ev = ev.select(keep)
    events = pl.DataFrame(
        {
            "row": ev.row,
            "order_date": dates[keep],
            "month": ev.month,
            "stream": ev.stream,
            "sku_idx": ev.sku,
            "qty": ev.qty.astype(np.int64),
            "gp": ev.gp,
            "rev": ev.rev,
        }
    )
    invoices = (
        events.select("order_date", "row", "stream")
        .unique()
        .sort("order_date", "row", "stream")
        .with_row_index("number", offset=1)
        .with_columns(
            pl.concat_str(
                pl.when(pl.col("stream") == rules.STREAM_CREDIT)
                .then(pl.lit("CM"))
                .otherwise(pl.lit("INV")),
                pl.col("number").cast(pl.String).str.zfill(8),
            ).alias("invoice_id")
        )
    )
    lines = (
        events.join(invoices, on=["order_date", "row", "stream"], how="left")
        .group_by("invoice_id", "sku_idx")
        .agg(
            pl.col("order_date", "row", "month", "stream").first(),
            pl.col("qty", "gp", "rev").sum(),
        )
        .filter((pl.col("qty") != 0) | (pl.col("gp") != 0))
        .sort("order_date", "invoice_id", "sku_idx")
    )
    row = lines["row"].to_numpy()
    month = lines["month"].to_numpy()
    owner = np.where(month >= pop.rep_switch_month[row], pop.rep_b[row], pop.rep_a[row])
    hardware = np.isin(lines["stream"].to_numpy(), HARDWARE_STREAMS)
    rep = np.where(hardware, pop.branch_hw_rep[pop.branch[row]], owner)
    return pl.DataFrame(
        {
            "invoice_id": lines["invoice_id"],
            "line_no": lines["sku_idx"].cast(pl.Int64) + 1,
            "order_date": lines["order_date"],
            "customer_id": pop.ids.gather(row),
            "sku": pl.Series(cat.skus).gather(lines["sku_idx"]),
            "quantity": lines["qty"].cast(pl.Float64),
            # numpy divides exactly (polars may multiply by 0.01): 69930 -> 699.3
            "gross_profit": lines["gp"].to_numpy() / 100.0,
            "revenue": lines["rev"].to_numpy() / 100.0,
            "rep": pl.Series(pop.rep_names).gather(rep),
            "branch": pl.Series(pop.branch_names).gather(pop.branch[row]),
        },
        schema=schema_of(SALES_LINES),
    )


def choose_orphans(
    lines: pl.DataFrame, pop: Population, rng: np.random.Generator
) -> np.ndarray:
    """Indices of a few buying customers (plain numeric ids) left out of customers."""
    buying = pop.ids.is_in(lines["customer_id"].unique()).to_numpy()
    pool = np.flatnonzero(buying & (pop.id_kind == ID_NUMERIC))
    if not len(pool):
        return pool
    count = min(len(pool), max(2, round(ORPHAN_SHARE * len(pool))))
    return np.sort(rng.choice(pool, count, replace=False))


def customers_frame(pop: Population, orphans: np.ndarray) -> pl.DataFrame:
    listed = np.ones(pop.n, dtype=bool)
    listed[orphans] = False
    industries = pl.Series([i.name for i in world.INDUSTRIES])
    regions = pl.Series(list(world.REGIONS))
    employees = pl.Series(pop.employees).scatter(
        np.flatnonzero(~pop.employees_known), None
    )
    frame = pl.DataFrame(
        {
            "customer_id": pop.ids,
            "customer_name": pop.names,
            "industry": industries.gather(pop.industry),
            "industry_sub": pop.industry_sub,
            "region": regions.gather(pop.region),
            "employees": employees,
            "created_date": pop.created,
        },
        schema=schema_of(CUSTOMERS),
    )
    return frame.filter(pl.Series(listed)).sort("customer_id")
