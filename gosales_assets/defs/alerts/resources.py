"""The notifier resource: the alert log plus the configured chat channels."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import dagster as dg

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.alerts import (
    FanOutNotifier,
    JsonlNotifier,
    SilenceRule,
    SlackNotifier,
    TeamsNotifier,
)


class SilenceRuleParams(dg.Config):
    """One ``alerts.silence`` rule (globs; ``until`` as YYYY-MM-DD or None)."""

    reason: str
    asset: str = "*"
    check: str = "*"
    partition: str = "*"
    until: str | None = None


class NotifierResource(dg.ConfigurableResource):
    """Where alerts go: the JSONL alert log (always; it is also the dedup state) and
    the chat channels of ``alerts.channels``. Webhook URLs are read from the
    environment variables named here, at send time, never from configuration."""

    log_path: str
    severities: list[str]
    channels: list[str]
    slack_severities: list[str]
    teams_severities: list[str]
    silence: list[SilenceRuleParams]
    alert_on_run_failure: bool = True
    slack_webhook_env: str = "GOSALES_SLACK_WEBHOOK_URL"
    teams_webhook_env: str = "GOSALES_TEAMS_WEBHOOK_URL"
    timeout_seconds: float = 10.0
    max_messages_per_tick: int = 20
    ui_base_url: str | None = None

    @classmethod
    def from_config(cls, cfg: GosalesConfig) -> NotifierResource:
        a = cfg.alerts
        return cls(
            log_path=str(cfg.alert_log_path),
            severities=list(a.severities),
            alert_on_run_failure=a.alert_on_run_failure,
            channels=list(a.channels),
            slack_webhook_env=a.slack.webhook_env,
            slack_severities=list(a.slack.severities),
            teams_webhook_env=a.teams.webhook_env,
            teams_severities=list(a.teams.severities),
            timeout_seconds=a.timeout_seconds,
            max_messages_per_tick=a.max_messages_per_tick,
            ui_base_url=a.ui_base_url,
            silence=[
                SilenceRuleParams(
                    reason=r.reason,
                    asset=r.asset,
                    check=r.check,
                    partition=r.partition,
                    until=r.until.isoformat() if r.until else None,
                )
                for r in a.silence
            ],
        )

    def alert_log(self, logger: Any = None) -> JsonlNotifier:
        return JsonlNotifier(Path(self.log_path), logger)

    def silence_rules(self) -> list[SilenceRule]:
        return [
            SilenceRule(
                reason=r.reason,
                asset=r.asset,
                check=r.check,
                partition=r.partition,
                until=dt.date.fromisoformat(r.until) if r.until else None,
            )
            for r in self.silence
        ]

    def chat_notifiers(self, logger: Any = None) -> list[Any]:
        """One notifier per configured channel (the environment is read at send
        time, so a variable set after the daemon started is picked up)."""
        common: dict[str, Any] = {
            "env": os.environ,
            "timeout_seconds": self.timeout_seconds,
            "max_messages": self.max_messages_per_tick,
            "ui_base_url": self.ui_base_url,
            "logger": logger,
        }
        out: list[Any] = []
        for channel in self.channels:
            if channel == "slack":
                out.append(
                    SlackNotifier(
                        self.slack_webhook_env,
                        severities=self.slack_severities,
                        **common,
                    )
                )
            elif channel == "teams":
                out.append(
                    TeamsNotifier(
                        self.teams_webhook_env,
                        severities=self.teams_severities,
                        **common,
                    )
                )
            else:
                raise ValueError(f"unknown alert channel {channel!r} (slack, teams)")
        return out

    def fan_out(self, logger: Any = None) -> FanOutNotifier:
        return FanOutNotifier(self.chat_notifiers(logger), logger)
