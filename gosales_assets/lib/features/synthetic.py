"""Snapshot builders for tests and the benchmark (no I/O, deterministic).

``snapshot_from_rows`` types small hand-written fixtures; ``synthetic_snapshot`` makes
a large random star snapshot (vectorized numpy) for performance measurements.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.features.snapshot import SCHEMAS, StarSnapshot
from gosales_assets.lib.star import sku_frame


def _as_date(value: Any) -> Any:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def typed(name: str, rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Rows (dates as ISO text or dates) as a frame of snapshot schema ``name``."""
    schema = SCHEMAS[name]
    full = [
        {
            c: (_as_date(r.get(c)) if schema[c] == pl.Date() else r.get(c))
            for c in schema
        }
        for r in rows
    ]
    return (
        pl.DataFrame(full, schema=schema, orient="row")
        if full
        else (pl.DataFrame(schema=schema))
    )


def snapshot_from_rows(
    cfg: GosalesConfig,
    cutoff: dt.date,
    fact: Sequence[dict[str, Any]] = (),
    customers: Sequence[dict[str, Any]] | None = None,
    install_base: Sequence[dict[str, Any]] = (),
    contacts: Sequence[dict[str, Any]] = (),
    open_deals: Sequence[dict[str, Any]] = (),
) -> StarSnapshot:
    """A snapshot from compact dicts. Fact rows need ``customer_id``, ``order_date``
    and ``sku``; defaults: invoice ``I<row>``, line 1, quantity 1, GP 100, division
    and family from the SKU map. Customers default to the fact's customers."""
    smap = {e.sku: e for e in cfg.sku_map.entries}
    lines = []
    for i, r in enumerate(fact):
        e = smap.get(r["sku"])
        lines.append(
            {
                "invoice_id": f"I{i}",
                "line_no": 1,
                "quantity": 1.0,
                "gross_profit": 100.0,
                "division": e.division if e else None,
                "family": e.family if e else None,
                "sale_type": e.sale_type if e else None,
                **r,
            }
        )
    if customers is None:
        ids = sorted({r["customer_id"] for r in fact})
        customers = [
            {"customer_id": c, "industry": "Mfg", "region": "East"} for c in ids
        ]
    assets = [
        {"division": smap[r["sku"]].division if r["sku"] in smap else None, **r}
        for r in install_base
    ]
    return StarSnapshot(
        cutoff=cutoff,
        fact=typed("fact", lines),
        customers=typed("customers", customers),
        install_base=typed("install_base", assets),
        contacts=typed("contacts", contacts),
        open_deals=typed("open_deals", open_deals),
        sku=sku_frame(cfg).select(list(SCHEMAS["sku"])),
    )


def _days_before(cutoff: dt.date, days: np.ndarray) -> pl.Expr:
    return pl.lit(cutoff, pl.Date) - pl.duration(days=pl.Series(days).cast(pl.Int64))


