"""The CSV tokenizer behind ``ingest_io``: physical lines joined into records across
quoted line breaks (state carried over batch borders) and records split into fields,
following Python's ``csv`` module (excel dialect), as polars expressions."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

ROW = "__gs_row"  # 1-based record number after the header (Int64)
NFIELDS = "__gs_nfields"  # number of fields in the CSV record (Int64)
EXTRA = "__gs_extra"  # fields beyond the header of a long ragged row (list[str])
LINE = "__gs_line"
_PLINE = "__gs_pline"
REC = "__gs_rec"
TEXT = "__gs_text"
_FIELDS = "__gs_fields"
_END = "__gs_end"  # inside a quoted field at the end of the line
_CONT = "__gs_cont"  # inside a quoted field at the start of the line
_BLANK = "__gs_blank"
_START = "__gs_start"  # the line starts a record


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


def _quote_state(lines: pl.DataFrame, inside: bool) -> pl.DataFrame:
    """Add ``_END`` and ``_CONT``: is a quoted field open at the end / the start of
    each line, given ``inside`` (open at the start of the first line)?

    Each line maps the state at its start (inside quotes or not) to the state at its
    end: constant (a=b), identity (a=0, b=1) or negation (a=1, b=0). Composing them over
    the batch is a scan: the last constant line sets the state (before any, ``inside``
    does), and each negation after it flips it. That is a forward fill plus a
    cumulative sum, so it stays vectorized.
    """
    line = pl.col(LINE)
    has_quote = line.str.contains('"', literal=True)
    fresh, quoted = pl.col("__gs_a"), pl.col("__gs_b")
    flips = pl.col("__gs_flips")
    is_const = fresh == quoted
    return (
        lines.lazy()
        .with_columns(
            (has_quote & line.str.contains(_OPEN_FRESH)).alias("__gs_a"),
            (~has_quote | line.str.contains(_OPEN_QUOTED)).alias("__gs_b"),
        )
        .with_columns((fresh & ~quoted).cast(pl.Int64).cum_sum().alias("__gs_flips"))
        .with_columns(
            (
                pl.when(is_const).then(fresh).forward_fill().fill_null(inside)
                ^ (
                    (flips - pl.when(is_const).then(flips).forward_fill().fill_null(0))
                    % 2
                    == 1
                )
            ).alias(_END)
        )
        .with_columns(pl.col(_END).shift(1, fill_value=inside).alias(_CONT))
        .drop("__gs_a", "__gs_b", "__gs_flips")
        .collect()
    )


@dataclass
class RecordAssembler:
    """Joins physical CSV lines into records across batch borders.

    ``started`` counts the records started so far (the header is record 1); a record
    whose quoted field is still open at the end of a batch waits in ``pending`` (its
    lines) under the number ``pending_rec`` until a later batch closes it.
    """

    started: int = 0
    inside: bool = False
    pending: list[pl.DataFrame] = field(default_factory=list)
    pending_rec: int = 0
    blank_lines: int = 0

    def feed(self, lines: pl.DataFrame) -> pl.DataFrame:
        """Records (``REC``, ``TEXT``) completed by this batch of lines."""
        line = pl.col(LINE)
        state = _quote_state(lines.select(line), self.inside).with_columns(
            ((line == "") & ~pl.col(_CONT) & ~pl.col(_END)).alias(_BLANK)
        )
        state = state.with_columns(
            (~pl.col(_CONT) & ~pl.col(_BLANK)).alias(_START)
        ).with_columns(pl.col(_START).cast(pl.Int64).cum_sum().alias(REC))
        self.blank_lines += int(state.get_column(_BLANK).sum())
        starts = int(state.get_column(_START).sum())
        end_inside = bool(state.get_column(_END)[-1]) if state.height else self.inside
        out: list[pl.DataFrame] = []

        # Lines before the first record start continue the pending record (if any).
        head = state.filter((pl.col(REC) == 0) & ~pl.col(_BLANK)).select(line)
        if self.pending or head.height:
            self.pending.append(head)
            if starts or not end_inside:
                out.append(self._close_pending())
        # Records started here: complete unless the last one is still open.
        last_open = starts if end_inside else 0
        body = state.filter(
            (pl.col(REC) > 0) & (pl.col(REC) != last_open) & ~pl.col(_BLANK)
        )
        one_line = pl.col(_START) & ~pl.col(_END)
        out.append(
            body.filter(one_line).select(
                (pl.col(REC) + self.started).alias(REC), line.alias(TEXT)
            )
        )
        several = body.filter(~one_line)
        if several.height:  # records with a quoted line break
            out.append(
                several.with_row_index("__gs_pline")
                .group_by(REC)
                .agg(line.sort_by("__gs_pline").str.join("\n").alias(TEXT))
                .select((pl.col(REC) + self.started).alias(REC), TEXT)
            )
        if last_open:
            self.pending = [state.filter(pl.col(REC) == last_open).select(line)]
            self.pending_rec = self.started + last_open
        self.started += starts
        self.inside = end_inside
        return pl.concat(out).sort(REC)

    def finish(self) -> pl.DataFrame:
        """The record left open at the end of the file (read to the end, as Python's
        ``csv`` does), or no record."""
        if not self.pending:
            return pl.DataFrame(schema={REC: pl.Int64(), TEXT: pl.String()})
        self.inside = False
        return self._close_pending()

    def _close_pending(self) -> pl.DataFrame:
        lines = pl.concat(self.pending).get_column(LINE)
        self.pending = []
        return pl.DataFrame(
            {REC: [self.pending_rec], TEXT: [lines.str.join("\n").item()]},
            schema={REC: pl.Int64(), TEXT: pl.String()},
        )


def _unquote(field: pl.Expr, groups: pl.Expr) -> pl.Expr:
    """A field's value; ``groups`` is ``field.str.extract_groups(_QUOTED_FIELD)``."""
    content = groups.struct.field("1")
    unquoted = content.str.replace_all('""', '"', literal=True) + groups.struct.field(
        "2"
    ).fill_null("")
    return pl.when(content.is_not_null()).then(unquoted).otherwise(field)


def split_plain(records: pl.LazyFrame, columns: tuple[str, ...]) -> pl.LazyFrame:
    """Fast path: a record without quotes is a plain split on commas."""
    n = len(columns)
    text, parts, nfields = pl.col(TEXT), pl.col(_FIELDS), pl.col(NFIELDS)
    # Split once into a column (the last part holds any extra fields), then pick.
    return records.select(
        (pl.col(REC) - 1).alias(ROW),
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


def split_quoted(records: pl.LazyFrame, columns: tuple[str, ...]) -> pl.LazyFrame:
    """A record with quotes: find its fields by the CSV grammar, then unquote them."""
    n = len(columns)
    fields = pl.col(_FIELDS)
    # With a comma appended every field is followed by one, so the matches (each a
    # field and its comma) are contiguous from the start of the record.
    split = (pl.col(TEXT) + ",").str.extract_all(_FIELD_THEN_COMMA).alias(_FIELDS)
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
            (pl.col(REC) - 1).alias(ROW),
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
