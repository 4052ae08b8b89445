"""Simulation containers: per-row latent parameters, mutable state, and events.

A *row* is one simulated customer. The main run has one row per customer; the
ground-truth re-simulation replicates the rows of the population once per simulation,
so every container here is indexed by row and can be gathered with ``take``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

NEVER = -1  # month index meaning "never" (real month indices are ~24000)

# Event kinds.
PURCHASE = 0
ATTACH = 1
RENEWAL = 2
CREDIT = 3


def _take(obj: object, idx: np.ndarray) -> dict[str, np.ndarray]:
    return {f.name: getattr(obj, f.name)[idx] for f in fields(obj)}  # type: ignore[arg-type]


@dataclass
class RowParams:
    """Latent, fixed parameters of each row (customer)."""

    base: np.ndarray  # (R, G) float32 log monthly purchase rate per group
    engagement: np.ndarray  # (R,) latent engagement z
    renew_p: np.ndarray  # (R,) probability to renew a due subscription
    attach_p: np.ndarray  # (R,) probability to attach a subscription to an anchor
    churn_h: np.ndarray  # (R,) monthly hazard of going quiet
    price: np.ndarray  # (R,) price level (discounts)
    sub_pref: np.ndarray  # (R,) uniform: which subscription type the customer prefers
    log_size: np.ndarray  # (R,) log(employees / 50)
    size_q: np.ndarray  # (R,) quantity multiplier from company size
    created_month: np.ndarray  # (R,) month index of account creation
    buyer: np.ndarray  # (R,) bool; False for prospects who never buy

    @property
    def n(self) -> int:
        return len(self.buyer)

    def take(self, idx: np.ndarray) -> RowParams:
        return RowParams(**_take(self, idx))


@dataclass
class SimState:
    """Mutable state at the start of a month."""

    active: np.ndarray  # (R,) bool; False once the customer went quiet
    last_month: np.ndarray  # (R, G) int32 month of the last purchase, NEVER if none
    last_sku: np.ndarray  # (R, G) int16 SKU of the last purchase
    sub_due: np.ndarray  # (R, K) int32 month of the next renewal, NEVER if none
    sub_day: np.ndarray  # (R, K) int16 anniversary day of month
    sub_seats: np.ndarray  # (R, K) int64 subscribed seats

    @staticmethod
    def initial(n_rows: int, n_groups: int, n_subs: int) -> SimState:
        return SimState(
            active=np.ones(n_rows, dtype=bool),
            last_month=np.full((n_rows, n_groups), NEVER, dtype=np.int32),
            last_sku=np.zeros((n_rows, n_groups), dtype=np.int16),
            sub_due=np.full((n_rows, n_subs), NEVER, dtype=np.int32),
            sub_day=np.ones((n_rows, n_subs), dtype=np.int16),
            sub_seats=np.zeros((n_rows, n_subs), dtype=np.int64),
        )

    def take(self, idx: np.ndarray) -> SimState:
        return SimState(**_take(self, idx))

    def copy(self) -> SimState:
        return SimState(**{f.name: getattr(self, f.name).copy() for f in fields(self)})


EVENT_DTYPES: dict[str, type] = {
    "row": np.int64,
    "month": np.int32,
    "day": np.int16,
    "sku": np.int16,
    "qty": np.int32,
    "gp": np.int64,
    "rev": np.int64,
    "kind": np.int8,
    "stream": np.int8,
}


@dataclass
class Events:
    """Invoice-line events before grouping into invoices; GP and revenue in cents."""

    row: np.ndarray
    month: np.ndarray
    day: np.ndarray
    sku: np.ndarray
    qty: np.ndarray
    gp: np.ndarray
    rev: np.ndarray
    kind: np.ndarray
    stream: np.ndarray

    def __len__(self) -> int:
        return len(self.row)

    @staticmethod
    def build(**columns: np.ndarray) -> Events:
        return Events(
            **{k: np.asarray(columns[k], dtype=t) for k, t in EVENT_DTYPES.items()}
        )

    @staticmethod
    def empty() -> Events:
        return Events(**{k: np.zeros(0, dtype=t) for k, t in EVENT_DTYPES.items()})

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        if not parts:
            return Events.empty()
        return Events(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in fields(Events)
            }
        )

    def select(self, mask: np.ndarray) -> Events:
        return Events(**_take(self, mask))

    def with_rows(self, row: np.ndarray) -> Events:
        return replace(self, row=np.asarray(row, dtype=np.int64))
