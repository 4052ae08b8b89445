"""Measuring runs for the benchmark: wall and CPU time, peak resident memory
(sampled), rows in and out per asset step, and their summary per run."""

from __future__ import annotations

import bisect
import os
import resource
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from gosales_assets.lib.store import ROWS_IN_KEY


def _rss_bytes() -> int:
    """Resident memory of this process now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Sampler:
    """Samples this process's resident memory and CPU time in a thread.

    ``peak`` is the largest resident memory since ``reset``; :meth:`window` gives the
    CPU seconds and peak memory between two wall-clock times (a step's start and end).
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self.times: list[float] = []
        self.rss: list[int] = []
        self.cpu: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        now, rss, cpu = time.time(), _rss_bytes(), _cpu_seconds()
        with self._lock:
            self.times.append(now)
            self.rss.append(rss)
            self.cpu.append(cpu)
            self.peak = max(self.peak, rss)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.interval)

    def reset(self) -> None:
        self.sample()
        with self._lock:
            self.peak = self.rss[-1]

    def window(self, start: float, end: float) -> tuple[float, float]:
        """(CPU seconds, peak RSS MiB) between ``start`` and ``end`` (epoch seconds)."""
        with self._lock:
            if not self.times:
                return 0.0, 0.0
            lo = max(0, bisect.bisect_right(self.times, start) - 1)
            hi = min(len(self.times) - 1, bisect.bisect_left(self.times, end))
            cpu = self.cpu[hi] - self.cpu[lo]
            peak = max(self.rss[lo : hi + 1])
        return round(cpu, 3), round(peak / 2**20, 1)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class RunMeasure:
    job: str
    partition: str | None
    success: bool
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds
    rows: dict[str, int] = field(default_factory=dict)  # step/asset -> rows written
    rows_in: dict[str, int] = field(default_factory=dict)  # step -> rows read
    step_cpu_s: dict[str, float] = field(default_factory=dict)
    step_peak_rss_mb: dict[str, float] = field(default_factory=dict)


def _step_times(result: Any, instance: Any) -> dict[str, tuple[float, float]]:
    """(start, end) epoch seconds per step, from the run's event log."""
    starts: dict[str, float] = {}
    out: dict[str, tuple[float, float]] = {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        kind = event.event_type_value
        if kind == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
            out[event.step_key] = (starts[event.step_key], entry.timestamp)
    return out


def _rows(result: Any) -> tuple[dict[str, int], dict[str, int]]:
    """Rows written per ``step/asset`` (the materializations' row counts) and rows
    read per step (``gosales/rows_in``: one figure per step, repeated on each asset
    of a multi-asset step, so the largest is taken, not the sum)."""
    out: dict[str, int] = {}
    read: dict[str, int] = {}
    for event in result.all_events:
        if event.event_type_value != "ASSET_MATERIALIZATION":
            continue
        mat = event.step_materialization_data.materialization
        meta = mat.metadata
        for key in ("dagster/partition_row_count", "dagster/row_count"):
            if key in meta:
                name = f"{event.step_key}/{mat.asset_key.to_user_string()}"
                out[name] = int(meta[key].value)
        if ROWS_IN_KEY in meta:
            n = int(meta[ROWS_IN_KEY].value)
            read[event.step_key] = max(read.get(event.step_key, 0), n)
    return out, read


class Recorder:
    """Observer for :func:`gosales_assets.runner.run_pipeline` measuring every run."""

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler
        self.runs: list[RunMeasure] = []
        self._t0 = time.perf_counter()
        self._cpu0 = _cpu_seconds()

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._cpu0 = _cpu_seconds()
        self.sampler.reset()

    def __call__(self, job: str, key: str | None, result: Any, instance: Any) -> None:
        self.sampler.sample()
        times = _step_times(result, instance)
        windows = {step: self.sampler.window(a, b) for step, (a, b) in times.items()}
        rows, rows_in = _rows(result)
        self.runs.append(
            RunMeasure(
                job=job,
                partition=key,
                success=bool(result.success),
                wall_s=round(time.perf_counter() - self._t0, 3),
                cpu_s=round(_cpu_seconds() - self._cpu0, 3),
                peak_rss_mb=round(self.sampler.peak / 2**20, 1),
                steps={s: round(b - a, 3) for s, (a, b) in times.items()},
                rows=rows,
                rows_in=rows_in,
                step_cpu_s={s: w[0] for s, w in windows.items()},
                step_peak_rss_mb={s: w[1] for s, w in windows.items()},
            )
        )
        self.start()


def summarize(runs: list[RunMeasure]) -> dict[str, Any]:
    """Totals of a run group, and per asset step: runs, seconds, CPU seconds, peak
    memory, rows in, rows out, rows out per second."""
    per_asset: dict[str, dict[str, Any]] = {}

    def entry_of(step: str) -> dict[str, Any]:
        return per_asset.setdefault(
            step,
            {
                "wall_s": 0.0,
                "cpu_s": 0.0,
                "peak_rss_mb": 0.0,
                "runs": 0,
                "rows_in": 0,
                "rows": 0,
            },
        )

    for run in runs:
        for step, seconds in run.steps.items():
            entry = entry_of(step)
            entry["wall_s"] = round(entry["wall_s"] + seconds, 3)
            entry["cpu_s"] = round(entry["cpu_s"] + run.step_cpu_s.get(step, 0.0), 3)
            entry["peak_rss_mb"] = max(
                entry["peak_rss_mb"], run.step_peak_rss_mb.get(step, 0.0)
            )
            entry["runs"] += 1
        for name, n in run.rows.items():
            entry_of(name.split("/", 1)[0])["rows"] += n
        for step, n in run.rows_in.items():
            entry_of(step)["rows_in"] += n
    for entry in per_asset.values():
        secs = entry["wall_s"]
        entry["rows_per_s"] = round(entry["rows"] / secs, 1) if secs else None
    return {
        "wall_s": round(sum(r.wall_s for r in runs), 3),
        "cpu_s": round(sum(r.cpu_s for r in runs), 3),
        "peak_rss_mb": max((r.peak_rss_mb for r in runs), default=0.0),
        "success": all(r.success for r in runs),
        "runs": len(runs),
        "per_asset": per_asset,
    }
