"""validation/forward_metrics through Dagster on small sample data: metrics equal a
direct recomputation from the raw lines, open windows are skipped with the reason, a
failed blocking check publishes nothing, and label_window_sensor requests exactly the
closed, not yet validated partitions.

The store is built once per module (ingest and the star at C1 through Dagster). The
scores at C1 are a simple history-only heuristic written straight into
``scoring.icp_scores`` with a hand-written model card: forward validation does not care
how scores were made, and training a model here would cost minutes
(test_forward_validation_e2e.py, marked slow, runs the real pipeline).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from gosales_assets.config import DEFAULT_CONFIG_PATH, current_config, load_config
from gosales_assets.defs.validation.assets import build_validation_assets
from gosales_assets.defs.validation.sensors import pending_forward_partitions
from gosales_assets.lib.artifacts import ArtifactStore
from gosales_assets.lib.model_store import MODEL_KIND
from gosales_assets.lib.store import Store, StoreLockedError, replace_partition_frame
from gosales_assets.partitions import build_partitions
from gosales_assets.resources.store import DuckDBStoreResource
from gosales_assets.sample_data import generate
from gosales_assets_tests.conftest import run_job

TARGET = "Printers"
C1 = dt.date(2023, 9, 30)  # window (C1, 2024-03-31]: closed, data runs to mid 2024
C2 = dt.date(2024, 3, 31)  # window ends 2024-09-30: open
KEY1, KEY2 = f"{C1}|{TARGET}", f"{C2}|{TARGET}"
VERSION = "feedfacecafe0001"
# the card's out-of-time values: AUC far above anything the heuristic reaches
CARD = {"auc": 0.99, "brier": 0.5, "calibration_mae": 0.5, "lift@10": None}
RESAMPLES = 200

SCORE_SQL = """
WITH hist AS (
    SELECT customer_id, sum(gross_profit) AS gp,
           count(*) FILTER (WHERE list_contains(?, sku)) AS n_target
    FROM star.fact_transactions WHERE cutoff = ? GROUP BY customer_id
)
SELECT ?::DATE AS cutoff, ? AS division, d.customer_id,
       round(0.02 + 0.5 * (coalesce(h.n_target, 0) > 0)::DOUBLE
             + 0.4 * percent_rank() OVER (ORDER BY coalesce(h.gp, 0)), 2) AS p_icp,
       ? AS model_version
