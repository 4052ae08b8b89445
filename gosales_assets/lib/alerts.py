"""Alerts on failed asset checks: the alert record, the alert log and the notifiers.

Pure logic (no Dagster). The sensor in ``defs/alerts`` reads check evaluations from the
Dagster event log, turns them into :class:`CheckEvaluation`s and hands them to
:func:`plan_alerts`; the plan's alerts go to the chat notifiers and every entry to the
alert log (:class:`JsonlNotifier`), which is also the deduplication state.

Lifecycle of one dedup key (asset + check + partition), see docs/runbook.md:

- the first failed evaluation opens an alert (one line ``kind=alert`` in the log, one
  chat message);
- further failures while it is open are suppressed, except a WARN -> ERROR escalation,
  which alerts again;
- a passed evaluation resolves it (``kind=resolved``, log only); a later failure opens a
  new alert;
- ``gosales alerts ack`` marks an open alert as acknowledged (``kind=ack``);
  ``gosales alerts resolve`` closes it by hand.

Chat delivery uses incoming webhooks through the standard library (``urllib``), with
the HTTP call injectable for tests. dagster-slack's resource posts with a bot token
(``slack_sdk`` ``chat_postMessage``) rather than to a webhook, and dagster-msteams'
client wraps ``requests`` around the same JSON POST; neither adds anything that a
webhook whose URL comes from an environment variable needs, so no dependency is added.
"""

from __future__ import annotations

import abc
import datetime as dt
import fnmatch
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

try:  # POSIX advisory locks serialize writers of the alert log across processes
    import fcntl
except ImportError:  # pragma: no cover - not on the supported platforms
    fcntl = None  # type: ignore[assignment]

Severity = Literal["WARN", "ERROR"]
SEVERITIES: tuple[Severity, ...] = ("WARN", "ERROR")
SEVERITY_RANK: dict[str, int] = {"WARN": 1, "ERROR": 2}
RUN_FAILURE_CHECK = "run_failure"
JOB_KEY_PREFIX = "job:"
LOG_SCHEMA_VERSION = 1
# Chat messages stay readable: at most this many metadata entries, each value cut to
# this many characters (the alert log keeps the same summary).
METADATA_MAX_ENTRIES = 12
METADATA_MAX_CHARS = 300
DIGEST_MAX_LINES = 50

log = logging.getLogger("gosales.alerts")

