"""Deliberate distribution shifts of the synthetic data (drift-monitoring scenarios).

A :class:`SpendShift` multiplies the spend (gross profit and revenue, so the margin is
unchanged) of the accounts of one industry on every line dated on or after ``start``.
``share`` < 1 shifts only that share of the industry's accounts, drawn with the
generator's seed from a random stream of its own. The shift is applied to the finished
sales lines, after the simulation, so every other draw and every line dated before
``start`` is exactly what the unshifted run produces; without a shift the output is
byte-identical to a run of a generator without this module.

Text form (``gosales generate --shift``)::

    industry=Industrial Machinery,factor=2.0,from=2024-07-01[,share=0.5]
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from gosales_assets.sample_data import world

_KEYS = ("industry", "factor", "from", "share")


@dataclass(frozen=True)
class SpendShift:
    industry: str
    factor: float
    start: dt.date
    share: float = 1.0

    def __post_init__(self) -> None:
        known = industry_names()
        if self.industry not in known:
            raise ValueError(
                f"shift: unknown industry {self.industry!r}; known: {', '.join(known)}"
            )
        if not (math.isfinite(self.factor) and self.factor > 0):
            raise ValueError(
                f"shift: factor must be a positive finite number, got {self.factor}"
            )
        if not (math.isfinite(self.share) and 0 < self.share <= 1):
            raise ValueError(f"shift: share must be in (0, 1], got {self.share}")

    def describe(self) -> dict[str, object]:
        """JSON-able form (the generator's manifest records it)."""
        return {
            "industry": self.industry,
            "factor": self.factor,
            "from": self.start.isoformat(),
            "share": self.share,
        }


def industry_names() -> tuple[str, ...]:
    return tuple(i.name for i in world.INDUSTRIES)


def parse_shift(text: str) -> SpendShift:
    """``industry=<name>,factor=<x>,from=YYYY-MM-DD[,share=<s>]`` -> a shift.

    Industry names may contain commas (``Architecture, Engineering & Construction``):
    a comma-separated part without ``=`` continues the previous value."""
    fields: dict[str, str] = {}
    last: str | None = None
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if sep and key in _KEYS:
            if key in fields:
                raise ValueError(f"shift: {key!r} is given twice in {text!r}")
            fields[key] = value.strip()
            last = key
        elif last is not None and not sep:
            fields[last] += "," + part
        else:
            raise ValueError(
                f"shift: cannot read {part.strip()!r} in {text!r}; expected "
                "industry=<name>,factor=<number>,from=YYYY-MM-DD[,share=<0..1>]"
            )
    missing = [k for k in ("industry", "factor", "from") if k not in fields]
    if missing:
        raise ValueError(f"shift: missing {', '.join(missing)} in {text!r}")
    try:
        factor = float(fields["factor"])
        share = float(fields.get("share", "1"))
    except ValueError:
        raise ValueError(
            f"shift: factor and share must be numbers in {text!r}"
        ) from None
    try:
        start = dt.date.fromisoformat(fields["from"])
    except ValueError:
        raise ValueError(
            f"shift: from must be a date YYYY-MM-DD, got {fields['from']!r}"
        ) from None
    return SpendShift(fields["industry"].strip(), factor, start, share)


def shifted_accounts(
    industry: np.ndarray, shift: SpendShift, rng: np.random.Generator
) -> np.ndarray:
    """Sorted population rows whose spend the shift changes."""
    index = industry_names().index(shift.industry)
    rows = np.flatnonzero(industry == index)
    if shift.share >= 1 or rows.size == 0:
        return rows
    count = max(1, round(shift.share * rows.size))
    return np.sort(rng.choice(rows, count, replace=False))


def _scaled(amounts: pl.Series, factor: float) -> pl.Series:
    """``amounts`` (currency, 2 decimals) times ``factor``, in whole cents rounded half
    to even (numpy); nulls stay null."""
    cents = np.rint(amounts.to_numpy(allow_copy=True).astype(np.float64) * 100)
    return pl.Series(amounts.name, np.round(cents * factor) / 100).fill_nan(None)


def apply_shifts(
    sales: pl.DataFrame,
    ids: pl.Series,
    industry: np.ndarray,
    shifts: Sequence[SpendShift],
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, list[dict[str, object]]]:
    """The sales lines with every shift applied (in order; factors of overlapping
    shifts multiply), and one summary per shift: accounts and lines changed."""
    summaries: list[dict[str, object]] = []
    for shift in shifts:
        accounts = ids.gather(shifted_accounts(industry, shift, rng))
        hit = pl.col("customer_id").is_in(accounts.implode()) & (
            pl.col("order_date") >= shift.start
        )
        mask = sales.select(hit.fill_null(False)).to_series()
        lines = int(mask.sum())
        sales = sales.with_columns(
            pl.when(mask)
            .then(_scaled(sales[c], shift.factor))
            .otherwise(pl.col(c))
            .alias(c)
            for c in ("gross_profit", "revenue")
        )
        summaries.append(
            {**shift.describe(), "accounts": accounts.len(), "lines": lines}
        )
    return sales, summaries
