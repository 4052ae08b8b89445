"""Locate raw files safely and scan them lazily (CSV or Parquet) with a row number.

CSV is read by a vectorized tokenizer over ``pl.scan_lines`` instead of ``pl.scan_csv``
because the native reader cannot report ragged rows: it silently pads short rows with
nulls (indistinguishable from empty trailing fields) and either fails the whole file or
silently truncates long rows. The tokenizer follows Python's ``csv`` module (excel
dialect): a field starting with ``"`` is quoted (``""`` is a quote, commas and line
breaks are data); a quote elsewhere in a field is a literal character. Every step is a
polars expression, so a 10M-line file stays a lazy plan until the single collect.

Steps: (1) scan physical lines; (2) per line, two anchored regexes tell how the line
changes the "inside a quoted field" state, and a cumulative scan joins lines into
records; (3) a record without ``"`` is split on commas (fast path), a record with
quotes is tokenized by a regex of the CSV field grammar and its fields unquoted;
(4) the field count of every record is kept, so short and long rows are detected
exactly. Only a quoted field left open at the very end of the file differs from Python:
its final line break is dropped.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

ROW = "__gs_row"  # 1-based record number after the header (Int64)
NFIELDS = "__gs_nfields"  # number of fields in the CSV record (Int64)
EXTRA = "__gs_extra"  # fields beyond the header of a long ragged row (list[str])
_LINE = "__gs_line"
_PLINE = "__gs_pline"
_REC = "__gs_rec"
_TEXT = "__gs_text"
_FIELDS = "__gs_fields"

Format = Literal["csv", "parquet"]
EXTENSIONS: tuple[tuple[str, Format], ...] = ((".csv", "csv"), (".parquet", "parquet"))

# One field in "fresh" state: quoted (with optional junk after the closing quote, which
# never starts with a quote), unquoted (never starts with a quote), or empty.
_QC = r'(?:[^"]|"")*'  # inside quotes: anything but a lone quote
_F = rf'(?:"{_QC}"(?:[^,"][^,]*)?|[^",][^,]*|)'
# A line read from a fresh state ends inside an open quoted field.
_OPEN_FRESH = rf'^(?:{_F},)*"{_QC}$'
# A line that starts inside a quoted field ends inside one (never closed, or reopened).
_OPEN_QUOTED = rf'^(?:{_QC}$|{_QC}"(?:[^,"][^,]*)?,(?:{_F},)*"{_QC}$)'
# A field and its comma; or a quoted field left open at the end of the record (Python's
# csv reads it to the end, like the quote-state scan does).
_FIELD_THEN_COMMA = rf'{_F},|"{_QC},$'
# Quoted field: content, then junk after the closing quote (absent when left open).
_QUOTED_FIELD = rf'(?s)^"({_QC})(?:"(.*))?$'


class RawInputError(ValueError):
    """A file-level defect in the raw folder; the message names the file and the fix."""


@dataclass(frozen=True)
class RawTable:
    """One raw file as a lazy frame of its columns plus ``ROW`` and ``NFIELDS``."""

    stem: str
    file: str
    path: Path
    format: Format
    columns: tuple[str, ...]
    dtypes: dict[str, pl.DataType]
    frame: pl.LazyFrame
    sha256: str
    size_bytes: int
    blank_lines: pl.LazyFrame | None = None  # CSV only: one-cell count of blank lines


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def locate(raw_dir: Path, stem: str) -> tuple[Path, Format, str] | None:
    """Find ``<stem>.csv`` or ``<stem>.parquet`` inside ``raw_dir`` (never outside it).

    Returns (resolved path, format, file name) or None. Refuses a name that resolves
    outside the folder (symlinks included), a non-regular file, and both formats.
    """
    root = raw_dir.resolve()
    found: list[tuple[Path, Format, str]] = []
    for ext, fmt in EXTENSIONS:
        name = f"{stem}{ext}"
        candidate = root / name
        if not os.path.lexists(candidate):
            continue
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            raise RawInputError(
                f"{name}: cannot be opened (broken or looping symlink?); "
                f"put the real file in {root}"
            ) from None
        if not real.is_relative_to(root):
            raise RawInputError(
                f"{name}: resolves to {real}, outside the raw folder {root}; refusing "
                "to read it. Copy the file into the raw folder instead of linking it"
            )
        if not real.is_file():
            raise RawInputError(f"{name}: is not a regular file; replace it with one")
        found.append((real, fmt, name))
    if len(found) > 1:
        names = " and ".join(f[2] for f in found)
        raise RawInputError(
            f"{names}: the same input is present as both CSV and Parquet; "
            "keep exactly one of them"
        )
    return found[0] if found else None


def _csv_header(path: Path, name: str) -> tuple[str, ...]:
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError as err:
        raise RawInputError(
            f"{name}: is not UTF-8 text ({err.reason} at byte {err.start}); "
            "re-export it as UTF-8 CSV"
        ) from None
    except (OSError, csv.Error) as err:
        raise RawInputError(f"{name}: cannot be read as CSV: {err}") from None
    columns = tuple(c.strip() for c in header or ())
    if not any(columns):
        raise RawInputError(f"{name}: the first line is not a header row; add one")
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise RawInputError(f"{name}: duplicate column name(s) {dupes} in the header")
    internal = [c for c in columns if c.startswith("__gs_")]
    if internal:
        raise RawInputError(f"{name}: reserved column name(s) {internal}; rename them")
    return columns


def _with_quote_state(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``__gs_cont``: does a quoted field continue from the previous line?

    Each line maps the state at its start (inside quotes or not) to the state at its
    end: constant (a=b), identity (a=0, b=1) or negation (a=1, b=0). Composing them over
    the file is a scan: the last constant line sets the state, and each negation after
    it flips it. That is a forward fill plus a cumulative sum, so it stays vectorized.
    """
    line = pl.col(_LINE)
    has_quote = line.str.contains('"', literal=True)
    fresh, quoted = pl.col("__gs_a"), pl.col("__gs_b")
    flips = pl.col("__gs_flips")
    is_const = fresh == quoted
    return (
        lines.with_columns(
            (has_quote & line.str.contains(_OPEN_FRESH)).alias("__gs_a"),
            (~has_quote | line.str.contains(_OPEN_QUOTED)).alias("__gs_b"),
        )
        .with_columns((fresh & ~quoted).cast(pl.Int64).cum_sum().alias("__gs_flips"))
        .with_columns(
            (
                pl.when(is_const).then(fresh).forward_fill().fill_null(False)
                ^ (
                    (flips - pl.when(is_const).then(flips).forward_fill().fill_null(0))
                    % 2
                    == 1
                )
            )
            .shift(1, fill_value=False)
            .alias("__gs_cont")
        )
        .drop("__gs_a", "__gs_b", "__gs_flips")
    )


