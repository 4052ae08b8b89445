"""The gosales CLI validates inputs early and documents every option."""

from __future__ import annotations

import datetime as dt

import click
import pytest
from click.testing import CliRunner

from gosales_assets.cli import main
from gosales_assets.runner import newest_cutoff


@pytest.fixture
def runner(cfg_env, monkeypatch) -> CliRunner:
    for key, value in cfg_env.items():
        monkeypatch.setenv(key, value)
    return CliRunner()


def test_every_option_has_help():
    for name, command in main.commands.items():
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"gosales {name} {param.opts} has no --help text"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--division", "Nope"], "unknown target 'Nope'"),
        (["run", "--cutoff", "2024-13-01"], "is not a date in YYYY-MM-DD form"),
        (["run", "--cutoff", "1999-12-31"], "is before partitions.cutoff_start"),
        (["generate", "--customers", "3"], "3 is not in the range x>=10"),
        (["generate", "--start", "2024-01-01", "--end", "2023-01-01"], "must be after"),
        (["summary"], "no curated store"),
        (["top"], "no curated store"),
        (["top", "--division", "Nope"], "unknown target 'Nope'"),
        (["top", "--n", "0"], "0 is not in the range x>=1"),
        (["bench", "--scale", "XL"], "'XL' is not one of"),
    ],
)
def test_bad_input_is_refused_early(runner, args, message):
    result = runner.invoke(main, args)
    assert result.exit_code != 0
    assert message in result.output


def test_bad_config_names_the_key(runner, config_copy):
    text = config_copy.read_text().replace("mode: expansion", "mode: maybe")
    config_copy.write_text(text)
    result = runner.invoke(main, ["--config", str(config_copy), "summary"])
    assert result.exit_code != 0
    assert "labels.mode" in result.output


def test_newest_cutoff():
    assert newest_cutoff(dt.date(2026, 6, 30), dt.date(2021, 1, 1)) == dt.date(
        2026, 6, 30
    )
    assert newest_cutoff(dt.date(2026, 6, 29), dt.date(2021, 1, 1)) == dt.date(
        2026, 5, 31
    )
    with pytest.raises(ValueError, match="no month-end cutoff"):
        newest_cutoff(dt.date(2021, 1, 5), dt.date(2021, 1, 1))
