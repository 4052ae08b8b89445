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

import math
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Ctx:
    """What a template may use besides the value (scalars and column names)."""

    target: str
    currency: str = "$"
    cap: str = "_cap"  # Float64 column: catalog default of day counts ("never")
    industry: str = "industry"  # String column naming each row's industry (or null)
    region: str = "region"  # String column naming each row's region (or null)


# -- scalar formatting (one value; used once per feature or outside reasons) --------


def money(v: float, currency: str = "$") -> str:
    a, sign = abs(v), "-" if v < 0 else ""
    if a >= 1e6:
        body = f"{a / 1e6:.1f}".rstrip("0").rstrip(".") + "M"
    elif a >= 1e3:
        body = f"{a / 1e3:.1f}".rstrip("0").rstrip(".") + "k"
    else:
        body = f"{a:.0f}"
    return f"{sign}{currency}{body}"


def plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


def window_phrase(window: str | None) -> str:
    """``12m`` -> "in the last 12 months", ``30d`` -> "in the last 30 days",
    ``life`` (or anything else) -> "to date"."""
    m = re.fullmatch(r"(\d+)([md])", window or "")
    if not m:
        return "to date"
    unit = "month" if m.group(2) == "m" else "day"
    return f"in the last {plural(int(m.group(1)), unit)}"


def titled(slug: str) -> str:
    return " ".join(p.capitalize() for p in slug.split("_") if p)


# -- vectorized formatting (polars expressions, one row per account) --------------

_INT_LIMIT = 2.0**63  # integral floats below this fit Int64
_FIXED1_LIMIT = 2.0**52  # below this, 10 * b is exact to the half unit (see _fixed1)


def _python_text(
    fmt: Callable[[float], str], limit: float, scale: float = 1.0
) -> Callable:
    """Batch function: ``fmt`` of the finite values with ``|x * scale| >= limit``,
    else null. Only these out-of-range values are formatted one by one."""

    def apply(s: pl.Series) -> pl.Series:
        x = s.cast(pl.Float64).to_numpy()
        with np.errstate(all="ignore"):
            idx = np.flatnonzero(np.isfinite(x) & (np.abs(x * scale) >= limit))
        out = pl.repeat(None, s.len(), dtype=pl.String, eager=True)
        if idx.size:
            out = out.scatter(idx, [fmt(float(x[i])) for i in idx])
        return out

    return apply


def divide(x: pl.Expr, d: pl.Expr | float) -> pl.Expr:
    """``x / d`` exactly as Python divides (polars multiplies by ``1 / d`` when the
    divisor is a constant, which can differ in the last bit)."""

    def apply(s: pl.Series) -> pl.Series:
        parts = s.struct.unnest()
        num, den = parts["x"], parts["d"]
        q = pl.Series(s.name, np.divide(num.to_numpy(), den.to_numpy()))
        if num.has_nulls() or den.has_nulls():
            q = pl.select(
                pl.when(num.is_not_null() & den.is_not_null()).then(q)
            ).to_series()
        return q

    pair = pl.struct(
        x.cast(pl.Float64).alias("x"),
        (d if isinstance(d, pl.Expr) else pl.lit(d)).cast(pl.Float64).alias("d"),
    )
    return pair.map_batches(apply, return_dtype=pl.Float64, is_elementwise=True)


def round_even(x: pl.Expr) -> pl.Expr:
    """Python's ``round(x)`` (half to even) as a float."""
    return x.round(0, mode="half_to_even")


def int_text(x: pl.Expr) -> pl.Expr:
    """``str(int(x))`` of an integral float."""
    slow = x.map_batches(
        _python_text(lambda t: str(int(t)), _INT_LIMIT), return_dtype=pl.String
    )
    fast = x.cast(pl.Int64, strict=False).cast(pl.String)
    return pl.when(x.abs() < _INT_LIMIT).then(fast).otherwise(slow)


def fixed0_text(x: pl.Expr) -> pl.Expr:
    """``f"{x:.0f}"``: half to even, "-" for every negative value (also "-0")."""
    negative = (x < 0) | ((x == 0) & ((1.0 / x) < 0))
    digits = int_text(round_even(x).abs())
    return pl.when(negative).then(pl.concat_str(pl.lit("-"), digits)).otherwise(digits)


