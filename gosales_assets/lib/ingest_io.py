"""Locate raw files safely and read them in bounded batches (CSV or Parquet).

A raw file is never held in memory whole: :meth:`RawTable.batches` streams it in batches
of ``batch_lines`` physical lines (CSV) or rows (Parquet), each turned into a frame of
records with their global record number (``ROW``), field count (``NFIELDS``) and the
extra fields of a long ragged row (``EXTRA``). Peak memory depends on the batch size,
not on the file size (a single record, e.g. a quoted field that is never closed, is the
only thing held whole).

CSV is read by a vectorized tokenizer (``csv_records``) over ``pl.scan_lines``, not
``pl.scan_csv``, because the native reader cannot report ragged rows: it silently pads
short rows with nulls (indistinguishable from empty trailing fields) and either fails
the whole file or silently truncates long rows. The tokenizer follows Python's ``csv``
module (excel dialect): a field starting with ``"`` is quoted (``""`` is a quote, commas
and line breaks are data); a quote elsewhere in a field is a literal character. Every
step is a polars expression over a batch.

Steps per batch: (1) take the next physical lines; (2) per line, two anchored regexes
tell how the line changes the "inside a quoted field" state, and a cumulative scan,
seeded with the state at the end of the previous batch, joins lines into records; a
record still open at the end of a batch is carried into the next one, so batch borders
never split or renumber a record; (3) a record without ``"`` is split on commas (fast
path), a record with quotes is tokenized by a regex of the CSV field grammar and its
fields unquoted; (4) the field count of every record is kept, so short and long rows
are detected exactly. Only a quoted field left open at the very end of the file differs
from Python: its final line break is dropped.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from gosales_assets.lib.csv_records import (
    EXTRA,
    LINE,
    NFIELDS,
    REC,
    ROW,
    TEXT,
    RecordAssembler,
    split_plain,
    split_quoted,
)

# Physical lines (CSV) or rows (Parquet) per batch when the caller does not say.
DEFAULT_BATCH_LINES = 100_000

Format = Literal["csv", "parquet"]
EXTENSIONS: tuple[tuple[str, Format], ...] = ((".csv", "csv"), (".parquet", "parquet"))


class RawInputError(ValueError):
    """A file-level defect in the raw folder; the message names the file and the fix."""


@dataclass(frozen=True)
class RawTable:
    """One raw file: its header and types; records are read by :meth:`batches`."""

    stem: str
    file: str
    path: Path
    format: Format
    columns: tuple[str, ...]
    dtypes: dict[str, pl.DataType]
    sha256: str
    size_bytes: int
    parquet_rows: int | None = None  # Parquet only: rows in the file metadata

    def batches(self, batch_lines: int = DEFAULT_BATCH_LINES) -> RecordBatches:
        """The records in file order, in frames of ``ROW``, ``NFIELDS``, the columns
        and ``EXTRA``; at most ``batch_lines`` source lines are read at a time."""
        return RecordBatches(self, batch_lines)

    @property
    def frame(self) -> pl.LazyFrame:
        """Every record as one frame (small files: tests and tools)."""
        reader = self.batches()
        return pl.concat([self.empty(), *reader]).lazy()

    def empty(self) -> pl.DataFrame:
        """A frame with no records and the columns :meth:`batches` yields."""
        return pl.DataFrame(
            schema={
                ROW: pl.Int64(),
                NFIELDS: pl.Int64(),
                **self.dtypes,
                EXTRA: pl.List(pl.String()),
            }
        )

    def expected_rows(self) -> int:
        """An upper estimate of the number of records (sizes key filters)."""
        if self.parquet_rows is not None:
            return self.parquet_rows
        return max(1, self.size_bytes // 16)


def sha256_of(path: Path, utf8_name: str | None = None) -> str:
    """The file's SHA-256; with ``utf8_name``, also check in the same pass that the
    whole file is UTF-8 (RawInputError naming the file and the byte otherwise), so a
    bad byte deep in a large CSV is refused before anything is staged."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")() if utf8_name else None
    offset = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            if decoder is not None:
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as err:
                    raise RawInputError(
                        f"{utf8_name}: is not UTF-8 text ({err.reason} at byte "
                        f"{offset - pending + err.start}); re-export it as UTF-8 CSV"
                    ) from None
            offset += len(chunk)
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as err:
            raise RawInputError(
                f"{utf8_name}: is not UTF-8 text ({err.reason} at the end of the "
                "file); re-export it as UTF-8 CSV"
            ) from None
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


