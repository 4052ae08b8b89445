"""Read a raw folder into typed, validated tables, a quarantine and a load report.

``staged_raw_folder(con, raw_dir, cfg)`` stages every raw file in DuckDB temporary
tables of ``con`` in bounded batches (``ingest.batch_lines`` lines at a time, DuckDB
within ``ingest.memory_limit_mb``; see ``ingest_stage.py``) and yields a
:class:`StagedLoad` whose views hold the valid rows of each ``raw`` table and the
quarantine; the raw asset checks and publishes them inside its write transaction.
``read_raw_folder(raw_dir, cfg)`` does the same on a private in-memory database and
returns the tables as polars frames (a :class:`RawBatch`; small inputs, tests and
tools). Nothing is staged or returned unless every file-level check passes; row-level
defects never stop a load. The results do not depend on the batch size.

File-level defects raise :class:`RawInputError` (a ``ValueError``) naming the file and
the fix, before anything is returned:

- the raw folder does not exist;
- ``customers`` is missing, or neither / both of ``sales_lines`` and ``sales_log``;
- one stem present as both ``.csv`` and ``.parquet``;
- a file name that resolves outside the raw folder (symlinks included), or that is not
  a regular file;
- an empty file (0 bytes), a CSV that is not UTF-8, an unreadable Parquet file;
- a missing required column (the message lists them and the header found), a duplicate
  or reserved (``__gs_*``) column name, a column of a nested/binary type;
- a ``sales_log`` without all fixed columns or without any SKU-map product column
  ("sales log from another layout");
- a sales file or ``customers`` with a header but no rows ("no rows"). A header-only
  ``assets`` / ``contacts`` / ``open_deals`` is fine (zero rows).

Row-level defects go to ``quarantine`` (``contract.QUARANTINE_SCHEMA``), one row per
rejected record (wide log: per rejected product cell, or per source row when a
row-level field is bad). Checks run in this order and the first failure is reported:

1. ``ragged_row`` (CSV): more or fewer fields than the header. ``column`` is null and
   ``value`` says "N fields; the header has M"; extra fields are kept in the record
   under ``__extra_fields__``.
2. ``empty_id``: ``customer_id``, ``invoice_id`` or ``sku`` empty or whitespace
   (wide log: ``CustomerId``; an empty ``InvoiceId`` gets a surrogate instead).
3. ``missing_value``: another required value is empty (``quantity``, ``gross_profit``,
   the event date, ``open_deals.division``; ``line_no`` when the file has that column).
4. ``unparseable_date``: a date not in ``cfg.ingest.date_formats`` (strict:
   ``2024-02-30`` and ``24-01-05`` fail).
5. ``unparseable_number``: not a plain number or currency text (``$1,234.50`` and
   ``(2,000)`` are accepted), or a non-whole ``line_no`` / ``employees``.
6. ``unknown_sku``: the SKU is not in the SKU map (``sales_lines``, ``assets``).
7. ``unknown_division``: a division that is not a division of the SKU map
   (``open_deals``, and a non-empty ``contacts.division``). Added by this module.
8. ``alias_conflict`` (wide log): a SKU's GP column and an alias both carry values that
   differ after parsing.
9. ``date_after_load_date``: the event date (``order_date``, ``purchase_date``,
   ``contact_date``, ``opened_date``) is after ``cfg.ingest.effective_load_date()``.
   In the wide log this is a row-level check, so it is tried before the cell checks.
10. ``duplicate_line_id`` / ``duplicate_customer_id``: the key repeats an earlier valid
    record (by source row) anywhere in the file; the first is kept. ``value`` is the
    (stripped) key, e.g. ``INV-1,2``. In the wide log, two rows with the same
    ``InvoiceId`` and a value for the same SKU collide here.

An optional field that is present but unparseable rejects the whole record (e.g. a
bad ``revenue``, ``employees`` or ``expiration_date``); a blank optional field is null.
In the wide log, a blank GP or quantity cell counts as 0 and a pair that parses to
0/0 is no line; a row without any product value yields no line and no quarantine row.

Quarantine ``source_row`` is the 1-based record number after the header, counted over
the whole file (blank lines are skipped and not counted, reported as ``blank_lines``;
a quoted line break does not start a record; Parquet: row number).
``customer_id`` and ``order_date`` (the event date of the record's table; null for
``customers`` and when the date is unparseable) are filled when they could be parsed;
``record`` is the raw record as JSON with sorted keys.

CSV dialect (``ingest_io.py``): UTF-8 with or without BOM, LF or CRLF, comma separator,
``"`` quoting as Python's ``csv`` module reads it (quoted commas, ``""`` escapes and
line breaks inside quotes; a quote inside an unquoted field is a literal). Header
names are stripped of surrounding spaces. A line break inside a quoted field is read
as ``\n``.

Other outcomes: ids are stripped strings, never numbers (Parquet integer ids become
their decimal text); text attributes are stripped and empty becomes null; a missing
``line_no`` becomes the row order within the invoice; a ``sales_log`` is unpivoted (see
``sales_log.py``) with ``revenue`` null; columns outside the contract are ignored and
listed in the report (``unmapped_columns`` for a wide log); a missing optional file is
listed in ``missing_optional``; customers of ``sales_lines`` absent from ``customers``
are kept and counted as ``orphan_customers``.

Order: ``RawBatch.sales_lines`` by ``SALES_SORT``, customers and optional tables by
source row, the quarantine by ``QUARANTINE_SORT`` (the stored ``raw`` tables use the
sort keys of ``raw_store.RAW_TABLES``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.contract import OPTIONAL_STEMS
from gosales_assets.lib.ingest_fields import REASONS
from gosales_assets.lib.ingest_io import RawInputError, RawTable, open_table
from gosales_assets.lib.ingest_stage import (
    StagedTable,
    create_output_views,
    drop_staging,
    orphan_count,
    sql_text,
    stage_table,
    staged_counts,
)
from gosales_assets.lib.ingest_tables import SPECS, TablePlan, plan_table
from gosales_assets.lib.raw_store import QUARANTINE_SORT, QUARANTINE_TABLE, RAW_TABLES
from gosales_assets.lib.sales_log import plan_sales_log
from gosales_assets.lib.store import quote_ident

__all__ = [
    "QUARANTINE_SORT",
    "REASONS",
    "PreparedLoad",
    "RawBatch",
    "RawInputError",
    "StagedLoad",
    "prepare_raw_folder",
    "read_raw_folder",
    "staged_raw_folder",
]

SALES_SORT = ("order_date", "invoice_id", "line_no", "source_row")
_PEEK_LINES = 1024  # lines per batch when looking for a file's first record
# raw table -> the input stem that feeds it (sales_lines may come from sales_log)
_SOURCES = {
    "raw.customers": "customers",
    "raw.assets": "assets",
    "raw.contacts": "contacts",
    "raw.open_deals": "open_deals",
}


@dataclass(frozen=True)
class RawBatch:
    """Typed, validated raw inputs of one load."""

    sales_lines: pl.DataFrame
    customers: pl.DataFrame
    assets: pl.DataFrame | None
    contacts: pl.DataFrame | None
    open_deals: pl.DataFrame | None
    quarantine: pl.DataFrame
    report: dict[str, Any] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class StagedLoad:
    """A load staged in DuckDB: one view per ``raw`` table (and the quarantine)."""

    views: dict[str, str]  # raw table -> temporary view of its rows (unordered)
    present: frozenset[str]  # raw tables whose input file exists
    report: dict[str, Any]
    files: list[dict[str, Any]]
    rows: dict[str, int]  # raw table -> row count


def _open_all(raw_dir: Path) -> tuple[dict[str, RawTable], list[str]]:
    if not raw_dir.is_dir():
        raise RawInputError(f"raw folder {raw_dir} does not exist or is not a folder")
    tables: dict[str, RawTable] = {}
    for stem in ("sales_lines", "sales_log", "customers", *OPTIONAL_STEMS):
        table = open_table(raw_dir, stem)
        if table is not None:
            tables[stem] = table
    if "sales_lines" in tables and "sales_log" in tables:
        raise RawInputError(
            f"{tables['sales_lines'].file} and {tables['sales_log'].file}: a raw "
            "folder "
            "holds either sales_lines (long) or sales_log (wide), not both; remove one"
        )
    if "sales_lines" not in tables and "sales_log" not in tables:
        raise RawInputError(
            f"sales_lines.csv: missing in {raw_dir}; add sales_lines.csv/.parquet "
            "(long layout) or sales_log.csv/.parquet (wide layout)"
        )
    if "customers" not in tables:
        raise RawInputError(
            f"customers.csv: missing in {raw_dir}; add customers.csv or "
            "customers.parquet (required, one row per account)"
        )
    missing_optional = [s for s in OPTIONAL_STEMS if s not in tables]
    return tables, missing_optional


def _plan_all(
    tables: dict[str, RawTable], cfg: GosalesConfig, load_date: dt.date
) -> tuple[dict[str, TablePlan], list[str]]:
    """Plan every file first, so header defects anywhere fail before any heavy read."""
    plans: dict[str, TablePlan] = {}
    unmapped: list[str] = []
    for stem, table in tables.items():
        if stem == "sales_log":
            plans[stem], unmapped = plan_sales_log(
                table,
                entries=cfg.sku_map.entries,
                formats=cfg.ingest.date_formats,
                load_date=load_date,
            )
        else:
            plans[stem] = plan_table(
                table,
                SPECS[stem],
                formats=cfg.ingest.date_formats,
                load_date=load_date,
                skus=cfg.sku_map.skus,
                divisions=cfg.sku_map.divisions,
            )
    return plans, unmapped


def _stage(
    con: duckdb.DuckDBPyConnection, plan: TablePlan, batch_lines: int
) -> StagedTable:
    try:
        return stage_table(con, plan, batch_lines)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise _unreadable(plan.table, err) from None


def _file_report(
    con: duckdb.DuckDBPyConnection, item: StagedTable, layout: str | None
) -> dict[str, Any]:
    table = item.plan.table
    counts = staged_counts(con, item)
    info: dict[str, Any] = {
        "file": table.file,
        "format": table.format,
        "layout": layout,
        "sha256": table.sha256,
        "size_bytes": table.size_bytes,
        "rows_read": item.records,
        "rows_loaded": counts["rows"],
        "quarantined": counts["quarantined"],
        "ignored_columns": item.plan.ignored_columns,
    }
    if item.blank_lines is not None:
        info["blank_lines"] = item.blank_lines
    if layout is not None:
        info["lines_loaded"] = counts["rows"]
    if layout == "wide":
        info["rows_loaded"] = counts["source_rows"]
    return info


def _setting(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    return str(row[0]) if row else None


def _restore_memory_limit(con: duckdb.DuckDBPyConnection, previous: str | None) -> None:
    # The setting reads back rounded ("18.8 GiB"): the default is restored exactly
    # by RESET, any other value by setting its text again.
    con.execute("RESET memory_limit")
    if previous is not None and _setting(con) != previous:
        con.execute(f"SET memory_limit = {sql_text(previous)}")


@contextlib.contextmanager
def _memory_limit(con: duckdb.DuckDBPyConnection, megabytes: int) -> Iterator[None]:
    """DuckDB's memory limit for the load (it spills beyond it), then the old one."""
    previous = _setting(con)
    con.execute(f"SET memory_limit = '{int(megabytes)}MB'")
    try:
        yield
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # e.g. an aborted transaction
            _restore_memory_limit(con, previous)
        raise
    _restore_memory_limit(con, previous)


