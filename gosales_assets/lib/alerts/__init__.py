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

from gosales_assets.lib.alerts.alert_log import (
    AlertLogError,
    JsonlNotifier,
)
from gosales_assets.lib.alerts.channels import (
    HttpSender,
    SlackNotifier,
    TeamsNotifier,
    WebhookNotifier,
    urllib_post,
)
from gosales_assets.lib.alerts.dispatch import (
    DispatchReport,
    FanOutNotifier,
    RecordingNotifier,
    dispatch,
    format_open_alerts,
)
from gosales_assets.lib.alerts.records import (
    DIGEST_MAX_LINES,
    JOB_KEY_PREFIX,
    LOG_SCHEMA_VERSION,
    METADATA_MAX_CHARS,
    METADATA_MAX_ENTRIES,
    RUN_FAILURE_CHECK,
    SEVERITIES,
    SEVERITY_RANK,
    Ack,
    Alert,
    AlertPlan,
    CheckEvaluation,
    LogEntry,
    OpenAlert,
    Resolution,
    Severity,
    SilenceRule,
    dedup_key,
    fold_log,
    iso_utc,
    plan_alerts,
    run_evaluation,
    summarize_metadata,
)

__all__ = [
    "DIGEST_MAX_LINES",
    "JOB_KEY_PREFIX",
    "LOG_SCHEMA_VERSION",
    "METADATA_MAX_CHARS",
    "METADATA_MAX_ENTRIES",
    "RUN_FAILURE_CHECK",
    "SEVERITIES",
    "SEVERITY_RANK",
    "Ack",
    "Alert",
    "AlertLogError",
    "AlertPlan",
    "CheckEvaluation",
    "DispatchReport",
    "FanOutNotifier",
    "HttpSender",
    "JsonlNotifier",
    "LogEntry",
    "OpenAlert",
    "RecordingNotifier",
    "Resolution",
    "Severity",
    "SilenceRule",
    "SlackNotifier",
    "TeamsNotifier",
    "WebhookNotifier",
    "dedup_key",
    "dispatch",
    "fold_log",
    "format_open_alerts",
    "iso_utc",
    "plan_alerts",
    "run_evaluation",
    "summarize_metadata",
    "urllib_post",
]
