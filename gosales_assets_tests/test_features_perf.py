"""Performance budget: 100k customers / 2M lines, base + ALS + 15 targets < 60 s."""

from __future__ import annotations

import datetime as dt

import pytest

from gosales_assets.config import DEFAULT_CONFIG_PATH, load_config
from gosales_assets.lib.features.synthetic import benchmark

CFG = load_config(
    DEFAULT_CONFIG_PATH,
    env={"GOSALES_HOME": "/nonexistent/home", "GOSALES_RAW_DIR": "/nonexistent/raw"},
)


@pytest.mark.slow
def test_feature_build_budget() -> None:
    timings = benchmark(CFG, dt.date(2025, 6, 30), 100_000, 2_000_000)
    print({k: round(v, 2) for k, v in timings.items()})
    assert len([k for k in timings if k.startswith("target:")]) == len(CFG.targets)
    assert timings["total"] < 60.0
