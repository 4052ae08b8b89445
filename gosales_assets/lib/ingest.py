"""Read a raw folder into typed, validated frames, a quarantine and a load report.

``read_raw_folder(raw_dir, cfg)`` returns a :class:`RawBatch`. Nothing is returned
unless every file-level check passes; row-level defects never stop a load.

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
    record (by source row); the first is kept. ``value`` is the (stripped) key, e.g.
    ``INV-1,2``. In the wide log, two rows with the same ``InvoiceId`` and a value for
    the same SKU collide here.

An optional field that is present but unparseable rejects the whole record (e.g. a
bad ``revenue``, ``employees`` or ``expiration_date``); a blank optional field is null.
In the wide log, a blank GP or quantity cell counts as 0 and a pair that parses to
0/0 is no line; a row without any product value yields no line and no quarantine row.

Quarantine ``source_row`` is the 1-based record number after the header (blank lines
are skipped and not counted, reported as ``blank_lines``; Parquet: row number).
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
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.contract import OPTIONAL_STEMS, QUARANTINE_SCHEMA
from gosales_assets.lib.ingest_fields import REASONS
from gosales_assets.lib.ingest_io import RawInputError, RawTable, open_table
from gosales_assets.lib.ingest_tables import SPECS, TablePlan, plan_table
from gosales_assets.lib.sales_log import plan_sales_log

__all__ = [
    "REASONS",
    "RawBatch",
    "RawInputError",
    "read_raw_folder",
]

SALES_SORT = ("order_date", "invoice_id", "line_no", "source_row")
QUARANTINE_SORT = ("source_file", "source_row", "column")
ENGINE: Literal["auto", "in-memory", "streaming"] = "auto"


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
class _Loaded:
    plan: TablePlan
    rows: pl.DataFrame
    quarantine: pl.DataFrame
    rows_read: int
    blank_lines: int | None


def _collect(plan: TablePlan) -> _Loaded:
    table = plan.table
    outputs = [plan.rows, plan.quarantine, plan.rows_read]
    if table.blank_lines is not None:
        outputs.append(table.blank_lines)
    try:
        frames = pl.collect_all(outputs, engine=ENGINE)
    except (pl.exceptions.PolarsError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        raise RawInputError(
            f"{table.file}: cannot be read ({first}); check that it is a valid UTF-8 "
            f"{table.format.upper()} file"
        ) from None
    blank = int(frames[3].item()) if len(frames) > 3 else None
    return _Loaded(plan, frames[0], frames[1], int(frames[2].item()), blank)


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


def _file_report(loaded: _Loaded, layout: str | None) -> dict[str, Any]:
    table = loaded.plan.table
    counts = Counter(loaded.quarantine.get_column("reason").to_list())
    info: dict[str, Any] = {
        "file": table.file,
        "format": table.format,
        "layout": layout,
        "sha256": table.sha256,
        "size_bytes": table.size_bytes,
        "rows_read": loaded.rows_read,
        "rows_loaded": loaded.rows.height,
        "quarantined": dict(sorted(counts.items())),
        "ignored_columns": loaded.plan.ignored_columns,
    }
    if loaded.blank_lines is not None:
        info["blank_lines"] = loaded.blank_lines
    if layout is not None:
        info["lines_loaded"] = loaded.rows.height
    if layout == "wide":
        info["rows_loaded"] = loaded.rows.get_column("source_row").n_unique()
    return info


def read_raw_folder(raw_dir: Path, cfg: GosalesConfig) -> RawBatch:
    """Read and validate every raw input of ``raw_dir`` (see the module docstring)."""
    raw_dir = Path(raw_dir)
    load_date: dt.date = cfg.ingest.effective_load_date()
    formats = cfg.ingest.date_formats
    skus = cfg.sku_map.skus
    divisions = cfg.sku_map.divisions
    tables, missing_optional = _open_all(raw_dir)

    # Plan every file first, so header defects anywhere fail before any heavy read.
    plans: dict[str, TablePlan] = {}
    unmapped: list[str] = []
    for stem, table in tables.items():
        if stem == "sales_log":
            plans[stem], unmapped = plan_sales_log(
                table, entries=cfg.sku_map.entries, formats=formats, load_date=load_date
            )
        else:
            plans[stem] = plan_table(
                table,
                SPECS[stem],
                formats=formats,
                load_date=load_date,
                skus=skus,
                divisions=divisions,
            )

    loaded = {stem: _collect(plan) for stem, plan in plans.items()}
    sales_stem = "sales_log" if "sales_log" in loaded else "sales_lines"
    for stem in (sales_stem, "customers"):
        if loaded[stem].rows_read == 0:
            raise RawInputError(
                f"{tables[stem].file}: no rows (only a header); export the data rows"
            )

    sales = loaded[sales_stem].rows.sort(SALES_SORT)
    customers = loaded["customers"].rows.sort("source_row")
    optional = {
        s: loaded[s].rows.sort("source_row") if s in loaded else None
        for s in OPTIONAL_STEMS
    }
    quarantine = (
        pl.concat(
            [pl.DataFrame(schema=QUARANTINE_SCHEMA)]
            + [item.quarantine for item in loaded.values()]
        )
        .select(list(QUARANTINE_SCHEMA))
        .sort(QUARANTINE_SORT, nulls_last=True)
    )

    layout = "wide" if sales_stem == "sales_log" else "long"
    files_report: dict[str, Any] = {}
    for stem, item in loaded.items():
        files_report[stem] = _file_report(item, layout if stem == sales_stem else None)
    if layout == "wide":
        files_report[sales_stem]["unmapped_columns"] = unmapped
    orphans = (
        sales.select(pl.col("customer_id").unique())
        .join(customers.select("customer_id"), on="customer_id", how="anti")
        .height
    )
    totals = Counter(quarantine.get_column("reason").to_list())
    report: dict[str, Any] = {
        "load_date": load_date.isoformat(),
        "layout": layout,
        "files": files_report,
        "missing_optional": missing_optional,
        "quarantined": dict(sorted(totals.items())),
        "orphan_customers": orphans,
    }
    files = [
        {"file": t.file, "sha256": t.sha256, "size_bytes": t.size_bytes}
        for t in sorted(tables.values(), key=lambda t: t.file)
    ]
    return RawBatch(
        sales_lines=sales,
        customers=customers,
        assets=optional["assets"],
        contacts=optional["contacts"],
        open_deals=optional["open_deals"],
        quarantine=quarantine,
        report=report,
        files=files,
    )
