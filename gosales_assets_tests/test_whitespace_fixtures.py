"""Tiny hand-checkable candidate frames for the whitespace tests (no tests here)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

CUTOFF = dt.date(2025, 6, 30)
TARGET = "Widgets"

SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "p_icp": pl.Float64(),
    "affinity": pl.Float64(),
    "als_sim": pl.Float64(),
    "expected_value": pl.Float64(),
    "owns_ever": pl.Boolean(),
    "last_target_purchase_days": pl.Int64(),
    "active_target_install": pl.Boolean(),
    "open_deal": pl.Boolean(),
    "last_contact_days": pl.Int64(),
    "rep": pl.String(),
    "industry": pl.String(),
    "region": pl.String(),
}

DEFAULTS: dict[str, Any] = {
    "p_icp": 0.5,
    "affinity": 0.0,
    "als_sim": 0.0,
    "expected_value": 0.0,
    "owns_ever": False,
    "last_target_purchase_days": None,
    "active_target_install": False,
    "open_deal": False,
    "last_contact_days": None,
    "rep": "R1",
    "industry": "I1",
    "region": "G1",
}


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Candidates from compact dicts (missing fields take ``DEFAULTS``)."""
    full = [{**DEFAULTS, **r} for r in rows]
    extra = sorted({k for r in full for k in r} - set(SCHEMA))
    schema = {**SCHEMA, **{k: pl.String() for k in extra}}
    return pl.DataFrame(full, schema=schema)


def rules_frame() -> pl.DataFrame:
    """Ten accounts, one per eligibility situation (see test_whitespace.py)."""
    return frame(
        [
            {"customer_id": "A", "p_icp": 0.90},
            {
                "customer_id": "B",
                "owns_ever": True,
                "last_target_purchase_days": 100,
            },
            {"customer_id": "C", "active_target_install": True},
            {
                "customer_id": "D",
                "owns_ever": True,
                "last_target_purchase_days": 500,
            },
            {
                "customer_id": "E",
                "owns_ever": True,
                "last_target_purchase_days": 1000,
            },
            {"customer_id": "F", "open_deal": True},
            {"customer_id": "G", "last_contact_days": 10},
            {"customer_id": "H", "last_contact_days": 100},
            {"customer_id": "I", "p_icp": None},
            {"customer_id": "J", "p_icp": 0.10},
        ]
    )


def signals_frame(n: int = 12) -> pl.DataFrame:
    """Full-coverage signals whose orders all disagree (distinct values)."""
    rows = []
    for i in range(n):
        rows.append(
            {
                "customer_id": f"C{i:02d}",
                "p_icp": round(0.05 + 0.07 * i, 4),  # increasing
                "affinity": float(n - i),  # decreasing
                "als_sim": round(0.05 + ((i * 5) % n) / n, 4),  # shuffled
                "expected_value": float(((i * 7) % n) + 1) * 10,  # shuffled
                "rep": f"R{i % 3}",
                "industry": f"I{i % 2}",
                "region": f"G{i % 4}",
            }
        )
    return frame(rows)


def ranked_frame(
    target: str, scores: dict[str, float], selected: set[str]
) -> pl.DataFrame:
    """A minimal ranked list (the columns ``cross_division`` reads)."""
    items = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return pl.DataFrame(
        {
            "customer_id": [c for c, _ in items],
            "rank": list(range(1, len(items) + 1)),
            "score": [s for _, s in items],
            "p_icp": [s / 2 for _, s in items],
            "grade": ["A"] * len(items),
            "selected": [c in selected for c, _ in items],
            "rep": [f"R{int(c[1:]) % 2}" for c, _ in items],
            "segment": ["S"] * len(items),
            "reason": [f"fits {target}"] * len(items),
        }
    )
