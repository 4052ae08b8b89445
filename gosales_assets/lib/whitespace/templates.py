"""Sales-rep text for feature values: the templates behind ``reason_text``.

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

Rendering is vectorized: :func:`phrase_exprs` turns the entries shared by a group of
features (:func:`template_key`) into polars expressions over a value column, with the
per-feature fields (:func:`feature_constants`) as columns, evaluated for every account
at once. Numbers are formatted exactly as Python's ``round`` / ``format`` would
(round half to even on the exact binary value); the few values no vectorized path
can format exactly (magnitudes beyond 2**52, employee counts within a few units in
the last place of a .5) are formatted by Python one by one; real feature values
practically never reach them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from gosales_assets.lib.whitespace.formatting import (
    days_ago_text,
    duration_text,
    employees,
    grouped_int_text,
    int_text,
    money_text,
    pct_text,
    round_even,
    titled,
    window_phrase,
)


@dataclass(frozen=True)
class Ctx:
    """What a template may use besides the value (scalars and column names)."""

    target: str
    currency: str = "$"
    cap: str = "_cap"  # Float64 column: catalog default of day counts ("never")
    industry: str = "industry"  # String column naming each row's industry (or null)
    region: str = "region"  # String column naming each row's region (or null)


# -- templates ----------------------------------------------------------------------

CONDITIONS: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "any": lambda v, cap: pl.lit(True),
    "never": lambda v, cap: pl.lit(False),
    "pos": lambda v, cap: v > 0,
    "neg": lambda v, cap: v < 0,
    "one": lambda v, cap: round_even(v) >= 1,
    "half": lambda v, cap: v >= 0.5,
    "lift": lambda v, cap: v > 1,
    "pct1": lambda v, cap: round_even(v * 100.0) >= 1,
    "cap": lambda v, cap: v < cap,
    "log": lambda v, cap: (employees(v) >= 0.5) & (v <= 30),  # log1p(count)
    "money": lambda v, cap: v >= 1,
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
COMBINABLE_KINDS = ("owns", "installed")


@lru_cache(maxsize=256)
def _template_fields(text: str) -> tuple[tuple[str, str | None], ...]:
    """(literal, field) pieces of a template; only plain ``{name}`` fields."""
    pieces = []
    for literal, field, spec, conversion in string.Formatter().parse(text):
        if spec or conversion:
            raise ValueError(f"template {text!r}: only plain {{name}} fields")
        pieces.append((literal, field))
    return tuple(pieces)


# text fields fixed per feature (from the name's regex groups): columns per entry
FEATURE_FIELDS = ("win", "w", "q", "div")
CONTEXT_FIELDS = {"ind_who": "industry", "reg_who": "region"}


def _feature_field(
    key: str, groups: Mapping[str, str], names: Mapping[str, str]
) -> str:
    if key == "win":
        return window_phrase(groups.get("w"))
    if key in ("w", "q"):
        return groups.get(key) or ""
    return names.get(groups["d"], titled(groups["d"]))  # div


def _field(key: str, v: pl.Expr, ctx: Ctx, entry: int) -> pl.Expr:
    n = round_even(v)
    if key in FEATURE_FIELDS:
        return pl.col(f"_{key}_{entry}")
    if key == "t":
        return pl.lit(ctx.target)
    if key == "n":
        return int_text(n)
    if key == "s":
        return pl.when(n == 1).then(pl.lit("")).otherwise(pl.lit("s"))
    if key == "money":
        return money_text(v, ctx.currency)
    if key == "pct":
        return pct_text(v)
    if key == "ago":
        return days_ago_text(v)
    if key == "dur":
        return duration_text(v)
    if key == "dur_m":
        return duration_text(v * 30.4375)
    if key == "emp":
        return grouped_int_text(round_even(employees(v)))
    if key in CONTEXT_FIELDS:
        col = pl.col(ctx.industry if key == "ind_who" else ctx.region)
        known = col.is_not_null() & (col != "")
        if key == "ind_who":
            told, unknown = pl.concat_str(col, pl.lit(" accounts")), "industry"
        else:
            told, unknown = pl.concat_str(pl.lit("accounts in "), col), "region"
        return pl.when(known).then(told).otherwise(pl.lit(f"accounts in its {unknown}"))
    raise KeyError(f"template field {key!r} is not defined")


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


TemplateKey = tuple[tuple[str, str, str], ...]


def template_key(name: str) -> TemplateKey:
    """``(condition, text, kind)`` of each entry matching ``name``, in order: the
    features with the same key render with one expression."""
    return tuple((cond, text, kind) for cond, text, kind, _ in _entries_for(name))


def feature_constants(name: str, names: Mapping[str, str]) -> dict[str, str]:
    """The per-feature text fields of ``name``'s entries: ``_<field>_<entry>``
    column -> text (window phrase, raw groups, division display name)."""
    out = {}
    for j, (_, text, _, groups) in enumerate(_entries_for(name)):
        for _, field in _template_fields(text):
            if field in FEATURE_FIELDS:
                out[f"_{field}_{j}"] = _feature_field(field, dict(groups), names)
    return out


def context_columns(key: TemplateKey) -> list[str]:
    """The context columns (``industry``, ``region``) the entries of ``key`` use."""
    used = {field for _, text, _ in key for _, field in _template_fields(text)}
    return [col for field, col in CONTEXT_FIELDS.items() if field in used]


def phrase_exprs(key: TemplateKey, value: pl.Expr, ctx: Ctx) -> tuple[pl.Expr, pl.Expr]:
    """``(kind, text)`` of the features sharing template ``key``, for every row.

    The first entry whose condition holds gives the phrase; null where none holds.
    ``value`` must be finite (the caller masks null and non-finite values). The
    frame needs the :func:`feature_constants` columns of each row's feature, the
    ``ctx.cap`` column (inf where unknown) and the :func:`context_columns`."""
    if not key:
        raise KeyError("phrase_exprs: no template entries")
    kind: pl.Expr | None = None
    text: pl.Expr | None = None
    for j, (cond, template, entry_kind) in enumerate(key):
        held = CONDITIONS[cond](value, pl.col(ctx.cap))
        parts = []
        for literal, field in _template_fields(template):
            if literal:
                parts.append(pl.lit(literal))
            if field is not None:
                parts.append(_field(field, value, ctx, j))
        rendered = pl.concat_str(parts) if parts else pl.lit("")
        if kind is None or text is None:
            kind = pl.when(held).then(pl.lit(entry_kind))
            text = pl.when(held).then(rendered)
        else:
            kind = kind.when(held).then(pl.lit(entry_kind))
            text = text.when(held).then(rendered)
    assert kind is not None and text is not None
    none = pl.lit(None, pl.String)
    return kind.otherwise(none), text.otherwise(none)


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
