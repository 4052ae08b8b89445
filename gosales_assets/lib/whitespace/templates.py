"""Sales-rep text for one feature value: the templates behind ``reason_text``.

A template is chosen by a regular expression on the feature name (the catalog's
``family__measure[__window]`` grammar, ``tgt__`` for target scope) and a condition on
the value. The first entry whose pattern matches and whose condition holds gives the
phrase; when a pattern matches but no condition holds (for example "spent $0"), the
feature gives no reason and the next positive contribution is used. Entries of kind
``owns`` / ``installed`` are merged across features into one phrase ("owns PDM and
Simulation").

Text fields: ``t`` target, ``n`` rounded value, ``s`` plural suffix of ``n``,
``money``, ``pct``, ``ago`` (days ago), ``dur`` (value as a duration in days),
``dur_m`` (value in months as a duration), ``win`` (window phrase of group ``w``),
``w``/``q`` raw groups, ``div`` (display name of the division slug in group ``d``),
``emp`` (employees from log1p), ``ind_who`` / ``reg_who`` (who in the industry or
region rate reasons).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Ctx:
    """What a template may use besides the value."""

    target: str
    cap: float  # the catalog default of day/month counts ("never"); inf if unknown
    industry: str | None = None
    region: str | None = None
    currency: str = "$"


@dataclass(frozen=True)
class Phrase:
    kind: str  # "text", or a combinable kind ("owns", "installed")
    text: str  # the phrase, or the division display name of a combinable item


# -- number and time formatting ---------------------------------------------------


def plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


def money(v: float, currency: str = "$") -> str:
    a, sign = abs(v), "-" if v < 0 else ""
    if a >= 1e6:
        body = f"{a / 1e6:.1f}".rstrip("0").rstrip(".") + "M"
    elif a >= 1e3:
        body = f"{a / 1e3:.1f}".rstrip("0").rstrip(".") + "k"
    else:
        body = f"{a:.0f}"
    return f"{sign}{currency}{body}"


def pct(v: float) -> str:
    return f"{v * 100:.0f}%"


def days_ago(days: float) -> str:
    d = max(0, round(days))
    return "today" if d == 0 else f"{plural(d, 'day')} ago"


def duration(days: float) -> str:
    d = max(0.0, days)
    if d >= 730:
        return plural(round(d / 365.25), "year")
    if d >= 60:
        return plural(round(d / 30.4375), "month")
    return plural(max(1, round(d)), "day")


def window_phrase(window: str | None) -> str:
    """``12m`` -> "in the last 12 months", ``30d`` -> "in the last 30 days",
    ``life`` (or anything else) -> "to date"."""
    m = re.fullmatch(r"(\d+)([md])", window or "")
    if not m:
        return "to date"
    unit = "month" if m.group(2) == "m" else "day"
    return f"in the last {plural(int(m.group(1)), unit)}"


def join_names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def render_combined(kind: str, names: list[str]) -> str:
    if kind == "owns":
        return f"owns {join_names(names)}"
    return f"has active {join_names(names)} installs"


def titled(slug: str) -> str:
    return " ".join(p.capitalize() for p in slug.split("_") if p)


# -- templates ----------------------------------------------------------------------

CONDITIONS: dict[str, Callable[[float, Ctx], bool]] = {
    "any": lambda v, c: True,
    "never": lambda v, c: False,
    "pos": lambda v, c: v > 0,
    "neg": lambda v, c: v < 0,
    "one": lambda v, c: round(v) >= 1,
    "half": lambda v, c: v >= 0.5,
    "lift": lambda v, c: v > 1,
    "pct1": lambda v, c: round(v * 100) >= 1,
    "cap": lambda v, c: v < c.cap,
    "log": lambda v, c: math.expm1(min(v, 30.0)) >= 0.5 and v <= 30,  # log1p(count)
    "money": lambda v, c: v >= 1,
}

# (pattern, condition, text, kind)
_ENTRIES: list[tuple[str, str, str, str]] = [
    (r"tgt__rfm__gp_sum__(?P<w>\w+)", "money", "spent {money} on {t} {win}", "text"),
    (r"tgt__rfm__events__(?P<w>\w+)", "one", "bought {t} {n} time{s} {win}", "text"),
    (
        r"tgt__rfm__gp_per_event__\w+",
        "money",
        "spends about {money} per {t} order",
        "text",
    ),
    (r"tgt__rfm__qty_sum__(?P<w>\w+)", "one", "bought {n} {t} unit{s} {win}", "text"),
    (r"tgt__rfm__recency_days", "cap", "last bought {t} {ago}", "text"),
    (r"tgt__owns__life", "one", "has bought {t} before", "text"),
    (r"tgt__owns__(?P<w>\w+)", "one", "bought {t} {win}", "text"),
    (r"tgt__gp_share__(?P<w>\w+)", "pct1", "{t} is {pct} of its spend {win}", "text"),
    (
        r"tgt__lifecycle__months_since_first",
        "cap",
        "first bought {t} {dur_m} ago",
        "text",
    ),
    (r"tgt__ib__active_n", "one", "has {n} active {t} install{s}", "text"),
    (r"tgt__ib__active_qty", "one", "has {n} {t} unit{s} installed", "text"),
    (r"tgt__ib__expired_n", "one", "has {n} expired {t} install{s}", "text"),
    (r"tgt__affinity__lift_\w+", "lift", "buys products often bought with {t}", "text"),
    (
        r"tgt__affinity__n_lift_gt1",
        "one",
        "owns {n} product{s} often bought with {t}",
        "text",
    ),
    (r"tgt__als_sim", "pos", "looks like existing {t} customers", "text"),
    (r"tgt__firm__industry_rate", "any", "{ind_who} often buy {t}", "text"),
    (r"tgt__firm__region_rate", "any", "{reg_who} often buy {t}", "text"),
    (r"tgt__crm__open_deal", "one", "has an open {t} deal", "text"),
    (r"tgt__crm__days_since_contact", "cap", "talked with us about {t} {ago}", "text"),
    (
        r"tgt__crm__contacts__(?P<w>\w+)",
        "one",
        "{n} contact{s} about {t} {win}",
        "text",
    ),
    (r"has_history", "one", "is an existing customer", "text"),
    (r"rfm__gp_sum__(?P<w>\w+)", "money", "spent {money} with us {win}", "text"),
    (r"rfm__events__(?P<w>\w+)", "one", "placed {n} order{s} {win}", "text"),
    (r"rfm__gp_per_event__\w+", "money", "spends about {money} per order", "text"),
    (r"rfm__qty_sum__(?P<w>\w+)", "one", "bought {n} unit{s} {win}", "text"),
    (r"rfm__margin__(?P<w>\w+)", "pos", "earns us a {pct} margin {win}", "text"),
    (r"rfm__recency_days", "cap", "last purchase {ago}", "text"),
    (r"lifecycle__tenure_days", "pos", "customer for {dur}", "text"),
    (r"lifecycle__ipi_mean_days", "cap", "buys about every {dur}", "text"),
    (
        r"lifecycle__active_months__(?P<w>\d+)m",
        "one",
        "bought in {n} of the last {w} months",
        "text",
    ),
    (r"trajectory__gp_slope__(?P<w>\w+)", "pos", "spending grew {win}", "text"),
    (r"trajectory__gp_slope__(?P<w>\w+)", "neg", "spending slowed {win}", "text"),
    (r"trajectory__events_slope__(?P<w>\w+)", "pos", "orders picked up {win}", "text"),
    (r"trajectory__events_slope__(?P<w>\w+)", "neg", "orders slowed {win}", "text"),
    (r"trajectory__\w+_volatility__(?P<w>\w+)", "lift", "buys in bursts {win}", "text"),
    (r"trajectory__\w+_volatility__(?P<w>\w+)", "pos", "buys steadily {win}", "text"),
    (r"lifecycle__ipi_std_days", "pos", "purchase gaps vary by about {dur}", "text"),
    (r"season__q(?P<q>\d)_share__\w+", "half", "buys mostly in Q{q}", "text"),
    (r"season__q(?P<q>\d)_share__\w+", "pos", "places {pct} of orders in Q{q}", "text"),
    (
        r"xdiv__gp_share__(?P<d>\w+?)__(?P<w>\d+m|life)",
        "pct1",
        "{div} is {pct} of its spend {win}",
        "text",
    ),
    (r"xdiv__owns__(?P<d>\w+)", "one", "{div}", "owns"),
    (
        r"xdiv__n_divisions__(?P<w>\w+)",
        "one",
        "buys from {n} division{s} {win}",
        "text",
    ),
    (r"xdiv__n_skus__(?P<w>\w+)", "one", "buys {n} different product{s} {win}", "text"),
    (
        r"xdiv__returns_rate__(?P<w>\w+)",
        "pct1",
        "returned {pct} of lines {win}",
        "text",
    ),
    (r"ib__active_n", "one", "has {n} active install{s}", "text"),
    (r"ib__active_qty", "one", "has {n} unit{s} installed", "text"),
    (r"ib__expired_n", "one", "has {n} expired install{s}", "text"),
    (
        r"ib__expiring_n__(?P<w>\d+)d",
        "one",
        "{n} install{s} expiring in the next {w} days",
        "text",
    ),
    (r"ib__active__(?P<d>\w+)", "one", "{div}", "installed"),
    (r"firm__log_employees", "log", "about {emp} employees", "text"),
    (r"firm__account_age_days", "pos", "account opened {dur} ago", "text"),
    (
        r"firm__industry_freq",
        "pct1",
        "in an industry with {pct} of our accounts",
        "text",
    ),
    (r"firm__region_freq", "pct1", "in a region with {pct} of our accounts", "text"),
    (r"firm__\w+_missing", "never", "", "text"),
    (r"crm__days_since_contact", "cap", "last contacted {ago}", "text"),
    (r"crm__contacts__(?P<w>\w+)", "one", "{n} contact{s} {win}", "text"),
    (r"crm__open_deals_n", "one", "has {n} open deal{s}", "text"),
    (r"als_f\d+", "any", "buys a product mix similar to {t} customers", "text"),
]
TEMPLATES = [(re.compile(p), cond, text, kind) for p, cond, text, kind in _ENTRIES]


class _Fields(dict):
    """Text fields computed on first use (``str.format_map``)."""

    def __init__(
        self, v: float, c: Ctx, groups: Mapping[str, str], names: Mapping[str, str]
    ) -> None:
        super().__init__()
        self.v, self.c, self.g, self.names = v, c, groups, names

    def __missing__(self, key: str) -> str:
        v, c = self.v, self.c
        n = round(v)
        makers: dict[str, Callable[[], str]] = {
            "t": lambda: c.target,
            "n": lambda: str(n),
            "s": lambda: "" if n == 1 else "s",
            "money": lambda: money(v, c.currency),
            "pct": lambda: pct(v),
            "ago": lambda: days_ago(v),
            "dur": lambda: duration(v),
            "dur_m": lambda: duration(v * 30.4375),
            "win": lambda: window_phrase(self.g.get("w")),
            "w": lambda: self.g.get("w") or "",
            "q": lambda: self.g.get("q") or "",
            "div": lambda: self.names.get(self.g["d"], titled(self.g["d"])),
            "emp": lambda: f"{round(math.expm1(v)):,}",
            "ind_who": lambda: (
                f"{c.industry} accounts" if c.industry else "accounts in its industry"
            ),
            "reg_who": lambda: (
                f"accounts in {c.region}" if c.region else "accounts in its region"
            ),
        }
        value = makers[key]()
        self[key] = value
        return value


@lru_cache(maxsize=4096)
def _entries_for(name: str) -> tuple[tuple[str, str, str, tuple], ...]:
    out = []
    for pattern, cond, text, kind in TEMPLATES:
        m = pattern.fullmatch(name)
        if m:
            groups = tuple((k, v) for k, v in m.groupdict().items() if v is not None)
            out.append((cond, text, kind, groups))
    return tuple(out)


def has_template(name: str) -> bool:
    return bool(_entries_for(name))


def render_template(
    name: str, value: float, ctx: Ctx, names: Mapping[str, str]
) -> Phrase | None:
    """The phrase of the first matching entry whose condition holds, else None."""
    for cond, text, kind, groups in _entries_for(name):
        if CONDITIONS[cond](value, ctx):
            fields = _Fields(value, ctx, dict(groups), names)
            return Phrase(kind, text.format_map(fields))
    return None


# -- catalog helpers ----------------------------------------------------------------

_DIVISION_IN_DESC = re.compile(r"division '([^']+)'")


def fallback_text(description: str, target: str) -> str | None:
    """A phrase from a catalog description: its first clause, target made explicit."""
    text = description.split(";")[0].strip()
    if not text:
        return None
    text = re.sub(r"\s*\([^)]*\)", "", text)
    text = re.sub(r"the target's (SKUs|division\(s\))", target, text)
    text = re.sub(r"\btarget\b", target, text)
    return re.sub(r"\bC\b", "today", text)


def division_from_description(description: str) -> str | None:
    m = _DIVISION_IN_DESC.search(description or "")
    return m.group(1) if m else None
