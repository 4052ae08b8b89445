"""Typed field expressions and the ordered row checks shared by all raw tables.

A field is read from a raw column (text for CSV, typed for Parquet) into four
expressions: its raw text (for the quarantine), its typed value, whether it is blank and
whether it is present but unparseable. The checks of a record are tried in a fixed
order and the first failing one names the quarantine reason, column and value. The
checks here see one record at a time; the duplicate-key checks, which need the whole
file, run in SQL (``ingest_stage.py``) but keep their place at the end of the order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import polars as pl

from gosales_assets.lib.contract import QUARANTINE_REASONS
from gosales_assets.lib.ingest_io import NFIELDS, RawInputError, RawTable
from gosales_assets.lib.parsing import (
    is_blank,
    parse_date,
    parse_number,
    strip_to_null,
    whole_number,
)

Kind = Literal["id", "text", "date", "number", "integer", "sku", "division"]

REASONS: dict[str, str] = QUARANTINE_REASONS
# The order in which a record's checks are tried; the first failure is reported.
CHECK_ORDER: tuple[str, ...] = (
    "ragged_row",
    "empty_id",
    "missing_value",
    "unparseable_date",
    "unparseable_number",
    "unknown_sku",
    "unknown_division",
    "alias_conflict",
    "date_after_load_date",
    "duplicate_line_id",
    "duplicate_customer_id",
)

REASON = "__gs_reason"
COLUMN = "__gs_column"
VALUE = "__gs_value"
_FAILED = "__gs_failed"


@dataclass(frozen=True)
class Parsed:
    """Expressions for one field of a raw table."""

    text: pl.Expr  # the raw text as found (quarantine "value")
    value: pl.Expr  # the typed value, null when blank or unparseable
    blank: pl.Expr  # null, empty or whitespace in the source
    bad: pl.Expr  # present but not parseable for its kind
    # Applied to the stored value in a second step (integers: parsed as Float64 once,
    # then checked to be whole), so the text is parsed only once.
    post: Callable[[pl.Expr], pl.Expr] | None = None


@dataclass(frozen=True)
class Check:
    reason: str
    column: str | None
    failed: pl.Expr
    value: pl.Expr


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)


def _supported(dtype: pl.DataType) -> bool:
    return (
        _is_text(dtype)
        or dtype.is_numeric()
        or dtype in (pl.Date, pl.Boolean)
        or isinstance(dtype, pl.Datetime)
    )


def parse_field(
    table: RawTable, column: str, kind: Kind, formats: Sequence[str]
) -> Parsed:
    """Typed expressions for ``column`` of ``table`` read as ``kind``."""
    dtype = table.dtypes[column]
    if not _supported(dtype):
        raise RawInputError(
            f"{table.file}: column {column!r} has type {dtype}; expected text, a "
            "number or a date. Re-export it as a plain column"
        )
    col = pl.col(column)
    text_src = _is_text(dtype)
    text = col.cast(pl.String)
    blank = is_blank(text) if text_src else col.is_null()
    if kind in ("id", "text", "sku", "division"):
        value = strip_to_null(text)
        return Parsed(text, value, value.is_null(), pl.lit(False))
    if kind == "date":
        if dtype == pl.Date:
            value = col
        elif isinstance(dtype, pl.Datetime):
            value = col.dt.date()
        else:
            value = parse_date(text, formats)
    elif kind == "number":
        if dtype.is_numeric():
            as_float = col.cast(pl.Float64, strict=False)
            value = pl.when(as_float.is_finite()).then(as_float)
        else:
            value = parse_number(text)
    else:  # integer
        if dtype.is_integer():
            value = col.cast(pl.Int64, strict=False)
        else:
            number = col.cast(pl.Float64) if dtype.is_float() else parse_number(text)
            return Parsed(text, number, blank, ~blank & number.is_null(), whole_number)
    return Parsed(text, value, blank, ~blank & value.is_null())


def materialized(parsed: Parsed, column: str, kind: Kind) -> Parsed:
    """The same field read back from the column its value was stored in.

    Checks then reuse the stored value instead of parsing the text a second time.
    """
    value = pl.col(column)
    parses = kind in ("date", "number", "integer")
    bad = ~parsed.blank & value.is_null() if parses else pl.lit(False)
    return Parsed(parsed.text, value, parsed.blank, bad, parsed.post)


def absent_field(kind: Kind) -> Parsed:
    """An optional column that is not in the file: always blank."""
    dtype = {
        "date": pl.Date(),
        "number": pl.Float64(),
        "integer": pl.Int64(),
    }.get(kind, pl.String())
    return Parsed(
        pl.lit(None, dtype=pl.String),
        pl.lit(None, dtype=dtype),
        pl.lit(True),
        pl.lit(False),
    )


def ragged_check(table: RawTable) -> Check:
    n = len(table.columns)
    return Check(
        "ragged_row",
        None,
        pl.col(NFIELDS) != n,
        pl.format("{} fields; the header has {}", pl.col(NFIELDS), pl.lit(n)),
    )


def field_checks(
    name: str,
    kind: Kind,
    required: bool,
    parsed: Parsed,
    *,
    skus: Sequence[str],
    divisions: Sequence[str],
) -> list[Check]:
    """The checks of one field; :func:`with_first_failure` orders them."""
    checks: list[Check] = []
    if required:
        reason = "empty_id" if kind in ("id", "sku") else "missing_value"
        checks.append(Check(reason, name, parsed.blank, parsed.text))
    if kind == "date":
        checks.append(Check("unparseable_date", name, parsed.bad, parsed.text))
    if kind in ("number", "integer"):
        checks.append(Check("unparseable_number", name, parsed.bad, parsed.text))
    if kind == "sku":
        unknown = ~parsed.blank & ~parsed.value.is_in(list(skus))
        checks.append(Check("unknown_sku", name, unknown, parsed.text))
    if kind == "division":
        unknown = ~parsed.blank & ~parsed.value.is_in(list(divisions))
        checks.append(Check("unknown_division", name, unknown, parsed.text))
    return checks


def after_load_date(name: str, value: pl.Expr, text: pl.Expr, load: dt.date) -> Check:
    return Check("date_after_load_date", name, value > pl.lit(load), text)


def with_first_failure(frame: pl.LazyFrame, checks: Sequence[Check]) -> pl.LazyFrame:
    """Add REASON, COLUMN and VALUE of the first failing check (in CHECK_ORDER).

    The checks are evaluated once into the index of the first failure; reason, column
    and value are then looked up from that index.
    """
    ordered = sorted(checks, key=lambda c: CHECK_ORDER.index(c.reason))
    if not ordered:
        return frame.with_columns(
            pl.lit(None, dtype=pl.String).alias(name)
            for name in (REASON, COLUMN, VALUE)
        )
    index = pl.when(ordered[0].failed).then(pl.lit(0, dtype=pl.Int32))
    for i, check in enumerate(ordered[1:], start=1):
        index = index.when(check.failed).then(pl.lit(i, dtype=pl.Int32))
    failed = pl.col(_FAILED)
    value = pl.when(failed == 0).then(ordered[0].value.cast(pl.String))
    for i, check in enumerate(ordered[1:], start=1):
        value = value.when(failed == i).then(check.value.cast(pl.String))
    reasons = {i: c.reason for i, c in enumerate(ordered)}
    columns = {i: c.column for i, c in enumerate(ordered)}
    return (
        frame.with_columns(index.otherwise(None).alias(_FAILED))
        .with_columns(
            failed.replace_strict(reasons, default=None, return_dtype=pl.String).alias(
                REASON
            ),
            failed.replace_strict(columns, default=None, return_dtype=pl.String).alias(
                COLUMN
            ),
            value.otherwise(None).alias(VALUE),
        )
        .drop(_FAILED)
    )


def missing_columns_error(
    table: RawTable, required: Sequence[str], what: str = ""
) -> None:
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise RawInputError(
            f"{table.file}: missing required column(s) {missing}{what}; the header "
            f"found is {list(table.columns)}. Add the column(s); names are "
            "case-sensitive"
        )
