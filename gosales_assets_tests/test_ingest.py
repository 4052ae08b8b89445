"""Raw-folder ingest: layouts, quarantine reasons, file-level errors, path safety."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from gosales_assets.config import GosalesConfig, SkuEntry, SkuMap, load_config
from gosales_assets.lib.contract import QUARANTINE_SCHEMA
from gosales_assets.lib.ingest import REASONS, RawBatch, RawInputError, read_raw_folder

LOAD_DATE = dt.date(2024, 12, 31)
ENTRIES = (
    SkuEntry(sku="Alpha", division="D1", gp_column="Alpha", qty_column="Alpha_Qty"),
    SkuEntry(
        sku="Beta",
        division="D1",
        gp_column="Beta",
        qty_column="Beta_Qty",
        gp_aliases=("Beta GP",),
    ),
    SkuEntry(sku="Gamma", division="D2", gp_column="Gamma", qty_column="Gamma_Qty"),
)
LONG_HEADER = (
    "invoice_id,line_no,order_date,customer_id,sku,"
    "quantity,gross_profit,revenue,rep,branch"
)
WIDE_HEADER = (
    "Rec Date,CustomerId,Customer,InvoiceId,Branch,Rep,Division,"
    "Alpha,Alpha_Qty,Beta,Beta GP,Beta_Qty,Gamma,Gamma_Qty"
)
CUSTOMERS = (
    "customer_id,customer_name,industry,employees,created_date\n"
    "C1,Acme,Mfg,10,2020-01-02\n"
)


@pytest.fixture(scope="module")
def cfg() -> GosalesConfig:
    base = load_config(env={})
    ingest = base.ingest.model_copy(update={"load_date": LOAD_DATE})
    sku_map = SkuMap(entries=ENTRIES, source="test sku map")
    return base.model_copy(update={"sku_map": sku_map, "ingest": ingest})


def write(
    folder: Path, name: str, text: str, *, crlf: bool = False, bom: bool = False
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = text.replace("\n", "\r\n") if crlf else text
    path = folder / name
    path.write_bytes(("\ufeff" if bom else "").encode() + body.encode("utf-8"))
    return path


def folder_with(tmp_path: Path, files: dict[str, str]) -> Path:
    raw = tmp_path / "raw"
    for name, text in files.items():
        write(raw, name, text)
    return raw


def quarantine_rows(
    batch: RawBatch, file: str
) -> list[tuple[int, str | None, str, str | None]]:
    q = batch.quarantine.filter(pl.col("source_file") == file)
    return q.select("source_row", "column", "reason", "value").rows()


# --- layouts give identical lines ---------------------------------------------------

LONG_LINES = """\
INV-1,1,2024-03-01,C1,Alpha,1,100,500,Ann,East
INV-1,2,2024-03-01,C1,Beta,2,"$1,200.50",,Ann,East
INV-2,1,2024-03-01,C1,Alpha,-1,(50),,Ann,East
INV-2,3,2024-03-01,C1,Gamma,3,0,,Ann,East
INV-3,3,2024-03-02,00123,Gamma,1,75,,Bob,West
INV-4,1,2024-03-02,123,Alpha,1,10,,Bob,West
INV-4,2,2024-03-02,123,Beta,1,20,,Bob,West
"""
WIDE_ROWS = """\
2024-03-01,C1,"Acme, Inc",INV-1,East,Ann,D1,100,1,"$1,200.50",,2,,
2024-03-01,C1,"Acme, Inc",INV-2,East,Ann,D1,(50),-1,,,,0,3
2024-03-02,00123,Zero,INV-3,West,Bob,D2,,,,,,75,1
2024-03-02,123,One,INV-4,West,Bob,D2,10,1,,20,1,$0.00,0
"""
CUSTOMERS_3 = "customer_id\nC1\n00123\n123\n"


def _long_parquet(path: Path) -> None:
    rows = [line.split(",") for line in LONG_LINES.splitlines()]
    gp = [100.0, 1200.5, -50.0, 0.0, 75.0, 10.0, 20.0]
    pl.DataFrame(
        {
            "invoice_id": [r[0] for r in rows],
            "line_no": [int(r[1]) for r in rows],
            "order_date": [dt.date.fromisoformat(r[2]) for r in rows],
            "customer_id": [r[3] for r in rows],
            "sku": [r[4] for r in rows],
            "quantity": [float(r[5]) for r in rows],
            "gross_profit": gp,
            "rep": [r[-2] for r in rows],
            "branch": [r[-1] for r in rows],
        }
    ).write_parquet(path)


def test_long_csv_parquet_and_wide_csv_give_identical_lines(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    long_csv = folder_with(
        tmp_path / "a",
        {
            "sales_lines.csv": f"{LONG_HEADER}\n{LONG_LINES}",
            "customers.csv": CUSTOMERS_3,
        },
    )
    wide_csv = folder_with(
        tmp_path / "b",
        {"sales_log.csv": f"{WIDE_HEADER}\n{WIDE_ROWS}", "customers.csv": CUSTOMERS_3},
    )
    long_pq = folder_with(tmp_path / "c", {"customers.csv": CUSTOMERS_3})
    _long_parquet(long_pq / "sales_lines.parquet")

    batches = [read_raw_folder(d, cfg) for d in (long_csv, long_pq, wide_csv)]
    frames = [
        b.sales_lines.drop("source_file", "source_row", "revenue") for b in batches
    ]
    assert frames[0].height == 7
    for other in frames[1:]:
        assert frames[0].equals(other)
    assert frames[0].schema == {
        "invoice_id": pl.String,
        "line_no": pl.Int64,
        "order_date": pl.Date,
        "customer_id": pl.String,
        "sku": pl.String,
        "quantity": pl.Float64,
        "gross_profit": pl.Float64,
        "rep": pl.String,
        "branch": pl.String,
    }
    assert all(b.quarantine.is_empty() for b in batches)
    # Two invoices of one customer on one day both survive.
    day = frames[0].filter(pl.col("customer_id") == "C1")
    assert sorted(set(day.get_column("invoice_id"))) == ["INV-1", "INV-2"]
    # "00123" and "123" stay distinct ids.
    assert {"00123", "123"} <= set(frames[0].get_column("customer_id"))
    assert batches[0].sales_lines.get_column("revenue").to_list()[0] == 500.0
    wide = batches[2]
    assert wide.sales_lines.get_column("revenue").null_count() == 7
    info = wide.report["files"]["sales_log"]
    assert (
        info["layout"] == "wide"
        and info["lines_loaded"] == 7
        and info["rows_read"] == 4
    )
    assert info["ignored_columns"] == ["Customer", "Division"]
    assert info["unmapped_columns"] == []


def test_sales_lines_sorted_and_source_tracked(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    raw = folder_with(
        tmp_path,
        {
            "sales_lines.csv": f"{LONG_HEADER}\n{LONG_LINES}",
            "customers.csv": CUSTOMERS_3,
        },
    )
    lines = read_raw_folder(raw, cfg).sales_lines
    assert lines.equals(lines.sort("order_date", "invoice_id", "line_no", "source_row"))
    assert lines.get_column("source_row").to_list() == [1, 2, 3, 4, 5, 6, 7]
    assert set(lines.get_column("source_file")) == {"sales_lines.csv"}


def test_parquet_integer_ids_become_decimal_text(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    pl.DataFrame(
        {
            "invoice_id": [7, 8],
            "order_date": [dt.datetime(2024, 1, 5, 13, 30), dt.datetime(2024, 1, 6)],
            "customer_id": [123, 123],
            "sku": ["Alpha", "Beta"],
            "quantity": [1, 2],
            "gross_profit": [1.5, 2.5],
        }
    ).write_parquet(raw / "sales_lines.parquet")
    pl.DataFrame({"customer_id": ["00123", "123"]}).write_parquet(
        raw / "customers.parquet"
    )
    batch = read_raw_folder(raw, cfg)
    assert batch.sales_lines.get_column("customer_id").to_list() == ["123", "123"]
    assert batch.sales_lines.get_column("invoice_id").to_list() == ["7", "8"]
    assert batch.sales_lines.get_column("order_date").to_list() == [
        dt.date(2024, 1, 5),
        dt.date(2024, 1, 6),
    ]
    assert batch.customers.get_column("customer_id").to_list() == ["00123", "123"]
    assert batch.report["files"]["sales_lines"]["format"] == "parquet"
    assert batch.report["orphan_customers"] == 0


# --- row-level defects ----------------------------------------------------------

MIXED = f"""\
{LONG_HEADER}
G1,1,2024-01-05,C1,Alpha,1,"$1,234.50",,Ann,East
G1,2,2024-01-05,C1,Beta,1,(2000),,Ann,East
B1,1,2024-02-30,C1,Alpha,1,5,,Ann,East
B2,1,2024-01-05,C1,Alpha,1,twelve,,Ann,East
B3,1,2024-01-05,  ,Alpha,1,5,,Ann,East
B4,1,2024-01-05,C1,Zeta,1,5,,Ann,East
G1,1,2024-01-06,C1,Gamma,1,5,,Ann,East
B5,1,2025-01-01,C1,Alpha,1,5,,Ann,East
B6,1,2024-01-05,C1,Alpha,1,5
B7,1,2024-01-05,C1,Alpha,,5,,Ann,East
"B8",1,2024-01-05,C1,Alpha,1,5,,"Smith, ""JJ"" Jr",East
B9,x,2024-01-05,C1,Alpha,1,5,,Ann,East
B10,1,2024-01-05,C1,Alpha,1,5,,Ann,East,extra

