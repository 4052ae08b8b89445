"""``generate``: the synthetic raw folder of a B2B reseller, in the contract's formats.

The run is deterministic: every random draw comes from ``numpy`` generators seeded by
``seed`` and a fixed stream number, outputs are sorted by stable keys, and the manifest
carries no timestamps, so the same arguments give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.sample_data import extras, lines, population, wide, writer
from gosales_assets.sample_data.catalog import Catalog, build_catalog
from gosales_assets.sample_data.ground_truth import CutoffSnapshot, ground_truth
from gosales_assets.sample_data.population import Population, build_population
from gosales_assets.sample_data.shift import SpendShift, apply_shifts
from gosales_assets.sample_data.simulate import step, update
from gosales_assets.sample_data.state import CREDIT, Events, SimState
from gosales_assets.sample_data.timeline import month_index, month_label

log = logging.getLogger("gosales.sample_data")

GENERATOR_VERSION = "1.1.0"  # 1.1: multi-line orders, consumables reordered more
BURN_IN_MONTHS = 24  # simulated before ``start``: install base and purchase history
# Independent random streams, so changing one part leaves the others' draws alone.
_CATALOG, _POPULATION, _SIMULATION, _EXTRAS, _OUTPUT = 1, 2, 3, 4, 5
_SHIFT = 6  # accounts of a partial spend shift (sample_data/shift.py)


@dataclass(frozen=True)
class GenerationReport:
    out_dir: Path
    files: dict[str, Path]  # file name -> path
    row_counts: dict[str, int]  # file name -> rows
    manifest_path: Path
    seed: int
    elapsed_seconds: float
    stats: dict[str, int]

    def __str__(self) -> str:
        files = ", ".join(f"{n}={r}" for n, r in self.row_counts.items())
        return (
            f"customers={self.stats['customers']} lines={self.stats['lines']} "
            f"seed={self.seed} seconds={self.elapsed_seconds:.1f} rows: {files}"
        )


@dataclass
class _Run:
    events: Events
    extras: extras.ExtrasLog
    snapshots: list[CutoffSnapshot]


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _simulate(
    cat: Catalog,
    pop: Population,
    start: dt.date,
    end: dt.date,
    cutoffs: Sequence[dt.date],
    seed: int,
) -> _Run:
    rng, rng_x = _rng(seed, _SIMULATION), _rng(seed, _EXTRAS)
    rows = pop.rows
    st = SimState.initial(pop.n, cat.n_groups, len(cat.sub_skus))
    extras_log = extras.ExtrasLog()
    snapshots: list[CutoffSnapshot] = []
    parts: list[Events] = []
    first_data_month = month_index(start)
    for month in range(first_data_month - BURN_IN_MONTHS, month_index(end) + 1):
        here = [c for c in cutoffs if month_index(c) == month]
        before = st.copy() if here else st
        ev, rates = step(cat, rows, st, month, rng)
        if month >= first_data_month:
            extras.record_month(extras_log, cat, rows, st, rates, month, rng_x)
        snapshots += [
            CutoffSnapshot(c, before, ev.select(ev.day <= c.day)) for c in here
        ]
        update(cat, rows, st, ev, month, rng)
        parts.append(ev)
        log.debug(
            "generated month=%s events=%d credits=%d active=%d",
            month_label(month), len(ev), int((ev.kind == CREDIT).sum()),
            int(st.active.sum()),
        )  # fmt: skip
        if month % 12 == 11:
            log.info("generated year=%d events=%d", month // 12, sum(map(len, parts)))
    return _Run(Events.concat(parts), extras_log, snapshots)


def _validate(
    customers: int,
    start: dt.date,
    end: dt.date,
    fmt: str,
    layout: str,
    cutoffs: Sequence[dt.date],
    sims: int,
) -> None:
    if customers < 10:
        raise ValueError(f"customers must be at least 10, got {customers}")
    if end <= start:
        raise ValueError(f"end ({end}) must be after start ({start})")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    if layout not in ("long", "wide"):
        raise ValueError(f"layout must be 'long' or 'wide', got {layout!r}")
    for cutoff in cutoffs:
        if not start <= cutoff <= end:
            raise ValueError(
                f"ground-truth cutoff {cutoff} is outside [{start}, {end}]"
            )
    if sims < 1:
        raise ValueError(f"ground_truth_simulations must be >= 1, got {sims}")


def generate(
    out_dir: Path,
    cfg: GosalesConfig,
    *,
    customers: int,
    start: dt.date,
    end: dt.date,
    seed: int,
    fmt: Literal["csv", "parquet"] = "csv",
    layout: Literal["long", "wide"] = "long",
    ground_truth_cutoffs: Sequence[dt.date] = (),
    ground_truth_simulations: int = 20,
    shifts: Sequence[SpendShift] = (),
) -> GenerationReport:
    """Write a synthetic raw folder (DATA_CONTRACT section 2) into ``out_dir``.

    ``shifts`` deliberately change one industry's spend from a date on (drift
    scenarios, sample_data/shift.py); none by default."""
    cutoffs = sorted(set(ground_truth_cutoffs))
    _validate(customers, start, end, fmt, layout, cutoffs, ground_truth_simulations)
    began = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    removed = writer.clear_outputs(out_dir)
    if removed:
        log.info("removed stale outputs files=%s", ",".join(removed))
    log.info(
        "generating customers=%d start=%s end=%s seed=%d fmt=%s layout=%s",
        customers, start, end, seed, fmt, layout,
    )  # fmt: skip

    cat = build_catalog(cfg.sku_map, _rng(seed, _CATALOG))
    pop = build_population(customers, start, end, cat, _rng(seed, _POPULATION))
    run = _simulate(cat, pop, start, end, cutoffs, seed)
    rng_out = _rng(seed, _OUTPUT)

    sales = lines.sales_lines(run.events, cat, pop, start, end)
    shifted: list[dict[str, object]] = []
    if shifts:
        sales, shifted = apply_shifts(
            sales, pop.ids, pop.industry, shifts, _rng(seed, _SHIFT)
        )
        log.info("applied spend shifts %s", shifted)
    orphans = lines.choose_orphans(sales, pop, rng_out)
    tables: dict[str, pl.DataFrame] = {
        "customers": lines.customers_frame(pop, orphans),
        "assets": extras.assets_frame(run.events, cat, pop.ids, end),
        "contacts": extras.contacts_frame(run.extras, cat, pop.ids, start, end),
        "open_deals": extras.deals_frame(run.extras, cat, pop.ids, start, end),
    }
    if layout == "long":
        tables = {"sales_lines": sales, **tables}
    else:
        names = pl.DataFrame({"customer_id": pop.ids, "customer_name": pop.names})
        log_frame = wide.lines_to_wide(sales, cfg, names)
        if fmt == "csv":
            log_frame = wide.wide_csv_frame(log_frame, cfg, rng_out)
        tables = {"sales_log": log_frame, **tables}

    files: dict[str, tuple[Path, int]] = {}
    for stem, frame in tables.items():
        path = writer.write_table(frame, out_dir / f"{stem}.{fmt}")
        files[path.name] = (path, frame.height)
        log.info("wrote file=%s rows=%d", path.name, frame.height)
    if cutoffs:
        truth = ground_truth(
            cat, pop, run.snapshots, cfg, ground_truth_simulations, seed
        )
        path = writer.write_table(truth, out_dir / "ground_truth.parquet")
        files[path.name] = (path, truth.height)
        log.info("wrote file=%s rows=%d", path.name, truth.height)

    stats = _stats(sales, pop, orphans, run.events)
    manifest = writer.write_manifest(
        out_dir / "manifest.json",
        version=GENERATOR_VERSION,
        seed=seed,
        parameters={
            "customers": customers,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "fmt": fmt,
            "layout": layout,
            "ground_truth_cutoffs": [c.isoformat() for c in cutoffs],
            "ground_truth_simulations": ground_truth_simulations,
            "burn_in_months": BURN_IN_MONTHS,
            # only when used, so the default manifest stays byte-identical
            **({"shifts": shifted} if shifted else {}),
            "skus": list(cat.skus),
            "targets": cfg.target_names,
        },
        files=files,
        stats=stats,
    )
    elapsed = time.perf_counter() - began
    log.info(
        "generated out_dir=%s seconds=%.1f lines=%d", out_dir, elapsed, sales.height
    )
    return GenerationReport(
        out_dir=out_dir,
        files={name: p for name, (p, _) in files.items()},
        row_counts={name: rows for name, (_, rows) in files.items()},
        manifest_path=manifest,
        seed=seed,
        elapsed_seconds=elapsed,
        stats=stats,
    )


def _stats(
    sales: pl.DataFrame, pop: Population, orphans: np.ndarray, ev: Events
) -> dict[str, int]:
    buyers = sales["customer_id"].n_unique()
    return {
        "customers": pop.n,
        "customers_listed": pop.n - len(orphans),
        "orphans": len(orphans),
        "prospects": int((~pop.rows.buyer).sum()),
        "buying_customers": buyers,
        "ids_guid": int((pop.id_kind == population.ID_GUID).sum()),
        "ids_zero_padded_pairs": int((pop.id_kind == population.ID_PADDED).sum()),
        "ids_legacy_zero": int((pop.id_kind == population.ID_LEGACY).sum()),
        "invoices": sales["invoice_id"].n_unique(),
        "lines": sales.height,
        "lines_negative_gp": int((sales["gross_profit"] < 0).sum()),
        "lines_quantity_only": int((sales["gross_profit"] == 0).sum()),
        "simulated_events": len(ev),
    }
