"""True label probabilities by re-simulating each label window from the cutoff state.

For a cutoff ``C`` in month ``m`` the main run keeps the state at the start of ``m`` and
the events of ``m`` dated on or before ``C``. Re-simulation replicates the population
(customers created on or before ``C``) once per simulation, replays those events,
draws the rest of month ``m`` after ``C`` (Poisson thinning, see ``simulate``), then
whole months up to the longest window end, with fresh random draws and the same latent
parameters. The label of every simulated customer comes from the one label definition
(:func:`gosales_assets.lib.labels.positive_customers`); ``p_true`` is the share of
simulations in which it is 1.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.labels import positive_customers
from gosales_assets.lib.timeutil import window_end
from gosales_assets.sample_data.catalog import Catalog
from gosales_assets.sample_data.population import Population
from gosales_assets.sample_data.simulate import step, update
from gosales_assets.sample_data.state import Events, SimState
from gosales_assets.sample_data.timeline import month_index, to_dates

log = logging.getLogger("gosales.sample_data")

ROW_BUDGET = 600_000  # simulated rows (customers x simulations) per batch
GT_STREAM = 7

GROUND_TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "cutoff": pl.Date(),
    "target": pl.String(),
    "customer_id": pl.String(),
    "p_true": pl.Float64(),
}


@dataclass
class CutoffSnapshot:
    """The main run's state at the start of the cutoff's month and that month's events
    dated on or before the cutoff."""

    cutoff: dt.date
    state: SimState
    history: Events


def _batch_labels(
    cat: Catalog,
    pop: Population,
    snap: CutoffSnapshot,
    members: np.ndarray,
    sims: int,
    cfg: GosalesConfig,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Positive counts per target and population member over ``sims`` simulations."""
    cutoff, size = snap.cutoff, len(members)
    rows_idx = np.tile(members, sims)
    rows = pop.rows.take(rows_idx)
    st = snap.state.take(rows_idx)
    hist = snap.history
    pos = np.searchsorted(members, hist.row)
    offsets = np.repeat(np.arange(sims) * size, len(hist))
    history = Events.concat([hist] * sims).with_rows(np.tile(pos, sims) + offsets)

    ends = {t: window_end(cutoff, cfg.window_months(t)) for t in cfg.target_names}
    first, last = month_index(cutoff), month_index(max(ends.values()))
    drawn: list[Events] = []
    for month in range(first, last + 1):
        min_day = cutoff.day if month == first else 0
        ev, _ = step(cat, rows, st, month, rng, min_day=min_day)
        applied = Events.concat([history, ev]) if month == first else ev
        update(cat, rows, st, applied, month, rng)
        drawn.append(ev)
    ev = Events.concat(drawn)
    sim_lines = pl.DataFrame(
        {
            "customer_id": ev.row,  # simulated row = simulation * size + member
            "order_date": to_dates(ev.month, ev.day),
            "sku": pl.Series(cat.skus).gather(ev.sku),
            "gross_profit": ev.gp / 100.0,
        }
    )
    counts: dict[str, np.ndarray] = {}
    for target in ends:
        positive = positive_customers(
            sim_lines,
            skus=cfg.target_skus(target),
            cutoff=cutoff,
            months=cfg.window_months(target),
            threshold=cfg.labels.gp_min_threshold,
            denylist=cfg.labels.denylist_skus,
        ).collect()
        member = positive["customer_id"].to_numpy() % size
        counts[target] = np.bincount(member, minlength=size)
    return counts


def ground_truth(
    cat: Catalog,
    pop: Population,
    snapshots: list[CutoffSnapshot],
    cfg: GosalesConfig,
    sims: int,
    seed: int,
) -> pl.DataFrame:
    frames: list[pl.DataFrame] = []
    for snap in snapshots:
        members = np.flatnonzero(pop.created <= np.datetime64(snap.cutoff.isoformat()))
        size = len(members)
        per_batch = max(1, min(sims, ROW_BUDGET // max(size, 1)))
        totals = {t: np.zeros(size, dtype=np.int64) for t in cfg.target_names}
        done = 0
        while done < sims and size:
            batch = min(per_batch, sims - done)
            rng = np.random.default_rng(
                [seed, GT_STREAM, snap.cutoff.toordinal(), done]
            )
            counts = _batch_labels(cat, pop, snap, members, batch, cfg, rng)
            for target, c in counts.items():
                totals[target] += c
            done += batch
            log.info(
                "ground_truth cutoff=%s simulations=%d/%d customers=%d",
                snap.cutoff, done, sims, size,
            )  # fmt: skip
        ids = pop.ids.gather(members)
        for target in cfg.target_names:
            frames.append(
                pl.DataFrame(
                    {
                        "cutoff": [snap.cutoff] * size,
                        "target": [target] * size,
                        "customer_id": ids,
                        "p_true": totals[target] / sims,
                    },
                    schema=GROUND_TRUTH_SCHEMA,
                )
            )
    if not frames:
        return pl.DataFrame(schema=GROUND_TRUTH_SCHEMA)
    return pl.concat(frames).sort("cutoff", "target", "customer_id")
