"""`gosales run` validates forward: a real model trained and scored at C, whose label
window the data already covers, gets its forward metrics in the same run, compared
with its own model card; a later nightly run does not validate it again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from gosales_assets.config import current_config
from gosales_assets.lib.store import Store
from gosales_assets.runner import run_pipeline
from gosales_assets.sample_data import generate
from gosales_assets_tests.conftest import point_env_at

TARGET = "Printers"
C = dt.date(2023, 9, 30)  # label window (C, 2024-03-31]; the data runs to mid 2024
LATER = dt.date(2024, 3, 31)  # window open at the end of the data
SMALL_MODELING = """modeling:
  families: [logreg]
  logreg_c: [1.0]
  logreg_l1_ratio: [0.0]
  calibration_methods: [platt]
  min_positives_train: 10
  min_positives_validation: 5
  shap_sample: 200

"""


def _small_config(config_copy: Path) -> None:
    text = config_copy.read_text()
    start, end = text.index("modeling:"), text.index("# Whitespace ranking")
    text = text[:start] + SMALL_MODELING + text[end:]
    config_copy.write_text(text.replace("resamples: 1000 ", "resamples: 100 "))


@pytest.mark.slow
def test_run_validates_closed_windows(tmp_path, monkeypatch, config_copy, cfg):
    _small_config(config_copy)
    raw = tmp_path / "raw"
    generate(
        raw,
        cfg,
        customers=400,
        start=dt.date(2021, 1, 1),
        end=dt.date(2024, 6, 30),
        seed=21,
    )
    point_env_at(monkeypatch, tmp_path, raw, "2024-07-31")
    monkeypatch.setenv("GOSALES_CONFIG", str(config_copy))
    run_cfg = current_config()
    key = f"{C}|{TARGET}"
    with dg.instance_for_test() as instance:
        summary = run_pipeline(run_cfg, C, [TARGET], instance=instance)
        assert summary.success, summary.runs
        jobs = [label for label, _, _ in summary.runs]
        assert f"forward_validation_job[{key}]" in jobs
        store = Store(run_cfg.duckdb_path)
        reg = store.query("SELECT * FROM models.registry").row(0, named=True)
        fwd = store.query("SELECT * FROM validation.forward_metrics")
        assert set(fwd["cutoff"].to_list()) == {C}
        rows = {r["metric"]: r for r in fwd.iter_rows(named=True)}
        # the baseline is the card of the model that made the scores
        assert rows["auc"]["model_version"] == reg["model_version"]
        assert rows["auc"]["oot_value"] == pytest.approx(reg["oot_auc"])
        assert rows["lift@10"]["oot_value"] == pytest.approx(reg["oot_lift_at_10"])
        assert 0.5 < rows["auc"]["value"] <= 1.0
        assert rows["auc"]["resamples"] == 100
        # the nightly shape at a later cutoff: C is validated already, LATER is open
        nightly = run_pipeline(
            run_cfg, LATER, [TARGET], instance=instance, skip_ingest=True, train=False
        )
        assert nightly.success, nightly.runs
        assert not [j for j, _, _ in nightly.runs if j.startswith("forward_")]
