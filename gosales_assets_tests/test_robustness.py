"""Issue 9: bad input, config errors, locks and a realistic defect rate lose nothing.

- Every row-level defect kind, one at a time in a good file: exactly one quarantine row
  (file, row, column, reason, value) and the good rows loaded.
- Accepted-but-awkward input (numbers and currency as text, quotes, BOM, CRLF) loads to
  exact values.
- File-level defects fail the Dagster ingest run with a message naming the file and the
  fix, and the previous ``raw`` tables stay exactly as they were.
- Config errors: ``test_robustness_config.py``.
- A DuckDB file locked by another process: the ingest run waits, logs it, then fails
  with an actionable message and writes nothing.
- A generated data set with ~0.5% injected defects of several kinds: the quarantine
  counts by reason (asset metadata ``quarantined_by_reason``) equal the injected counts
  and every good row is loaded.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import PIPE, Popen
from typing import Any

import dagster as dg
import pytest

from gosales_assets.config import (
    DEFAULT_CONFIG_PATH,
    GosalesConfig,
    current_config,
    load_config,
)
from gosales_assets.lib.ingest import RawBatch, RawInputError, read_raw_folder
from gosales_assets.lib.raw_store import raw_checksums
from gosales_assets.lib.store import Store
from gosales_assets.sample_data import generate

LOAD_DATE = dt.date(2024, 12, 31)
HEADER = (
    "invoice_id,line_no,order_date,customer_id,sku,quantity,gross_profit,revenue,rep,"
    "branch"
)
ROW_1 = "A1,1,2024-06-01,C1,PDM,1,100,,Ann,East"
ROW_3 = "A3,1,2024-06-03,C2,SWX_Core,1,900,,Bob,West"
CUSTOMERS = "customer_id,customer_name\nC1,Acme\nC2,Bolt\n"


@pytest.fixture(scope="module")
def cfg() -> GosalesConfig:
    return load_config(env={"GOSALES_LOAD_DATE": LOAD_DATE.isoformat()})


def _read(folder: Path, cfg: GosalesConfig, sales: bytes | str) -> RawBatch:
    folder.mkdir(parents=True, exist_ok=True)
    data = sales.encode("utf-8") if isinstance(sales, str) else sales
    (folder / "sales_lines.csv").write_bytes(data)
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    return read_raw_folder(folder, cfg)


def _sales(row_2: str) -> str:
    return "\n".join([HEADER, ROW_1, row_2, ROW_3]) + "\n"


# --- row-level defects: one at a time, exact outcome ---------------------------------

ROW_DEFECTS = [
    # (id, record 2, column, reason, value)
    (
        "date-feb-30",
        "A2,1,2024-02-30,C1,Training,2,50,,Ann,East",
        "order_date",
        "unparseable_date",
        "2024-02-30",
    ),
    (
        "date-slashes",
        "A2,1,2024/06/02,C1,Training,2,50,,Ann,East",
        "order_date",
        "unparseable_date",
        "2024/06/02",
    ),
    (
        "date-words",
        "A2,1,June 2 2024,C1,Training,2,50,,Ann,East",
        "order_date",
        "unparseable_date",
        "June 2 2024",
    ),
    (
        "date-with-time",
        "A2,1,2024-06-02 10:00:00,C1,Training,2,50,,Ann,East",
        "order_date",
        "unparseable_date",
        "2024-06-02 10:00:00",
    ),
    (
        "quantity-in-words",
        "A2,1,2024-06-02,C1,Training,two,50,,Ann,East",
        "quantity",
        "unparseable_number",
        "two",
    ),
    (
        "gp-euro-sign",
        "A2,1,2024-06-02,C1,Training,2,€5,,Ann,East",
        "gross_profit",
        "unparseable_number",
        "€5",
    ),
    (
        "gp-currency-code",
        "A2,1,2024-06-02,C1,Training,2,USD 5,,Ann,East",
        "gross_profit",
        "unparseable_number",
        "USD 5",
    ),
    (
        "gp-decimal-comma",
        'A2,1,2024-06-02,C1,Training,2,"1.234,50",,Ann,East',
        "gross_profit",
        "unparseable_number",
        "1.234,50",
    ),
    (
        "gp-nan",
        "A2,1,2024-06-02,C1,Training,2,nan,,Ann,East",
        "gross_profit",
        "unparseable_number",
        "nan",
    ),
    (
        "line-no-fraction",
        "A2,1.5,2024-06-02,C1,Training,2,50,,Ann,East",
        "line_no",
        "unparseable_number",
        "1.5",
    ),
    (
        "bad-optional-revenue",
        "A2,1,2024-06-02,C1,Training,2,50,abc,Ann,East",
        "revenue",
        "unparseable_number",
        "abc",
    ),
    (
        "empty-quantity",
        "A2,1,2024-06-02,C1,Training,,50,,Ann,East",
        "quantity",
        "missing_value",
        "",
    ),
    (
        "empty-gp",
        "A2,1,2024-06-02,C1,Training,2,,,Ann,East",
        "gross_profit",
        "missing_value",
        "",
    ),
    (
        "empty-date",
        "A2,1,,C1,Training,2,50,,Ann,East",
        "order_date",
        "missing_value",
        "",
    ),
    (
        "empty-customer",
        "A2,1,2024-06-02,,Training,2,50,,Ann,East",
        "customer_id",
        "empty_id",
        "",
    ),
    (
        "blank-invoice",
        "  ,1,2024-06-02,C1,Training,2,50,,Ann,East",
        "invoice_id",
        "empty_id",
        "  ",
    ),
    ("empty-sku", "A2,1,2024-06-02,C1,,2,50,,Ann,East", "sku", "empty_id", ""),
    (
        "unknown-sku",
        "A2,1,2024-06-02,C1,NOT_A_SKU,2,50,,Ann,East",
        "sku",
        "unknown_sku",
        "NOT_A_SKU",
    ),
    (
        "sku-wrong-case",
        "A2,1,2024-06-02,C1,pdm,2,50,,Ann,East",
        "sku",
        "unknown_sku",
        "pdm",
    ),
    (
        "duplicate-line-id",
        "A1,1,2024-06-02,C1,Training,2,50,,Ann,East",
        "invoice_id,line_no",
        "duplicate_line_id",
        "A1,1",
    ),
    (
        "duplicate-after-trim",
        " A1 ,1,2024-06-02,C1,Training,2,50,,Ann,East",
        "invoice_id,line_no",
        "duplicate_line_id",
        "A1,1",
    ),
    (
        "after-load-date",
        "A2,1,2025-01-01,C1,Training,2,50,,Ann,East",
        "order_date",
        "date_after_load_date",
        "2025-01-01",
    ),
    (
        "ragged-short",
        "A2,1,2024-06-02,C1,Training,2,50",
        None,
        "ragged_row",
        "7 fields; the header has 10",
    ),
    (
        "ragged-long",
        "A2,1,2024-06-02,C1,Training,2,50,,Ann,East,x",
        None,
        "ragged_row",
        "11 fields; the header has 10",
    ),
]


@pytest.mark.parametrize(
    ("row_2", "column", "reason", "value"),
    [pytest.param(*case[1:], id=case[0]) for case in ROW_DEFECTS],
)
def test_each_row_defect_is_quarantined_and_the_good_rows_load(
    tmp_path: Path,
    cfg: GosalesConfig,
    row_2: str,
    column: str | None,
    reason: str,
    value: str,
) -> None:
    batch = _read(tmp_path / "raw", cfg, _sales(row_2))
    got = batch.quarantine.select(
        "source_file", "source_row", "column", "reason", "value"
    ).rows()
    assert got == [("sales_lines.csv", 2, column, reason, value)]
    record = json.loads(batch.quarantine.item(0, "record"))
    assert record["invoice_id"] == row_2.split(",")[0]  # the raw record, verbatim
    assert batch.sales_lines.select("invoice_id", "source_row").rows() == [
        ("A1", 1),
        ("A3", 3),
    ]
    info = batch.report["files"]["sales_lines"]
    assert info["quarantined"] == {reason: 1}
    assert (info["rows_read"], info["rows_loaded"]) == (3, 2)
    assert batch.report["quarantined"] == {reason: 1}


# --- accepted input: exact values ---------------------------------------------------

ACCEPTED = [
    # (id, record 2, column, parsed value)
    (
        "number-as-quoted-text",
        'A2,1,2024-06-02,C1,Training,2,"1,200",,Ann,East',
        "gross_profit",
        1200.0,
    ),
    (
        "number-with-spaces",
        "A2,1,2024-06-02,C1,Training, 3.0 ,50,,Ann,East",
        "quantity",
        3.0,
    ),
    (
        "currency",
        'A2,1,2024-06-02,C1,Training,2,"$1,234.50",,Ann,East',
        "gross_profit",
        1234.5,
    ),
    (
        "currency-negative-parens",
        'A2,1,2024-06-02,C1,Training,2,"($2,000.00)",,Ann,East',
        "gross_profit",
        -2000.0,
    ),
    (
        "whole-line-no-as-decimal",
        "A2,2.0,2024-06-02,C1,Training,2,50,,Ann,East",
        "line_no",
        2,
    ),
    (
        "second-date-format",
        "A2,1,6/2/2024,C1,Training,2,50,,Ann,East",
        "order_date",
        dt.date(2024, 6, 2),
    ),
    (
        "dated-on-load-date",
        "A2,1,2024-12-31,C1,Training,2,50,,Ann,East",
        "order_date",
        LOAD_DATE,
    ),
    ("sku-padded", "A2,1,2024-06-02,C1, Training ,2,50,,Ann,East", "sku", "Training"),
    (
        "ids-stay-text",
        "00A2,01,2024-06-02,007,Training,2,50,,Ann,East",
        "customer_id",
        "007",
    ),
    (
        "quoted-comma-and-quotes",
        'A2,1,2024-06-02,C1,Training,2,50,,"Smith, ""JJ"" Jr",East',
        "rep",
        'Smith, "JJ" Jr',
    ),
    (
        "literal-quote-unquoted-field",
        'A2,1,2024-06-02,C1,Training,2,50,,O"Brien,East',
        "rep",
        'O"Brien',
    ),
    (
        "line-break-in-quotes",
        'A2,1,2024-06-02,C1,Training,2,50,,"Ann\nSmith",East',
        "rep",
        "Ann\nSmith",
    ),
]


@pytest.mark.parametrize(
    ("row_2", "column", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in ACCEPTED],
)
def test_awkward_but_valid_input_loads_exactly(
    tmp_path: Path, cfg: GosalesConfig, row_2: str, column: str, expected: Any
) -> None:
    batch = _read(tmp_path / "raw", cfg, _sales(row_2))
    assert batch.quarantine.is_empty()
    lines = batch.sales_lines.sort("source_row")
    assert lines.get_column("source_row").to_list() == [1, 2, 3]  # records, not lines
    assert lines.row(1, named=True)[column] == expected


def test_bom_and_windows_line_endings_change_nothing(
    tmp_path: Path, cfg: GosalesConfig
) -> None:
    text = _sales('A2,1,2024-06-02,C1,Training,2,"$1,234.50",,"Smith, ""JJ""",East')
    plain = _read(tmp_path / "plain", cfg, text)
    crlf = _read(
        tmp_path / "bom_crlf",
        cfg,
        b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode(),
    )
    assert crlf.quarantine.is_empty()
    assert crlf.sales_lines.equals(plain.sales_lines)  # first column found, no "\r"
    assert crlf.sales_lines.get_column("branch").to_list() == ["East", "East", "West"]


