"""Configuration loading: defaults mirror the reference, errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gosales_assets.config import ConfigError, load_config


def test_default_config_mirrors_reference(cfg):
    assert len(cfg.sku_map.entries) == 36  # 37 reference keys; the alias is not a SKU
    assert sum(len(e.gp_aliases) for e in cfg.sku_map.entries) == 1
    assert len(cfg.sku_map.divisions) == 12
    names = cfg.target_names
    assert "Hardware" not in names and "Maintenance" not in names
    for sku_set in (
        "Printers",
        "SWX_Seats",
        "PDM_Seats",
        "SW_Electrical",
        "SW_Inspection",
    ):
        assert sku_set in names
    assert cfg.target_skus("SWX_Seats") == ["SWX_Core", "SWX_Pro_Prem"]
    assert len(cfg.target_skus("Printers")) == 10
    assert cfg.target_skus("Solidworks") == [
        "SWX_Core",
        "SWX_Pro_Prem",
        "SW_Electrical",
        "SW_Inspection",
    ]
    assert cfg.window_months("Printers") == 6


def test_environment_overrides_paths(cfg, tmp_path):
    assert cfg.paths.home == tmp_path / "home"
    assert cfg.paths.raw_dir == tmp_path / "raw"
    assert cfg.duckdb_path == tmp_path / "home" / "gosales.duckdb"
    assert str(cfg.ingest.load_date) == "2026-06-30"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "{name: CPE, division: CPE}",
            "{name: CPE, division: Nope}",
            "targets.*unknown division 'Nope'",
        ),
        (
            "skus: [SWX_Core, SWX_Pro_Prem]",
            "skus: [SWX_Core, Bogus]",
            "unknown SKU 'Bogus'",
        ),
        ("window_months: 6 ", "window_months: 0 ", "labels.window_months"),
        ("mode: expansion", "mode: sometimes", "labels.mode"),
        (
            "{name: CPE, division: CPE}",
            "{name: CPE, division: CPE, colour: red}",
            "targets.1.colour",
        ),
        (
            "{name: CPE, division: CPE}",
            "{name: PDM, division: CPE}",
            "duplicate target name",
        ),
        (
            "{name: CPE, division: CPE}",
            "{name: 'C|PE', division: CPE}",
            "forbidden character",
        ),
        ("gp_min_threshold: 0.0", "gp_min_threshold: .nan", "gp_min_threshold"),
        ("sku_map: sku_map.csv", "sku_map: missing.csv", "paths.sku_map"),
    ],
)
def test_config_errors_name_the_key(config_copy, old, new, message):
    _edit(config_copy, old, new)
    with pytest.raises(ConfigError, match=message):
        load_config(config_copy, env={})


def test_sku_without_division_is_refused(config_copy):
    sku_map = config_copy.parent / "sku_map.csv"
    _edit(sku_map, "PDM,PDM,PDM,License", "PDM,,PDM,License")
    with pytest.raises(ConfigError, match=r"line 8, column 'division'"):
        load_config(config_copy, env={})


def test_shared_wide_column_is_refused(config_copy):
    sku_map = config_copy.parent / "sku_map.csv"
    _edit(sku_map, "Artec,Artec_Qty", "Artec,Creaform_Qty")
    with pytest.raises(ConfigError, match="Creaform_Qty"):
        load_config(config_copy, env={})


def test_unknown_top_level_key(config_copy):
    config_copy.write_text(config_copy.read_text() + "\nmystery: 1\n")
    with pytest.raises(ConfigError, match="mystery"):
        load_config(config_copy, env={})
