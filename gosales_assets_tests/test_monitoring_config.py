"""Configuration of drift monitoring, the audit and sample-data shifts: defaults, and
errors that name the key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gosales_assets.config import ConfigError, load_config
from gosales_assets.config_sections import DRIFT_IGNORE_DEFAULT


def test_defaults(cfg):
    m = cfg.monitoring
    assert m.reference == "model_training"
    assert (m.psi.warn, m.psi.error) == (0.1, 0.25)
    assert (m.ks.warn, m.ks.error) == (0.1, 0.2)
    assert m.bins == 10 and m.segment_column == "industry"
    # the YAML lists exactly the code's default patterns
    assert m.ignore_features == DRIFT_IGNORE_DEFAULT
    assert cfg.audit.appended_lines == 200 and cfg.audit.seed == 17
    assert cfg.sample_data.shifts == ()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "psi: {warn: 0.1, error: 0.25}",
            "psi: {warn: 0.3, error: 0.25}",
            r"monitoring.psi: warn \(0.3\) must be below error \(0.25\)",
        ),
        (
            "ks: {warn: 0.1, error: 0.2}",
            "ks: {warn: 0.1, error: 1.5}",
            "monitoring.ks.error",
        ),
        (
            "ks: {warn: 0.1, error: 0.2}",
            "ks: {warn: -0.1, error: 0.2}",
            "monitoring.ks.warn",
        ),
        (
            "score_psi: {warn: 0.1, error: 0.25}",
            "score_psi: {warn: .nan, error: 0.25}",
            "monitoring.score_psi.warn",
        ),
        ("reference: model_training", "reference: yesterday", "monitoring.reference"),
        ("  bins: 10  ", "  bins: 1  ", "monitoring.bins"),
        ("  alpha: 0.01", "  alpha: 0", "monitoring.alpha"),
        (
            "prevalence: {absolute: 0.02, relative: 0.5}",
            "prevalence: {absolute: 0.02, relative: .inf}",
            "monitoring.prevalence.relative",
        ),
        (
            "calibration: {absolute: 0.02, relative: 0.25}",
            "calibration: {absolute: 0, relative: 0.25}",
            "monitoring.calibration.absolute",
        ),
        (
            "  segment_column: industry        #",
            "  segment_column: colour          #",
            "monitoring.segment_column",
        ),
        ('    - "als_f*"', '    - "  "', "monitoring.ignore_features"),
        ("  top_n: 10", "  top_n: 10\n  colour: red", "monitoring.colour"),
        (
            "shuffled_auc_tolerance: 0.05",
            "shuffled_auc_tolerance: 0.7",
            "audit.shuffled_auc_tolerance",
        ),
        ("appended_lines: 200", "appended_lines: 0", "audit.appended_lines"),
        (
            "  shifts: []",
            "  shifts: [{industry: Nope, factor: 2.0, from: 2025-01-01}]",
            "unknown industry 'Nope'",
        ),
        (
            "  shifts: []",
            "  shifts: [{industry: Government, factor: 0, from: 2025-01-01}]",
            "sample_data.shifts.0.factor",
        ),
        (
            "  shifts: []",
            "  shifts: [{industry: Government, factor: 2, from: 2025-01-01, x: 1}]",
            "sample_data.shifts.0.x",
        ),
    ],
)
def test_errors_name_the_key(config_copy, old, new, message):
    _edit(config_copy, old, new)
    with pytest.raises(ConfigError, match=message):
        load_config(config_copy, env={})


def test_a_shift_reads_from_as_its_start(config_copy):
    _edit(
        config_copy,
        "  shifts: []",
        "  shifts: [{industry: Medical Devices, factor: 2.5, from: 2025-01-01, "
        "share: 0.5}]",
    )
    (shift,) = load_config(config_copy, env={}).sample_data.shifts
    assert shift.industry == "Medical Devices" and shift.factor == 2.5
    assert shift.start == dt.date(2025, 1, 1) and shift.share == 0.5
