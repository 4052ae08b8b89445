"""Fuzzing the two loaders that read what people hand us (issue 9, item 7).

- The config loader: random mutations of a copy of ``config/gosales.yaml`` (structured:
  a value replaced, a key dropped or added; textual: a slice deleted or text inserted)
  either load or raise :class:`ConfigError`, never another exception.
- The raw reader: random small CSV files as ``sales_lines.csv`` either give a
  :class:`RawBatch` or raise :class:`RawInputError`; a batch accounts for every record
  exactly once (loaded or quarantined).

The number and date parsers and the CSV tokenizer are fuzzed in ``test_parsing.py``.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gosales_assets.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    GosalesConfig,
    load_config,
)
from gosales_assets.lib.ingest import RawBatch, RawInputError, read_raw_folder

FUZZ = settings(
    max_examples=80,
    deadline=None,
    database=None,  # write nothing outside the scratch folder
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BASE_YAML = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
BASE_DATA: dict[str, Any] = yaml.safe_load(BASE_YAML)
LOAD_DATE = "2024-12-31"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scratch folder per module (hypothesis runs many examples per test, so the
    function-scoped ``tmp_path`` cannot be used); every example overwrites its files."""
    return tmp_path_factory.mktemp("fuzz")


# --- config loader --------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "0", "-1", "2021-01-01", "%Y", "CPE", "PDM", "../x", "~"]),
    st.dates().map(str),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into a YAML tree (mapping keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


ALL_PATHS = _paths(BASE_DATA)


def _parent(tree: Any, path: tuple[Any, ...]) -> Any:
    node = tree
    for key in path[:-1]:
        node = node[key]
    return node


@st.composite
def mutated_config(draw: st.DrawFn) -> str:
    """A YAML text: the default config with one to three structural or textual edits."""
    if draw(st.booleans()):
        data = copy.deepcopy(BASE_DATA)
        for _ in range(draw(st.integers(1, 3))):
            path = draw(st.sampled_from(ALL_PATHS))
            try:
                parent = _parent(data, path)
                action = draw(st.sampled_from(["replace", "delete", "add"]))
                if action == "replace":
                    parent[path[-1]] = draw(VALUES)
                elif action == "delete" and isinstance(parent, dict):
                    parent.pop(path[-1], None)
                elif action == "delete" and isinstance(parent, list) and parent:
                    parent.pop(min(path[-1], len(parent) - 1))
                elif isinstance(parent, dict):
                    parent[draw(st.text(min_size=1, max_size=8))] = draw(VALUES)
            except (KeyError, IndexError, TypeError):
                pass  # an earlier edit removed or retyped this path: skip it
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    text = BASE_YAML
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 40)))
        insert = draw(
            st.one_of(
                st.just(""),
                st.text(
                    alphabet=":-[]{}#&*!|>'\"%@`, \n\t0123456789abcxyz", max_size=8
                ),
            )
        )
        text = text[:start] + insert + text[end:]
    return text


@FUZZ
@given(text=mutated_config(), with_env=st.booleans())
def test_config_loader_loads_or_raises_config_error(
    scratch: Path, text: str, with_env: bool
) -> None:
    folder = scratch / "config"
    if not folder.exists():
        shutil.copytree(DEFAULT_CONFIG_PATH.parent, folder)
    path = folder / "gosales.yaml"
    path.write_text(text, encoding="utf-8")
    env = (
        {
            "GOSALES_HOME": str(scratch / "home"),
            "GOSALES_RAW_DIR": str(scratch / "raw"),
            "GOSALES_LOAD_DATE": LOAD_DATE,
        }
        if with_env
        else {}
    )
    try:
        cfg = load_config(path, env=env)
    except ConfigError as err:
        assert str(err).strip()
        event("ConfigError")
        return
    event("loaded")
    assert isinstance(cfg, GosalesConfig)
    assert cfg.target_names and cfg.sku_map.entries


# --- raw reader -----------------------------------------------------------------------

