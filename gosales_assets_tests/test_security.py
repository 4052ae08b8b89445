"""Issue 9, security: hostile names from config or data never reach SQL unquoted, no
secrets or URLs in the committed config, and the web UI binds to 127.0.0.1.

(Raw file names cannot escape the raw folder: ``test_ingest.py``; ``table_ref``
refuses injected table names: ``test_store.py``.)
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shlex
from pathlib import Path

import polars as pl
import pytest

from gosales_assets.config import (
    DEFAULT_CONFIG_PATH,
    PROJECT_ROOT,
    ConfigError,
    GosalesConfig,
    load_config,
)
from gosales_assets.lib.features.naming import slug
from gosales_assets.lib.ingest import read_raw_folder
from gosales_assets.lib.raw_store import raw_frames, write_raw
from gosales_assets.lib.star import STAR_TABLES, build_star
from gosales_assets.lib.store import Store, replace_partition_frame

DROP_FACT = 'x"; DROP TABLE star.fact_transactions; --'
DROP_RAW = "Robert'); DROP TABLE raw.sales_lines; --"
SPACED = "Success Plan"  # a SKU name with a space (the map has the division)
UNKNOWN = "'; DELETE FROM raw.quarantine; --"
HOSTILE_CUSTOMER = "1'); DROP TABLE star.dim_customer; --"
HOSTILE_NAME = 'Acme "Tables", Inc.; DROP SCHEMA star CASCADE; --'
SAFE_TARGET = "x; DROP TABLE star.fact_transactions; --"  # no forbidden character
CUTOFF = dt.date(2024, 6, 30)

SKU_ROWS = [
    # sku, division, family, sale_type, gp_column, qty_column, gp_aliases
    (DROP_FACT, SPACED, "F", "License", f"{DROP_FACT} GP", f"{DROP_FACT} Qty", ""),
    (SPACED, DROP_FACT, "F", "Service", "SP GP", "SP Qty", ""),
    (DROP_RAW, DROP_RAW, DROP_RAW, DROP_RAW, DROP_RAW, f"{DROP_RAW} Qty", ""),
]


def _csv_text(rows: list[list[str]] | list[tuple[str, ...]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@pytest.fixture
def hostile_config(config_copy: Path, tmp_path: Path) -> GosalesConfig:
    """The default config plus hostile SKUs/divisions in the SKU map and a target
    named like an SQL statement (allowed: it has no forbidden character)."""
    sku_map = config_copy.parent / "sku_map.csv"
    sku_map.write_text(sku_map.read_text() + _csv_text(SKU_ROWS))
    text = config_copy.read_text()
    anchor = "  - {name: SW_Inspection, skus: [SW_Inspection]}\n"
    assert anchor in text
    extra = (
        f"  - name: {json.dumps(SAFE_TARGET)}\n    skus: {json.dumps([DROP_FACT])}\n"
    )
    config_copy.write_text(text.replace(anchor, anchor + extra))
    return load_config(
        config_copy,
        env={
            "GOSALES_HOME": str(tmp_path / "home"),
            "GOSALES_LOAD_DATE": "2024-12-31",
        },
    )


def _tables(store: Store) -> set[str]:
    found = store.query(
        "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables"
    )
    return set(found["t"].to_list())


def test_hostile_names_flow_through_ingest_and_star_verbatim(
    hostile_config: GosalesConfig, tmp_path: Path
) -> None:
    cfg = hostile_config
    assert cfg.sku_map.skus[-3:] == [DROP_FACT, SPACED, DROP_RAW]
    assert SAFE_TARGET in cfg.target_names
    assert cfg.target_skus(SAFE_TARGET) == [DROP_FACT]

    raw = tmp_path / "raw"
    raw.mkdir()
    header = "invoice_id,line_no,order_date,customer_id,sku,quantity,gross_profit,rep"
    sales = [
        ["I1", "1", "2024-06-01", HOSTILE_CUSTOMER, DROP_FACT, "1", "10", DROP_RAW],
        ["I1", "2", "2024-06-01", HOSTILE_CUSTOMER, SPACED, "2", "20", DROP_FACT],
        ["I2", "1", "2024-06-02", "C2", DROP_RAW, "3", "30", "Ann"],
        ["I3", "1", "2024-06-03", "C2", UNKNOWN, "1", "5", "Ann"],
        [DROP_FACT, "1", "2024-06-04", "C2", "PDM", "1", "40", "Ann"],
    ]
    (raw / "sales_lines.csv").write_text(f"{header}\n{_csv_text(sales)}")
    customers = [[HOSTILE_CUSTOMER, HOSTILE_NAME], ["C2", DROP_FACT]]
    (raw / "customers.csv").write_text(
        f"customer_id,customer_name\n{_csv_text(customers)}"
    )
    (raw / "open_deals.csv").write_text(
        "customer_id,division,opened_date\n"
        + _csv_text([["C2", DROP_FACT, "2024-05-01"], ["C2", UNKNOWN, "2024-05-01"]])
    )

    batch = read_raw_folder(raw, cfg)
    store = Store(tmp_path / "s.duckdb", lock_timeout_seconds=1)
    with store.transaction() as con:
        write_raw(con, raw_frames(batch), batch.report)
        build = build_star(con, cfg, CUTOFF)
    assert all(o.passed for o in build.checks)
    with store.transaction() as con:  # replacing the partition again: DELETE path
        build = build_star(con, cfg, CUTOFF)
    assert all(o.passed for o in build.checks)

    # Nothing was dropped or deleted: every table exists and holds the data.
    assert {*STAR_TABLES, "raw.sales_lines", "raw.quarantine"} <= _tables(store)
    fact = store.query(
        "SELECT invoice_id, line_no, customer_id, sku, division, family, rep "
        "FROM star.fact_transactions ORDER BY invoice_id, line_no"
    )
    assert fact.rows() == [
        ("I1", 1, HOSTILE_CUSTOMER, DROP_FACT, SPACED, "F", DROP_RAW),
        ("I1", 2, HOSTILE_CUSTOMER, SPACED, DROP_FACT, "F", DROP_FACT),
        ("I2", 1, "C2", DROP_RAW, DROP_RAW, DROP_RAW, "Ann"),
        (DROP_FACT, 1, "C2", "PDM", "PDM", "PDM", "Ann"),
    ]
    quarantine = store.query(
        'SELECT source_row, "column", reason, value FROM star.quarantine '
        "ORDER BY source_file, source_row"
    )
    assert quarantine.rows() == [
        (2, "division", "unknown_division", UNKNOWN),  # open_deals.csv
        (4, "sku", "unknown_sku", UNKNOWN),  # sales_lines.csv
    ]
    assert build.quarantine_by_reason == {"unknown_division": 1, "unknown_sku": 1}
    names = store.query(
        "SELECT customer_id, customer_name FROM star.dim_customer ORDER BY 1"
    )
    assert names.rows() == [(HOSTILE_CUSTOMER, HOSTILE_NAME), ("C2", DROP_FACT)]
    deals = store.query("SELECT division FROM star.open_deals")
    assert deals["division"].to_list() == [DROP_FACT]
    dim_sku = store.query(
        "SELECT sku, division, gp_column FROM star.dim_sku "
        "WHERE sku IN (?, ?, ?) ORDER BY sku_position",
        [DROP_FACT, SPACED, DROP_RAW],
    )
    assert dim_sku.rows() == [
        (DROP_FACT, SPACED, f"{DROP_FACT} GP"),
        (SPACED, DROP_FACT, "SP GP"),
        (DROP_RAW, DROP_RAW, DROP_RAW),
    ]
    targets = store.query(
        "SELECT target, kind, sku FROM star.dim_target_sku WHERE target = ?",
        [SAFE_TARGET],
    )
    assert targets.rows() == [(SAFE_TARGET, "sku_set", DROP_FACT)]


def test_hostile_wide_log_columns_are_read_as_data(
    hostile_config: GosalesConfig, tmp_path: Path
) -> None:
    """Wide-log product columns are named by the SKU map; hostile names are just
    column names to match, never code."""
    raw = tmp_path / "raw"
    raw.mkdir()
    header = ["Rec Date", "CustomerId", "Customer", "InvoiceId", "Branch", "Rep"]
    header += ["Division", f"{DROP_FACT} GP", f"{DROP_FACT} Qty", DROP_RAW]
    header += [f"{DROP_RAW} Qty"]
    fixed = ["2024-06-01", "C1", HOSTILE_NAME, "W1", "East", DROP_RAW, DROP_FACT]
    rows = [header, [*fixed, "10", "1", "$5.00", "2"]]
    (raw / "sales_log.csv").write_text(_csv_text(rows))
    (raw / "customers.csv").write_text("customer_id\nC1\n")
    batch = read_raw_folder(raw, hostile_config)
    assert batch.quarantine.is_empty()
    got = batch.sales_lines.select("sku", "quantity", "gross_profit").rows()
    assert sorted(got) == sorted([(DROP_FACT, 1.0, 10.0), (DROP_RAW, 2.0, 5.0)])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            {"name": DROP_FACT, "skus": ["PDM"]},
            r"targets\.\d+\.name: contains forbidden character\(s\) \['\"'\]",
            id="quote-in-target-name",
        ),
        pytest.param(
            {"name": "A|B", "skus": ["PDM"]},
            r"targets\.\d+\.name: contains forbidden character\(s\) \['\|'\]",
            id="pipe-in-target-name",
        ),
        pytest.param(
            {"name": "Hostile", "division": DROP_FACT},
            r"targets\.\d+\.division: contains forbidden character\(s\) \['\"'\]",
            id="quote-in-target-division",
        ),
    ],
)
def test_target_names_with_forbidden_characters_are_refused_at_load(
    config_copy: Path, edit: dict[str, object], message: str
) -> None:
    sku_map = config_copy.parent / "sku_map.csv"
    sku_map.write_text(sku_map.read_text() + _csv_text(SKU_ROWS))
    text = config_copy.read_text()
    anchor = "  - {name: SW_Inspection, skus: [SW_Inspection]}\n"
    config_copy.write_text(text.replace(anchor, f"{anchor}  - {json.dumps(edit)}\n"))
    with pytest.raises(ConfigError, match=message):
        load_config(config_copy, env={})


def test_store_quotes_hostile_column_names(tmp_path: Path) -> None:
    """Partition and order-by columns named like SQL are quoted identifiers."""
    column = 'k"; DROP TABLE x.t; --'
    store = Store(tmp_path / "s.duckdb")

    def write(value: str, payload: str) -> int:
        frame = pl.DataFrame({"cutoff": [CUTOFF], column: [value], "v": [payload]})
        with store.transaction() as con:
            return replace_partition_frame(
                con,
                "x.t",
                frame,
                partition={"cutoff": CUTOFF, column: value},
                order_by=[column],
            )

    assert write(DROP_FACT, "first") == 1
    assert write(SPACED, "other") == 1
    assert write(DROP_FACT, "second") == 1  # replaces its partition: DELETE path
    got = store.query("SELECT * FROM x.t ORDER BY 2")
    assert got.columns == ["cutoff", column, "v"]
    assert got.select(column, "v").rows() == [(SPACED, "other"), (DROP_FACT, "second")]


def test_feature_column_names_from_hostile_labels_are_plain_identifiers() -> None:
    for label in (DROP_FACT, DROP_RAW, SPACED, UNKNOWN, SAFE_TARGET, "Ünïcode ✓"):
        assert re.fullmatch(r"[a-z][a-z0-9_]*", slug(label)), label


# --- secrets and network exposure ----------------------------------------------------

URL = re.compile(r"\b[a-z][a-z0-9+.-]*://", re.IGNORECASE)
SECRET_KEY = re.compile(
    r"(password|passwd|secret|token|api[_-]?key|credential|webhook|dsn)\s*:",
    re.IGNORECASE,
)
SECRET_VALUE = re.compile(
    r"(AKIA[0-9A-Z]{16}|xox[abpr]-[0-9A-Za-z-]+|gh[pous]_[0-9A-Za-z]{20,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----|hooks\.slack\.com)"
)


@pytest.mark.parametrize(
    "path",
    [DEFAULT_CONFIG_PATH, DEFAULT_CONFIG_PATH.parent / "sku_map.csv"],
    ids=lambda p: p.name,
)
def test_committed_config_holds_no_urls_or_secrets(path: Path) -> None:
    """Webhook URLs and credentials come only from the environment."""
    text = path.read_text(encoding="utf-8")
    assert not URL.search(text), URL.search(text)
    assert not SECRET_KEY.search(text), SECRET_KEY.search(text)
    assert not SECRET_VALUE.search(text), SECRET_VALUE.search(text)


def test_secret_patterns_would_catch_the_usual_suspects() -> None:
    assert URL.search("notify: https://hooks.example.com/T000/B000")
    assert SECRET_KEY.search("  api_key: abc")
    assert SECRET_VALUE.search("url: hooks.slack.com/services/T0/B0/x")


def _recipe(makefile: str, target: str) -> list[str]:
    """The recipe lines of ``target`` in a Makefile."""
    lines = makefile.splitlines()
    start = lines.index(next(x for x in lines if x.startswith(f"{target}:")))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def test_make_dev_binds_the_ui_to_localhost() -> None:
    recipe = _recipe((PROJECT_ROOT / "Makefile").read_text(), "dev")
    servers = [shlex.split(x) for x in recipe if "dagster dev" in x]
    assert len(servers) == 1, recipe
    args = servers[0]
    hosts = [args[i + 1] for i, a in enumerate(args) if a in ("-h", "--host")]
    assert hosts == ["127.0.0.1"], args
    assert "0.0.0.0" not in " ".join(recipe)