FILE_DEFECTS = [
    # (id, files changed (None = deleted), needles in the message)
    (
        "missing-required-column",
        {
            "sales_lines.csv": "invoice_id,order_date,customer_id,sku,quantity\n"
            "I,2024-01-01,C1,PDM,1\n"
        },
        ["sales_lines.csv: missing required column(s)", "gross_profit", "Add the"],
    ),
    (
        "empty-file",
        {"sales_lines.csv": b""},
        ["sales_lines.csv: the file is empty (0 bytes)", "write at least the header"],
    ),
    (
        "empty-optional-file",
        {"assets.csv": b""},
        ["assets.csv: the file is empty (0 bytes)", "or remove the file"],
    ),
    (
        "header-only",
        {"sales_lines.csv": f"{HEADER}\n"},
        ["sales_lines.csv: no rows (only a header)", "export the data rows"],
    ),
    (
        "blank-first-line",
        {"sales_lines.csv": "\n\n"},
        ["sales_lines.csv: the first line is not a header row", "add one"],
    ),
    (
        "not-utf8",
        {"customers.csv": b"customer_id,customer_name\nC1,Caf\xe9\n"},
        ["customers.csv: is not UTF-8 text", "re-export it as UTF-8"],
    ),
    (
        "missing-customers",
        {"customers.csv": None},
        ["customers.csv: missing in", "add customers.csv or customers.parquet"],
    ),
    (
        "both-layouts",
        {"sales_log.csv": "Date,Customer,Amount\n2024-01-01,C1,5\n"},
        ["sales_lines.csv and sales_log.csv", "not both; remove one"],
    ),
    (
        "sales-log-of-another-layout",
        {"sales_lines.csv": None, "sales_log.csv": f"{HEADER}\n{ROW_1}\n"},
        ["sales_log.csv: sales log from another layout", "Rec Date", "sku_map.csv"],
    ),
]