@dataclass(frozen=True)
class PreparedLoad:
    """A raw folder whose file-level checks passed: the files and their plans."""

    raw_dir: Path
    tables: dict[str, RawTable]
    plans: dict[str, TablePlan]
    missing_optional: list[str]
    unmapped: list[str]
    load_date: dt.date

    @property
    def sales_stem(self) -> str:
        return "sales_log" if "sales_log" in self.tables else "sales_lines"


def _has_records(table: RawTable) -> bool:
    """Whether the file holds a record; reads only up to the first one (in small
    batches, so a large file costs a few thousand lines)."""
    try:
        return table.batches(_PEEK_LINES).has_records()
    except (pl.exceptions.PolarsError, OSError) as err:
        raise _unreadable(table, err) from None


def _unreadable(table: RawTable, err: Exception) -> RawInputError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
    return RawInputError(
        f"{table.file}: cannot be read ({first}); check that it is a valid UTF-8 "
        f"{table.format.upper()} file"
    )


def prepare_raw_folder(raw_dir: Path, cfg: GosalesConfig) -> PreparedLoad:
    """Every file-level check that needs no staging; raises RawInputError.

    The files are located, their headers and layouts checked, CSV files checked to be
    UTF-8 throughout (in the pass that hashes them), every table planned, and the sales
    file and ``customers`` checked to hold a record (reading up to their first one).
    The raw asset calls it before it opens the store, so these defects write nothing.
    """
    raw_dir = Path(raw_dir)
    load_date: dt.date = cfg.ingest.effective_load_date()
    tables, missing_optional = _open_all(raw_dir)
    plans, unmapped = _plan_all(tables, cfg, load_date)
    prepared = PreparedLoad(
        raw_dir, tables, plans, missing_optional, unmapped, load_date
    )
    for stem in (prepared.sales_stem, "customers"):
        if not _has_records(tables[stem]):
            raise RawInputError(
                f"{tables[stem].file}: no rows (only a header); export the data rows"
            )
    return prepared