def _fixed1(b: pl.Expr) -> pl.Expr:
    """``f"{b:.1f}".rstrip("0").rstrip(".")`` for ``b >= 0``.

    ``p = 10 * b`` is rounded once; its exact error is ``e = 2b - (p - 8b)`` (both
    products by powers of two are exact, and the fast two-sum of 8b + 2b is exact).
    Below 2**52, p is a multiple of its unit and 0.5 is too, so only a p that is
    exactly a half-integer can round differently from the exact 10 * b: then the sign
    of e decides, and a true tie (e == 0) rounds half to even."""
    p = b * 10.0
    e = b * 2.0 - (p - b * 8.0)
    low = p.floor()
    half = (p - low) == 0.5
    tenths = (
        pl.when(half & (e > 0))
        .then(low + 1.0)
        .when(half & (e < 0))
        .then(low)
        .otherwise(round_even(p))
    )
    tenths_int = tenths.cast(pl.Int64, strict=False)
    digit = tenths_int % 10
    fast = pl.concat_str(
        (tenths_int // 10).cast(pl.String),
        pl.when(digit == 0)
        .then(pl.lit(""))
        .otherwise(pl.concat_str(pl.lit("."), digit.cast(pl.String))),
    )
    slow = b.map_batches(
        _python_text(
            lambda t: f"{t:.1f}".rstrip("0").rstrip("."), _FIXED1_LIMIT, scale=10.0
        ),
        return_dtype=pl.String,
    )
    return pl.when(p.abs() < _FIXED1_LIMIT).then(fast).otherwise(slow)


def money_text(v: pl.Expr, currency: str = "$") -> pl.Expr:
    """:func:`money` of every row."""
    a = v.abs()
    millions = a >= 1e6
    scaled = divide(a, pl.when(millions).then(1e6).otherwise(1e3))
    suffix = pl.when(millions).then(pl.lit("M")).otherwise(pl.lit("k"))
    # below 1e3 the rounded amount always fits Int64
    small = round_even(a).cast(pl.Int64, strict=False).cast(pl.String)
    body = (
        pl.when(a >= 1e3).then(pl.concat_str(_fixed1(scaled), suffix)).otherwise(small)
    )
    sign = pl.when(v < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str(sign, pl.lit(currency), body)


def pct_text(v: pl.Expr) -> pl.Expr:
    """``f"{v * 100:.0f}%"``."""
    return pl.concat_str(fixed0_text(v * 100.0), pl.lit("%"))


def plural_text(n: pl.Expr, word: str | pl.Expr) -> pl.Expr:
    """``plural(n, word)`` of an integral float."""
    suffix = pl.when(n == 1).then(pl.lit("")).otherwise(pl.lit("s"))
    word = pl.lit(word) if isinstance(word, str) else word
    return pl.concat_str(int_text(n), pl.lit(" "), word, suffix)


def days_ago_text(days: pl.Expr) -> pl.Expr:
    """Days ago: "today", "1 day ago", "12 days ago" (negative counts: today)."""
    d = round_even(days)
    d = pl.when(d > 0).then(d).otherwise(0.0)
    ago = pl.concat_str(plural_text(d, "day"), pl.lit(" ago"))
    return pl.when(d == 0).then(pl.lit("today")).otherwise(ago)


def duration_text(days: pl.Expr) -> pl.Expr:
    """Days as "3 years" (from 730 days), "5 months" (from 60), else "12 days"."""
    d = pl.when(days > 0).then(days).otherwise(0.0)
    unit = pl.when(d >= 730).then(365.25).when(d >= 60).then(30.4375).otherwise(1.0)
    word = (
        pl.when(d >= 730)
        .then(pl.lit("year"))
        .when(d >= 60)
        .then(pl.lit("month"))
        .otherwise(pl.lit("day"))
    )
    n = round_even(divide(d, unit))
    # at least 1 day (years and months are always at least 2 here)
    return plural_text(pl.when(n > 1).then(n).otherwise(1.0), word)


def grouped_int_text(n: pl.Expr) -> pl.Expr:
    """``f"{n:,}"`` of an integral float (thousands separated by commas)."""
    digits = int_text(n.abs())
    grouped = (
        digits.str.reverse()
        .str.replace_all(r"(\d{3})", "${1},")
        .str.reverse()
        .str.strip_chars_start(",")
    )
    return pl.when(n < 0).then(pl.concat_str(pl.lit("-"), grouped)).otherwise(grouped)


_EXPM1_GUARD_ULPS = 8.0  # numpy's expm1 is within 1 ulp of libm's; margin


def _expm1_batch(s: pl.Series) -> pl.Series:
    x = s.cast(pl.Float64).to_numpy()
    with np.errstate(all="ignore"):
        y = np.expm1(x)
        # numpy may use a SIMD expm1 a unit in the last place away from math.expm1;
        # only a value that close to a half-integer could round differently
        near = np.abs(y - (np.floor(y) + 0.5)) <= _EXPM1_GUARD_ULPS * np.spacing(y)
    idx = np.flatnonzero(near)
    if idx.size:
        y = y.copy()
        y[idx] = [math.expm1(float(x[i])) for i in idx]
    return pl.Series(s.name, y, dtype=pl.Float64)


def expm1(x: pl.Expr) -> pl.Expr:
    """``math.expm1`` of every row, exact where rounding or halves depend on it."""
    return x.map_batches(_expm1_batch, return_dtype=pl.Float64, is_elementwise=True)


def employees(log1p_count: pl.Expr) -> pl.Expr:
    """``expm1`` of a log1p count, capped at 30 (the ``log`` condition's domain)."""
    return expm1(log1p_count.clip(upper_bound=30.0))


def join_names(names: pl.Expr) -> pl.Expr:
    """A list column of names -> "A", "A and B", "A, B and C"."""
    n = names.list.len()
    many = pl.concat_str(
        names.list.slice(0, n - 1).list.join(", "),
        pl.lit(" and "),
        names.list.last(),
    )
    return pl.when(n <= 1).then(names.list.join("")).otherwise(many)


def render_combined(kind: pl.Expr, names: pl.Expr) -> pl.Expr:
    """ "owns A and B" (kind ``owns``) or "has active A and B installs"."""
    joined = join_names(names)
    return (
        pl.when(kind == "owns")
        .then(pl.concat_str(pl.lit("owns "), joined))
        .otherwise(pl.concat_str(pl.lit("has active "), joined, pl.lit(" installs")))
    )


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