def _apply(raw: Path, files: dict[str, str | bytes | None]) -> None:
    for name, content in files.items():
        if content is None:
            (raw / name).unlink()
        else:
            data = content if isinstance(content, bytes) else content.encode()
            (raw / name).write_bytes(data)


@pytest.mark.parametrize(
    ("files", "needles"),
    [pytest.param(*case[1:], id=case[0]) for case in FILE_DEFECTS],
)
def test_file_level_defect_names_the_file_and_the_fix(
    tmp_path: Path,
    cfg: GosalesConfig,
    files: dict[str, str | bytes | None],
    needles: list[str],
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "sales_lines.csv").write_text(_sales(ROW_3.replace("A3", "A2")))
    (raw / "customers.csv").write_text(CUSTOMERS)
    _apply(raw, files)
    with pytest.raises(RawInputError) as err:
        read_raw_folder(raw, cfg)
    for needle in needles:
        assert needle in str(err.value)


# --- Dagster: file-level defects stop the run, nothing is written ---------------------


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    """One ephemeral Dagster instance for the module's runs (each test has its own
    store and raw folder; run records are independent)."""
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def dagster_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Environment of a Dagster run with all state under ``tmp_path``."""
    monkeypatch.setenv("GOSALES_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GOSALES_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("GOSALES_LOAD_DATE", LOAD_DATE.isoformat())
    monkeypatch.delenv("GOSALES_CONFIG", raising=False)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "sales_lines.csv").write_text(_sales(ROW_3.replace("A3", "A2")))
    (raw / "customers.csv").write_text(CUSTOMERS)
    return raw


def _run(
    instance: dg.DagsterInstance, job: str, **kw: Any
) -> dg.ExecuteInProcessResult:
    from gosales_assets.definitions import defs

    return (
        defs()
        .resolve_job_def(job)
        .execute_in_process(instance=instance, raise_on_error=False, **kw)
    )


def _failure_text(result: dg.ExecuteInProcessResult) -> str:
    """The error message of the first failed step, with its causes."""
    error = result.get_step_failure_events()[0].step_failure_data.error
    parts = []
    while error is not None:
        parts.append(error.message)
        error = error.cause
    return "\n".join(parts)


def _raw_state(store: Store) -> dict[str, Any]:
    with store.connect(read_only=True) as con:
        state: dict[str, Any] = dict(raw_checksums(con))
        row = con.execute("SELECT value FROM raw.load_report").fetchone()
        state["raw.load_report"] = row[0] if row else None
    return state


def test_file_level_defect_fails_the_run_and_keeps_the_previous_raw_tables(
    dagster_env: Path, instance: dg.DagsterInstance
) -> None:
    raw = dagster_env
    assert _run(instance, "ingest_job").success
    store = Store(current_config().duckdb_path)
    before = _raw_state(store)
    assert before["raw.sales_lines"].startswith("rows=3;")
    # Every file-level defect takes the same path (RawInputError before any write);
    # the messages of all of them are checked above without Dagster.
    _, files, needles = FILE_DEFECTS[0]
    _apply(raw, files)
    result = _run(instance, "ingest_job")
    assert not result.success
    message = _failure_text(result)
    assert "raw input refused, nothing was written" in message
    for needle in needles:
        assert needle in message, (needle, message)
    assert _raw_state(store) == before  # the previous version, whole


# --- Dagster: a locked store --------------------------------------------------------


@pytest.fixture
def short_lock_timeout(
    config_copy: Path, monkeypatch: pytest.MonkeyPatch, dagster_env: Path
) -> Path:
    """``GOSALES_CONFIG`` = a config copy with ``ingest.lock_timeout_seconds: 1``."""
    text = config_copy.read_text()
    old = "lock_timeout_seconds: 120"
    assert old in text
    config_copy.write_text(text.replace(old, "lock_timeout_seconds: 1"))
    monkeypatch.setenv("GOSALES_CONFIG", str(config_copy))
    return config_copy


HOLDER = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1])
con.execute("CREATE SCHEMA raw")
con.execute("CREATE TABLE raw.sales_lines AS SELECT 'PREVIOUS' AS invoice_id")
print("locked", flush=True)
time.sleep(60)
"""


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[Callable[[Path], Popen[str]]]:
    """``start(path)``: a subprocess that writes a "previous version" into the DuckDB
    file at ``path`` and then keeps holding its write lock."""
    procs: list[Popen[str]] = []

    def start(path: Path) -> Popen[str]:
        path.parent.mkdir(parents=True, exist_ok=True)
        proc = Popen([sys.executable, "-c", HOLDER, str(path)], stdout=PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        return proc

    try:
        yield start
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=30)


