from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from gosales_assets.config import DEFAULT_CONFIG_PATH, GosalesConfig, load_config
from gosales_assets.lib import contract
from gosales_assets_tests.pg_server import pg_database, pg_server  # noqa: F401 (fixtures)

CONFIG_DIR = DEFAULT_CONFIG_PATH.parent


@pytest.fixture
def cfg_env(tmp_path: Path) -> dict[str, str]:
    """Environment that points all state and input under tmp_path."""
    return {
        "GOSALES_HOME": str(tmp_path / "home"),
        "GOSALES_RAW_DIR": str(tmp_path / "raw"),
        "GOSALES_REPORTS_DIR": str(tmp_path / "reports"),
        "GOSALES_LOAD_DATE": "2026-06-30",
    }


@pytest.fixture
def cfg(cfg_env: dict[str, str]) -> GosalesConfig:
    return load_config(DEFAULT_CONFIG_PATH, env=cfg_env)


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    """A writable copy of config/ for tests that edit the configuration."""
    dest = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, dest)
    return dest / "gosales.yaml"


def lines_frame(rows: list[dict]) -> pl.DataFrame:
    """Typed sales lines (as the reader returns them) from compact dicts."""
    base = {
        "line_no": 1,
        "quantity": 1.0,
        "gross_profit": 100.0,
        "revenue": None,
        "rep": "R1",
        "branch": "B1",
        "source_file": "sales_lines.csv",
    }
    full = [
        {
            **base,
            **r,
            "source_row": i + 1,
            "order_date": dt.date.fromisoformat(r["order_date"]),
        }
        for i, r in enumerate(rows)
    ]
    schema = {
        **contract.schema_of(contract.SALES_LINES),
        "source_file": pl.String,
        "source_row": pl.Int64,
    }
    return pl.DataFrame(full, schema=schema)


def customers_frame(ids: list[str], created: str | None = None) -> pl.DataFrame:
    schema = {
        **contract.schema_of(contract.CUSTOMERS),
        "source_file": pl.String,
        "source_row": pl.Int64,
    }
    rows = [
        {
            "customer_id": c,
            "customer_name": f"Name {c}",
            "industry": "Mfg",
            "industry_sub": None,
            "region": "East",
            "employees": 10,
            "created_date": dt.date.fromisoformat(created) if created else None,
            "source_file": "customers.csv",
            "source_row": i + 1,
        }
        for i, c in enumerate(ids)
    ]
    return pl.DataFrame(rows, schema=schema)


def fake_batch(
    lines: pl.DataFrame, customers: pl.DataFrame, **kw: object
) -> SimpleNamespace:
    return SimpleNamespace(
        sales_lines=lines,
        customers=customers,
        assets=kw.get("assets"),
        contacts=kw.get("contacts"),
        open_deals=kw.get("open_deals"),
        quarantine=kw.get(
            "quarantine", contract.empty_frame(contract.QUARANTINE_SCHEMA)
        ),
        report={},
        files=[],
    )


@pytest.fixture(autouse=True)
def _isolated_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test writes reports under its tmp_path, never into the repository."""
    monkeypatch.setenv("GOSALES_REPORTS_DIR", str(tmp_path / "reports"))


def point_env_at(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, raw: Path, load_date: str
) -> None:
    """Send the code location's state under tmp_path and its input to ``raw``."""
    monkeypatch.setenv("GOSALES_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GOSALES_RAW_DIR", str(raw))
    monkeypatch.setenv("GOSALES_LOAD_DATE", load_date)


def run_job(job: str, instance: object, key: str | None = None) -> object:
    """Run one job of the code location in process (raise_on_error off)."""
    from gosales_assets.definitions import defs

    return (
        defs()
        .resolve_job_def(job)
        .execute_in_process(instance=instance, partition_key=key, raise_on_error=False)
    )