def synthetic_snapshot(
    cfg: GosalesConfig,
    cutoff: dt.date,
    n_customers: int = 100_000,
    n_lines: int = 2_000_000,
    years: int = 5,
    seed: int = 0,
) -> StarSnapshot:
    """A random snapshot of the given size: ~2.5 lines per invoice, heavy-tailed
    customer activity, ~3% returns, revenue on 80% of lines, plus assets, contacts
    and deals. Only for measurements and smoke tests."""
    rng = np.random.default_rng(seed)
    skus = sku_frame(cfg).select("sku", "division", "family", "sale_type")
    divisions = cfg.sku_map.divisions
    ids = np.array([f"C{i:07d}" for i in range(n_customers)], dtype=object)
    weight = rng.pareto(1.5, n_customers) + 0.05
    n_inv = max(1, n_lines * 2 // 5)
    inv_cust = rng.choice(n_customers, n_inv, p=weight / weight.sum())
    inv_day = rng.integers(0, years * 365, n_inv)
    inv = np.sort(rng.integers(0, n_inv, n_lines))
    gp = np.round(rng.lognormal(6.0, 1.2, n_lines), 2)
    ret = rng.random(n_lines) < 0.03
    gp[ret] = -gp[ret]
    fact = pl.concat(
        [
            pl.DataFrame(
                {
                    "invoice_id": pl.Series(inv).cast(pl.String),
                    "line_no": np.arange(n_lines, dtype=np.int64),
                }
            ).with_columns(
                _days_before(cutoff, inv_day[inv]).alias("order_date"),
                pl.Series("customer_id", ids[inv_cust[inv]], dtype=pl.String),
            ),
            skus[rng.integers(0, skus.height, n_lines).tolist()],
            pl.DataFrame(
                {
                    "quantity": np.where(ret, -1.0, rng.integers(1, 5, n_lines) * 1.0),
                    "gross_profit": gp,
                    "revenue": np.where(
                        rng.random(n_lines) < 0.8, np.abs(gp) * 2.5, np.nan
                    ),
                }
            ).with_columns(pl.col("revenue").fill_nan(None)),
        ],
        how="horizontal",
    ).with_columns(pl.lit("R1").alias("rep"), pl.lit("B1").alias("branch"))
    industries = [f"Industry {i}" for i in range(15)] + [None]
    regions = [f"Region {i}" for i in range(8)] + [None]
    employees = np.round(rng.lognormal(4.0, 1.5, n_customers)).astype(np.int64)
    customers = pl.DataFrame(
        {
            "customer_id": pl.Series(ids, dtype=pl.String),
            "industry": pl.Series(
                [industries[i] for i in rng.integers(0, 16, n_customers)]
            ),
            "region": pl.Series([regions[i] for i in rng.integers(0, 9, n_customers)]),
            "employees": pl.Series(employees).set(
                pl.Series(rng.random(n_customers) < 0.05), None
            ),
        }
    ).with_columns(
        _days_before(cutoff, rng.integers(0, years * 365 + 400, n_customers)).alias(
            "created_date"
        )
    )
    n_ib = n_customers // 2
    bought = rng.integers(0, years * 365, n_ib)
    life = np.where(rng.random(n_ib) < 0.2, -1, rng.integers(180, 1100, n_ib))
    ib_sku = skus[rng.integers(0, skus.height, n_ib).tolist()]
    install_base = pl.DataFrame(
        {
            "customer_id": pl.Series(ids[rng.integers(0, n_customers, n_ib)]),
            "sku": ib_sku.get_column("sku"),
            "division": ib_sku.get_column("division"),
            "quantity": rng.integers(1, 10, n_ib).astype(np.float64),
        }
    ).with_columns(
        _days_before(cutoff, bought).alias("purchase_date"),
        pl.when(pl.Series(life) >= 0)
        .then(_days_before(cutoff, bought - life))
        .alias("expiration_date"),
    )
    n_ct = n_customers // 2
    contacts = pl.DataFrame(
        {
            "customer_id": pl.Series(ids[rng.integers(0, n_customers, n_ct)]),
            "division": pl.Series(
                [divisions[i] for i in rng.integers(0, len(divisions), n_ct)]
            ),
        }
    ).with_columns(
        _days_before(cutoff, rng.integers(0, 730, n_ct)).alias("contact_date")
    )
    n_d = max(1, n_customers // 20)
    opened = rng.integers(0, 365, n_d)
    closed = np.where(rng.random(n_d) < 0.5, -1, rng.integers(0, 365, n_d))
    deals = pl.DataFrame(
        {
            "customer_id": pl.Series(ids[rng.integers(0, n_customers, n_d)]),
            "division": pl.Series(
                [divisions[i] for i in rng.integers(0, len(divisions), n_d)]
            ),
        }
    ).with_columns(
        _days_before(cutoff, opened).alias("opened_date"),
        pl.when(pl.Series(closed) >= 0)
        .then(_days_before(cutoff, np.minimum(closed, opened)))
        .alias("closed_date"),
    )
    return StarSnapshot(
        cutoff=cutoff,
        fact=fact,
        customers=customers,
        install_base=install_base,
        contacts=contacts,
        open_deals=deals,
        sku=sku_frame(cfg).select(list(SCHEMAS["sku"])),
    )


def benchmark(
    cfg: GosalesConfig,
    cutoff: dt.date,
    n_customers: int = 100_000,
    n_lines: int = 2_000_000,
    seed: int = 0,
) -> dict[str, float]:
    """Seconds for base + ALS + every configured target on a synthetic snapshot."""
    from gosales_assets.lib.features import (
        build_als,
        build_customer_base,
        build_target_features,
    )

    snap = synthetic_snapshot(cfg, cutoff, n_customers, n_lines, seed=seed)
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    base = build_customer_base(snap, cfg)
    t1 = time.perf_counter()
    als = build_als(snap, cfg, base=base)
    t2 = time.perf_counter()
    out["base"], out["als"] = t1 - t0, t2 - t1
    for name in cfg.target_names:
        ts = time.perf_counter()
        build_target_features(snap, base, als, name, cfg)
        out[f"target:{name}"] = time.perf_counter() - ts
    out["total"] = time.perf_counter() - t0
    out["features"] = float(len(base.frame.columns) - 1)
    return out
