"""Vectorized parsers for raw text: numbers (currency text accepted) and dates.

Every parser is a polars expression that never raises: it yields a typed value or null.
Callers decide whether a null is "missing" (the text was empty) or "unparseable" (the
text was present but not understood) by looking at :func:`is_blank` of the same text.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence

import polars as pl

# Digits with optional thousands grouping ("1,234,567" but never "12,34"), an optional
# fraction and an optional exponent; or a bare fraction (".5").
_BODY = (
    r"(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
)
# Plain: one optional sign and an optional currency symbol on either side of it ("-12",
# "$1,234.50", "-$5", "$-5", "+3"). Accounting negatives: "(2,000)", "($2,000.00)".
# Spaces are allowed between the sign, the symbol and the digits.
_NUMBER_RE = rf"^(?:(?:[+-] *\$?|\$ *[+-]?)? *{_BODY}|\( *\$? *{_BODY} *\))$"
_NOISE = ["$", ",", " ", "(", ")"]  # removed before the cast, once the shape is valid

# Largest integer a Float64 holds exactly; integer columns beyond it are refused.
_MAX_EXACT_INT = 2.0**53

_DATE_DIRECTIVES: dict[str, str] = {
    "Y": "[0-9]{4}",
    "y": "[0-9]{2}",
    "m": "[0-9]{1,2}",
    "d": "[0-9]{1,2}",
    "e": " ?[0-9]{1,2}",
    "j": "[0-9]{1,3}",
    "H": "[0-9]{1,2}",
    "M": "[0-9]{1,2}",
    "S": "[0-9]{1,2}",
    "b": "[A-Za-z]{3}",
    "h": "[A-Za-z]{3}",
    "B": "[A-Za-z]+",
    "a": "[A-Za-z]{3}",
    "A": "[A-Za-z]+",
    "%": "%",
}
_REGEX_META = set(r"\.+*?()|[]{}^$#&-~")


def is_blank(text: pl.Expr) -> pl.Expr:
    """True when the text is null, empty or only whitespace."""
    return text.is_null() | (text.str.strip_chars() == "")


def strip_to_null(text: pl.Expr) -> pl.Expr:
    """Strip surrounding whitespace; empty text becomes null."""
    stripped = text.str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


def parse_number(text: pl.Expr) -> pl.Expr:
    """Parse plain numbers and currency text to Float64; anything else is null.

    Accepted: ``"12"``, ``" 3.0 "``, ``"-12"``, ``"1e3"``, ``"$1,234.50"`` (1234.5),
    ``"(2,000)"`` (-2000), ``"-$5"``. Refused: ``"twelve"``, ``"12,34"``, ``"1.2.3"``,
    ``"nan"``, ``"inf"`` and values that overflow to infinity.
    """
    stripped = text.str.strip_chars()
    sign = pl.when(stripped.str.starts_with("(")).then(-1.0).otherwise(1.0)
    digits = stripped.str.replace_many(_NOISE, [""] * len(_NOISE))
    value = digits.cast(pl.Float64, strict=False) * sign
    valid = pl.when(stripped.str.contains(_NUMBER_RE)).then(value)
    return valid.replace([math.inf, -math.inf], None)


def whole_number(value: pl.Expr) -> pl.Expr:
    """Int64 of a Float64 that is a whole number within exact range; else null."""
    whole = (value == value.floor()) & (value.abs() <= _MAX_EXACT_INT)
    return pl.when(whole).then(value).otherwise(None).cast(pl.Int64)


def parse_integer(text: pl.Expr) -> pl.Expr:
    """Parse a whole number (``"3"``, ``"3.0"``, ``"1,200"``) to Int64; else null."""
    return whole_number(parse_number(text))


def format_regex(fmt: str) -> str | None:
    """A regex for the shape of a strftime format (4-digit ``%Y``), or None if unknown.

    polars' ``strptime`` is lenient about widths (``"24-01-05"`` would parse as year 24
    with ``%Y``); this guard makes it as strict as Python's ``datetime.strptime``.
    """
    out: list[str] = ["^"]
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char == "%":
            if i + 1 >= len(fmt) or fmt[i + 1] not in _DATE_DIRECTIVES:
                return None
            out.append(_DATE_DIRECTIVES[fmt[i + 1]])
            i += 2
            continue
        out.append("\\" + char if char in _REGEX_META else char)
        i += 1
    out.append("$")
    return "".join(out)


def parse_date(text: pl.Expr, formats: Sequence[str]) -> pl.Expr:
    """Parse text with each strftime format in order (strict); null if none fits.

    ``"2024-02-30"`` is null: calendar validity is checked, not only the shape.
    """
    stripped = text.str.strip_chars()
    attempts: list[pl.Expr] = []
    for fmt in formats:
        parsed = stripped.str.strptime(pl.Date, fmt, strict=False, exact=True)
        shape = format_regex(fmt)
        if shape is not None:
            parsed = pl.when(stripped.str.contains(shape)).then(parsed)
        attempts.append(parsed)
    if not attempts:
        return pl.lit(None, dtype=pl.Date)
    return pl.coalesce(attempts)


def parse_numbers(values: Iterable[str | None]) -> list[float | None]:
    """Eager convenience over :func:`parse_number` (tests, small inputs)."""
    series = pl.Series("v", list(values), dtype=pl.String)
    return series.to_frame().select(parse_number(pl.col("v"))).to_series().to_list()


def parse_dates(
    values: Iterable[str | None], formats: Sequence[str]
) -> list[dt.date | None]:
    """Eager convenience over :func:`parse_date` (tests, small inputs)."""
    series = pl.Series("v", list(values), dtype=pl.String)
    frame = series.to_frame().select(parse_date(pl.col("v"), formats))
    return frame.to_series().to_list()