HEADER_COLUMNS = [
    "invoice_id",
    "line_no",
    "order_date",
    "customer_id",
    "sku",
    "quantity",
    "gross_profit",
    "revenue",
    "rep",
    "branch",
]
FIELD_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "A1",
            "C1",
            "PDM",
            "Training",
            "NOT_A_SKU",
            "1",
            "2",
            "-1",
            "1.5",
            "$1,234.50",
            "(2,000)",
            "twelve",
            "2024-06-01",
            "06/01/2024",
            "2024-02-30",
            "2025-01-01",
            '"quoted, with comma"',
            '"a ""b"" c"',
            '"open',
            'mid"quote',
            "\ufeff",
            "__gs_row",
        ]
    ),
    st.text(alphabet='abc019-$,.()" \r\n\t/\ufeff\u00e9', max_size=6),
)
VALID = ["A", "1", "2024-06-01", "C1", "PDM", "1", "100", "", "Ann", "East"]


@st.composite
def record(draw: st.DrawFn) -> list[str]:
    """A valid line with a few fields replaced, dropped or added; or random fields."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.lists(FIELD_VALUES, max_size=12))
    fields = list(VALID)
    fields[0] = draw(st.sampled_from(["A", "B", "C", " A ", "00A"]))
    fields[1] = draw(st.sampled_from(["1", "2", "01"]))
    for _ in range(draw(st.integers(0, 2))):
        fields[draw(st.integers(0, len(fields) - 1))] = draw(FIELD_VALUES)
    cut = draw(st.sampled_from([None, None, None, 7, 9]))
    extra = draw(st.sampled_from([[], [], [], ["x"]]))
    return [*fields[:cut], *extra]


RECORDS = st.lists(record(), max_size=8)


@st.composite
def sales_csv(draw: st.DrawFn) -> bytes:
    """A small sales_lines.csv: mostly contract-like, sometimes arbitrary bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    if draw(st.booleans()):
        header = list(HEADER_COLUMNS)
    else:
        header = draw(
            st.lists(
                st.one_of(st.sampled_from(HEADER_COLUMNS), st.text(max_size=5)),
                max_size=12,
            )
        )
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [",".join(header)] + [",".join(r) for r in draw(RECORDS)]
    text = eol.join(lines) + draw(st.sampled_from(["", eol, eol + eol]))
    bom = "\ufeff" if draw(st.booleans()) else ""
    return (bom + text).encode("utf-8")


@pytest.fixture(scope="module")
def reader_cfg() -> GosalesConfig:
    return load_config(env={"GOSALES_LOAD_DATE": LOAD_DATE})


@FUZZ
@given(data=sales_csv())
def test_reader_returns_a_batch_or_raises_raw_input_error(
    scratch: Path, reader_cfg: GosalesConfig, data: bytes
) -> None:
    raw = scratch / "raw"
    raw.mkdir(exist_ok=True)
    (raw / "customers.csv").write_text("customer_id\nC1\n", encoding="utf-8")
    (raw / "sales_lines.csv").write_bytes(data)
    try:
        batch = read_raw_folder(raw, reader_cfg)
    except RawInputError as err:
        assert str(err).strip()
        event("RawInputError")
        return
    event(f"batch, {'some' if batch.sales_lines.height else 'no'} lines loaded")
    assert isinstance(batch, RawBatch)
    info = batch.report["files"]["sales_lines"]
    quarantined = batch.quarantine.filter(pl.col("source_file") == "sales_lines.csv")
    # Every record is accounted for exactly once: loaded or quarantined.
    rows = sorted(
        batch.sales_lines.get_column("source_row").to_list()
        + quarantined.get_column("source_row").to_list()
    )
    assert rows == list(range(1, info["rows_read"] + 1))
    assert info["rows_loaded"] + quarantined.height == info["rows_read"]
    assert sum(info["quarantined"].values()) == quarantined.height
    assert quarantined.get_column("reason").null_count() == 0
