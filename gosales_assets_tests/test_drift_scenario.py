"""DONE-WHEN scenario of drift monitoring: one industry's spend is multiplied from a
date on (sample data ``shifts``); drift at a later cutoff fires exactly on the spend
features of that industry's accounts, and the same pipeline on the unshifted data fires
nothing at ERROR.

The store is built with the pipeline's own functions (ingest, star, features, labels,
training, scoring: the code every asset wraps); drift runs through Dagster
(``drift_job``), so the check results are the ones the UI and the alerts see. One
store serves both runs: the shifted data differ from the control only in lines dated
from the shift on, after the reference cutoff, so everything up to the reference (the
training data and the model) is the same for both, and only the cutoff ``C`` is
rebuilt from the shifted data.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
import yaml

from gosales_assets.config import GosalesConfig, load_config
from gosales_assets.lib.alerts import dedup_key
from gosales_assets.lib.artifacts import ArtifactStore
from gosales_assets.lib.audit import build_features, build_labels_at, ingest
from gosales_assets.lib.features.catalog import all_specs
from gosales_assets.lib.model_store import load_examples, store_model, write_registry
from gosales_assets.lib.models import train_model
from gosales_assets.lib.models.data import training_cutoffs
from gosales_assets.lib.scoring_store import score_partition, with_keys
from gosales_assets.lib.store import Store, replace_partition_frame
from gosales_assets.sample_data import generate
from gosales_assets.sample_data.shift import SpendShift
from gosales_assets_tests.conftest import CONFIG_DIR, run_job

C = dt.date(2024, 12, 31)
TARGET = "Solidworks"
INDUSTRY = "Industrial Machinery"
SHIFT = SpendShift(INDUSTRY, 4.0, dt.date(2024, 7, 1))
SEGMENT = f"industry={INDUSTRY}"
# The features a spend (GP and revenue) shift moves: GP sums, GP per event and the GP
# trajectory, all and target scope. Counts, recency, margins (GP / revenue) and
# quantities are untouched.
SPEND = re.compile(r"(^|__)(gp_sum|gp_per_event|gp_slope|gp_volatility)(__|$)")


def _config(folder: Path) -> Path:
    """A config copy with a one-point model grid (fast training) and 2 cutoffs."""
    dest = folder / "config"
    dest.mkdir(parents=True)
    for name in ("gosales.yaml", "sku_map.csv"):
        (dest / name).write_bytes((CONFIG_DIR / name).read_bytes())
    data = yaml.safe_load((dest / "gosales.yaml").read_text())
    data["modeling"].update(
        {
            "families": ["logreg"],
            "logreg_c": [1.0],
            "logreg_l1_ratio": [0.0],
            "calibration_methods": ["platt"],
            "training_cutoff_count": 2,
        }
    )
    (dest / "gosales.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return dest / "gosales.yaml"


def _train_and_score(store: Store, cfg: GosalesConfig) -> dt.date:
    """Train the model of TARGET at C, score C; returns the reference cutoff."""
    plan = training_cutoffs(C, cfg.window_months(TARGET), cfg.modeling_settings)
    names = [s.name for s in all_specs(cfg)]
    with store.connect() as con:
        examples = load_examples(con, TARGET, plan, names)
    model = train_model(examples, names, plan[-1], cfg.modeling_settings)
    stored = store_model(
        ArtifactStore(cfg.artifacts_dir), cfg.paths.reports_dir, model, TARGET, C
    )
    with store.transaction() as con:
        version, folder = stored["version"], stored["artifact_dir"]
        write_registry(con, C, TARGET, model, version, folder, cfg.paths.home)
    _score(store, cfg)
    return plan[-1]


def _score(store: Store, cfg: GosalesConfig) -> None:
    with store.transaction() as con:
        icp, _, _ = score_partition(con, cfg, C, TARGET)
        replace_partition_frame(
            con,
            "scoring.icp_scores",
            with_keys(icp, C, TARGET),
            partition={"cutoff": C, "division": TARGET},
            order_by=("cutoff", "division", "customer_id"),
        )


def _drift(instance: dg.DagsterInstance, store: Store) -> dict[str, Any]:
    result = run_job("drift_job", instance, f"{C}|{TARGET}")
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    rows = store.query(
        "SELECT * FROM monitoring.drift WHERE cutoff = ? AND division = ?",
        [C, TARGET],
    )
    return {"checks": checks, "rows": rows}


SEVERITY_RANK = {"WARN": 1, "ERROR": 2}


def _failed(checks: dict[str, Any]) -> dict[str, str]:
    """Dedup key -> severity of every failed check evaluation of a drift run."""
    partition = f"{C}|{TARGET}"
    return {
        dedup_key(e.asset_key.to_user_string(), name, partition): e.severity.value
        for name, e in checks.items()
        if not e.passed
    }


class _Alerts:
    """The project's own alert sensor (defs/alerts) ticked after each drift run; it
    writes $GOSALES_HOME/alerts/alerts.jsonl."""

    def __init__(self, instance: dg.DagsterInstance, home: Path) -> None:
        from gosales_assets.defs.alerts.definitions import defs

        d = defs()
        self.sensor = d.resolve_sensor_def("check_alert_sensor")
        self.resources = {"alert_notifier": d.resources["alert_notifier"]}
        self.instance = instance
        self.cursor: str | None = None
        self.log = home / "alerts" / "alerts.jsonl"
        self.seen = 0

    def tick(self) -> dict[str, str]:
        """Dedup key -> severity of the alerts this tick wrote."""
        ctx = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=self.resources
        )
        self.cursor = self.sensor.evaluate_tick(ctx).cursor
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        new = [json.loads(x) for x in lines[self.seen :]]
        self.seen = len(lines)
        alerts = [r for r in new if r["kind"] == "alert"]
        keys = [r["dedup_key"] for r in alerts]
        assert len(keys) == len(set(keys)), keys  # one alert per check and partition
        return {r["dedup_key"]: r["severity"] for r in alerts}


def runs_of(tmp: Path, mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """Build the store, run drift on the control data, then on the shifted data."""
    config = _config(tmp)
    env = {
        "GOSALES_CONFIG": str(config),
        "GOSALES_HOME": str(tmp / "home"),
        "GOSALES_RAW_DIR": str(tmp / "control"),
        "GOSALES_REPORTS_DIR": str(tmp / "reports"),
        "GOSALES_LOAD_DATE": "2025-01-31",
    }
    cfg = load_config(config, env=env)
    sample = {
        "customers": 2000,
        "start": dt.date(2021, 1, 1),
        "end": C,
        "seed": 606,
    }
    generate(tmp / "control", cfg, **sample)
    generate(tmp / "shifted", cfg, **sample, shifts=[SHIFT])
    store = Store(cfg.duckdb_path)
    for key, value in env.items():
        mp.setenv(key, value)
    with dg.instance_for_test() as instance:
        ingest(store, tmp / "control", cfg)
        plan = training_cutoffs(C, cfg.window_months(TARGET), cfg.modeling_settings)
        for cutoff in plan:
            build_features(store, cfg, cutoff, [TARGET])
            build_labels_at(store, cfg, cutoff, [TARGET])
        build_features(store, cfg, C, [TARGET])
        reference = _train_and_score(store, cfg)
        alerts = _Alerts(instance, tmp / "home")
        control = _drift(instance, store)
        control["alerts"] = alerts.tick()
        # the shifted data: everything up to the reference is unchanged, C is rebuilt
        ingest(store, tmp / "shifted", cfg)
        build_labels_at(store, cfg, plan[-1], [TARGET])
        build_features(store, cfg, C, [TARGET])
        _score(store, cfg)
        shifted = _drift(instance, store)
        shifted["alerts"] = alerts.tick()
        shifted["repeat_tick"] = alerts.tick()
    return {"control": control, "shifted": shifted, "reference": reference}


def _firing(rows: pl.DataFrame, levels: tuple[str, ...]) -> pl.DataFrame:
    """Monitored feature rows at one of ``levels``."""
    return rows.filter(
        (pl.col("kind") == "feature") & pl.col("status").is_in(list(levels))
    )


def test_a_spend_shift_fires_only_on_the_spend_features_of_the_industry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # one test (not a module fixture shared by several): under pytest-xdist a module
    # fixture is built once per worker, and this build is the expensive part
    runs = runs_of(tmp_path, monkeypatch)
    reference_is_the_models_newest_training_cutoff(runs)
    control_fires_nothing_at_error(runs)
    shift_fires_exactly_on_the_spend_features_of_the_industry(runs)
    failed_check_lists_the_offending_features(runs)
    alert_log_holds_exactly_the_failed_checks(runs)


def reference_is_the_models_newest_training_cutoff(runs: dict[str, Any]) -> None:
    for run in ("control", "shifted"):
        rows = runs[run]["rows"]
        assert rows["reference_cutoff"].unique().to_list() == [runs["reference"]]
        assert rows["reference_mode"].unique().to_list() == ["model_training"]
    assert runs["reference"] == dt.date(2024, 6, 30)


def control_fires_nothing_at_error(runs: dict[str, Any]) -> None:
    checks, rows = runs["control"]["checks"], runs["control"]["rows"]
    assert _firing(rows, ("error",)).height == 0
    assert checks["feature_psi_error"].passed
    assert checks["feature_ks_error"].passed
    assert checks["drift_values_valid"].passed


def shift_fires_exactly_on_the_spend_features_of_the_industry(
    runs: dict[str, Any],
) -> None:
    checks, rows = runs["shifted"]["checks"], runs["shifted"]["rows"]
    control = runs["control"]["rows"]
    assert not checks["feature_psi"].passed
    assert not checks["feature_psi_error"].passed
    assert checks["feature_psi_error"].severity == dg.AssetCheckSeverity.ERROR
    errors = _firing(rows, ("error",))
    # every ERROR is a spend feature, in the shifted industry's segment
    assert errors.height > 0
    assert all(SPEND.search(f) for f in errors["feature"]), errors["feature"]
    assert set(errors["segment"]) == {INDUSTRY}
    # the windows wholly after the shift fire: GP per event at ERROR, GP sums (where
    # most accounts of the industry sit on zero) at least at WARN
    assert "rfm__gp_per_event__6m" in set(errors["feature"])
    warned = _firing(rows, ("warn", "error")).filter(pl.col("segment") == INDUSTRY)
    assert {"rfm__gp_sum__3m", "rfm__gp_sum__6m"} <= set(warned["feature"])
    # nothing fires that did not fire on the control, except spend features
    key = ("feature", "segment_by", "segment")
    before = _firing(control, ("warn", "error")).select(key)
    new = _firing(rows, ("warn", "error")).join(before, on=list(key), how="anti")
    assert all(SPEND.search(f) for f in new["feature"]), new["feature"]
    # unaffected families of the same accounts stay quiet
    quiet = rows.filter(
        (pl.col("segment") == INDUSTRY)
        & pl.col("feature").str.contains(r"__events__|recency_days|qty_sum")
    )
    assert quiet.height > 0 and (quiet["status"] == "ok").all()


def failed_check_lists_the_offending_features(runs: dict[str, Any]) -> None:
    meta = runs["shifted"]["checks"]["feature_psi_error"].metadata
    top = meta["offending_top"].value
    assert top and all(SPEND.search(item["feature"]) for item in top)
    assert {item["segment"] for item in top} == {SEGMENT}
    psis = [item["psi"] for item in top]
    assert psis == sorted(psis, reverse=True)
    assert meta["offending_count"].value >= len(top)


def alert_log_holds_exactly_the_failed_checks(runs: dict[str, Any]) -> None:
    control = _failed(runs["control"]["checks"])
    shifted = _failed(runs["shifted"]["checks"])
    # after the control run: one alert per failed check, nothing else
    assert runs["control"]["alerts"] == control
    assert all(sev == "WARN" for sev in control.values())  # nothing at ERROR
    # after the shifted run: the new failures and the escalations, nothing repeated
    expected = {
        key: sev
        for key, sev in shifted.items()
        if SEVERITY_RANK[sev] > SEVERITY_RANK.get(control.get(key, ""), 0)
    }
    assert runs["shifted"]["alerts"] == expected
    partition = f"{C}|{TARGET}"
    assert expected[f"monitoring/drift:feature_psi_error@{partition}"] == "ERROR"
    assert runs["shifted"]["repeat_tick"] == {}
