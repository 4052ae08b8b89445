"""Fan-out to several notifiers, dispatching a plan, and listing open alerts."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

try:  # POSIX advisory locks serialize writers of the alert log across processes
    import fcntl
except ImportError:  # pragma: no cover - not on the supported platforms
    fcntl = None  # type: ignore[assignment]

from gosales_assets.lib.alerts.alert_log import JsonlNotifier
from gosales_assets.lib.alerts.channels import _cut
from gosales_assets.lib.alerts.records import (
    SEVERITY_RANK,
    Alert,
    AlertPlan,
    OpenAlert,
    Resolution,
    log,
)


class RecordingNotifier:
    """Keeps the alerts it is given (tests, dry runs)."""

    def __init__(self, name: str = "recording") -> None:
        self.name = name
        self.alerts: list[Alert] = []

    def notify(self, alerts: Sequence[Alert]) -> dict[str, str]:
        self.alerts.extend(alerts)
        return {a.dedup_key: "recorded" for a in alerts}


class FanOutNotifier:
    """Sends alerts to every notifier; one failing notifier never stops the others.
    ``deliver`` returns the alerts with each notifier's status in ``deliveries``."""

    name = "fan-out"

    def __init__(self, notifiers: Sequence[Any], logger: logging.Logger | None = None):
        self.notifiers = list(notifiers)
        self.log = logger or log

    def deliver(self, alerts: Sequence[Alert]) -> list[Alert]:
        deliveries: dict[str, dict[str, str]] = {a.dedup_key: {} for a in alerts}
        for notifier in self.notifiers:
            try:
                statuses = notifier.notify(alerts)
            except Exception as err:  # a notifier bug must not lose the alert
                self.log.exception("%s: notifier raised", notifier.name)
                statuses = {a.dedup_key: f"failed: {err}" for a in alerts}
            for key, status in statuses.items():
                deliveries.setdefault(key, {})[notifier.name] = status
        return [replace(a, deliveries=deliveries[a.dedup_key]) for a in alerts]

    def notify(self, alerts: Sequence[Alert]) -> dict[str, str]:
        return {
            a.dedup_key: "; ".join(f"{k}={v}" for k, v in a.deliveries.items())
            for a in self.deliver(alerts)
        }


@dataclass(frozen=True)
class DispatchReport:
    sent: tuple[Alert, ...]  # alerts handed to the chat channels (with deliveries)
    logged: int  # lines written to the alert log
    resolved: int
    suppressed: int

    @property
    def summary(self) -> str:
        return (
            f"{len(self.sent)} alert(s) sent, {self.logged} log line(s) written, "
            f"{self.resolved} resolved, {self.suppressed} repeat failure(s) suppressed"
        )


def dispatch(
    plan: AlertPlan, chat: FanOutNotifier, alert_log: JsonlNotifier
) -> DispatchReport:
    """Send the plan's alerts to the chat channels, then write every entry to the log
    (alerts with their delivery statuses). Sending first makes delivery at-least-once:
    a crash between the two re-sends on the next tick rather than losing the alert."""
    if plan.entries:
        alert_log.ensure_writable()
    delivered = {
        id(a): d for a, d in zip(plan.send, chat.deliver(plan.send), strict=True)
    }
    entries: list[Alert | Resolution] = []
    for entry in plan.entries:
        if isinstance(entry, Alert):
            if id(entry) in delivered:
                entry = delivered[id(entry)]
            elif entry.silenced:
                entry = replace(entry, deliveries={"chat": "silenced"})
            else:
                entry = replace(
                    entry, deliveries={"chat": "not sent: superseded within the batch"}
                )
        entries.append(entry)
    statuses = alert_log.append(entries)
    return DispatchReport(
        sent=tuple(delivered.values()),
        logged=statuses.count("written"),
        resolved=sum(
            isinstance(e, Resolution) and s == "written"
            for e, s in zip(entries, statuses, strict=True)
        ),
        suppressed=plan.suppressed,
    )


def format_open_alerts(
    open_alerts: Mapping[str, OpenAlert], include_acked: bool
) -> str:
    """A plain-text table of open alerts, most severe and oldest first."""
    rows = [
        (key, a)
        for key, a in open_alerts.items()
        if include_acked or a.acked_by is None
    ]
    if not rows:
        return "no open alerts"
    rows.sort(key=lambda r: (-SEVERITY_RANK[r[1].severity], r[1].opened_at, r[0]))
    lines = []
    for key, a in rows:
        ack = f"  acked by {a.acked_by} at {a.acked_at}" if a.acked_by else ""
        lines.append(f"{a.severity:<5}  since {a.opened_at}  {key}{ack}")
        if a.alert.description:
            lines.append(f"       {_cut(a.alert.description, 160)}")
    return "\n".join(lines)
