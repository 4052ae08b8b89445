"""The Dagster code location: loads, follows the conventions, runs end to end."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from gosales_assets.config import current_config
from gosales_assets.defs.common import POOL
from gosales_assets.lib.checks import CheckOutcome
from gosales_assets.lib.store import Store
from gosales_assets_tests.conftest import point_env_at

SALES = (
    "invoice_id,line_no,order_date,customer_id,sku,quantity,gross_profit,revenue,rep,"
    "branch\n"
    """A1,1,2024-06-30,00123,PDM,1,100.0,250.0,R1,B1
A2,1,2024-06-30,00123,Training,1,50.0,,R1,B1
B1,1,2024-07-01,123,PDM,2,"$1,200.00",,R2,B2
C1,1,2024-01-15,123,SWX_Core,1,900,,R2,B2
C1,2,2024-01-15,123,SWX_Pro_Prem,0,-40,,R2,B2
D1,1,2024-02-01,123,NOT_A_SKU,1,10,,R2,B2
O1,1,2024-03-01,ORPHAN-9,Services,1,75,,R3,B1
"""
)
CUSTOMERS = (
    "customer_id,customer_name,industry,industry_sub,region,employees,created_date\n"
    """00123,"Acme, Inc.",Mfg,Machinery,East,50,2020-01-01
123,"Bolt ""Best"" Co",Aero,,West,10,2021-05-05
"""
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "sales_lines.csv").write_text(SALES)
    (raw / "customers.csv").write_text(CUSTOMERS)
    point_env_at(monkeypatch, tmp_path, raw, "2024-12-31")
    return tmp_path


def _defs() -> dg.Definitions:
    from gosales_assets.definitions import defs

    return defs()


def test_definitions_load_and_follow_conventions(env):
    defs = _defs()
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "raw/sales_lines",
        "raw/quarantine",
        "star/fact_transactions",
        "star/dim_customer",
        "star/quarantine",
    } <= keys
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners, key
        assert node.description, key
        assert node.group_name == key.path[0], key  # group = layer = DuckDB schema
        if "duckdb" in node.kinds:
            assert node.pools == {POOL}, f"{key} writes DuckDB outside pool {POOL}"
    for job in ("ingest_job", "star_job"):
        defs.resolve_job_def(job)


def _run(defs: dg.Definitions, instance: dg.DagsterInstance, job: str, **kw):
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance, raise_on_error=False, **kw
    )


def test_ingest_and_star_end_to_end(env):
    defs = _defs()
    with dg.instance_for_test() as instance:
        assert _run(defs, instance, "ingest_job").success
        result = _run(defs, instance, "star_job", partition_key="2024-06-30")
        assert result.success
        evals = result.get_asset_check_evaluations()
        assert evals and all(e.passed for e in evals)
        mats = result.asset_materializations_for_node("star_schema")
        meta = {m.asset_key.to_user_string(): m.metadata for m in mats}
        fact_meta = meta["star/fact_transactions"]
        assert fact_meta["dagster/partition_row_count"].value == 5
        assert fact_meta["checksum"].value.startswith("rows=5;hash=")
        by_reason = meta["star/quarantine"]["quarantined_by_reason"].data
        assert by_reason == {"unknown_sku": 1}
        assert meta["star/dim_customer"]["orphan_customers"].value == 1
        assert "dagster/column_schema" in fact_meta
    store = Store(current_config().duckdb_path)
    fact = store.query(
        "SELECT * FROM star.fact_transactions ORDER BY invoice_id, line_no"
    )
    assert fact["invoice_id"].to_list() == ["A1", "A2", "C1", "C1", "O1"]
    assert fact["order_date"].max() == dt.date(2024, 6, 30)
    names = store.query("SELECT customer_name FROM star.dim_customer ORDER BY 1")
    assert names["customer_name"].to_list()[:2] == ["Acme, Inc.", 'Bolt "Best" Co']


def test_blocking_check_failure_publishes_nothing(env, monkeypatch):
    defs = _defs()
    with dg.instance_for_test() as instance:
        assert _run(defs, instance, "ingest_job").success
        assert _run(defs, instance, "star_job", partition_key="2024-06-30").success
        store = Store(current_config().duckdb_path)
        before = store.query("SELECT * FROM star.fact_transactions")

        def failing(con, cutoff):
            return [
                CheckOutcome(
                    "star.fact_transactions",
                    "no_rows_after_cutoff",
                    False,
                    "ERROR",
                    "forced",
                    {"violations": 1},
                )
            ]

        monkeypatch.setattr("gosales_assets.lib.star.star_checks", failing)
        result = _run(defs, instance, "star_job", partition_key="2024-07-31")
        assert not result.success
        evals = result.get_asset_check_evaluations()
        assert [(e.check_name, e.passed) for e in evals] == [
            ("no_rows_after_cutoff", False)
        ]
        after = store.query("SELECT * FROM star.fact_transactions")
        assert after.equals(before)  # the July partition was rolled back


def test_file_level_defect_fails_ingest_before_writing(env):
    defs = _defs()
    (env / "raw" / "customers.csv").unlink()
    with dg.instance_for_test() as instance:
        result = _run(defs, instance, "ingest_job")
    assert not result.success
    failure = result.get_step_failure_events()[0]
    assert "customers" in failure.step_failure_data.error.message
    assert not current_config().duckdb_path.exists()
