"""The ``gosales`` command group, its global options and shared option parsing."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Any

import click

from gosales_assets.config import ConfigError, GosalesConfig, load_config

log = logging.getLogger("gosales.cli")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    for noisy in ("alembic", "dagster"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def parse_date(
    ctx: click.Context, param: click.Parameter, value: Any
) -> dt.date | None:
    if value is None or value == "latest":
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date in YYYY-MM-DD form"
        ) from None


def context_config(ctx: click.Context) -> GosalesConfig:
    cfg = ctx.obj.get("cfg")
    if cfg is None:
        try:
            cfg = load_config(ctx.obj.get("config_path"))
        except ConfigError as err:
            raise click.ClickException(str(err)) from None
        ctx.obj["cfg"] = cfg
    return cfg


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Configuration YAML (default: $GOSALES_CONFIG or config/gosales.yaml).",
)
@click.option("--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """GoSales Assets: leakage-safe cross-sell and whitespace analytics."""
    _setup_logging(verbose)
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