class RecordBatches:
    """The records of a raw table in file order, one frame per batch.

    Iterate once; afterwards ``records`` is the number of records read and
    ``blank_lines`` the number of skipped blank lines (CSV; None for Parquet).
    Reading errors surface as polars errors while iterating.
    """

    def __init__(self, table: RawTable, batch_lines: int) -> None:
        if batch_lines < 1:
            raise ValueError(f"batch_lines must be at least 1, got {batch_lines}")
        self.table = table
        self.batch_lines = batch_lines
        self.records = 0
        self.blank_lines: int | None = 0 if table.format == "csv" else None

    def __iter__(self) -> Iterator[pl.DataFrame]:
        source = self._csv() if self.table.format == "csv" else self._parquet()
        for frame in source:
            if frame.height:
                self.records += frame.height
                yield frame

    def _csv(self) -> Iterator[pl.DataFrame]:
        assembler = RecordAssembler()
        lines = pl.scan_lines(self.table.path, name=LINE).collect_batches(
            chunk_size=self.batch_lines, maintain_order=True
        )
        for batch in lines:
            records = assembler.feed(batch)
            self.blank_lines = assembler.blank_lines
            yield self._split(records)
        yield self._split(assembler.finish())

    def _split(self, records: pl.DataFrame) -> pl.DataFrame:
        columns = self.table.columns
        body = records.filter(pl.col(REC) > 1)  # record 1 is the header
        quoted = body.get_column(TEXT).str.contains('"', literal=True)
        parts = [self.table.empty().lazy()]
        # Only the branches a batch needs are planned (most batches have no quotes).
        if not quoted.all():
            parts.append(split_plain(body.filter(~quoted).lazy(), columns))
        if quoted.any():
            parts.append(split_quoted(body.filter(quoted).lazy(), columns))
        return pl.concat(parts).sort(ROW).collect()

    def has_records(self) -> bool:
        """Whether the table holds a record, reading only up to the first one."""
        if self.table.format == "parquet":
            return bool(self.table.parquet_rows)
        assembler = RecordAssembler()
        lines = pl.scan_lines(self.table.path, name=LINE).collect_batches(
            chunk_size=self.batch_lines, maintain_order=True
        )
        for batch in lines:
            if assembler.feed(batch).filter(pl.col(REC) > 1).height:
                return True
        return assembler.finish().filter(pl.col(REC) > 1).height > 0

    def _parquet(self) -> Iterator[pl.DataFrame]:
        offset = 0
        rows = pl.scan_parquet(self.table.path).collect_batches(
            chunk_size=self.batch_lines, maintain_order=True
        )
        for batch in rows:
            yield batch.with_row_index(ROW, offset=offset + 1).select(
                pl.col(ROW).cast(pl.Int64),
                pl.lit(len(self.table.columns), dtype=pl.Int64).alias(NFIELDS),
                *self.table.columns,
                pl.lit(None, dtype=pl.List(pl.String)).alias(EXTRA),
            )
            offset += batch.height


def open_table(raw_dir: Path, stem: str) -> RawTable | None:
    """Open ``stem`` in ``raw_dir`` (header and types only); None when absent.

    Raises RawInputError for a file-level defect of the header or the file itself.
    """
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
    parquet_rows: int | None = None
    if fmt == "csv":
        columns = _csv_header(path, name)
        dtypes: dict[str, pl.DataType] = {c: pl.String() for c in columns}
    else:
        try:
            schema = pl.read_parquet_schema(path)
            parquet_rows = int(pl.scan_parquet(path).select(pl.len()).collect().item())
        except Exception as err:  # polars raises several error types here
            raise RawInputError(
                f"{name}: cannot be read as Parquet ({err}); re-export the file"
            ) from None
        columns = tuple(schema)
        dtypes = dict(schema)
        internal = [c for c in columns if c.startswith("__gs_")]
        if internal:
            raise RawInputError(f"{name}: reserved column name(s) {internal}")
    return RawTable(
        stem=stem,
        file=name,
        path=path,
        format=fmt,
        columns=columns,
        dtypes=dtypes,
        sha256=sha256_of(path, name if fmt == "csv" else None),
        size_bytes=size,
        parquet_rows=parquet_rows,
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
