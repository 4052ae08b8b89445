"""Chat channels: Slack and Microsoft Teams incoming webhooks (standard library
HTTP, the call injectable for tests)."""

from __future__ import annotations

import abc
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

try:  # POSIX advisory locks serialize writers of the alert log across processes
    import fcntl
except ImportError:  # pragma: no cover - not on the supported platforms
    fcntl = None  # type: ignore[assignment]

from gosales_assets.lib.alerts.records import DIGEST_MAX_LINES, SEVERITIES, Alert, log

HttpSender = Callable[[str, bytes, Mapping[str, str], float], int]
"""``(url, body, headers, timeout_seconds) -> HTTP status``; raises on transport
errors (timeouts, DNS, TLS, refused connections)."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def urllib_post(
    url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> int:
    """POST with the standard library; the HTTP status (errors included)."""
    request = urllib.request.Request(
        url, data=body, headers=dict(headers), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class WebhookNotifier(abc.ABC):
    """Posts alerts to an incoming webhook whose URL is read from an environment
    variable (never from config). Never raises: a missing variable, a timeout or an
    HTTP error is logged and reported as the delivery status of each alert."""

    name = "webhook"

    def __init__(
        self,
        webhook_env: str,
        *,
        severities: Iterable[str] = SEVERITIES,
        env: Mapping[str, str] | None = None,
        sender: HttpSender | None = None,
        timeout_seconds: float = 10.0,
        max_messages: int = 20,
        ui_base_url: str | None = None,
        logger: logging.Logger | None = None,
        retry_delay_seconds: float = 1.0,
    ) -> None:
        if not _ENV_NAME.match(webhook_env):
            raise ValueError(f"{webhook_env!r} is not an environment variable name")
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self.webhook_env = webhook_env
        self.severities = frozenset(severities)
        self.env = os.environ if env is None else env
        self.sender = sender or urllib_post
        self.timeout = timeout_seconds
        self.max_messages = max_messages
        self.ui_base_url = ui_base_url.rstrip("/") if ui_base_url else None
        self.log = logger or log
        self.retry_delay = retry_delay_seconds

    # formatting (per channel) -------------------------------------------------
    @abc.abstractmethod
    def payload(self, alert: Alert) -> dict[str, Any]:
        """The message of one alert."""

    @abc.abstractmethod
    def digest_payload(self, alerts: Sequence[Alert]) -> dict[str, Any]:
        """One message summarizing the alerts beyond ``max_messages``."""

    def run_url(self, alert: Alert) -> str | None:
        if not self.ui_base_url or not alert.run_id:
            return None
        return f"{self.ui_base_url}/runs/{alert.run_id}"

    def facts(self, alert: Alert) -> list[tuple[str, str]]:
        rows = [
            ("Asset", alert.asset_key),
            ("Check", alert.check_name),
            ("Partition", alert.partition or "(unpartitioned)"),
            ("Severity", alert.severity),
            ("Run", alert.run_id or "-"),
            ("When", alert.timestamp),
            ("Dedup key", alert.dedup_key),
        ]
        return rows

    # delivery -----------------------------------------------------------------
    def _url(self) -> tuple[str | None, str]:
        url = (self.env.get(self.webhook_env) or "").strip()
        if not url:
            return None, f"environment variable {self.webhook_env} is not set"
        if not url.lower().startswith("https://"):
            return None, f"environment variable {self.webhook_env} is not an https URL"
        return url, ""

    def _post(self, url: str, payload: Mapping[str, Any]) -> str:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        last = ""
        for attempt in (1, 2):
            try:
                status = self.sender(url, body, headers, self.timeout)
            except Exception as err:  # timeouts, DNS, TLS, refused: never crash
                last = f"{type(err).__name__}: {err}"
                transient = True
            else:
                if 200 <= status < 300:
                    return "sent"
                last = f"HTTP {status}"
                transient = status == 429 or status >= 500
            if not transient or attempt == 2:
                break
            time.sleep(self.retry_delay)
        self.log.error("%s: delivery failed: %s", self.name, last)
        return f"failed: {last}"

    def notify(self, alerts: Sequence[Alert]) -> dict[str, str]:
        statuses: dict[str, str] = {}
        wanted: list[Alert] = []
        for alert in alerts:
            if alert.silenced:
                statuses[alert.dedup_key] = f"skipped: silenced ({alert.silenced})"
            elif alert.severity not in self.severities:
                statuses[alert.dedup_key] = f"skipped: {alert.severity} not sent here"
            else:
                wanted.append(alert)
        if not wanted:
            return statuses
        url, why = self._url()
        if url is None:
            self.log.warning(
                "%s: %d alert(s) not sent: %s", self.name, len(wanted), why
            )
            statuses.update({a.dedup_key: f"skipped: {why}" for a in wanted})
            return statuses
        single = (
            wanted
            if len(wanted) <= self.max_messages
            else wanted[: self.max_messages - 1]
        )
        rest = wanted[len(single) :]
        for alert in single:
            try:
                payload = self.payload(alert)
            except Exception as err:  # a formatting bug must not stop the others
                statuses[alert.dedup_key] = f"failed: cannot format: {err}"
                self.log.exception(
                    "%s: cannot format alert %s", self.name, alert.dedup_key
                )
                continue
            statuses[alert.dedup_key] = self._post(url, payload)
        if rest:
            status = self._post(url, self.digest_payload(rest))
            statuses.update({a.dedup_key: f"digest: {status}" for a in rest})
        return statuses


def _digest_lines(alerts: Sequence[Alert]) -> list[str]:
    lines = [f"{a.severity} {a.dedup_key}" for a in alerts[:DIGEST_MAX_LINES]]
    if len(alerts) > DIGEST_MAX_LINES:
        lines.append(f"... and {len(alerts) - DIGEST_MAX_LINES} more")
    return lines


def _digest_title(alerts: Sequence[Alert]) -> str:
    errors = sum(a.severity == "ERROR" for a in alerts)
    return (
        f"{len(alerts)} more failed check(s) ({errors} ERROR, "
        f"{len(alerts) - errors} WARN); details in the alert log"
    )


class SlackNotifier(WebhookNotifier):
    """Slack incoming webhook (Block Kit message with a plain-text fallback)."""

    name = "slack"
    EMOJI: ClassVar[dict[str, str]] = {"WARN": ":warning:", "ERROR": ":rotating_light:"}

    def payload(self, alert: Alert) -> dict[str, Any]:
        fields = [
            {"type": "mrkdwn", "text": f"*{name}*\n{_slack_escape(_cut(value, 500))}"}
            for name, value in self.facts(alert)
            if name != "Run"
        ]
        url = self.run_url(alert)
        run = f"<{url}|{alert.run_id}>" if url else f"`{alert.run_id or '-'}`"
        fields.append({"type": "mrkdwn", "text": f"*Run*\n{run}"})
        blocks: list[dict[str, Any]] = [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": _cut(f"{self.EMOJI[alert.severity]} {alert.title}", 150),
                    "emoji": True,
                },
            },
            {"type": "section", "fields": fields[:10]},
        ]
        if alert.description:
            blocks.append(
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": _slack_escape(_cut(alert.description, 2900)),
                    },
                }
            )
        if alert.metadata:
            text = "\n".join(f"• {k}: {v}" for k, v in alert.metadata.items())
            blocks.append(
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": _slack_escape(_cut(text, 2900))}
                    ],
                }
            )
        return {"text": alert.title, "blocks": blocks}

    def digest_payload(self, alerts: Sequence[Alert]) -> dict[str, Any]:
        title = _digest_title(alerts)
        body = "\n".join(f"• {_slack_escape(line)}" for line in _digest_lines(alerts))
        return {
            "text": title,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": _cut(body, 2900)},
                },
            ],
        }


class TeamsNotifier(WebhookNotifier):
    """Microsoft Teams incoming webhook (Workflows "post to a channel when a webhook
    request is received"): a message with one Adaptive Card attachment."""

    name = "teams"
    COLOR: ClassVar[dict[str, str]] = {"WARN": "Warning", "ERROR": "Attention"}

    @staticmethod
    def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict:
        content: dict[str, Any] = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": body,
        }
        if actions:
            content["actions"] = actions
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": content,
                }
            ],
        }

    def payload(self, alert: Alert) -> dict[str, Any]:
        body: list[dict[str, Any]] = [
            {
                "type": "TextBlock",
                "size": "Medium",
                "weight": "Bolder",
                "color": self.COLOR[alert.severity],
                "wrap": True,
                "text": alert.title,
            }
        ]
        if alert.description:
            body.append(
                {
                    "type": "TextBlock",
                    "wrap": True,
                    "text": _cut(alert.description, 2900),
                }
            )
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": name, "value": _cut(value, 500)}
                    for name, value in self.facts(alert)
                ],
            }
        )
        if alert.metadata:
            body.append(
                {
                    "type": "FactSet",
                    "facts": [
                        {"title": k, "value": v} for k, v in alert.metadata.items()
                    ],
                }
            )
        url = self.run_url(alert)
        actions = (
            [{"type": "Action.OpenUrl", "title": "Open the run", "url": url}]
            if url
            else []
        )
        return self._card(body, actions)

    def digest_payload(self, alerts: Sequence[Alert]) -> dict[str, Any]:
        return self._card(
            [
                {
                    "type": "TextBlock",
                    "weight": "Bolder",
                    "wrap": True,
                    "text": _digest_title(alerts),
                },
                {
                    "type": "TextBlock",
                    "wrap": True,
                    "text": "\n\n".join(_digest_lines(alerts)),
                },
            ],
            [],
        )