@contextlib.contextmanager
def staged_raw_folder(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    cfg: GosalesConfig,
    *,
    batch_lines: int | None = None,
    prepared: PreparedLoad | None = None,
) -> Iterator[StagedLoad]:
    """Stage every raw input of ``raw_dir`` in ``con`` (see the module docstring).

    Runs :func:`prepare_raw_folder` unless ``prepared`` is given. Raises
    RawInputError for a file-level defect before yielding (one met only while
    staging, e.g. an unreadable Parquet row group, leaves nothing behind either).
    The temporary tables and views live until the context exits; nothing else of
    ``con`` changes.
    """
    if prepared is None:
        prepared = prepare_raw_folder(raw_dir, cfg)
    tables = prepared.tables
    lines = batch_lines or cfg.ingest.batch_lines
    created: list[str] = []
    with _memory_limit(con, cfg.ingest.memory_limit_mb):
        try:
            staged: dict[str, StagedTable] = {}
            for stem, plan in prepared.plans.items():
                created += [quote_ident(f"__gs_{k}_{stem}") for k in ("stage", "dups")]
                staged[stem] = _stage(con, plan, lines)
            sales_stem = prepared.sales_stem
            for stem in (sales_stem, "customers"):
                if staged[stem].records == 0:
                    raise RawInputError(
                        f"{tables[stem].file}: no rows (only a header); export the "
                        "data rows"
                    )
            sources = {"raw.sales_lines": sales_stem, **_SOURCES}
            outputs = {
                t: (s if s in staged else "", RAW_TABLES[t][0])
                for t, s in sources.items()
            }
            views = create_output_views(con, staged, outputs)
            created += views.values()
            report = _report(
                con,
                staged,
                sales_stem,
                prepared.missing_optional,
                prepared.unmapped,
                prepared.load_date,
            )
            yield StagedLoad(
                views=views,
                present=frozenset(t for t, (s, _) in outputs.items() if s)
                | {QUARANTINE_TABLE},
                report=report,
                files=[
                    {"file": t.file, "sha256": t.sha256, "size_bytes": t.size_bytes}
                    for t in sorted(tables.values(), key=lambda t: t.file)
                ],
                rows=_row_counts(report),
            )
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # an aborted transaction
                drop_staging(con, created)
            raise
        drop_staging(con, created)


