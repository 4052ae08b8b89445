"""``gosales audit``: the leakage controls on demand. A clean pipeline passes both
(truncation invariance of star, features and labels; AUC ~0.5 on shuffled labels); a
feature that peeks past the cutoff makes the audit fail, naming what changed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from gosales_assets import lib
from gosales_assets.cli import main
from gosales_assets.config import load_config
from gosales_assets.lib.audit import (
    AuditCheck,
    AuditReport,
    compare_checksums,
    null_auc_se,
)
from gosales_assets.sample_data import generate

C = "2024-06-30"


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("audit_raw")
    cfg = load_config(env={"GOSALES_HOME": str(folder / "home")})
    generate(
        folder / "raw",
        cfg,
        customers=300,
        start=dt.date(2021, 1, 1),
        end=dt.date(2024, 12, 31),
        seed=31,
    )
    return folder / "raw"


@pytest.fixture
def runner(
    tmp_path: Path, raw: Path, config_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    data = yaml.safe_load(config_copy.read_text())
    data["modeling"].update(  # one grid point: the control's protocol, quickly
        {
            "families": ["logreg"],
            "logreg_c": [1.0],
            "logreg_l1_ratio": [0.0],
            "calibration_methods": ["platt"],
        }
    )
    config_copy.write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setenv("GOSALES_CONFIG", str(config_copy))
    monkeypatch.setenv("GOSALES_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GOSALES_RAW_DIR", str(raw))
    monkeypatch.setenv("GOSALES_LOAD_DATE", "2025-01-31")
    return CliRunner()


def _report(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "reports" / "audit" / f"{C}.json").read_text())


def test_a_clean_pipeline_passes_both_controls(runner, tmp_path):
    result = runner.invoke(
        main,
        ["audit", "--cutoff", C, "--division", "Solidworks"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output
    report = _report(tmp_path)
    assert report["passed"] and report["cutoff"] == C
    status = {c["name"]: c["status"] for c in report["checks"]}
    assert status == {
        "truncation:star": "pass",
        "truncation:features": "pass",
        "truncation:labels": "pass",
        "shuffled:Solidworks": "pass",
    }
    checks = {c["name"]: c for c in report["checks"]}
    star = checks["truncation:star"]["detail"]
    # rows were really appended after C, and every star table was compared
    assert star["appended"]["raw.sales_lines"] == 400
    assert star["appended"]["closed_deals"] > 0
    tables = {k.split("[")[0] for k in star["checksums"]}
    assert {"star.fact_transactions", "star.dim_customer", "star.open_deals"} <= tables
    features = checks["truncation:features"]["detail"]["checksums"]
    assert "features.feature_matrix[Solidworks]" in features
    assert "features.build_info" not in {k.split("[")[0] for k in features}
    shuffled = checks["shuffled:Solidworks"]["detail"]
    low, high = shuffled["allowed"]
    assert low <= shuffled["auc"] <= high and low < 0.5 < high
    assert shuffled["training_cutoffs"][-1] == shuffled["validation_cutoff"]


def _peeking(real):
    """A snapshot reader with a leak: each account's 'employees' becomes the number
    of its lines dated after the cutoff."""

    def read(con, cutoff):
        snap = real(con, cutoff)
        later = con.execute(
            "SELECT customer_id, count(*)::BIGINT AS employees FROM raw.sales_lines "
            "WHERE order_date > ? GROUP BY 1",
            [cutoff],
        ).pl()
        customers = (
            snap.customers.drop("employees")
            .join(later, on="customer_id", how="left")
            .with_columns(pl.col("employees").fill_null(0))
        )
        return dataclasses.replace(snap, customers=customers)

    return read


def test_a_feature_that_peeks_past_the_cutoff_fails_the_audit(
    runner, tmp_path, monkeypatch
):
    stores = lib.audit.stores  # where the audit reads snapshots
    monkeypatch.setattr(stores, "read_snapshot", _peeking(stores.read_snapshot))
    result = runner.invoke(
        main,
        ["audit", "--cutoff", C, "--division", "Printers", "--check", "truncation"],
    )
    assert result.exit_code != 0
    assert "FAILED" in result.output and "leakage control" in result.output
    report = _report(tmp_path)
    assert not report["passed"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["truncation:star"]["status"] == "pass"  # the star is clean
    leak = checks["truncation:features"]
    assert leak["status"] == "fail"
    differing = set(leak["detail"]["differing"])
    assert {"features.customer_base", "features.feature_matrix[Printers]"} <= differing
    assert "shuffled:Printers" not in checks  # only the requested control ran


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit", "--division", "Nope"], "unknown target 'Nope'"),
        (["audit", "--cutoff", "1999-12-31"], "is before partitions.cutoff_start"),
        (["audit", "--check", "vibes"], "'vibes' is not one of"),
        (["audit", "--cutoff", "2024-02-30"], "is not a date in YYYY-MM-DD form"),
    ],
)
def test_bad_input_is_refused_early(runner, args, message):
    result = runner.invoke(main, args)
    assert result.exit_code != 0
    assert message in result.output


def test_a_cutoff_after_the_data_fails(runner, tmp_path):
    result = runner.invoke(
        main, ["audit", "--cutoff", "2025-06-30", "--check", "truncation"]
    )
    assert result.exit_code != 0
    assert "before the cutoff 2025-06-30" in result.output


def test_report_table_and_helpers():
    checks = [
        AuditCheck("truncation:star", "pass", "3 partitions byte-identical"),
        AuditCheck("shuffled:X", "skipped", "fell back"),
        AuditCheck("truncation:labels", "fail", "1 of 2 partitions differ"),
    ]
    report = AuditReport(dt.date(2024, 6, 30), ["X"], checks, dt.date(2024, 12, 31))
    assert not report.passed
    table = report.table()
    assert (
        "FAIL" in table and "SKIPPED" in table and "FAILED: 3 checks, 1 failed" in table
    )
    assert report.to_json()["passed"] is False
    same = compare_checksums("t", {"a": "1"}, {"a": "1"}, "x")
    assert same.status == "pass"
    differ = compare_checksums("t", {"a": "1", "b": "2"}, {"a": "1"}, "x")
    assert differ.status == "fail" and list(differ.detail["differing"]) == ["b"]
    # the no-signal AUC's standard error shrinks with the sample
    assert null_auc_se(10, 100) > null_auc_se(100, 1000) > 0