FROM star.dim_customer d LEFT JOIN hist h USING (customer_id)
WHERE d.cutoff = ?
"""


def _env(root: Path) -> dict[str, str]:
    return {
        "GOSALES_CONFIG": str(root / "config" / "gosales.yaml"),
        "GOSALES_HOME": str(root / "home"),
        "GOSALES_RAW_DIR": str(root / "raw"),
        "GOSALES_REPORTS_DIR": str(root / "reports"),
        "GOSALES_LOAD_DATE": "2024-07-31",
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("forward")
    shutil.copytree(DEFAULT_CONFIG_PATH.parent, root / "config")
    yaml = root / "config" / "gosales.yaml"
    text = yaml.read_text()
    assert "resamples: 1000 " in text
    yaml.write_text(text.replace("resamples: 1000 ", f"resamples: {RESAMPLES} "))
    generate(
        root / "raw",
        load_config(yaml, env=_env(root)),
        customers=300,
        start=dt.date(2021, 1, 1),
        end=dt.date(2024, 6, 30),
        seed=11,
    )
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _env(root).items():
            mp.setenv(name, value)
        cfg = current_config()
        with dg.instance_for_test() as instance:
            assert run_job("ingest_job", instance).success
            assert run_job("star_job", instance, C1.isoformat()).success
        store = Store(cfg.duckdb_path)
        with store.transaction() as con:
            scores = con.execute(
                SCORE_SQL,
                [cfg.target_skus(TARGET), C1, C1, TARGET, VERSION, C1],
            ).pl()
            replace_partition_frame(
                con,
                "scoring.icp_scores",
                scores,
                partition={"cutoff": C1, "division": TARGET},
                order_by=("cutoff", "division", "customer_id"),
            )
        card = {"model_version": VERSION, "validation_metrics": CARD}
        ArtifactStore(cfg.artifacts_dir).put(
            MODEL_KIND, TARGET, VERSION, {"card.json": json.dumps(card).encode()}
        )
        yield SimpleNamespace(root=root, store=store)


@pytest.fixture
def use_world(world, monkeypatch: pytest.MonkeyPatch):
    for name, value in _env(world.root).items():
        if name != "GOSALES_REPORTS_DIR":  # the autouse fixture isolates reports
            monkeypatch.setenv(name, value)
    return world


def _recompute(raw: Path, scores: pl.DataFrame) -> dict[str, float]:
    """Who bought the target in (C1, end] with positive net GP, straight from the
    raw CSV, and the headline metrics of the stored scores, with plain polars."""
    cfg = current_config()
    end = dt.date(2024, 3, 31)
    lines = pl.read_csv(raw / "sales_lines.csv", infer_schema=False).with_columns(
        pl.col("order_date").str.to_date("%Y-%m-%d"),
        pl.col("gross_profit").cast(pl.Float64),
    )
    active = lines.filter(pl.col("order_date") <= C1).select("customer_id").unique()
    bought = (
        lines.filter(
            (pl.col("order_date") > C1)
            & (pl.col("order_date") <= end)
            & pl.col("sku").is_in(cfg.target_skus(TARGET))
        )
        .group_by("customer_id")
        .agg(pl.col("gross_profit").sum().alias("gp"))
    )
    frame = (
        active.join(bought, on="customer_id", how="left")
        .join(scores, on="customer_id", how="inner")
        .with_columns(pl.col("gp").fill_null(0.0))
        .with_columns((pl.col("gp") > 0).cast(pl.Int64).alias("y"))
        .sort(["p_icp", "customer_id"], descending=[True, False])
    )
    y, p = frame["y"].to_numpy(), frame["p_icp"].to_numpy()
    gp = np.where(y == 1, np.clip(frame["gp"].to_numpy(), 0, None), 0.0)
    n = y.size
    k = max(1, math.floor(n * 10 / 100))
    return {
        "n": n,
        "positives": int(y.sum()),
        "auc": roc_auc_score(y, p),
        "lift@10": y[:k].mean() / y.mean(),
        "capture@10": y[:k].sum() / y.sum(),
        "gp_capture@10": gp[:k].sum() / gp.sum(),
        "brier": float(np.mean((p - y) ** 2)),
        "prevalence": y.mean(),
    }


def test_forward_metrics_match_raw_recomputation(use_world):
    with dg.instance_for_test() as instance:
        result = run_job("forward_validation_job", instance, KEY1)
    assert result.success
    evals = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evals["metrics_complete"].passed
    assert evals["labelled_accounts_scored"].passed
    auc_check = evals["forward_auc_vs_oot"]
    assert not auc_check.passed  # forward AUC is far below the card's 0.99
    assert auc_check.severity == dg.AssetCheckSeverity.WARN
    assert evals["forward_brier_vs_oot"].passed
    assert evals["forward_lift_at_10_vs_oot"].passed  # the card has no lift@10
    assert evals["forward_lift_at_10_vs_oot"].metadata["status"].value == (
        "no_baseline"
    )
    store = use_world.store
    stored = store.query(
        "SELECT * FROM validation.forward_metrics WHERE cutoff = ? AND division = ?",
        [C1, TARGET],
    )
    scores = store.query(
        "SELECT customer_id, p_icp FROM scoring.icp_scores WHERE cutoff = ?", [C1]
    )
    expected = _recompute(use_world.root / "raw", scores)
    assert 5 <= expected["positives"] < expected["n"] / 2  # a meaningful fixture
    got = {r["metric"]: r for r in stored.iter_rows(named=True)}
    for name in ("auc", "lift@10", "capture@10", "gp_capture@10", "brier"):
        assert got[name]["value"] == pytest.approx(expected[name], rel=1e-9), name
    assert got["prevalence"]["value"] == pytest.approx(expected["prevalence"])
    row = got["auc"]
    assert (row["n"], row["positives"]) == (expected["n"], expected["positives"])
    assert (row["resamples"], row["seed"], row["ci_level"]) == (RESAMPLES, 42, 0.95)
    assert 0 < row["ci_resamples"] <= RESAMPLES
    assert row["ci_low"] < row["ci_high"]
    assert row["oot_value"] == 0.99 and got["lift@10"]["oot_value"] is None
    assert row["window_end"] == dt.date(2024, 3, 31)
    assert stored["metric"].to_list() == sorted(stored["metric"].to_list())
    gains = store.query("SELECT * FROM validation.forward_gains ORDER BY decile")
    assert gains["decile"].to_list() == list(range(1, 11))
    assert gains["n"].sum() == expected["n"]
    assert gains["positives"].sum() == expected["positives"]
    (mat,) = result.asset_materializations_for_node("forward_metrics")
    assert mat.metadata["auc"].value == pytest.approx(expected["auc"])
    assert mat.metadata["dagster/partition_row_count"].value == stored.height
    assert "| auc |" in mat.metadata["metrics"].value


def test_open_window_is_skipped_with_the_reason(use_world):
    cfg = current_config()
    with dg.instance_for_test() as instance:
        job = run_job("forward_validation_job", instance, KEY2)
        assert job.success
        assert job.asset_materializations_for_node("forward_metrics") == []
        assert job.asset_materializations_for_node("labels") == []
        # the asset on its own explains itself, too
        alone = dg.materialize(
            build_validation_assets(cfg, build_partitions(cfg)),
            partition_key=KEY2,
            instance=instance,
            resources={"store": DuckDBStoreResource(database=str(cfg.duckdb_path))},
        )
    assert alone.success
    assert alone.asset_materializations_for_node("forward_metrics") == []
    (obs,) = [e for e in alone.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    skipped = obs.event_specific_data.asset_observation.metadata["skipped"].value
    assert "(2024-03-31, 2024-09-30] is not complete" in skipped
    written = use_world.store.query(
        "SELECT count(*) AS n FROM validation.forward_metrics WHERE cutoff = ?", [C2]
    )
    assert written["n"][0] == 0


def test_failed_blocking_check_publishes_nothing(use_world, tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(use_world.root / "home", home)
    monkeypatch.setenv("GOSALES_HOME", str(home))
    store = Store(current_config().duckdb_path)
    with store.transaction() as con:  # one labelled account loses its score
        con.execute(
            "DELETE FROM scoring.icp_scores WHERE customer_id = ("
            "SELECT max(customer_id) FROM star.fact_transactions WHERE cutoff = ?)",
            [C1],
        )
        con.execute("DROP TABLE IF EXISTS validation.forward_metrics")
    with dg.instance_for_test() as instance:
        result = run_job("forward_validation_job", instance, KEY1)
    assert not result.success
    evals = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evals["labelled_accounts_scored"].passed
    assert evals["labelled_accounts_scored"].metadata["violations"].value == 1
    assert result.asset_materializations_for_node("forward_metrics") == []
    assert not store.table_exists("validation.forward_metrics")


def test_label_window_sensor(use_world, monkeypatch):
    from gosales_assets.definitions import defs

    cfg = current_config()
    definitions = defs()
    sensor = definitions.resolve_sensor_def("label_window_sensor")
    resources = {"store": DuckDBStoreResource(database=str(cfg.duckdb_path))}

    def tick(instance: dg.DagsterInstance, cursor: str | None = None):
        ctx = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            definitions=definitions,
            resources=resources,
        )
        return sensor.evaluate_tick(ctx)

    def scored(instance: dg.DagsterInstance, table: list[str], key: str) -> None:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=dg.AssetKey(table), partition=key)
        )

    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == cfg.validation.sensor_interval_seconds
    with dg.instance_for_test() as instance:
        first = tick(instance)
        assert first.run_requests == [] and first.skip_message  # nothing scored
        scored(instance, ["scoring", "icp_scores"], KEY1)
        scored(instance, ["scoring", "icp_scores"], KEY2)
        second = tick(instance, first.cursor)
        # C1's window is closed, C2's is not: exactly one run, keyed by partition
        assert [(r.run_key, r.partition_key) for r in second.run_requests] == [
            (KEY1, KEY1)
        ]
        assert json.loads(second.cursor)["data_through"] >= "2024-03-31"
        assert (
            pending_forward_partitions(instance, cfg, dt.date(2024, 6, 30), ["CPE"])
            == []
        )
        # nothing new since: the store is not even read
        again = tick(instance, second.cursor)
        assert again.run_requests == [] and "no ingest" in again.skip_message
        # validated, then re-scored: nothing left to request
        scored(instance, ["validation", "forward_metrics"], KEY1)
        scored(instance, ["scoring", "icp_scores"], KEY2)
        third = tick(instance, second.cursor)
        assert third.run_requests == []
        assert "no scored partition" in third.skip_message

        # a writer holds the store: skip, keep the cursor for the next tick
        def busy(*args: object, **kwargs: object) -> None:
            raise StoreLockedError("a writer holds the store")

        monkeypatch.setattr(
            "gosales_assets.defs.validation.sensors.read_data_through", busy
        )
        locked = tick(instance, None)
        assert locked.run_requests == [] and "locked" in locked.skip_message
        assert not locked.cursor
