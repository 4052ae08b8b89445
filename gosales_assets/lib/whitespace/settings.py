"""Whitespace settings: frozen dataclasses with the engine's defaults.

The configuration layer owns the YAML keys (``whitespace:`` in ``config/gosales.yaml``);
this is what the pure ranking code consumes. ``WhitespaceSettings.from_dict`` accepts a
plain nested mapping (for example a pydantic model's ``model_dump()``); unknown keys
are refused so a typo is never silently ignored. Every field is used by the ranking and
changes its output when changed (see ``docs/whitespace.md``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SIGNALS = ("p_icp_pct", "affinity", "als", "ev")
OWNER_RULES = ("recent", "ever", "none")
CAPACITY_MODES = ("overall", "per_rep", "per_segment")
REASONS_METHODS = ("treeshap", "saabas")


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@dataclass(frozen=True)
class SignalWeights:
    """Base blend weights (renormalized after the coverage adjustment)."""

    p_icp_pct: float = 0.6
    affinity: float = 0.2
    als: float = 0.1
    ev: float = 0.1

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in SIGNALS}


@dataclass(frozen=True)
class EligibilitySettings:
    """Who may be ranked for a target (applied in this order, counts disjoint)."""

    exclude_owners: str = "recent"  # recent | ever | none
    owner_recency_days: int = 365
    lapsed_readmit_days: int | None = 730  # None: never re-admit
    exclude_open_deal: bool = True
    exclude_contacted_days: int | None = None  # None: contacts never exclude


@dataclass(frozen=True)
class CooldownSettings:
    """Damping of accounts surfaced in an earlier cutoff's list for the same target."""

    days: int = 90
    factor: float = 0.5


@dataclass(frozen=True)
class CapacitySettings:
    """How many ranked accounts are selected, and the cross-division share cap."""

    top_share: float = 0.1
    mode: str = "overall"  # overall | per_rep | per_segment
    per_rep_max: int | None = None  # per_rep mode; None: top_share of each rep
    segment_column: str = "industry"
    division_share_cap: float | None = 0.3  # None: no cap


_DEFAULT_GRADES: tuple[tuple[str, float], ...] = (
    ("A", 0.9),
    ("B", 0.7),
    ("C", 0.4),
    ("D", 0.2),
)