B11,1,01/05/2024,C1,Alpha, 3.0 ,-12,,Ann,East
B12,1,2024-02-30,,Zeta,1,twelve,,Ann,East
B13,,2024-01-05,C1,Alpha,1,5,,Ann,East
"""
MIXED_EXPECTED = [
    (3, "order_date", "unparseable_date", "2024-02-30"),
    (4, "gross_profit", "unparseable_number", "twelve"),
    (5, "customer_id", "empty_id", "  "),
    (6, "sku", "unknown_sku", "Zeta"),
    (7, "invoice_id,line_no", "duplicate_line_id", "G1,1"),
    (8, "order_date", "date_after_load_date", "2025-01-01"),
    (9, None, "ragged_row", "7 fields; the header has 10"),
    (10, "quantity", "missing_value", ""),
    (12, "line_no", "unparseable_number", "x"),
    (13, None, "ragged_row", "11 fields; the header has 10"),
    (15, "customer_id", "empty_id", ""),  # several defects: the first check wins
    (16, "line_no", "missing_value", ""),  # the file has line_no: it must be filled
]
CUSTOMERS_MESSY = """\
customer_id,customer_name,industry,employees,created_date
C1,"Acme, ""Best"" Inc",Mfg,"1,200",2020-01-02
C2,Beta,Mfg,many,2020-01-02
C3,Gamma,Mfg,5,2020-13-01
 C1 ,Dup,Mfg,5,2020-01-02
