"""Number and text formatting for reasons: scalar helpers and vectorized polars
expressions that print exactly as Python's ``round`` / ``format`` would (round half
to even on the exact binary value). The few values no vectorized path can format
exactly (magnitudes beyond 2**52, employee counts within a few units in the last
place of a .5) are formatted by Python one by one."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import polars as pl

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
