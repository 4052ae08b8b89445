"""``check_alert_sensor`` end to end, offline: a tiny partitioned test asset whose
checks fail (WARN, and a blocking ERROR that stops the run, through the project's
``gate``), materialized in a temporary instance (SQLite, sharded per run like the
default instance); the sensor is evaluated tick by tick with ``build_sensor_context``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from gosales_assets.defs.alerts.resources import NotifierResource
from gosales_assets.defs.alerts.sensors import (
    build_check_alert_sensor,
    finished_runs_after,
    parse_cursor,
    run_partition,
)
from gosales_assets.defs.common import gate, selected_checks
from gosales_assets.lib.alerts import RecordingNotifier
from gosales_assets.lib.alerts import channels as alert_channels
from gosales_assets.lib.checks import CheckOutcome

# Which checks fail, per partition; tests edit it between materializations.
FAILING: dict[str, set[str]] = {}
PARTS = dg.StaticPartitionsDefinition(["p1", "p2", "p3", "p4"])
CHECKS = {
    "quality": ("WARN", "fewer than 1% null emails"),
    "contract": ("ERROR", "one row per customer"),
}


@dg.multi_asset(
    name="tiny",
    specs=[dg.AssetSpec(dg.AssetKey(["test", "tiny"]), partitions_def=PARTS)],
    check_specs=[
        dg.AssetCheckSpec(
            name, asset=dg.AssetKey(["test", "tiny"]), blocking=sev == "ERROR"
        )
        for name, (sev, _) in CHECKS.items()
    ],
    partitions_def=PARTS,
)
def tiny(context):
    failing = FAILING.get(context.partition_key, set())
    outcomes = [
        CheckOutcome(
            "test.tiny",
            name,
            name not in failing,
            sev,  # type: ignore[arg-type]
            desc,
            {"violations": int(name in failing)},
        )
        for name, (sev, desc) in CHECKS.items()
    ]
    yield from gate(context, outcomes)  # blocking ERROR: results, then the failure
    yield dg.MaterializeResult(asset_key=dg.AssetKey(["test", "tiny"]))
    yield from selected_checks(context, outcomes)


@dg.asset(partitions_def=PARTS, key=["test", "crashy"])
def crashy(context) -> None:
    if "crash" in FAILING.get(context.partition_key, set()):
        raise RuntimeError("the extract folder is not readable")


RECORDERS: dict[str, RecordingNotifier] = {}


class RecordingNotifierResource(NotifierResource):
    """The real resource with a RecordingNotifier as its only chat channel."""

    recorder: str

    def chat_notifiers(self, logger: Any = None) -> list[Any]:
        return [RECORDERS[self.recorder]]


def resource(tmp_path: Path, **kw: Any) -> NotifierResource:
    fields: dict[str, Any] = {
        "log_path": str(tmp_path / "alerts" / "alerts.jsonl"),
        "severities": ["WARN", "ERROR"],
        "channels": [],
        "slack_severities": ["WARN", "ERROR"],
        "teams_severities": ["WARN", "ERROR"],
        "silence": [],
    }
    fields.update(kw)
    if "recorder" in fields:
        return RecordingNotifierResource(**fields)
    return NotifierResource(**fields)


class Harness:
    def __init__(self, instance: dg.DagsterInstance, tmp_path: Path, **kw: Any):
        self.instance = instance
        self.recorder = RecordingNotifier()
        RECORDERS[str(tmp_path)] = self.recorder
        self.resource = resource(tmp_path, recorder=str(tmp_path), **kw)
        self.sensor = build_check_alert_sensor(60)
        self.cursor: str | None = None
        self.log_path = tmp_path / "alerts" / "alerts.jsonl"

    def materialize(self, partition: str, asset: Any = tiny) -> bool:
        return dg.materialize(
            [asset],
            partition_key=partition,
            instance=self.instance,
            raise_on_error=False,
        ).success

    def tick(self) -> list[tuple[str, str]]:
        before = len(self.recorder.alerts)
        ctx = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"alert_notifier": self.resource},
        )
        result = self.sensor.evaluate_tick(ctx)
        assert result.run_requests == []
        self.cursor = result.cursor
        self.skip_message = result.skip_message
        return [(a.dedup_key, a.severity) for a in self.recorder.alerts[before:]]

    def log(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.log_path.read_text().splitlines()]


@pytest.fixture(autouse=True)
def _clean_state():
    """The module-level switches never leak from one test to the next."""
    FAILING.clear()
    RECORDERS.clear()
    yield
    FAILING.clear()
    RECORDERS.clear()


@pytest.fixture
def harness(tmp_path):
    """An in-memory instance (fast); the first test uses the SQLite one."""
    return Harness(dg.DagsterInstance.ephemeral(), tmp_path)


@pytest.fixture
def sqlite_harness(tmp_path):
    """A temporary instance on SQLite storage sharded per run, like the default
    instance under $GOSALES_HOME/dagster, where check evaluations cannot be paged
    across runs with a storage-id cursor."""
    with dg.instance_for_test() as instance:
        yield Harness(instance, tmp_path)


def test_failed_checks_alert_once_per_asset_check_partition(sqlite_harness):
    harness = sqlite_harness
    FAILING.update({"p1": {"quality"}, "p2": {"quality", "contract"}})
    assert harness.materialize("p1") is True
    assert harness.materialize("p2") is False  # the blocking check stops the run
    first = harness.tick()
    assert sorted(first) == [
        ("test/tiny:contract@p2", "ERROR"),
        ("test/tiny:quality@p1", "WARN"),
        ("test/tiny:quality@p2", "WARN"),
    ]  # the failed run is explained by its ERROR check: no extra run alert
    assert int(harness.cursor) > 0
    # a second tick sees nothing new
    assert harness.tick() == []
    # the same partitions fail again: deduplicated by the alert log
    assert harness.materialize("p1") is True
    assert harness.tick() == []
    assert "1 repeat failure(s) suppressed" in harness.skip_message
    # a new failing partition adds exactly one alert
    FAILING["p3"] = {"quality"}
    assert harness.materialize("p3") is True
    assert harness.tick() == [("test/tiny:quality@p3", "WARN")]

    log = harness.log()
    assert [r["dedup_key"] for r in log] == [
        "test/tiny:quality@p1",
        "test/tiny:quality@p2",
        "test/tiny:contract@p2",
        "test/tiny:quality@p3",
    ]
    contract = log[2]
    assert contract["kind"] == "alert" and contract["severity"] == "ERROR"
    assert contract["description"] == "one row per customer"
    assert contract["metadata"] == {"violations": "1"}
    assert contract["deliveries"] == {"recording": "recorded"}
    assert contract["timestamp"].endswith("Z") and contract["run_id"]


def test_pass_resolves_and_a_later_failure_alerts_again(harness):
    FAILING["p1"] = {"quality"}
    harness.materialize("p1")
    assert harness.tick() == [("test/tiny:quality@p1", "WARN")]
    FAILING["p1"] = set()
    harness.materialize("p1")
    assert harness.tick() == []
    assert harness.log()[-1]["kind"] == "resolved"
    FAILING["p1"] = {"quality"}
    harness.materialize("p1")
    assert harness.tick() == [("test/tiny:quality@p1", "WARN")]
    assert [r["kind"] for r in harness.log()] == ["alert", "resolved", "alert"]


def test_failed_run_without_failed_check_alerts_and_success_resolves(harness):
    FAILING["p4"] = {"crash"}
    assert harness.materialize("p4", crashy) is False
    assert harness.recorder.alerts == []  # nothing before the tick
    assert harness.tick() == [("job:__ephemeral_asset_job__:run_failure@p4", "ERROR")]
    sent = harness.recorder.alerts[-1]
    assert "the extract folder is not readable" in sent.description
    assert sent.description.startswith("step test__crashy failed")
    FAILING["p4"] = set()
    assert harness.materialize("p4", crashy) is True
    assert harness.tick() == []
    assert [r["kind"] for r in harness.log()] == ["alert", "resolved"]


def test_run_failure_alerts_can_be_turned_off(tmp_path):
    FAILING["p4"] = {"crash"}
    h = Harness(dg.DagsterInstance.ephemeral(), tmp_path, alert_on_run_failure=False)
    h.materialize("p4", crashy)
    assert h.tick() == []


def test_severity_filter_and_silence_rule(tmp_path):
    FAILING.update({"p1": {"quality"}, "p2": {"contract"}, "p3": {"contract"}})
    h = Harness(
        dg.DagsterInstance.ephemeral(),
        tmp_path,
        severities=["ERROR"],
        silence=[{"reason": "backfill in progress", "partition": "p3"}],
    )
    for p in ("p1", "p2", "p3"):
        h.materialize(p)
    assert h.tick() == [("test/tiny:contract@p2", "ERROR")]
    assert [(r["dedup_key"], r["silenced"]) for r in h.log()] == [
        ("test/tiny:contract@p2", None),
        ("test/tiny:contract@p3", "backfill in progress"),
    ]


def test_webhook_delivery_through_the_sensor(tmp_path, monkeypatch):
    calls: list[dict[str, Any]] = []

    def fake_post(url: str, body: bytes, headers: Any, timeout: float) -> int:
        calls.append({"url": url, "json": json.loads(body), "timeout": timeout})
        return 200

    monkeypatch.setattr(alert_channels, "urllib_post", fake_post)
    monkeypatch.setenv("TEST_SLACK_HOOK", "https://hooks.example.invalid/T/B/X")
    monkeypatch.delenv("TEST_TEAMS_HOOK", raising=False)
    FAILING["p1"] = {"quality"}
    h = Harness(dg.DagsterInstance.ephemeral(), tmp_path)
    h.resource = resource(
        tmp_path,
        channels=["slack", "teams"],
        slack_webhook_env="TEST_SLACK_HOOK",
        teams_webhook_env="TEST_TEAMS_HOOK",
        timeout_seconds=2.0,
        ui_base_url="http://127.0.0.1:3000",
    )
    h.materialize("p1")
    h.tick()
    (call,) = calls  # Slack only: the Teams variable is not set
    assert call["url"] == "https://hooks.example.invalid/T/B/X"
    assert call["timeout"] == 2.0
    assert call["json"]["text"] == "WARN: check quality failed on test/tiny [p1]"
    (rec,) = [json.loads(x) for x in h.log_path.read_text().splitlines()]
    assert rec["deliveries"] == {
        "slack": "sent",
        "teams": "skipped: environment variable TEST_TEAMS_HOOK is not set",
    }


def test_project_alerts_definitions_write_the_configured_log(tmp_path, monkeypatch):
    """The defs/alerts folder as the code location loads it: the sensor runs by
    default and writes to $GOSALES_HOME/alerts/alerts.jsonl."""
    monkeypatch.setenv("GOSALES_HOME", str(tmp_path / "home"))
    from gosales_assets.defs.alerts.definitions import defs

    d = defs()
    sensor = d.resolve_sensor_def("check_alert_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 60
    instance = dg.DagsterInstance.ephemeral()
    resources = {"alert_notifier": d.resources["alert_notifier"]}
    empty = sensor.evaluate_tick(
        dg.build_sensor_context(instance=instance, resources=resources)
    )
    assert empty.cursor == "0" and "0 finished run(s)" in empty.skip_message
    FAILING["p1"] = {"quality"}
    dg.materialize([tiny], partition_key="p1", instance=instance)
    sensor.evaluate_tick(
        dg.build_sensor_context(instance=instance, resources=resources, cursor="0")
    )
    log = tmp_path / "home" / "alerts" / "alerts.jsonl"
    (rec,) = [json.loads(x) for x in log.read_text().splitlines()]
    assert rec["dedup_key"] == "test/tiny:quality@p1" and rec["deliveries"] == {}


def test_cursor_and_partition_helpers():
    assert parse_cursor(None) == 0 and parse_cursor("42") == 42
    with pytest.raises(ValueError, match="reset the sensor's cursor"):
        parse_cursor("not-a-number")
    assert run_partition({"dagster/partition": "2026-06-30|CPE"}) == "2026-06-30|CPE"
    assert (
        run_partition(
            {
                "dagster/asset_partition_range_start": "2026-01-31",
                "dagster/asset_partition_range_end": "2026-06-30",
            }
        )
        == "2026-01-31...2026-06-30"
    )
    assert run_partition({}) is None


def test_paging_finished_runs_never_skips_an_event():
    """Each run status is paged separately; the new cursor stops at the lowest last
    id of a truncated page, so the next tick resumes without a gap."""
    from types import SimpleNamespace

    ids = {
        dg.DagsterEventType.RUN_SUCCESS: [1, 3, 5, 7],
        dg.DagsterEventType.RUN_FAILURE: [2, 4],
        dg.DagsterEventType.RUN_CANCELED: [],
    }

    class FakeInstance:
        def fetch_run_status_changes(self, records_filter, limit, ascending):
            assert ascending
            after = records_filter.after_storage_id
            found = [i for i in ids[records_filter.event_type] if i > after][:limit]
            return SimpleNamespace(
                records=[SimpleNamespace(storage_id=i) for i in found]
            )

    seen: list[int] = []
    cursor = 0
    for _ in range(4):
        records, cursor = finished_runs_after(FakeInstance(), cursor, limit=2)
        seen.extend(r.storage_id for r in records)
    assert seen == [1, 2, 3, 4, 5, 7] and cursor == 7
