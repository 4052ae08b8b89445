"""``gosales alerts list | ack | resolve`` (docs/runbook.md)."""

from __future__ import annotations

from typing import Any

import click

from gosales_assets.cli.app import context_config, main


@main.group()
def alerts() -> None:
    """Alerts from failed checks and runs (docs/runbook.md): list, ack, resolve."""


def _alert_log(ctx: click.Context) -> Any:
    from gosales_assets.lib.alerts import JsonlNotifier

    return JsonlNotifier(context_config(ctx).alert_log_path)


@alerts.command("list")
@click.option("--all", "include_acked", is_flag=True, help="Include acknowledged ones.")
@click.pass_context
def alerts_list(ctx: click.Context, include_acked: bool) -> None:
    """Print the open alerts, most severe and oldest first, with their dedup keys."""
    from gosales_assets.lib.alerts import format_open_alerts

    log_ = _alert_log(ctx)
    click.echo(f"alert log: {log_.path}")
    click.echo(format_open_alerts(log_.open_alerts(), include_acked))


@alerts.command("ack")
@click.argument("key")
@click.option("--by", default=None, help="Who acknowledges it (default: $USER).")
@click.option("--note", default="", help="Why, or what is being done about it.")
@click.pass_context
def alerts_ack(ctx: click.Context, key: str, by: str | None, note: str) -> None:
    """Acknowledge the open alert KEY (hidden from `alerts list` until it escalates)."""
    import getpass

    who = by or getpass.getuser()
    if not _alert_log(ctx).ack(key, by=who, note=note):
        raise click.ClickException(
            f"no open alert {key!r}; `gosales alerts list --all` shows the open keys"
        )
    click.echo(f"acknowledged {key} (by {who})")


@alerts.command("resolve")
@click.argument("key")
@click.option("--note", default="", help="Why it is closed by hand.")
@click.pass_context
def alerts_resolve(ctx: click.Context, key: str, note: str) -> None:
    """Close the open alert KEY by hand; its next failure alerts again."""
    if not _alert_log(ctx).resolve(key, note=note):
        raise click.ClickException(
            f"no open alert {key!r}; `gosales alerts list --all` shows the open keys"
        )
    click.echo(f"resolved {key}")
