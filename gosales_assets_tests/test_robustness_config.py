"""Issue 9: configuration errors are refused at load, naming the key (cases not in
``test_config.py``), the file, or the known targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from gosales_assets.config import (
    ConfigError,
    GosalesConfig,
    load_config,
)

LOAD_DATE_ENV = {"GOSALES_LOAD_DATE": "2024-12-31"}


@pytest.fixture(scope="module")
def cfg() -> GosalesConfig:
    return load_config(env=LOAD_DATE_ENV)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


EB, ALPHA, REG = "eb_prior_strength: 5.0", "alpha: 10.0", "regularization: 0.05"
CPE = "{name: CPE, division: CPE}"
CONFIG_ERRORS = [
    # weights: negative, zero, not finite
    pytest.param(EB, "eb_prior_strength: -1", r"features\.eb_prior_strength: Input "
                 "should be greater than 0", id="negative-eb-prior"),
    pytest.param(ALPHA, "alpha: 0", r"features\.als\.alpha", id="zero-als-alpha"),
    pytest.param(REG, "regularization: -0.5", r"features\.als\.regularization",
                 id="negative-als-regularization"),
    pytest.param(EB, "eb_prior_strength: .nan", r"features\.eb_prior_strength",
                 id="nan-eb-prior"),
    pytest.param(ALPHA, "alpha: .nan", r"features\.als\.alpha", id="nan-als-alpha"),
    pytest.param("gp_min_threshold: 0.0", "gp_min_threshold: .inf",
                 r"labels\.gp_min_threshold: must be a finite number",
                 id="inf-gp-threshold"),
    pytest.param(EB, "eb_prior_strength: .inf", r"features\.eb_prior_strength",
                 id="inf-eb-prior"),
    pytest.param(ALPHA, "alpha: .inf", r"features\.als\.alpha", id="inf-als-alpha"),
    pytest.param(REG, "regularization: .inf", r"features\.als\.regularization",
                 id="inf-als-regularization"),
    pytest.param("lock_timeout_seconds: 120", "lock_timeout_seconds: -1",
                 r"ingest\.lock_timeout_seconds", id="negative-lock-timeout"),
    # windows of 0
    pytest.param(CPE, "{name: CPE, division: CPE, window_months: 0}",
                 r"targets\.1\.window_months", id="target-window-0"),
    pytest.param("windows_months: [3, 6, 12, 24]", "windows_months: [0, 6]",
                 r"features\.windows_months: must list positive integers",
                 id="feature-window-0"),
    pytest.param("lookback_months: 36", "lookback_months: 0",
                 r"features\.als\.lookback_months", id="als-lookback-0"),
    pytest.param("crm_windows_days: [30, 90]", "crm_windows_days: [0]",
                 r"features\.crm_windows_days", id="crm-window-0"),
    # targets
    pytest.param(CPE, "{name: CPE, division: CPE, skus: [PDM]}",
                 r"target 'CPE' must set exactly one of 'division' or 'skus'",
                 id="target-both-kinds"),
    pytest.param(CPE, "{name: CPE}", r"target 'CPE' must set exactly one",
                 id="target-neither-kind"),
    pytest.param("denylist_skus: []", "denylist_skus: [Nope]",
                 r"labels\.denylist_skus: unknown SKU 'Nope'",
                 id="denylist-unknown-sku"),
    # paths and shapes
    pytest.param("sku_map: sku_map.csv", "sku_map: .",
                 r"paths\.sku_map: SKU map file not found", id="sku-map-is-a-folder"),
    pytest.param("cutoff_start: 2021-01-01", "cutoff_start: yesterday",
                 r"partitions\.cutoff_start", id="cutoff-start-not-a-date"),
    pytest.param("paths:\n", "paths: [raw, home]\nunused_paths:\n", r"paths",
                 id="paths-a-list"),
    pytest.param("paths:\n", "paths: somewhere\nunused_paths:\n", r"paths",
                 id="paths-a-string"),
    pytest.param("raw_dir: ../data/raw", 'raw_dir: "data\\0raw"', r"paths\.raw_dir",
                 id="nul-in-path"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "message"), CONFIG_ERRORS)
def test_config_error_is_refused_naming_the_key(
    config_copy: Path, old: str, new: str, message: str
) -> None:
    _edit(config_copy, old, new)
    with pytest.raises(ConfigError, match=message):
        load_config(config_copy, env={})


def test_ingest_not_a_mapping_with_load_date_override(config_copy: Path) -> None:
    _edit(config_copy, "ingest:\n", "ingest: [1]\nunused_ingest:\n")
    with pytest.raises(ConfigError, match="ingest"):
        load_config(config_copy, env={"GOSALES_LOAD_DATE": "2024-12-31"})


@pytest.mark.parametrize("file", ["gosales.yaml", "sku_map.csv"])
def test_non_utf8_config_file_is_refused_naming_the_file(
    config_copy: Path, file: str
) -> None:
    path = config_copy.parent / file
    path.write_bytes(path.read_bytes() + b"\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=file):
        load_config(config_copy, env={})


def test_unreadable_config_paths_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=f"configuration file not found: {missing}"):
        load_config(missing, env={})
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path, env={})  # a folder is not a file


def test_unknown_target_lookup_names_the_known_targets(cfg: GosalesConfig) -> None:
    with pytest.raises(ConfigError, match=r"unknown target 'Nope'; known targets: \["):
        cfg.target("Nope")
    assert cfg.target(" CPE ").name == "CPE"  # names are matched after trimming
