"""Streaming ingestion: the result does not depend on the batch size.

The raw files below put every defect that needs more than one record next to a batch
border when read 7 lines at a time (and at every border with 1, 2 or 3 lines): quoted
line breaks, blank lines, ragged rows, keys repeated in a later batch, a repeat of a
rejected row (not a duplicate), line numbers derived across batches and a wide log
whose cells collide across batches. Batch sizes 1, 2, 3 and 7 must give exactly what
one batch gives, in the frames, the load report and the published ``raw`` tables.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gosales_assets.config import (
    ConfigError,
    GosalesConfig,
    SkuEntry,
    SkuMap,
    load_config,
)
from gosales_assets.lib.ingest import (
    RawBatch,
    RawInputError,
    prepare_raw_folder,
    read_raw_folder,
    staged_raw_folder,
)
from gosales_assets.lib.ingest_io import EXTRA, NFIELDS, ROW, open_table
from gosales_assets.lib.ingest_stage import KeyFilter
from gosales_assets.lib.raw_store import publish_raw, raw_checks, raw_checksums

LOAD_DATE = dt.date(2024, 12, 31)
ENTRIES = (
    SkuEntry(sku="Alpha", division="D1", gp_column="Alpha", qty_column="Alpha_Qty"),
    SkuEntry(sku="Beta", division="D1", gp_column="Beta", qty_column="Beta_Qty"),
)
SIZES = (1, 2, 3, 7)
ONE_BATCH = 1_000_000

# Physical lines 1-30; with 7 lines per batch the borders fall after lines 7, 14, 21
# and 28 (the header is line 1).
SALES = (
    "invoice_id,line_no,order_date,customer_id,sku,quantity,gross_profit,revenue,"
    "rep,branch\n"
    "I1,1,2024-03-01,C1,Alpha,1,100,,Ann,East\n"  # row 1
    "I1,2,2024-03-01,C1,Beta,1,50,,Ann,East\n"  # 2
    "I2,1,2024-03-02,C2,Alpha,2,10,,Bob,West\n"  # 3
    "I3,1,2024-03-02,C2,Alpha,2,10,,Bob,West\n"  # 4
    'I4,1,2024-03-03,C1,Alpha,1,5,,"Ann\n'  # 5: a rep over lines 6-9
    "\n"
    'Smith, ""Jr""\n'
    'Esq.",East\n'
    "\n"  # blank line after the record
    "I5,1,2024-03-04,C3,Gamma,1,5,,Cy,North\n"  # 6: unknown_sku
    "I1,2,2024-03-05,C3,Alpha,9,9,,Cy,North\n"  # 7: duplicate of row 2
    "I6,1,2024-13-01,C3,Alpha,1,1,,Cy,North\n"  # 8: unparseable_date
    "I7,1,2024-03-06,C3,Alpha,1\n"  # 9: ragged (short)
    'I7,2,2024-03-06,C3,Alpha,1,1,,Cy,North,extra,"x\ny"\n'  # 10: ragged, long
    "I6,1,2024-03-07,C3,Alpha,1,1,,Cy,North\n"  # 11: row 8 was rejected: loads
    "\n"
    "\n"
    "I8,1,2024-03-08,C4,Alpha,1,1.2.3,,Di,South\n"  # 12: unparseable_number
    'I8,1,2024-03-08,C4,Beta,1,"(1,000)",,Di,South\n'  # 13: loads, GP -1000
    "I2,1,2024-03-09,C4,Beta,1,1,,Di,South\n"  # 14: duplicate of row 3
    "I9,1,2024-03-10,,Alpha,1,1,,Di,South\n"  # 15: empty_id
    "I9,2,2025-01-10,C4,Alpha,1,1,,Di,South\n"  # 16: date_after_load_date
    'I1,1,2024-03-11,C4,Alpha,1,1,,Di,"So\n'  # 17: duplicate of row 1
    'uth"\n'
    "I8,1,2024-03-12,C4,Alpha,1,1,,Di,South\n"  # 18: duplicate of row 13
)
CUSTOMERS = (
    "customer_id,customer_name,industry,employees,created_date\n"
    "C1,Acme,Mfg,10,2020-01-02\n"
    'C2,"Beta\n'
    'Works",Mfg,20,2020-01-02\n'
    "C3,Gamma,Mfg,x,2020-01-02\n"  # unparseable_number (employees)
    "C3,Gamma,Mfg,30,2020-01-02\n"  # loads: the first C3 was rejected
    "C1,Acme again,Mfg,10,2020-01-02\n"  # duplicate_customer_id
    "\n"
    "C5,Eps,Mfg,50,2020-01-02\n"
    "C2,Dup,Mfg,,2020-01-02\n"  # duplicate_customer_id
)
CONTACTS = (
    "customer_id,contact_date,division\n"
    "C1,2024-01-05,D1\n"
    "C1,2024-01-06,Nope\n"  # unknown_division
    "C2,2024-01-07,\n"
    "C2,2024-01-08,D1\n"
    "C9,2024-13-08,D1\n"  # unparseable_date
    "C3,2024-01-09,D1\n"
    "C3,2024-01-10,D1\n"
    "C4,2024-01-11,D1\n"
)
# No line_no column: the line number is the row order within the invoice over the
# whole file, rejected rows included.
SALES_NO_LINE_NO = (
    "invoice_id,order_date,customer_id,sku,quantity,gross_profit\n"
    "J1,2024-03-01,C1,Alpha,1,1\n"
    "J2,2024-03-01,C1,Alpha,1,1\n"
    "J1,2024-03-01,C1,Nope,1,1\n"  # unknown_sku, still counts as line 2 of J1
    "J1,2024-03-01,C1,Beta,1,1\n"
    "J2,2024-03-01,C1,Beta,1,1\n"
    "\n"
    "J3,2024-03-01,C1,Beta,1,1\n"
    "J1,2024-03-02,C2,Alpha,2,2\n"
    "J2,2024-03-02,C2,Alpha,2,2\n"
    "J1,2024-03-02,C2,Beta,2,2\n"
)
WIDE = (
    "Rec Date,CustomerId,Customer,InvoiceId,Branch,Rep,Division,"
    "Alpha,Alpha_Qty,Beta,Beta_Qty\n"
    "2024-03-01,C1,Acme,W1,East,Ann,D1,100,1,,\n"  # row 1: W1 Alpha
    "2024-03-01,C1,Acme,W2,East,Ann,D1,,,20,2\n"  # 2: W2 Beta
    '2024-03-01,C1,"Ac\nme",W3,East,Ann,D1,5,1,6,1\n'  # 3
    "2024-03-02,C2,Beta,W4,West,Bob,D1,x,1,7,1\n"  # 4: Alpha cell unparseable
    "2024-03-02,C2,Beta,W1,West,Bob,D1,1,1,2,2\n"  # 5: W1 Alpha repeats row 1
    "2024-03-02,C2,Beta,,West,Bob,D1,1,1,,\n"  # 6: surrogate invoice
    "2024-13-02,C2,Beta,W5,West,Bob,D1,1,1,,\n"  # 7: unparseable_date (row)
    "2024-03-03,C3,Cee,W3,North,Cy,D1,1,1,1,1\n"  # 8: both cells repeat row 3
    "2024-03-03,C3,Cee,W2,North,Cy,D1,,,,\n"  # 9: no product value: no line
    "2024-03-03,C3,Cee,W2,North,Cy,D1,,,3,3\n"  # 10: W2 Beta repeats row 2
)


@pytest.fixture(scope="module")
def cfg() -> GosalesConfig:
    base = load_config(env={})
    ingest = base.ingest.model_copy(update={"load_date": LOAD_DATE})
    sku_map = SkuMap(entries=ENTRIES, source="test sku map")
    return base.model_copy(update={"sku_map": sku_map, "ingest": ingest})


def _folder(root: Path, files: dict[str, str], crlf: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        body = text.replace("\n", "\r\n") if crlf else text
        (root / name).write_bytes(body.encode("utf-8"))
    return root


def _same(a: RawBatch, b: RawBatch) -> None:
    for name in ("sales_lines", "customers", "assets", "contacts", "open_deals"):
        left, right = getattr(a, name), getattr(b, name)
        assert (left is None) == (right is None), name
        if left is not None:
            assert left.equals(right), name
    assert a.quarantine.equals(b.quarantine)
    assert a.report == b.report
    assert a.files == b.files


def _reasons(batch: RawBatch, file: str) -> list[tuple[int, str | None, str]]:
    q = batch.quarantine.filter(pl.col("source_file") == file)
    return q.select("source_row", "column", "reason").rows()


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_long_files_give_the_same_result_in_any_batch_size(
    tmp_path: Path, cfg: GosalesConfig, crlf: bool
) -> None:
    files = {"sales_lines.csv": SALES, "customers.csv": CUSTOMERS}
    raw = _folder(tmp_path / "raw", {**files, "contacts.csv": CONTACTS}, crlf)
    whole = read_raw_folder(raw, cfg, batch_lines=ONE_BATCH)
    for size in SIZES:
        _same(read_raw_folder(raw, cfg, batch_lines=size), whole)

    # The fixture exercises what it claims: record numbers, not line numbers.
    assert _reasons(whole, "sales_lines.csv") == [
        (6, "sku", "unknown_sku"),
        (7, "invoice_id,line_no", "duplicate_line_id"),
        (8, "order_date", "unparseable_date"),
        (9, None, "ragged_row"),
        (10, None, "ragged_row"),
        (12, "gross_profit", "unparseable_number"),
        (14, "invoice_id,line_no", "duplicate_line_id"),
        (15, "customer_id", "empty_id"),
        (16, "order_date", "date_after_load_date"),
        (17, "invoice_id,line_no", "duplicate_line_id"),
        (18, "invoice_id,line_no", "duplicate_line_id"),
    ]
    lines = whole.sales_lines.sort("source_row")
    assert lines.get_column("source_row").to_list() == [1, 2, 3, 4, 5, 11, 13]
    assert lines.row(4, named=True)["rep"] == 'Ann\n\nSmith, "Jr"\nEsq.'
    assert lines.row(6, named=True)["gross_profit"] == -1000.0
    q = whole.quarantine.filter(pl.col("source_row") == 17)
    assert q.get_column("value").to_list() == ["I1,1"]
    assert '"branch":"So\\nuth"' in q.get_column("record").item()
    ragged = whole.quarantine.filter(pl.col("source_row") == 10)
    assert '"__extra_fields__":["extra","x\\ny"]' in ragged.get_column("record").item()
    assert _reasons(whole, "customers.csv") == [
        (3, "employees", "unparseable_number"),
        (5, "customer_id", "duplicate_customer_id"),
        (7, "customer_id", "duplicate_customer_id"),
    ]
    assert whole.customers.get_column("customer_id").to_list() == [
        "C1",
        "C2",
        "C3",
        "C5",
    ]
    assert _reasons(whole, "contacts.csv") == [
        (2, "division", "unknown_division"),
        (5, "contact_date", "unparseable_date"),
    ]
    info = whole.report["files"]["sales_lines"]
    assert (info["rows_read"], info["rows_loaded"], info["blank_lines"]) == (18, 7, 3)
    assert whole.report["quarantined"] == {
        "date_after_load_date": 1,
        "duplicate_customer_id": 2,
        "duplicate_line_id": 4,
        "empty_id": 1,
        "ragged_row": 2,
        "unknown_division": 1,
        "unknown_sku": 1,
        "unparseable_date": 2,
        "unparseable_number": 2,
    }
    assert whole.report["orphan_customers"] == 1  # C4


def test_derived_line_numbers_count_across_batches(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    raw = _folder(
        tmp_path / "raw",
        {"sales_lines.csv": SALES_NO_LINE_NO, "customers.csv": CUSTOMERS},
    )
    whole = read_raw_folder(raw, cfg, batch_lines=ONE_BATCH)
    for size in SIZES:
        _same(read_raw_folder(raw, cfg, batch_lines=size), whole)
    got = whole.sales_lines.sort("source_row").select(
        "invoice_id", "line_no", "source_row"
    )
    assert got.rows() == [
        ("J1", 1, 1),
        ("J2", 1, 2),
        ("J1", 3, 4),
        ("J2", 2, 5),
        ("J3", 1, 6),
        ("J1", 4, 7),
        ("J2", 3, 8),
        ("J1", 5, 9),
    ]


def test_wide_log_gives_the_same_result_in_any_batch_size(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    raw = _folder(tmp_path / "raw", {"sales_log.csv": WIDE, "customers.csv": CUSTOMERS})
    whole = read_raw_folder(raw, cfg, batch_lines=ONE_BATCH)
    for size in SIZES:
        _same(read_raw_folder(raw, cfg, batch_lines=size), whole)
    assert _reasons(whole, "sales_log.csv") == [
        (4, "Alpha", "unparseable_number"),
        (5, "InvoiceId", "duplicate_line_id"),
        (7, "Rec Date", "unparseable_date"),
        (8, "InvoiceId", "duplicate_line_id"),
        (8, "InvoiceId", "duplicate_line_id"),
        (10, "InvoiceId", "duplicate_line_id"),
    ]
    dups = whole.quarantine.filter(pl.col("source_row") == 8)
    assert dups.get_column("value").to_list() == ["W3,1", "W3,2"]
    lines = whole.sales_lines.sort("source_row", "line_no")
    assert lines.select("invoice_id", "sku", "source_row").rows() == [
        ("W1", "Alpha", 1),
        ("W2", "Beta", 2),
        ("W3", "Alpha", 3),
        ("W3", "Beta", 3),
        ("W4", "Beta", 4),
        ("W1", "Beta", 5),
        ("AUTO-C2-20240302-6", "Alpha", 6),
    ]
    assert whole.report["files"]["sales_log"]["rows_loaded"] == 6


def test_published_tables_do_not_depend_on_the_batch_size(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    raw = _folder(
        tmp_path / "raw",
        {
            "sales_lines.csv": SALES,
            "customers.csv": CUSTOMERS,
            "contacts.csv": CONTACTS,
        },
    )
    sums = []
    for size in (7, ONE_BATCH):
        con = duckdb.connect(str(tmp_path / f"store_{size}.duckdb"))
        try:
            con.execute("BEGIN TRANSACTION")
            with staged_raw_folder(con, raw, cfg, batch_lines=size) as load:
                assert not any(o.blocks for o in raw_checks(con, load.views, LOAD_DATE))
                publish_raw(con, load.views, load.report)
            con.execute("COMMIT")
            sums.append(raw_checksums(con))
            temp = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE temporary"
            ).fetchone()
            assert temp == (0,)  # the staging tables are gone
        finally:
            con.close()
    assert sums[0] == sums[1]
    assert sums[0]["raw.quarantine"].startswith("rows=16;")


def test_a_bad_byte_deep_in_the_file_is_refused_before_staging(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    raw = tmp_path / "raw"
    _folder(raw, {"customers.csv": CUSTOMERS})
    # Far past the header, so only the pass over the whole file meets it.
    good = "".join(f"K{i},1,2024-03-01,C1,Alpha,1,1,,Ann,East\n" for i in range(2000))
    head = (SALES + good).encode()
    (raw / "sales_lines.csv").write_bytes(head + b"K9,9,2024,C1,\xff\n")
    at = len(head) + len("K9,9,2024,C1,")
    with pytest.raises(RawInputError, match=rf"^sales_lines.csv: is not UTF-8 .*{at}"):
        prepare_raw_folder(raw, cfg)


def test_a_defect_met_while_staging_leaves_nothing_behind(
    tmp_path: Path, cfg: GosalesConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _folder(
        tmp_path / "raw", {"sales_lines.csv": SALES, "customers.csv": CUSTOMERS}
    )
    prepared = prepare_raw_folder(raw, cfg)
    calls = {"n": 0}
    real = prepared.plans["sales_lines"].stage

    def failing(batch: pl.LazyFrame) -> pl.LazyFrame:
        calls["n"] += 1
        if calls["n"] == 3:  # the third batch cannot be read
            raise pl.exceptions.ComputeError("simulated read error")
        return real(batch)

    plan = dataclasses.replace(prepared.plans["sales_lines"], stage=failing)
    prepared = dataclasses.replace(
        prepared, plans={**prepared.plans, "sales_lines": plan}
    )
    con = duckdb.connect()
    try:
        before = con.execute("SELECT current_setting('memory_limit')").fetchone()
        refused = pytest.raises(
            RawInputError, match=r"^sales_lines.csv: cannot be read"
        )
        with (
            refused,
            staged_raw_folder(con, raw, cfg, batch_lines=7, prepared=prepared),
        ):
            pass  # pragma: no cover
        assert calls["n"] == 3
        left = con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary")
        assert left.fetchone() == (0,)
        after = con.execute("SELECT current_setting('memory_limit')").fetchone()
        assert after == before
    finally:
        con.close()


def test_key_filter_flags_every_repeat() -> None:
    keys = KeyFilter(expected_rows=10)
    first = keys.flag(pl.Series([1, 2, 3, 2], dtype=pl.UInt64).to_numpy())
    assert first.tolist() == [False, False, False, True]
    later = keys.flag(pl.Series([4, 1, 4], dtype=pl.UInt64).to_numpy())
    assert later.tolist() == [False, True, True]


# --- the CSV tokenizer agrees with Python's csv module at every batch border --------

FIELD = st.text(alphabet=st.sampled_from(list('ab ,"\n;')), max_size=5)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rows=st.lists(st.lists(FIELD, min_size=1, max_size=4), min_size=1, max_size=6),
    terminator=st.sampled_from(["\n", "\r\n"]),
    batch_lines=st.integers(min_value=1, max_value=4),
)
def test_tokenizer_matches_python_csv_in_small_batches(
    rows: list[list[str]], terminator: str, batch_lines: int, tmp_path: Path
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=terminator)
    writer.writerow(["a", "b", "c"])
    writer.writerows(rows)
    folder = tmp_path / f"t{batch_lines}"
    folder.mkdir(exist_ok=True)
    (folder / "t.csv").write_text(buffer.getvalue(), encoding="utf-8", newline="")
    table = open_table(folder, "t")
    assert table is not None
    reader = table.batches(batch_lines)
    frame = pl.concat([table.empty(), *reader])
    got = [
        [r[c] for c in table.columns][: r[NFIELDS]] + list(r[EXTRA] or [])
        for r in frame.iter_rows(named=True)
    ]
    assert got == [[f.replace("\r\n", "\n") for f in row] for row in rows]
    assert frame.get_column(ROW).to_list() == list(range(1, len(rows) + 1))
    assert reader.records == len(rows)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("batch_lines: 100000", "batch_lines: 0", "ingest.batch_lines"),
        ("memory_limit_mb: 768", "memory_limit_mb: 16", "ingest.memory_limit_mb"),
    ],
)
def test_streaming_settings_are_validated(
    config_copy: Path, old: str, new: str, key: str
) -> None:
    text = config_copy.read_text()
    assert old in text
    config_copy.write_text(text.replace(old, new))
    with pytest.raises(ConfigError, match=key):
        load_config(config_copy, env={})