@dataclass(frozen=True)
class WhitespaceSettings:
    """Everything the ICP scoring and whitespace ranking need."""

    weights: SignalWeights = field(default_factory=SignalWeights)
    coverage_floor: float = 0.2
    ev_quantile_cap: float = 0.95
    ev_min_segment_buyers: int = 5
    grade_cuts: tuple[tuple[str, float], ...] = _DEFAULT_GRADES
    lowest_grade: str = "F"
    eligibility: EligibilitySettings = field(default_factory=EligibilitySettings)
    cooldown: CooldownSettings = field(default_factory=CooldownSettings)
    capacity: CapacitySettings = field(default_factory=CapacitySettings)
    reasons_top_n: int = 3
    # how the ICP model's per-account reasons are attributed (tree models):
    # exact TreeSHAP, or Saabas path attributions (much cheaper on deep/many trees)
    reasons_method: str = "treeshap"

    def __post_init__(self) -> None:
        errors = _validate(self)
        if errors:
            raise ValueError("invalid whitespace settings: " + "; ".join(errors))

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> WhitespaceSettings:
        """Build from a nested mapping; missing keys keep their defaults.

        ``grade_cuts`` is a mapping ``{letter: lower bound}``; the sections
        ``weights``, ``eligibility``, ``cooldown`` and ``capacity`` are mappings.
        """
        data = dict(data or {})
        _refuse_unknown("whitespace", data, {f.name for f in dataclasses.fields(cls)})
        kwargs: dict[str, Any] = {}
        sections = {
            "weights": SignalWeights,
            "eligibility": EligibilitySettings,
            "cooldown": CooldownSettings,
            "capacity": CapacitySettings,
        }
        for key, value in data.items():
            if key in sections:
                sub = dict(value or {})
                klass = sections[key]
                _refuse_unknown(key, sub, {f.name for f in dataclasses.fields(klass)})
                kwargs[key] = klass(**sub)
            elif key == "grade_cuts":
                kwargs[key] = _grade_cuts(value)
            else:
                kwargs[key] = value
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able nested mapping (the inverse of ``from_dict``)."""
        out = dataclasses.asdict(self)
        out["grade_cuts"] = dict(self.grade_cuts)
        return out

    def replace(self, **changes: Any) -> WhitespaceSettings:
        """A copy with dotted-path changes, e.g. ``{"capacity.mode": "per_rep"}``."""
        data = self.to_dict()
        for path, value in changes.items():
            node = data
            *parents, leaf = path.split(".")
            for part in parents:
                node = node[part]
            node[leaf] = value
        return WhitespaceSettings.from_dict(data)

    @property
    def base_weights(self) -> dict[str, float]:
        return self.weights.as_dict()


def _refuse_unknown(where: str, data: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(
            f"unknown {where} setting(s): {unknown}; known: {sorted(known)}"
        )


def _grade_cuts(value: Any) -> tuple[tuple[str, float], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    pairs = [(str(k), float(v)) for k, v in items]
    return tuple(sorted(pairs, key=lambda kv: (-kv[1], kv[0])))


def _validate(s: WhitespaceSettings) -> list[str]:
    errors: list[str] = []
    w = s.weights.as_dict()
    if any(not _finite(v) or v < 0 for v in w.values()):
        errors.append("weights: must be finite and >= 0")
    elif sum(w.values()) <= 0:
        errors.append("weights: at least one weight must be > 0")
    if not _finite(s.coverage_floor) or not 0 <= s.coverage_floor <= 1:
        errors.append("coverage_floor: must be in [0, 1]")
    if not _finite(s.ev_quantile_cap) or not 0 < s.ev_quantile_cap <= 1:
        errors.append("ev_quantile_cap: must be in (0, 1]")
    if s.ev_min_segment_buyers < 1:
        errors.append("ev_min_segment_buyers: must be >= 1")
    letters = [k for k, _ in s.grade_cuts] + [s.lowest_grade]
    if len(set(letters)) != len(letters) or any(not k for k in letters):
        errors.append("grade_cuts/lowest_grade: letters must be distinct, non-empty")
    cuts = [v for _, v in s.grade_cuts]
    if any(not 0 <= c <= 1 for c in cuts) or len(set(cuts)) != len(cuts):
        errors.append("grade_cuts: bounds must be distinct and in [0, 1]")
    e = s.eligibility
    if e.exclude_owners not in OWNER_RULES:
        errors.append(f"eligibility.exclude_owners: must be one of {OWNER_RULES}")
    if e.owner_recency_days < 0:
        errors.append("eligibility.owner_recency_days: must be >= 0")
    if e.lapsed_readmit_days is not None and e.lapsed_readmit_days < 0:
        errors.append("eligibility.lapsed_readmit_days: must be >= 0 or null")
    if e.exclude_contacted_days is not None and e.exclude_contacted_days < 0:
        errors.append("eligibility.exclude_contacted_days: must be >= 0 or null")
    if not isinstance(e.exclude_open_deal, bool):
        errors.append("eligibility.exclude_open_deal: must be true or false")
    if s.cooldown.days < 0:
        errors.append("cooldown.days: must be >= 0")
    if not _finite(s.cooldown.factor) or not 0 <= s.cooldown.factor <= 1:
        errors.append("cooldown.factor: must be in [0, 1]")
    c = s.capacity
    if not _finite(c.top_share) or not 0 < c.top_share <= 1:
        errors.append("capacity.top_share: must be in (0, 1]")
    if c.mode not in CAPACITY_MODES:
        errors.append(f"capacity.mode: must be one of {CAPACITY_MODES}")
    if c.per_rep_max is not None and c.per_rep_max < 1:
        errors.append("capacity.per_rep_max: must be >= 1 or null")
    if not c.segment_column:
        errors.append("capacity.segment_column: must not be empty")
    cap = c.division_share_cap
    if cap is not None and (not _finite(cap) or not 0 < cap <= 1):
        errors.append("capacity.division_share_cap: must be in (0, 1] or null")
    if s.reasons_top_n < 1:
        errors.append("reasons_top_n: must be >= 1")
    if s.reasons_method not in REASONS_METHODS:
        errors.append(f"reasons_method: must be one of {REASONS_METHODS}")
    return errors
