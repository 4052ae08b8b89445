"""Alert records, the folding of the alert log into open alerts, silences and the
plan of what to send."""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

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
