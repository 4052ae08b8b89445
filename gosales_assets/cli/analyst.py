"""``gosales summary | top``: what analysts and sales ops read from the store."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from gosales_assets.cli.app import context_config, main, parse_date
from gosales_assets.config import GosalesConfig


@main.command()
@click.option(
    "--cutoff",
    default="latest",
    show_default=True,
    callback=parse_date,
    help="Cutoff date YYYY-MM-DD, or 'latest' for the newest materialized cutoff.",
)
@click.option(
    "--live",
    is_flag=True,
    help="Read the live store instead of the published analyst copy (a running "
    "pipeline may have to wait for this read).",
)
@click.pass_context
def summary(ctx: click.Context, cutoff: dt.date | None, live: bool) -> None:
    """Print a short summary of the curated store at a cutoff (the published copy
    when there is one)."""
    cfg = context_config(ctx)
    print_summary(cfg, cutoff, live)


@main.command()
@click.option(
    "--cutoff",
    default="latest",
    show_default=True,
    callback=parse_date,
    help="Cutoff date YYYY-MM-DD, or 'latest' for the newest scored cutoff.",
)
@click.option("--division", default=None, help="Only this target (default: all).")
@click.option(
    "--n",
    "limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many opportunities to print.",
)
@click.option(
    "--live",
    is_flag=True,
    help="Read the live store instead of the published analyst copy (a running "
    "pipeline may have to wait for this read).",
)
@click.pass_context
def top(
    ctx: click.Context,
    cutoff: dt.date | None,
    division: str | None,
    limit: int,
    live: bool,
) -> None:
    """Print the best whitespace opportunities with their reasons (from the published
    copy when there is one)."""
    from gosales_assets.lib.summary import top_opportunities

    cfg = context_config(ctx)
    if division is not None and division.strip() not in cfg.target_names:
        raise click.BadParameter(
            f"unknown target {division!r}; known: {', '.join(cfg.target_names)}",
            param_hint="--division",
        )
    store = _reading_store(cfg, live)
    click.echo(top_opportunities(cfg, cutoff, division, limit, store))


def print_summary(
    cfg: GosalesConfig, cutoff: dt.date | None, live: bool = False
) -> None:
    from gosales_assets.lib.summary import store_summary

    click.echo(store_summary(cfg, cutoff, _reading_store(cfg, live)))


def _reading_store(cfg: GosalesConfig, live: bool) -> Any:
    """The published analyst copy when it exists (unless ``live``), else the store."""
    from gosales_assets.lib.store import Store

    if not live and cfg.published_path.is_file():
        return Store(cfg.published_path, cfg.ingest.lock_timeout_seconds)
    _require_store(cfg)
    return Store.from_config(cfg)


def _require_store(cfg: GosalesConfig) -> None:
    from gosales_assets.lib.store import Store

    store = Store.from_config(cfg)
    if not store.exists():
        raise click.ClickException(
            f"no curated store at {store.location}; run `gosales run` first"
        )