,Nobody,Mfg,5,2020-01-02
"""


@pytest.fixture
def mixed(tmp_path: Path, cfg: GosalesConfig) -> RawBatch:
    raw = tmp_path / "raw"
    write(raw, "sales_lines.csv", MIXED, crlf=True, bom=True)
    write(raw, "customers.csv", CUSTOMERS_MESSY, crlf=True, bom=True)
    return read_raw_folder(raw, cfg)


def test_every_bad_row_kind_is_quarantined_with_reason_column_row(
    mixed: RawBatch,
) -> None:
    assert quarantine_rows(mixed, "sales_lines.csv") == MIXED_EXPECTED
    lines = mixed.sales_lines
    assert lines.get_column("source_row").to_list() == [14, 11, 1, 2]
    good = {(r["invoice_id"], r["line_no"]): r for r in lines.iter_rows(named=True)}
    assert good["G1", 1]["gross_profit"] == 1234.5  # currency text accepted
    assert good["G1", 2]["gross_profit"] == -2000.0
    assert good["B8", 1]["rep"] == 'Smith, "JJ" Jr'  # quoted comma and quotes
    assert good["B11", 1]["order_date"] == dt.date(2024, 1, 5)  # second date format
    assert good["B11", 1]["quantity"] == 3.0 and good["B11", 1]["gross_profit"] == -12.0
    assert set(mixed.quarantine.columns) == set(QUARANTINE_SCHEMA)
    assert mixed.quarantine.schema == pl.Schema(QUARANTINE_SCHEMA)


def test_quarantine_counts_equal_injected_defects(mixed: RawBatch) -> None:
    info = mixed.report["files"]["sales_lines"]
    assert info["quarantined"] == {
        "date_after_load_date": 1,
        "duplicate_line_id": 1,
        "empty_id": 2,
        "missing_value": 2,
        "ragged_row": 2,
        "unknown_sku": 1,
        "unparseable_date": 1,
        "unparseable_number": 2,
    }
    assert info["rows_read"] == 16 and info["rows_loaded"] == 4
    assert info["rows_read"] == info["rows_loaded"] + sum(info["quarantined"].values())
    assert info["blank_lines"] == 1
    assert set(mixed.quarantine.get_column("reason")) <= set(REASONS)


def test_quarantine_record_and_context(mixed: RawBatch) -> None:
    q = mixed.quarantine.filter(pl.col("source_file") == "sales_lines.csv")
    by_row = {r["source_row"]: r for r in q.iter_rows(named=True)}
    bad_date = by_row[3]
    assert bad_date["order_date"] is None and bad_date["customer_id"] == "C1"
    assert by_row[4]["order_date"] == dt.date(2024, 1, 5)
    record = json.loads(by_row[4]["record"])
    assert list(record) == sorted(record)
    assert record["gross_profit"] == "twelve" and record["invoice_id"] == "B2"
    assert json.loads(by_row[13]["record"])["__extra_fields__"] == ["extra"]
    assert json.loads(by_row[9]["record"])["rep"] is None  # short ragged row
    assert q.equals(q.sort("source_file", "source_row", "column", nulls_last=True))


def test_customers_checks_bom_crlf_and_quotes(mixed: RawBatch) -> None:
    customers = mixed.customers
    assert customers.get_column("customer_id").to_list() == ["C1"]
    row = customers.row(0, named=True)
    assert row["customer_name"] == 'Acme, "Best" Inc'
    assert row["employees"] == 1200 and row["created_date"] == dt.date(2020, 1, 2)
    assert quarantine_rows(mixed, "customers.csv") == [
        (2, "employees", "unparseable_number", "many"),
        (3, "created_date", "unparseable_date", "2020-13-01"),
        (4, "customer_id", "duplicate_customer_id", "C1"),  # the stripped key
        (5, "customer_id", "empty_id", ""),
    ]
    assert mixed.report["orphan_customers"] == 0


def test_line_no_absent_is_row_order_within_invoice(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    sales = """\
invoice_id,order_date,customer_id,sku,quantity,gross_profit
X,2024-01-05,C1,Alpha,1,1
Y,2024-01-05,C1,Alpha,1,2
X,2024-01-05,C1,Beta,1,3
X,2024-01-05,C1,Alpha,1,4
"""
    raw = folder_with(tmp_path, {"sales_lines.csv": sales, "customers.csv": CUSTOMERS})
    lines = read_raw_folder(raw, cfg).sales_lines
    got = lines.select("invoice_id", "line_no", "gross_profit").rows()
    assert got == [("X", 1, 1.0), ("X", 2, 3.0), ("X", 3, 4.0), ("Y", 1, 2.0)]
    assert lines.get_column("rep").null_count() == 4


# --- wide sales log ----------------------------------------------------------------

WIDE_MESSY = f"""\
{WIDE_HEADER},Legacy
2024-03-01,C1,Acme,,East,Ann,D1,100,1,,,,,,x
2024-03-01,C1,Acme,,East,Ann,D1,200,2,,,,,,
2024-03-01,C1,Acme,INV-9,East,Ann,D1,5,1,"1,000",$1000,1,abc,1,
2024-03-01,C1,Acme,INV-8,East,Ann,D1,,,10,11,1,,,
2024-03-01,,Acme,INV-7,East,Ann,D1,5,1,,,,,,
2025-02-01,C1,Acme,INV-6,East,Ann,D1,5,1,,,,,,
2024-02-30,C1,Acme,INV-5,East,Ann,D1,5,1,,,,,,
2024-03-02,C1,Acme,INV-9,East,Ann,D1,7,1,,,,,,
2024-03-02,C1,Acme,INV-4,East,Ann,D1,7,1,,,,
2024-03-03,C1,Acme,INV-3,East,Ann,D1,0,0,$0.00,,,,,
"""


def test_wide_log_surrogates_aliases_and_cell_quarantine(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    raw = folder_with(
        tmp_path, {"sales_log.csv": WIDE_MESSY, "customers.csv": CUSTOMERS}
    )
    batch = read_raw_folder(raw, cfg)
    lines = batch.sales_lines
    got = lines.select(
        "invoice_id", "line_no", "sku", "quantity", "gross_profit"
    ).rows()
    assert got == [
        ("AUTO-C1-20240301-1", 1, "Alpha", 1.0, 100.0),
        ("AUTO-C1-20240301-2", 1, "Alpha", 2.0, 200.0),
        ("INV-9", 1, "Alpha", 1.0, 5.0),
        ("INV-9", 2, "Beta", 1.0, 1000.0),  # canonical and alias agree after parsing
    ]
    assert quarantine_rows(batch, "sales_log.csv") == [
        (3, "Gamma", "unparseable_number", "abc"),
        (4, "Beta GP", "alias_conflict", "11"),
        (5, "CustomerId", "empty_id", ""),
        (6, "Rec Date", "date_after_load_date", "2025-02-01"),
        (7, "Rec Date", "unparseable_date", "2024-02-30"),
        (8, "InvoiceId", "duplicate_line_id", "INV-9,1"),
        (9, None, "ragged_row", "13 fields; the header has 15"),
    ]
    info = batch.report["files"]["sales_log"]
    assert info["unmapped_columns"] == ["Legacy"]
    assert info["rows_read"] == 10 and info["rows_loaded"] == 3


# --- optional inputs ---------------------------------------------------------------


def test_missing_optional_files_are_reported(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    raw = folder_with(
        tmp_path,
        {
            "sales_lines.csv": f"{LONG_HEADER}\n{LONG_LINES}",
            "customers.csv": CUSTOMERS_3,
            "contacts.csv": "customer_id,contact_date,division\n",
        },
    )
    batch = read_raw_folder(raw, cfg)
    assert batch.report["missing_optional"] == ["assets", "open_deals"]
    assert batch.assets is None and batch.open_deals is None
    assert batch.contacts is not None and batch.contacts.is_empty()
    assert batch.contacts.schema["contact_date"] == pl.Date
    assert [f["file"] for f in batch.files] == [
        "contacts.csv",
        "customers.csv",
        "sales_lines.csv",
    ]
    assert all(len(f["sha256"]) == 64 and f["size_bytes"] > 0 for f in batch.files)


def test_optional_inputs_are_typed_and_checked(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    raw = folder_with(
        tmp_path,
        {
            "sales_lines.csv": f"{LONG_HEADER}\n{LONG_LINES}",
            "customers.csv": CUSTOMERS_3,
            "assets.csv": (
                "customer_id,sku,purchase_date,expiration_date,quantity\n"
                "C1,Alpha,2023-01-01,2025-01-01,2\n"
                "C1,Zeta,2023-01-01,,1\n"
                "C1,Beta,2025-06-01,,1\n"
            ),
            "contacts.csv": (
                "customer_id,contact_date,division\nC1,2024-05-01,\nC1,2024-05-02,D9\n"
            ),
            "open_deals.csv": (
                "customer_id,division,opened_date,closed_date\n"
                "C1,D2,2024-04-01,\nC1,,2024-04-01,\nC1,Nope,2024-04-01,\n"
            ),
        },
    )
    batch = read_raw_folder(raw, cfg)
    assert batch.assets is not None and batch.assets.height == 1
    assert batch.assets.row(0, named=True)["expiration_date"] == dt.date(2025, 1, 1)
    assert batch.contacts is not None and batch.contacts.get_column(
        "division"
    ).to_list() == [None]
    assert batch.open_deals is not None and batch.open_deals.height == 1
    assert quarantine_rows(batch, "assets.csv") == [
        (2, "sku", "unknown_sku", "Zeta"),
        (3, "purchase_date", "date_after_load_date", "2025-06-01"),
    ]
    assert quarantine_rows(batch, "contacts.csv") == [
        (2, "division", "unknown_division", "D9")
    ]
    assert quarantine_rows(batch, "open_deals.csv") == [
        (2, "division", "missing_value", ""),
        (3, "division", "unknown_division", "Nope"),
    ]
    asset_q = batch.quarantine.filter(pl.col("source_file") == "assets.csv")
    assert asset_q.get_column("order_date").to_list()[1] == dt.date(2025, 6, 1)


# --- file-level defects ------------------------------------------------------------

GOOD_SALES = f"{LONG_HEADER}\n{LONG_LINES}"


@pytest.mark.parametrize(
    ("files", "needles"),
    [
        pytest.param(
            {
                "sales_lines.csv": (
                    "invoice_id,order_date,customer_id,sku,quantity\n"
                    "I,2024-01-01,C,Alpha,1\n"
                )
            },
            ["sales_lines.csv", "gross_profit", "header found", "'quantity'"],
            id="missing-required-column",
        ),
        pytest.param(
            {"sales_lines.csv": LONG_HEADER + "\n"},
            ["sales_lines.csv", "no rows"],
            id="header-only",
        ),
        pytest.param(
            {"sales_lines.csv": ""}, ["sales_lines.csv", "0 bytes"], id="zero-bytes"
        ),
        pytest.param(
            {"customers.csv": None},
            ["customers.csv", "missing"],
            id="missing-customers",
        ),
        pytest.param(
            {"customers.csv": "customer_id\n"},
            ["customers.csv", "no rows"],
            id="customers-empty",
        ),
        pytest.param(
            {"sales_log.csv": f"{WIDE_HEADER}\n{WIDE_ROWS}"},
            ["sales_lines.csv", "sales_log.csv", "not both"],
            id="both-layouts",
        ),
        pytest.param(
            {"sales_lines.csv": None, "sales_log.csv": GOOD_SALES},
            ["sales_log.csv", "another layout", "Rec Date"],
            id="log-with-long-header",
        ),
        pytest.param(
            {
                "sales_lines.csv": None,
                "sales_log.csv": f"{WIDE_HEADER.split(',Alpha')[0]},Foo\n",
            },
            ["sales_log.csv", "another layout", "none of the SKU map"],
            id="log-without-products",
        ),
        pytest.param(
            {"sales_lines.csv": None}, ["sales_lines", "sales_log"], id="no-sales"
        ),
        pytest.param(
            {"assets.csv": ""}, ["assets.csv", "0 bytes"], id="empty-optional"
        ),
        pytest.param(
            {"sales_lines.csv": "invoice_id,invoice_id\n1,2\n"},
            ["sales_lines.csv", "duplicate column"],
            id="dup-header",
        ),
    ],
)
def test_file_level_defects_raise_naming_the_file(
    tmp_path: Path, cfg: GosalesConfig, files: dict[str, str | None], needles: list[str]
) -> None:
    base: dict[str, str | None] = {
        "sales_lines.csv": GOOD_SALES,
        "customers.csv": CUSTOMERS_3,
    }
    base.update(files)
    raw = folder_with(tmp_path, {k: v for k, v in base.items() if v is not None})
    with pytest.raises(RawInputError) as err:
        read_raw_folder(raw, cfg)
    assert isinstance(err.value, ValueError)
    for needle in needles:
        assert needle in str(err.value)


def test_same_stem_in_both_formats_is_refused(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    raw = folder_with(
        tmp_path, {"sales_lines.csv": GOOD_SALES, "customers.csv": CUSTOMERS_3}
    )
    pl.DataFrame({"customer_id": ["C1"]}).write_parquet(raw / "customers.parquet")
    with pytest.raises(RawInputError, match=r"customers\.csv and customers\.parquet"):
        read_raw_folder(raw, cfg)


def test_non_utf8_and_bad_parquet_are_refused(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    raw = folder_with(tmp_path, {"sales_lines.csv": GOOD_SALES})
    (raw / "customers.csv").write_bytes(b"customer_id,customer_name\nC1,Caf\xe9\n")
    with pytest.raises(RawInputError, match=r"customers\.csv.*UTF-8"):
        read_raw_folder(raw, cfg)
    (raw / "customers.csv").unlink()
    (raw / "customers.parquet").write_bytes(b"not a parquet file")
    with pytest.raises(RawInputError, match=r"customers\.parquet"):
        read_raw_folder(raw, cfg)


def test_missing_raw_folder(tmp_path: Path, cfg: GosalesConfig) -> None:
    with pytest.raises(RawInputError, match="does not exist"):
        read_raw_folder(tmp_path / "nope", cfg)


def test_symlink_out_of_the_folder_is_refused(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    outside = write(tmp_path / "elsewhere", "secret.csv", GOOD_SALES)
    raw = folder_with(tmp_path, {"customers.csv": CUSTOMERS_3})
    (raw / "sales_lines.csv").symlink_to(outside)
    with pytest.raises(
        RawInputError, match=r"sales_lines\.csv.*outside the raw folder"
    ):
        read_raw_folder(raw, cfg)


def test_symlink_inside_the_folder_is_fine(tmp_path: Path, cfg: GosalesConfig) -> None:
    raw = folder_with(tmp_path, {"customers.csv": CUSTOMERS_3})
    target = write(raw / "archive", "sales_v2.csv", GOOD_SALES)
    (raw / "sales_lines.csv").symlink_to(target)
    assert read_raw_folder(raw, cfg).sales_lines.height == 7


def test_wide_parquet_log_matches_wide_csv(tmp_path: Path, cfg: GosalesConfig) -> None:
    csv_dir = folder_with(
        tmp_path / "csv",
        {"sales_log.csv": f"{WIDE_HEADER}\n{WIDE_ROWS}", "customers.csv": CUSTOMERS_3},
    )
    pq_dir = folder_with(tmp_path / "pq", {"customers.csv": CUSTOMERS_3})
    day1, day2 = dt.date(2024, 3, 1), dt.date(2024, 3, 2)
    pl.DataFrame(
        {
            "Rec Date": [day1, day1, day2, day2],
            "CustomerId": ["C1", "C1", "00123", "123"],
            "Customer": ["Acme, Inc", "Acme, Inc", "Zero", "One"],
            "InvoiceId": ["INV-1", "INV-2", "INV-3", "INV-4"],
            "Branch": ["East", "East", "West", "West"],
            "Rep": ["Ann", "Ann", "Bob", "Bob"],
            "Division": ["D1", "D1", "D2", "D2"],
            "Alpha": [100.0, -50.0, None, 10.0],
            "Alpha_Qty": [1, -1, None, 1],
            "Beta": ["$1,200.50", None, None, None],  # text columns are parsed too
            "Beta GP": [None, None, None, 20.0],
            "Beta_Qty": [2, None, None, 1],
            "Gamma": [None, 0.0, 75.0, 0.0],
            "Gamma_Qty": [None, 3, 1, 0],
        }
    ).write_parquet(pq_dir / "sales_log.parquet")
    from_csv = read_raw_folder(csv_dir, cfg).sales_lines.drop("source_file")
    batch = read_raw_folder(pq_dir, cfg)
    assert batch.quarantine.is_empty()
    assert batch.sales_lines.drop("source_file").equals(from_csv)
    assert batch.report["files"]["sales_log"]["format"] == "parquet"