HttpSender = Callable[[str, bytes, Mapping[str, str], float], int]
"""``(url, body, headers, timeout_seconds) -> HTTP status``; raises on transport
errors (timeouts, DNS, TLS, refused connections)."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def dedup_key(asset_key: str, check_name: str, partition: str | None) -> str:
    """``asset:check@partition`` (``asset:check`` when unpartitioned)."""
    base = f"{asset_key}:{check_name}"
    return base if partition is None else f"{base}@{partition}"


def iso_utc(timestamp: float) -> str:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SSZ``."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summarize_metadata(metadata: Mapping[str, Any]) -> dict[str, str]:
    """The first entries of a metadata mapping as short strings, keys in given order."""
    out: dict[str, str] = {}
    for name, value in list(metadata.items())[:METADATA_MAX_ENTRIES]:
        if isinstance(value, str):
            text = value
        elif isinstance(value, bool | int | float) or value is None:
            text = json.dumps(value)
        else:
            try:
                text = json.dumps(value, sort_keys=True, default=str)
            except (TypeError, ValueError):
                text = str(value)
        if len(text) > METADATA_MAX_CHARS:
            text = text[: METADATA_MAX_CHARS - 1] + "…"
        out[str(name)] = text
    return out


@dataclass(frozen=True)
class CheckEvaluation:
    """One asset check evaluation (or one finished run, see :func:`run_evaluation`)."""

    asset_key: str  # user string, e.g. "scoring/icp_scores"
    check_name: str
    partition: str | None
    passed: bool
    severity: Severity
    description: str
    metadata: Mapping[str, str]
    run_id: str
    timestamp: float  # epoch seconds of the evaluation

    @property
    def dedup_key(self) -> str:
        return dedup_key(self.asset_key, self.check_name, self.partition)


def run_evaluation(
    job_name: str,
    partition: str | None,
    succeeded: bool,
    description: str,
    run_id: str,
    timestamp: float,
    metadata: Mapping[str, str] | None = None,
) -> CheckEvaluation:
    """A finished run as a pseudo check ``job:<job>:run_failure``: a failed run opens an
    ERROR alert, a later successful run of the same job and partition resolves it."""
    return CheckEvaluation(
        asset_key=f"{JOB_KEY_PREFIX}{job_name}",
        check_name=RUN_FAILURE_CHECK,
        partition=partition,
        passed=succeeded,
        severity="ERROR",
        description=description,
        metadata=dict(metadata or {}),
        run_id=run_id,
        timestamp=timestamp,
    )


@dataclass(frozen=True)
class Alert:
    """One alert: a failed check (or run) of an asset partition."""

    check_name: str
    asset_key: str
    partition: str | None
    severity: Severity
    description: str
    metadata: Mapping[str, str]
    run_id: str
    timestamp: str  # ISO 8601 UTC of the failed evaluation
    escalated_from: Severity | None = None
    silenced: str | None = None  # reason of the matching silence rule
    deliveries: Mapping[str, str] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        return dedup_key(self.asset_key, self.check_name, self.partition)

    @property
    def is_run_failure(self) -> bool:
        return self.asset_key.startswith(JOB_KEY_PREFIX)

    @property
    def title(self) -> str:
        what = (
            f"run of {self.asset_key.removeprefix(JOB_KEY_PREFIX)} failed"
            if self.is_run_failure
            else f"check {self.check_name} failed on {self.asset_key}"
        )
        where = f" [{self.partition}]" if self.partition else ""
        again = (
            f" (escalated from {self.escalated_from})" if self.escalated_from else ""
        )
        return f"{self.severity}: {what}{where}{again}"

    @classmethod
    def from_evaluation(
        cls,
        ev: CheckEvaluation,
        escalated_from: Severity | None = None,
        silenced: str | None = None,
    ) -> Alert:
        return cls(
            check_name=ev.check_name,
            asset_key=ev.asset_key,
            partition=ev.partition,
            severity=ev.severity,
            description=ev.description,
            metadata=dict(ev.metadata),
            run_id=ev.run_id,
            timestamp=iso_utc(ev.timestamp),
            escalated_from=escalated_from,
            silenced=silenced,
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "v": LOG_SCHEMA_VERSION,
            "kind": "alert",
            "dedup_key": self.dedup_key,
            "check_name": self.check_name,
            "asset_key": self.asset_key,
            "partition": self.partition,
            "severity": self.severity,
            "description": self.description,
            "metadata": dict(self.metadata),
            "run_id": self.run_id,
            "timestamp": self.timestamp,
            "escalated_from": self.escalated_from,
            "silenced": self.silenced,
            "deliveries": dict(self.deliveries),
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> Alert:
        return cls(
            check_name=str(rec["check_name"]),
            asset_key=str(rec["asset_key"]),
            partition=rec.get("partition"),
            severity=rec["severity"],
            description=str(rec.get("description") or ""),
            metadata=dict(rec.get("metadata") or {}),
            run_id=str(rec.get("run_id") or ""),
            timestamp=str(rec.get("timestamp") or ""),
            escalated_from=rec.get("escalated_from"),
            silenced=rec.get("silenced"),
            deliveries=dict(rec.get("deliveries") or {}),
        )


@dataclass(frozen=True)
class Resolution:
    """An open alert closed by a passed evaluation (or by hand)."""

    dedup_key: str
    run_id: str
    timestamp: str
    note: str = ""

    def to_record(self) -> dict[str, Any]:
        return {
            "v": LOG_SCHEMA_VERSION,
            "kind": "resolved",
            "dedup_key": self.dedup_key,
            "run_id": self.run_id,
            "timestamp": self.timestamp,
            "note": self.note,
        }


@dataclass(frozen=True)
class Ack:
    """An open alert acknowledged by a person."""

    dedup_key: str
    by: str
    timestamp: str
    note: str = ""

    def to_record(self) -> dict[str, Any]:
        return {
            "v": LOG_SCHEMA_VERSION,
            "kind": "ack",
            "dedup_key": self.dedup_key,
            "by": self.by,
            "timestamp": self.timestamp,
            "note": self.note,
        }


LogEntry = Alert | Resolution | Ack


@dataclass(frozen=True)
class OpenAlert:
    """The state of an open dedup key, folded from the alert log."""

    alert: Alert
    opened_at: str  # timestamp of the first alert of this episode
    acked_by: str | None = None
    acked_at: str | None = None

    @property
    def severity(self) -> Severity:
        return self.alert.severity


def _apply(state: dict[str, OpenAlert], rec: Mapping[str, Any]) -> None:
    """Apply one log record to ``state`` (in place)."""
    key = rec.get("dedup_key")
    if not isinstance(key, str):
        return
    kind = rec.get("kind")
    if kind == "alert":
        alert = Alert.from_record(rec)
        current = state.get(key)
        opened = current.opened_at if current else alert.timestamp
        # an escalation alerts again; the acknowledgement was for the lower severity
        state[key] = OpenAlert(alert, opened)
    elif kind == "resolved":
        state.pop(key, None)
    elif kind == "ack" and key in state:
        state[key] = replace(
            state[key], acked_by=str(rec.get("by") or ""), acked_at=rec.get("timestamp")
        )


def fold_log(records: Iterable[Mapping[str, Any]]) -> dict[str, OpenAlert]:
    """The open alerts after replaying the log records in order."""
    state: dict[str, OpenAlert] = {}
    for rec in records:
        _apply(state, rec)
    return state


def _is_duplicate(state: Mapping[str, OpenAlert], alert: Alert) -> bool:
    current = state.get(alert.dedup_key)
    return current is not None and (
        SEVERITY_RANK[alert.severity] <= SEVERITY_RANK[current.severity]
    )


@dataclass(frozen=True)
class SilenceRule:
    """Alerts matching every glob (fnmatch, case-sensitive) are logged, not sent, until
    the end of ``until`` (UTC; None = no end)."""

    reason: str
    asset: str = "*"
    check: str = "*"
    partition: str = "*"
    until: dt.date | None = None

    def matches(self, ev: CheckEvaluation) -> bool:
        if self.until is not None:
            day = dt.datetime.fromtimestamp(ev.timestamp, dt.UTC).date()
            if day > self.until:
                return False
        return (
            fnmatch.fnmatchcase(ev.asset_key, self.asset)
            and fnmatch.fnmatchcase(ev.check_name, self.check)
            and fnmatch.fnmatchcase(ev.partition or "", self.partition)
        )


@dataclass(frozen=True)
class AlertPlan:
    """What one batch of evaluations changes.

    ``entries``: every alert and resolution, in order, for the alert log.
    ``send``: the alerts for the chat channels: per dedup key the newest alert of the
    batch, only if it is still open at the end of the batch and not silenced.
    """

    entries: tuple[Alert | Resolution, ...]
    send: tuple[Alert, ...]
    suppressed: int  # failures of keys that were already open at that severity

    @property
    def alerts(self) -> tuple[Alert, ...]:
        return tuple(e for e in self.entries if isinstance(e, Alert))

    @property
    def resolutions(self) -> tuple[Resolution, ...]:
        return tuple(e for e in self.entries if isinstance(e, Resolution))


def plan_alerts(
    evaluations: Iterable[CheckEvaluation],
    open_alerts: Mapping[str, OpenAlert],
    severities: Iterable[str] = SEVERITIES,
    silence: Sequence[SilenceRule] = (),
) -> AlertPlan:
    """Fold a batch of evaluations (ordered by time) into alerts and resolutions."""
    wanted = set(severities)
    state: dict[str, str] = {k: v.severity for k, v in open_alerts.items()}
    entries: list[Alert | Resolution] = []
    newest: dict[str, Alert] = {}
    suppressed = 0
    ordered = sorted(evaluations, key=lambda e: e.timestamp)  # stable within a run
    for ev in ordered:
        key = ev.dedup_key
        if ev.passed:
            if key in state:
                entries.append(Resolution(key, ev.run_id, iso_utc(ev.timestamp)))
                del state[key]
                newest.pop(key, None)
            continue
        if ev.severity not in wanted:
            continue
        current = state.get(key)
        if current is not None and SEVERITY_RANK[ev.severity] <= SEVERITY_RANK[current]:
            suppressed += 1
            continue
        reason = next((r.reason for r in silence if r.matches(ev)), None)
        alert = Alert.from_evaluation(
            ev,
            escalated_from=current,  # type: ignore[arg-type]
            silenced=reason,
        )
        entries.append(alert)
        state[key] = ev.severity
        newest[key] = alert
    order = {id(a): i for i, a in enumerate(entries)}
    send = sorted(
        (a for a in newest.values() if a.silenced is None), key=lambda a: order[id(a)]
    )
    return AlertPlan(tuple(entries), tuple(send), suppressed)


# --------------------------------------------------------------------------- the log


class AlertLogError(RuntimeError):
    """The alert log cannot be read or written."""


class JsonlNotifier:
    """The alert log: one JSON object per line, append-only.

    Appends are atomic (one ``write`` on an ``O_APPEND`` descriptor per batch, fsynced)
    and serialized across processes by an exclusive ``flock`` held while the log is
    read, deduplicated against, and appended to. A torn last line (a crash mid-write)
    is skipped on read and never glued to the next record.
    """

    name = "log"

    def __init__(self, path: Path, logger: logging.Logger | None = None) -> None:
        self.path = Path(path)
        self.log = logger or log

    # reading -------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        """Every well-formed record, in file order."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as err:
            raise AlertLogError(
                f"cannot read the alert log {self.path}: {err}"
            ) from err
        out: list[dict[str, Any]] = []
        bad = 0
        for line in raw.splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                bad += 1
                continue
            if isinstance(rec, dict):
                out.append(rec)
            else:
                bad += 1
        if bad:
            self.log.warning(
                "alert log %s: skipped %d unreadable line(s)", self.path, bad
            )
        return out

    def open_alerts(self) -> dict[str, OpenAlert]:
        return fold_log(self.records())

    # writing -------------------------------------------------------------------
    def _locked_fd(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def ensure_writable(self) -> None:
        """Raise :class:`AlertLogError` now if the log cannot be opened for appending
        (checked before anything is sent, so an unwritable log never causes a chat
        message to be repeated on every tick)."""
        try:
            os.close(self._locked_fd())
        except OSError as err:
            raise AlertLogError(
                f"cannot open the alert log {self.path} for appending: {err}"
            ) from err

    def append(self, entries: Sequence[LogEntry]) -> list[str]:
        """Append the entries that change the log's state; one status per entry:
        ``written``, ``duplicate`` (alert already open at that severity) or
        ``not open`` (resolution or ack of a key that is not open)."""
        if not entries:
            return []
        try:
            fd = self._locked_fd()
        except OSError as err:
            raise AlertLogError(
                f"cannot open the alert log {self.path}: {err}"
            ) from err
        try:
            state = self.open_alerts()
            statuses: list[str] = []
            lines: list[str] = []
            for entry in entries:
                rec = entry.to_record()
                key = entry.dedup_key
                if isinstance(entry, Alert):
                    if _is_duplicate(state, entry):
                        statuses.append("duplicate")
                        continue
                elif key not in state:
                    statuses.append("not open")
                    continue
                _apply(state, rec)
                lines.append(json.dumps(rec, ensure_ascii=False, sort_keys=True))
                statuses.append("written")
            if lines:
                payload = ("\n".join(lines) + "\n").encode("utf-8")
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    payload = b"\n" + payload  # never glue onto a torn line
                written = os.write(fd, payload)
                if written != len(payload):
                    raise AlertLogError(
                        f"short write to the alert log {self.path} "
                        f"({written} of {len(payload)} bytes; disk full?)"
                    )
                os.fsync(fd)
            return statuses
        except OSError as err:
            raise AlertLogError(
                f"cannot write the alert log {self.path}: {err}"
            ) from err
        finally:
            os.close(fd)  # closing releases the lock

    def notify(self, alerts: Sequence[Alert]) -> dict[str, str]:
        statuses = self.append(alerts)
        return {a.dedup_key: s for a, s in zip(alerts, statuses, strict=True)}

    def ack(self, key: str, by: str, note: str = "", now: float | None = None) -> bool:
        """Acknowledge an open alert; False when ``key`` is not open."""
        stamp = iso_utc(time.time() if now is None else now)
        return self.append([Ack(key, by, stamp, note)]) == ["written"]

    def resolve(self, key: str, note: str = "", now: float | None = None) -> bool:
        """Close an open alert by hand; False when ``key`` is not open."""
        stamp = iso_utc(time.time() if now is None else now)
        return self.append([Resolution(key, "", stamp, note)]) == ["written"]


# --------------------------------------------------------------------- chat channels


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