def _report(
    con: duckdb.DuckDBPyConnection,
    staged: dict[str, StagedTable],
    sales_stem: str,
    missing_optional: list[str],
    unmapped: list[str],
    load_date: dt.date,
) -> dict[str, Any]:
    layout = "wide" if sales_stem == "sales_log" else "long"
    files: dict[str, Any] = {}
    for stem, item in staged.items():
        files[stem] = _file_report(con, item, layout if stem == sales_stem else None)
    if layout == "wide":
        files[sales_stem]["unmapped_columns"] = unmapped
    totals: Counter[str] = Counter()
    for info in files.values():
        totals.update(info["quarantined"])
    return {
        "load_date": load_date.isoformat(),
        "layout": layout,
        "files": files,
        "missing_optional": missing_optional,
        "quarantined": dict(sorted(totals.items())),
        "orphan_customers": orphan_count(con, staged[sales_stem], staged["customers"]),
    }


def _row_counts(report: dict[str, Any]) -> dict[str, int]:
    """Rows of every raw table, from the load report's counts."""
    files = report["files"]
    sales = "sales_log" if report["layout"] == "wide" else "sales_lines"
    out = {"raw.sales_lines": int(files[sales]["lines_loaded"])}
    for table, stem in _SOURCES.items():
        out[table] = int(files[stem]["rows_loaded"]) if stem in files else 0
    out[QUARANTINE_TABLE] = sum(report["quarantined"].values())
    return out