def test_locked_store_fails_the_ingest_run_with_an_actionable_message(
    short_lock_timeout: Path,
    lock_holder: Callable[[Path], Popen[str]],
    instance: dg.DagsterInstance,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = current_config()
    assert cfg.ingest.lock_timeout_seconds == 1
    holder = lock_holder(cfg.duckdb_path)
    caplog.set_level(logging.INFO, logger="gosales.store")
    began = time.monotonic()
    result = _run(instance, "ingest_job")
    waited = time.monotonic() - began
    assert not result.success
    message = _failure_text(result)
    for needle in (
        "StoreLockedError",
        f"the DuckDB store {cfg.duckdb_path} is locked by another process",
        "Waited 1s (ingest.lock_timeout_seconds)",
        "Close analyst sessions on this file",
        "or wait for the other run to finish, then retry",
    ):
        assert needle in message, (needle, message)
    assert waited >= 1.0
    waits = [r for r in caplog.records if "store locked, waiting" in r.getMessage()]
    assert len(waits) == 1 and waits[0].levelno == logging.WARNING
    assert f"path={cfg.duckdb_path}" in waits[0].getMessage()
    holder.kill()
    holder.wait(timeout=30)
    # Nothing of the failed run reached the file: the holder's version is all there is.
    store = Store(cfg.duckdb_path)
    tables = store.query(
        "SELECT table_schema || '.' || table_name AS t "
        "FROM information_schema.tables ORDER BY 1",
        read_only=True,
    )
    assert tables["t"].to_list() == ["raw.sales_lines"]
    lines = store.query("SELECT invoice_id FROM raw.sales_lines", read_only=True)
    assert lines["invoice_id"].to_list() == ["PREVIOUS"]


# --- a realistic run: ~0.5% defective rows ------------------------------------------

GEN_START, GEN_END = dt.date(2021, 1, 1), dt.date(2023, 12, 31)
DEFECT_KINDS: dict[str, tuple[str | None, Any]] = {
    # reason -> (column, how a good record is damaged)
    "unparseable_date": ("order_date", lambda r: r | {"order_date": "2023-02-30"}),
    "unparseable_number": ("gross_profit", lambda r: r | {"gross_profit": "12 USD"}),
    "missing_value": ("quantity", lambda r: r | {"quantity": ""}),
    "empty_id": ("customer_id", lambda r: r | {"customer_id": " "}),
    "unknown_sku": ("sku", lambda r: r | {"sku": "NOT_A_SKU"}),
    "date_after_load_date": ("order_date", lambda r: r | {"order_date": "2024-02-01"}),
    "ragged_row": (None, None),  # the last two fields dropped
    "duplicate_line_id": ("invoice_id,line_no", None),  # the record repeated verbatim
}


def _currency(text: str) -> str:
    value = float(text)
    body = f"${abs(value):,.2f}"
    return f"({body})" if value < 0 else body


def _inject(
    records: list[dict[str, str]], header: list[str], seed: int
) -> tuple[list[list[str]], list[tuple[int, str]], set[int]]:
    """The records with ~0.5% defective records inserted (each after the good record
    it is made from) and ~0.5% good records rewritten as currency text. Returns the
    rows, the expected ``(source_row, reason)`` of every defect, and the source rows
    of the currency-text records."""
    rng = random.Random(seed)
    n_defects = max(len(DEFECT_KINDS), round(len(records) * 0.005))
    kinds = [list(DEFECT_KINDS)[i % len(DEFECT_KINDS)] for i in range(n_defects)]
    after = dict(
        zip(sorted(rng.sample(range(len(records)), n_defects)), kinds, strict=True)
    )
    currency = set(rng.sample(range(len(records)), n_defects))
    rows: list[list[str]] = []
    expected: list[tuple[int, str]] = []
    currency_rows: set[int] = set()
    for i, rec in enumerate(records):
        good = dict(rec)
        if i in currency:
            good["gross_profit"] = _currency(good["gross_profit"])
            currency_rows.add(len(rows) + 1)
        rows.append([good[c] for c in header])
        kind = after.get(i)
        if kind is None:
            continue
        bad = dict(rec) | {"invoice_id": f"BAD-{i}"}
        damage = DEFECT_KINDS[kind][1]
        if kind == "duplicate_line_id":
            bad = dict(rec)
        elif kind != "ragged_row":
            bad = damage(bad)
        row = [bad[c] for c in header]
        rows.append(row[:-2] if kind == "ragged_row" else row)
        expected.append((len(rows), kind))
    return rows, expected, currency_rows


def test_half_a_percent_defects_are_counted_exactly_and_good_rows_all_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, instance: dg.DagsterInstance
) -> None:
    raw = tmp_path / "raw"
    env = {
        "GOSALES_HOME": str(tmp_path / "home"),
        "GOSALES_RAW_DIR": str(raw),
        "GOSALES_LOAD_DATE": GEN_END.isoformat(),
    }
    cfg = load_config(DEFAULT_CONFIG_PATH, env=env)
    generate(raw, cfg, customers=300, start=GEN_START, end=GEN_END, seed=9)
    (raw / "contacts.csv").unlink()  # a missing optional file is fine
    clean = read_raw_folder(raw, cfg)
    assert clean.quarantine.is_empty()  # every defect below is injected by the test

    path = raw / "sales_lines.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        records = list(reader)
    rows, expected, currency_rows = _inject(records, header, seed=20240630)
    n_total = len(rows)
    assert 0.004 <= len(expected) / n_total <= 0.006
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # Windows line endings
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode("utf-8"))  # and a BOM

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GOSALES_CONFIG", raising=False)
    cutoff = GEN_END
    ingest = _run(instance, "ingest_job")
    assert ingest.success
    star = _run(instance, "star_job", partition_key=cutoff.isoformat())
    assert star.success

    injected = Counter(reason for _, reason in expected)
    assert set(injected) == set(DEFECT_KINDS)  # every kind at least once

    def meta(result: dg.ExecuteInProcessResult, node: str) -> dict[str, Any]:
        mats = result.asset_materializations_for_node(node)
        return {m.asset_key.to_user_string(): m.metadata for m in mats}

    raw_meta = meta(ingest, "raw_ingest")
    assert raw_meta["raw/quarantine"]["quarantined_by_reason"].data == dict(injected)
    # star.quarantine at the cutoff holds the records dated on or before it (or
    # undated): everything except the rows dated after the load date (= cutoff).
    star_meta = meta(star, "star_schema")
    in_star = {r: n for r, n in injected.items() if r != "date_after_load_date"}
    assert star_meta["star/quarantine"]["quarantined_by_reason"].data == in_star
    report = raw_meta["raw/sales_lines"]["load_report"].data
    assert report["missing_optional"] == ["contacts"]
    assert report["files"]["sales_lines"]["rows_read"] == n_total
    assert raw_meta["raw/contacts"]["dagster/row_count"].value == 0

    store = Store(current_config().duckdb_path)
    quarantine = store.query(
        'SELECT source_file, source_row, "column", reason FROM raw.quarantine '
        "ORDER BY source_row"
    )
    assert quarantine.rows() == [
        ("sales_lines.csv", row, DEFECT_KINDS[reason][0], reason)
        for row, reason in expected
    ]
    # Every good row is loaded, unchanged (the currency-text rows parse to the same
    # values); only source_row moved where records were inserted before it.
    key = ["invoice_id", "line_no"]
    loaded = store.query("SELECT * FROM raw.sales_lines").sort(key)
    good = clean.sales_lines.sort(key)
    assert loaded.height == good.height == n_total - len(expected)
    assert loaded.drop("source_row").equals(good.drop("source_row"))
    assert currency_rows <= set(loaded.get_column("source_row").to_list())
    fact = store.query(
        "SELECT count(*) AS n, sum(gross_profit) AS gp FROM star.fact_transactions "
        "WHERE cutoff = ?",
        [cutoff],
    )
    assert fact["n"][0] == clean.sales_lines.height
    assert fact["gp"][0] == pytest.approx(clean.sales_lines["gross_profit"].sum())


def test_injection_helper_places_defects_where_it_says() -> None:
    header = ["invoice_id", "line_no", "order_date", "customer_id", "sku"]
    header += ["quantity", "gross_profit"]
    values = ["1", "2023-01-01", "C", "PDM", "1", "-5"]
    records = [dict(zip(header, [f"I{i}", *values], strict=True)) for i in range(1000)]
    rows, expected, currency_rows = _inject(records, header, seed=1)
    assert len(rows) == 1000 + len(expected) and len(expected) == 8
    for source_row, reason in expected:
        row = rows[source_row - 1]
        if reason == "ragged_row":
            assert len(row) == len(header) - 2
        elif reason == "duplicate_line_id":
            assert row[:2] == rows[source_row - 2][:2]  # the key of the record before
        else:
            assert row[0].startswith("BAD-")
    assert all(rows[r - 1][-1] == "($5.00)" for r in currency_rows)
