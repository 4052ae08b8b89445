"""Alerts, pure logic: planning and dedup, the JSONL alert log, Slack/Teams payloads
through a fake HTTP sender (no network), and the ``alerts:`` config section."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from gosales_assets.config import ConfigError, load_config
from gosales_assets.lib.alerts import (
    Alert,
    CheckEvaluation,
    FanOutNotifier,
    JsonlNotifier,
    RecordingNotifier,
    SilenceRule,
    SlackNotifier,
    TeamsNotifier,
    dedup_key,
    dispatch,
    format_open_alerts,
    plan_alerts,
    run_evaluation,
    summarize_metadata,
)

T0 = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC).timestamp()
HOOK = "https://hooks.example.invalid/services/T000/B000/XXXX"


def ev(
    check: str = "quality",
    partition: str | None = "2026-06-30|CPE",
    passed: bool = False,
    severity: str = "WARN",
    t: float = 0.0,
    asset: str = "scoring/icp_scores",
    run: str = "run-1",
) -> CheckEvaluation:
    return CheckEvaluation(
        asset_key=asset,
        check_name=check,
        partition=partition,
        passed=passed,
        severity=severity,  # type: ignore[arg-type]
        description=f"{check} is {'ok' if passed else 'bad'}",
        metadata={"violations": "3"},
        run_id=run,
        timestamp=T0 + t,
    )


def alert(**kw: Any) -> Alert:
    return Alert.from_evaluation(ev(**kw))


class FakeSender:
    """Records every POST; answers with the queued statuses (then 200)."""

    def __init__(self, *statuses: int | Exception) -> None:
        self.statuses = list(statuses)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, url: str, body: bytes, headers: Any, timeout: float) -> int:
        self.calls.append(
            {
                "url": url,
                "json": json.loads(body),
                "headers": dict(headers),
                "timeout": timeout,
            }
        )
        status = self.statuses.pop(0) if self.statuses else 200
        if isinstance(status, Exception):
            raise status
        return status


# ------------------------------------------------------------------ records, planning


def test_dedup_key_and_metadata_summary():
    assert dedup_key("star/dim_customer", "customer_key_unique", "2026-06-30") == (
        "star/dim_customer:customer_key_unique@2026-06-30"
    )
    assert dedup_key("raw/customers", "customer_key_unique", None) == (
        "raw/customers:customer_key_unique"
    )
    meta = summarize_metadata(
        {"n": 3, "ok": True, "top": {"b": 2, "a": 1}, "long": "x" * 1000}
    )
    assert meta["n"] == "3" and meta["ok"] == "true"
    assert meta["top"] == '{"a": 1, "b": 2}'  # sorted keys: deterministic
    assert len(meta["long"]) == 300 and meta["long"].endswith("…")
    assert len(summarize_metadata({str(i): i for i in range(40)})) == 12


def test_plan_one_alert_per_key_and_repeats_suppressed():
    plan = plan_alerts(
        [
            ev("quality", "p1", t=1),
            ev("contract", "p1", severity="ERROR", t=2),
            ev("quality", "p2", t=3),
            ev("quality", "p1", t=4),  # the same key again: suppressed
            ev("contract", "p1", passed=False, severity="ERROR", t=5),
        ],
        {},
    )
    keys = [a.dedup_key for a in plan.send]
    assert keys == [
        "scoring/icp_scores:quality@p1",
        "scoring/icp_scores:contract@p1",
        "scoring/icp_scores:quality@p2",
    ]
    assert plan.suppressed == 2 and plan.resolutions == ()
    assert [a.severity for a in plan.send] == ["WARN", "ERROR", "WARN"]
    assert plan.send[0].timestamp == "2026-06-30T12:00:01Z"


def test_plan_escalation_resolution_and_realert():
    plan = plan_alerts(
        [
            ev(t=1),  # opens WARN
            ev(severity="ERROR", t=2),  # escalates: alerts again
            ev(passed=True, t=3),  # resolves
            ev(t=4),  # fails again: a new alert
            ev("other", t=5),
            ev("other", passed=True, t=6),  # opened and closed inside the batch
        ],
        {},
    )
    kinds = [type(e).__name__ for e in plan.entries]
    assert kinds == ["Alert", "Alert", "Resolution", "Alert", "Alert", "Resolution"]
    assert plan.alerts[1].escalated_from == "WARN"
    # the chat gets only what is still open at the end of the batch, once per key
    assert [(a.check_name, a.timestamp) for a in plan.send] == [
        ("quality", "2026-06-30T12:00:04Z")
    ]


def test_plan_uses_the_log_state_and_severity_filter():
    state = {
        "scoring/icp_scores:quality@p1": _open(alert(partition="p1")),
    }
    plan = plan_alerts(
        [ev(partition="p1", t=1), ev(partition="p2", t=2)],
        state,
        severities=["WARN", "ERROR"],
    )
    assert [a.partition for a in plan.send] == ["p2"] and plan.suppressed == 1
    assert plan_alerts([ev(t=1)], {}, severities=["ERROR"]).entries == ()
    # a pass of an open key resolves it even when nothing fails
    resolved = plan_alerts([ev(partition="p1", passed=True)], state)
    assert [r.dedup_key for r in resolved.resolutions] == [
        "scoring/icp_scores:quality@p1"
    ]


def _open(a: Alert) -> Any:
    from gosales_assets.lib.alerts import OpenAlert

    return OpenAlert(a, a.timestamp)


def test_silence_rules_match_globs_until_a_date():
    rule = SilenceRule(
        reason="known drift after the price change",
        check="feature_*",
        partition="*|CPE",
        until=dt.date(2026, 6, 30),
    )
    plan = plan_alerts(
        [
            ev("feature_psi", "2026-06-30|CPE", t=1),
            ev("feature_psi", "2026-06-30|PDM", t=2),
            ev("feature_ks", "2026-07-01|CPE", t=86400 + 5),  # after `until`
        ],
        {},
        silence=[rule],
    )
    assert [a.silenced for a in plan.alerts] == [rule.reason, None, None]
    assert [a.partition for a in plan.send] == ["2026-06-30|PDM", "2026-07-01|CPE"]


def test_run_failure_pseudo_check():
    failed = run_evaluation("scoring_job", "2026-06-30|CPE", False, "boom", "r1", T0)
    a = Alert.from_evaluation(failed)
    assert a.dedup_key == "job:scoring_job:run_failure@2026-06-30|CPE"
    assert a.severity == "ERROR" and a.is_run_failure
    assert a.title == "ERROR: run of scoring_job failed [2026-06-30|CPE]"


# ---------------------------------------------------------------------- the alert log


def test_jsonl_log_appends_one_object_per_line_and_dedups(tmp_path):
    path = tmp_path / "home" / "alerts" / "alerts.jsonl"
    log = JsonlNotifier(path)
    first = [alert(partition="p1"), alert(check="contract", severity="ERROR")]
    assert log.notify(first) == {
        "scoring/icp_scores:quality@p1": "written",
        "scoring/icp_scores:contract@2026-06-30|CPE": "written",
    }
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    rec = json.loads(lines[0])
    assert rec == {
        "v": 1,
        "kind": "alert",
        "dedup_key": "scoring/icp_scores:quality@p1",
        "check_name": "quality",
        "asset_key": "scoring/icp_scores",
        "partition": "p1",
        "severity": "WARN",
        "description": "quality is bad",
        "metadata": {"violations": "3"},
        "run_id": "run-1",
        "timestamp": "2026-06-30T12:00:00Z",
        "escalated_from": None,
        "silenced": None,
        "deliveries": {},
    }
    # the same alert again (another sensor, a reset cursor): nothing is written
    assert log.notify([alert(partition="p1", run="run-2")]) == {
        "scoring/icp_scores:quality@p1": "duplicate"
    }
    assert len(path.read_text().splitlines()) == 2
    # escalation is written; a resolution reopens the key for a later failure
    assert log.notify([alert(partition="p1", severity="ERROR")]) == {
        "scoring/icp_scores:quality@p1": "written"
    }
    assert log.resolve("scoring/icp_scores:quality@p1", note="fixed upstream")
    assert not log.resolve("scoring/icp_scores:quality@p1")
    assert log.notify([alert(partition="p1")]) == {
        "scoring/icp_scores:quality@p1": "written"
    }
    kinds = [json.loads(x)["kind"] for x in path.read_text().splitlines()]
    assert kinds == ["alert", "alert", "alert", "resolved", "alert"]


def test_jsonl_log_ack_and_listing(tmp_path):
    log = JsonlNotifier(tmp_path / "a.jsonl")
    log.notify([alert(partition="p1"), alert(partition="p2", severity="ERROR")])
    assert log.ack("scoring/icp_scores:quality@p1", by="ana", note="looking", now=T0)
    assert not log.ack("no:such@key", by="ana")
    state = log.open_alerts()
    assert state["scoring/icp_scores:quality@p1"].acked_by == "ana"
    listing = format_open_alerts(state, include_acked=False)
    assert "quality@p2" in listing and "quality@p1" not in listing
    assert listing.startswith("ERROR")
    assert "acked by ana" in format_open_alerts(state, include_acked=True)
    assert format_open_alerts({}, include_acked=True) == "no open alerts"


def test_jsonl_log_survives_a_torn_line(tmp_path, caplog):
    path = tmp_path / "a.jsonl"
    log = JsonlNotifier(path)
    log.notify([alert(partition="p1")])
    with path.open("ab") as fh:
        fh.write(b'{"kind": "alert", "dedup_key": "x')  # a crash mid-write
    with caplog.at_level(logging.WARNING, logger="gosales.alerts"):
        assert log.notify([alert(partition="p2")]) == {
            "scoring/icp_scores:quality@p2": "written"
        }
        assert set(log.open_alerts()) == {
            "scoring/icp_scores:quality@p1",
            "scoring/icp_scores:quality@p2",
        }
    assert "skipped 1 unreadable line" in caplog.text
    assert json.loads(path.read_text().splitlines()[-1])["partition"] == "p2"


def test_jsonl_log_concurrent_writers_never_duplicate(tmp_path):
    path = tmp_path / "a.jsonl"
    barrier = threading.Barrier(8)

    def writer(i: int) -> None:
        log = JsonlNotifier(path)  # its own descriptor: flock serializes them
        barrier.wait()
        log.notify([alert(partition="shared"), alert(partition=f"own-{i}")])

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [json.loads(x)["dedup_key"] for x in path.read_text().splitlines()]
    assert len(keys) == 9 and len(set(keys)) == 9
    assert keys.count("scoring/icp_scores:quality@shared") == 1


# ---------------------------------------------------------------------- chat channels


def slack(sender: FakeSender, **kw: Any) -> SlackNotifier:
    kw.setdefault("env", {"SLACK_HOOK": HOOK})
    kw.setdefault("ui_base_url", "http://127.0.0.1:3000/")
    return SlackNotifier("SLACK_HOOK", sender=sender, retry_delay_seconds=0, **kw)


def test_slack_message_format():
    sender = FakeSender()
    a = Alert.from_evaluation(
        CheckEvaluation(
            "features/feature_matrix",
            "values_finite",
            "2026-06-30|CPE",
            False,
            "ERROR",
            "no null <or> NaN & co",
            {"violations": "2"},
            "abcd-1234",
            T0,
        )
    )
    assert slack(sender, timeout_seconds=3.5).notify([a]) == {a.dedup_key: "sent"}
    (call,) = sender.calls
    assert call["url"] == HOOK and call["timeout"] == 3.5
    assert call["headers"]["Content-Type"].startswith("application/json")
    msg = call["json"]
    assert msg["text"] == (
        "ERROR: check values_finite failed on features/feature_matrix [2026-06-30|CPE]"
    )
    header, facts, description, context = msg["blocks"]
    assert header["type"] == "header"
    assert header["text"]["text"].startswith(":rotating_light: ERROR: check")
    texts = [f["text"] for f in facts["fields"]]
    assert "*Asset*\nfeatures/feature_matrix" in texts
    assert "*Partition*\n2026-06-30|CPE" in texts
    assert "*Run*\n<http://127.0.0.1:3000/runs/abcd-1234|abcd-1234>" in texts
    assert description["text"]["text"] == "no null &lt;or&gt; NaN &amp; co"
    assert context["elements"][0]["text"] == "• violations: 2"


def test_teams_message_format():
    sender = FakeSender()
    teams = TeamsNotifier(
        "TEAMS_HOOK",
        env={"TEAMS_HOOK": HOOK},
        sender=sender,
        ui_base_url="https://dagster.example.invalid",
    )
    a = alert(partition="p1")
    assert teams.notify([a]) == {a.dedup_key: "sent"}
    msg = sender.calls[0]["json"]
    assert msg["type"] == "message"
    (attachment,) = msg["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    title, description, facts, meta = card["body"]
    assert title["text"] == "WARN: check quality failed on scoring/icp_scores [p1]"
    assert title["color"] == "Warning"
    assert description["text"] == "quality is bad"
    assert {"title": "Dedup key", "value": a.dedup_key} in facts["facts"]
    assert meta["facts"] == [{"title": "violations", "value": "3"}]
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open the run",
            "url": "https://dagster.example.invalid/runs/run-1",
        }
    ]


def test_missing_webhook_variable_is_a_logged_skip(caplog):
    sender = FakeSender()
    notifier = slack(sender, env={})
    with caplog.at_level(logging.WARNING, logger="gosales.alerts"):
        out = notifier.notify([alert()])
    assert out == {
        "scoring/icp_scores:quality@2026-06-30|CPE": (
            "skipped: environment variable SLACK_HOOK is not set"
        )
    }
    assert sender.calls == []
    assert "environment variable SLACK_HOOK is not set" in caplog.text
    # a URL that is not https is refused the same way (and never logged)
    plain = slack(sender, env={"SLACK_HOOK": "http://insecure.example.invalid/x"})
    assert "not an https URL" in plain.notify([alert()])[alert().dedup_key]
    assert sender.calls == []


def test_delivery_errors_are_reported_never_raised():
    a = alert()
    retried = FakeSender(503, 200)
    assert slack(retried).notify([a]) == {a.dedup_key: "sent"}
    assert len(retried.calls) == 2  # one retry on a transient status
    rejected = FakeSender(400)
    assert slack(rejected).notify([a]) == {a.dedup_key: "failed: HTTP 400"}
    assert len(rejected.calls) == 1  # a client error is not retried
    down = FakeSender(TimeoutError("timed out"), TimeoutError("timed out"))
    assert slack(down).notify([a]) == {a.dedup_key: "failed: TimeoutError: timed out"}


def test_channel_severities_silence_and_digest():
    sender = FakeSender()
    errors_only = slack(sender, severities=["ERROR"])
    muted = Alert.from_evaluation(ev(partition="m"))
    muted = Alert(**{**muted.__dict__, "silenced": "maintenance"})
    out = errors_only.notify([alert(partition="w"), muted])
    assert out == {
        "scoring/icp_scores:quality@w": "skipped: WARN not sent here",
        "scoring/icp_scores:quality@m": "skipped: silenced (maintenance)",
    }
    assert sender.calls == []
    many = [alert(partition=f"p{i}", severity="ERROR") for i in range(4)]
    out = slack(sender, max_messages=2).notify(many)
    assert list(out.values()) == [
        "sent",
        "digest: sent",
        "digest: sent",
        "digest: sent",
    ]
    assert len(sender.calls) == 2
    digest = sender.calls[1]["json"]
    assert digest["text"] == (
        "3 more failed check(s) (3 ERROR, 0 WARN); details in the alert log"
    )
    assert (
        "• ERROR scoring/icp_scores:quality@p3" in (digest["blocks"][1]["text"]["text"])
    )


def test_fan_out_isolates_a_broken_notifier_and_dispatch_logs_deliveries(tmp_path):
    class Broken:
        name = "broken"

        def notify(self, alerts: Any) -> dict[str, str]:
            raise RuntimeError("bug")

    recorder = RecordingNotifier()
    chat = FanOutNotifier([Broken(), recorder])
    log = JsonlNotifier(tmp_path / "a.jsonl")
    plan = plan_alerts(
        [ev(partition="p1", t=1), ev(partition="p2", t=2), ev(partition="p2", t=3)],
        {},
        silence=[SilenceRule(reason="noisy", partition="p2")],
    )
    report = dispatch(plan, chat, log)
    assert [a.partition for a in recorder.alerts] == ["p1"]
    assert report.logged == 2 and report.suppressed == 1
    recs = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert recs[0]["deliveries"] == {"broken": "failed: bug", "recording": "recorded"}
    assert recs[1]["silenced"] == "noisy"
    assert recs[1]["deliveries"] == {"chat": "silenced"}


def test_unwritable_log_fails_before_anything_is_sent(tmp_path):
    from gosales_assets.lib.alerts import AlertLogError

    (tmp_path / "not-a-dir").write_text("")
    log = JsonlNotifier(tmp_path / "not-a-dir" / "alerts.jsonl")
    recorder = RecordingNotifier()
    plan = plan_alerts([ev()], {})
    with pytest.raises(AlertLogError, match="cannot open the alert log"):
        dispatch(plan, FanOutNotifier([recorder]), log)
    assert recorder.alerts == []  # the next tick retries; no message was sent twice


def test_webhook_notifier_refuses_a_bad_variable_name():
    with pytest.raises(ValueError, match="not an environment variable name"):
        SlackNotifier("https://hooks.slack.com/x")


# ------------------------------------------------------------------------ config


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def test_alerts_config_defaults(cfg, tmp_path):
    a = cfg.alerts
    assert a.channels == () and a.severities == ("WARN", "ERROR")
    assert a.slack.webhook_env == "GOSALES_SLACK_WEBHOOK_URL"
    assert a.teams.webhook_env == "GOSALES_TEAMS_WEBHOOK_URL"
    assert cfg.alert_log_path == tmp_path / "home" / "alerts" / "alerts.jsonl"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "webhook_env: GOSALES_SLACK_WEBHOOK_URL",
            "webhook_env: https://hooks.slack.com/services/T/B/X",
            "alerts.slack.webhook_env: must be the NAME of an environment variable",
        ),
        (
            "webhook_env: GOSALES_TEAMS_WEBHOOK_URL",
            "webhook_env: 1BAD-NAME",
            "alerts.teams.webhook_env: '1BAD-NAME' is not an environment variable",
        ),
        ("channels: []", "channels: [slack, email]", "alerts.channels.1"),
        ("channels: []", "channels: [slack, slack]", "lists a channel twice"),
        ("log_path: alerts/alerts.jsonl", "log_path: /var/log/a.jsonl", "log_path"),
        ("log_path: alerts/alerts.jsonl", "log_path: ../a.jsonl", "without '..'"),
        ("severities: [WARN, ERROR]       #", "severities: []  #", "at least one"),
        ("severities: [WARN, ERROR]       #", "severities: [INFO]  #", "severities"),
        ("min_interval_seconds: 60", "min_interval_seconds: 1", "min_interval"),
        ("timeout_seconds: 10 ", "timeout_seconds: 0 ", "alerts.timeout_seconds"),
        ("  silence: []", "  ui_base_url: ftp://x\n  silence: []", "ui_base_url"),
        ("silence: []", "silence: [{check: x}]", "alerts.silence.0.reason"),
        ("silence: []", "silence: [{reason: ' '}]", "must say why"),
        ("  silence: []", "  silence: []\n  colour: red", "alerts.colour"),
    ],
)
def test_alerts_config_errors_name_the_key(config_copy, old, new, message):
    _edit(config_copy, old, new)
    with pytest.raises(ConfigError, match=message):
        load_config(config_copy, env={"GOSALES_HOME": str(config_copy.parent)})


def test_alerts_config_silence_rules_load(config_copy):
    _edit(
        config_copy,
        "silence: []",
        'silence: [{check: "feature_*", partition: "*|CPE", until: 2026-12-31, '
        'reason: "price change"}]\n  channels_note: x',
    )
    with pytest.raises(ConfigError, match=r"alerts\.channels_note"):
        load_config(config_copy, env={})
    _edit(config_copy, "\n  channels_note: x", "")
    cfg = load_config(config_copy, env={})
    (rule,) = cfg.alerts.silence
    assert rule.until == dt.date(2026, 12, 31) and rule.asset == "*"


# --------------------------------------------------------------------------- CLI


def test_cli_lists_acks_and_resolves_open_alerts(cfg, cfg_env, monkeypatch):
    from click.testing import CliRunner

    from gosales_assets.cli import main

    for name, value in cfg_env.items():
        monkeypatch.setenv(name, value)
    log = JsonlNotifier(cfg.alert_log_path)
    log.notify([alert(partition="p1"), alert(partition="p2", severity="ERROR")])
    runner = CliRunner()

    listed = runner.invoke(main, ["alerts", "list"])
    assert listed.exit_code == 0, listed.output
    assert str(cfg.alert_log_path) in listed.output
    lines = listed.output.splitlines()
    assert lines[1].startswith("ERROR  since 2026-06-30T12:00:00Z")
    assert "scoring/icp_scores:quality@p1" in listed.output

    acked = runner.invoke(
        main, ["alerts", "ack", "scoring/icp_scores:quality@p1", "--by", "ana"]
    )
    assert acked.exit_code == 0 and "acknowledged" in acked.output
    hidden = runner.invoke(main, ["alerts", "list"])
    assert "quality@p1" not in hidden.output
    assert "acked by ana" in runner.invoke(main, ["alerts", "list", "--all"]).output

    done = runner.invoke(main, ["alerts", "resolve", "scoring/icp_scores:quality@p2"])
    assert done.exit_code == 0
    again = runner.invoke(main, ["alerts", "resolve", "scoring/icp_scores:quality@p2"])
    assert again.exit_code != 0 and "no open alert" in again.output
    assert set(log.open_alerts()) == {"scoring/icp_scores:quality@p1"}