def _order(columns: tuple[str, ...]) -> str:
    return ", ".join(f"{quote_ident(c)} NULLS LAST" for c in columns)


def read_raw_folder(
    raw_dir: Path, cfg: GosalesConfig, *, batch_lines: int | None = None
) -> RawBatch:
    """Read and validate every raw input of ``raw_dir`` into polars frames.

    The same staging as the raw asset, on a private in-memory DuckDB database (which
    spills to a temporary folder beyond ``ingest.memory_limit_mb``). The frames are
    held in memory: meant for small inputs, tests and tools.
    """
    with tempfile.TemporaryDirectory(prefix="gosales-ingest-") as tmp:
        con = duckdb.connect(":memory:", config={"temp_directory": tmp})
        try:
            with staged_raw_folder(con, raw_dir, cfg, batch_lines=batch_lines) as load:

                def fetch(table: str, order: tuple[str, ...]) -> pl.DataFrame | None:
                    if table not in load.present:
                        return None
                    view = load.views[table]
                    sql = f"SELECT * FROM {view} ORDER BY {_order(order)}"
                    return con.execute(sql).pl()

                orders = {t: ("source_row",) for t in RAW_TABLES}
                orders["raw.sales_lines"] = SALES_SORT
                frames = {t: fetch(t, o) for t, o in orders.items()}
                quarantine = fetch(QUARANTINE_TABLE, QUARANTINE_SORT)
                report, files = load.report, load.files
        finally:
            con.close()
    sales, customers = frames["raw.sales_lines"], frames["raw.customers"]
    assert sales is not None and customers is not None and quarantine is not None
    return RawBatch(
        sales_lines=sales,
        customers=customers,
        assets=frames["raw.assets"],
        contacts=frames["raw.contacts"],
        open_deals=frames["raw.open_deals"],
        quarantine=quarantine,
        report=report,
        files=files,
    )