def _unquote(field: pl.Expr, groups: pl.Expr) -> pl.Expr:
    """A field's value; ``groups`` is ``field.str.extract_groups(_QUOTED_FIELD)``."""
    content = groups.struct.field("1")
    unquoted = content.str.replace_all('""', '"', literal=True) + groups.struct.field(
        "2"
    ).fill_null("")
    return pl.when(content.is_not_null()).then(unquoted).otherwise(field)


def _scan_csv(
    path: Path, columns: tuple[str, ...]
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    line = pl.col(_LINE)
    lines = (
        pl.scan_lines(path, name=_LINE, row_index_name=_PLINE)
        .pipe(_with_quote_state)
        .with_columns(__gs_next=pl.col("__gs_cont").shift(-1, fill_value=False))
        .with_columns(
            __gs_blank=(line == "") & ~pl.col("__gs_cont") & ~pl.col("__gs_next")
        )
        .with_columns(
            (~pl.col("__gs_cont") & ~pl.col("__gs_blank"))
            .cast(pl.Int64)
            .cum_sum()
            .alias(_REC)
        )
        .cache()  # the single, multi and blank-count branches share one pass
    )
    blank_lines = lines.select(pl.col("__gs_blank").sum().cast(pl.Int64))
    single = lines.filter(
        ~pl.col("__gs_cont") & ~pl.col("__gs_next") & ~pl.col("__gs_blank")
    ).select(_REC, line.alias(_TEXT))
    multi = (
        lines.filter(pl.col("__gs_cont") | pl.col("__gs_next"))
        .group_by(_REC)
        .agg(line.sort_by(_PLINE).str.join("\n").alias(_TEXT))
    )
    records = pl.concat([single, multi]).filter(pl.col(_REC) > 1).cache()  # 1: header
    has_quote = pl.col(_TEXT).str.contains('"', literal=True)
    return (
        pl.concat(
            [
                _split_plain(records.filter(~has_quote), columns),
                _split_quoted(records.filter(has_quote), columns),
            ]
        ),
        blank_lines,
    )


def _split_plain(records: pl.LazyFrame, columns: tuple[str, ...]) -> pl.LazyFrame:
    """Fast path: a record without quotes is a plain split on commas."""
    n = len(columns)
    text, parts, nfields = pl.col(_TEXT), pl.col(_FIELDS), pl.col(NFIELDS)
    # Split once into a column (the last part holds any extra fields), then pick.
    return records.select(
        (pl.col(_REC) - 1).alias(ROW),
        (text.str.count_matches(",", literal=True).cast(pl.Int64) + 1).alias(NFIELDS),
        text.str.splitn(",", n + 1).alias(_FIELDS),
    ).select(
        ROW,
        NFIELDS,
        *(parts.struct.field(f"field_{i}").alias(c) for i, c in enumerate(columns)),
        pl.when(nfields > n)
        .then(parts.struct.field(f"field_{n}").str.split(","))
        .alias(EXTRA),
    )


def _split_quoted(records: pl.LazyFrame, columns: tuple[str, ...]) -> pl.LazyFrame:
    """A record with quotes: find its fields by the CSV grammar, then unquote them."""
    n = len(columns)
    fields = pl.col(_FIELDS)
    # With a comma appended every field is followed by one, so the matches (each a
    # field and its comma) are contiguous from the start of the record.
    split = (pl.col(_TEXT) + ",").str.extract_all(_FIELD_THEN_COMMA).alias(_FIELDS)
    raw = [f"__gs_raw{i}" for i in range(n)]
    groups = [f"__gs_grp{i}" for i in range(n)]
    extra = fields.list.slice(n).list.eval(
        _unquote(
            pl.element().str.strip_suffix(","),
            pl.element().str.strip_suffix(",").str.extract_groups(_QUOTED_FIELD),
        )
    )
    return (
        records.with_columns(split)
        .select(
            (pl.col(_REC) - 1).alias(ROW),
            fields.list.len().cast(pl.Int64).alias(NFIELDS),
            *(
                fields.list.get(i, null_on_oob=True).str.strip_suffix(",").alias(r)
                for i, r in enumerate(raw)
            ),
            pl.when(fields.list.len() > n).then(extra).alias(EXTRA),
        )
        .with_columns(
            # Only fields that start with a quote go through the regex.
            pl.when(pl.col(r).str.starts_with('"'))
            .then(pl.col(r))
            .str.extract_groups(_QUOTED_FIELD)
            .alias(g)
            for r, g in zip(raw, groups, strict=True)
        )
        .select(
            ROW,
            NFIELDS,
            *(
                _unquote(pl.col(r), pl.col(g)).alias(c)
                for r, g, c in zip(raw, groups, columns, strict=True)
            ),
            EXTRA,
        )
    )


def open_table(raw_dir: Path, stem: str) -> RawTable | None:
    """Open ``stem`` in ``raw_dir`` lazily; None when absent. Raises RawInputError."""
    located = locate(raw_dir, stem)
    if located is None:
        return None
    path, fmt, name = located
    size = path.stat().st_size
    if size == 0:
        raise RawInputError(
            f"{name}: the file is empty (0 bytes); write at least the header row, "
            "or remove the file if the input is optional"
        )
    if fmt == "csv":
        columns = _csv_header(path, name)
        frame, blanks = _scan_csv(path, columns)
        dtypes: dict[str, pl.DataType] = {c: pl.String() for c in columns}
    else:
        try:
            schema = pl.read_parquet_schema(path)
        except Exception as err:  # polars raises several error types here
            raise RawInputError(
                f"{name}: cannot be read as Parquet ({err}); re-export the file"
            ) from None
        columns = tuple(schema)
        dtypes = dict(schema)
        internal = [c for c in columns if c.startswith("__gs_")]
        if internal:
            raise RawInputError(f"{name}: reserved column name(s) {internal}")
        frame = (
            pl.scan_parquet(path)
            .with_row_index(ROW, offset=1)
            .with_columns(
                pl.col(ROW).cast(pl.Int64),
                pl.lit(len(columns), dtype=pl.Int64).alias(NFIELDS),
                pl.lit(None, dtype=pl.List(pl.String)).alias(EXTRA),
            )
        )
        blanks = None
    return RawTable(
        stem=stem,
        file=name,
        path=path,
        format=fmt,
        columns=columns,
        dtypes=dtypes,
        frame=frame,
        sha256=sha256_of(path),
        size_bytes=size,
        blank_lines=blanks,
    )


def record_json(table: RawTable) -> pl.Expr:
    """The raw record as JSON text with sorted keys (with a ragged row's extras)."""
    names = sorted(table.columns)
    plain = pl.struct([pl.col(c) for c in names]).struct.json_encode()
    if table.format != "csv":
        return plain
    keys = sorted([*names, "__extra_fields__"])
    ordered = pl.struct(
        [pl.col(EXTRA).alias(k) if k == "__extra_fields__" else pl.col(k) for k in keys]
    ).struct.json_encode()
    return pl.when(pl.col(EXTRA).is_null()).then(plain).otherwise(ordered)
