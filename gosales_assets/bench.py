"""The benchmark: generate sample data at a scale, run the graph through Dagster
exactly as ``gosales run`` does, and report per run and per asset step the wall time,
CPU time, peak resident memory, rows out and rows per second, with the machine,
versions and commit (``reports/benchmark.{json,md}``, keyed by scale and merged across
runs).

Two runs per scale: retraining (every target's model at the newest cutoff, with every
upstream partition it needs) and nightly (the newest cutoff scored with those models).
Also: model quality against the planted ground truth (``bench_quality.py``), ingestion
of a large CSV in a child process (``bench_ingest.py``; on by default at L), the targets
and by how much they are missed, a cProfile text profile of the slowest step where a
target is missed, the M-to-L growth of every figure and a plot of time per asset and
scale (``bench_report.py``).

Timings live here, never in timed unit tests.
"""

from __future__ import annotations

import bisect
import cProfile
import datetime as dt
import gc
import io
import json
import logging
import os
import platform
import pstats
import re
import resource
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from gosales_assets.bench_report import (
    PLOT_FILE,
    PROFILE_DIR,
    SCALES,
    check_report,
    evaluate_targets,
    growth,
    markdown,
    plot,
)
from gosales_assets.config import GosalesConfig, load_config
from gosales_assets.lib.store import ROWS_IN_KEY

log = logging.getLogger("gosales.bench")

PACKAGES = ("dagster", "duckdb", "polars", "scikit-learn", "xgboost-cpu", "implicit")
INGEST_LINES_AT_L = 10_000_000  # ingestion at scale is on by default at L
MAX_PROFILES = 3
PROFILE_LINES = 60

__all__ = [
    "SCALES",
    "RunMeasure",
    "check_report",
    "markdown",
    "run_benchmark",
    "summarize",
    "write_reports",
]


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


def _git(*args: str, cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=cwd or Path(__file__).resolve().parent,
        )
    except OSError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _source_commit() -> tuple[str | None, bool | None]:
    """The commit the measured code came from and whether it had uncommitted changes:
    ``GOSALES_COMMIT`` when set (a deployed copy without .git), else the git checkout
    holding this package, else the one of the working directory."""
    pinned = os.environ.get("GOSALES_COMMIT")
    if pinned:
        return pinned.strip(), None
    for cwd in (Path(__file__).resolve().parent, Path.cwd()):
        commit = _git("rev-parse", "HEAD", cwd=cwd)
        if commit:
            status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
            return commit, bool(status) if status is not None else None
    return None, None


def machine() -> dict[str, Any]:
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            versions[pkg] = None
    commit, dirty = _source_commit()
    mem_kb = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            mem_kb = int(fh.readline().split()[1])
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "commit": commit,
        "uncommitted_changes": dirty,
    }


def fresh_process_state() -> None:
    """Before each measured run: release what an earlier run left in this process
    (the feature-input cache, garbage, freed heap pages), so each run is measured as
    the fresh run process it is in production, not on top of the previous one."""
    from gosales_assets.lib.feature_cache import release_cached_inputs
    from gosales_assets.runner import trim_heap

    held = release_cached_inputs()
    gc.collect()
    trim_heap()
    log.info("bench fresh process state released_cutoffs=%s", held)


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


def _ingest_at_scale(
    raw: Path, home: Path, lines: int, cfg_path: Path | None
) -> dict[str, Any]:
    """Synthesize ``lines`` sales lines from the generated sample and measure their
    ingestion in a child process; the synthesized files are removed afterwards."""
    from gosales_assets.bench_ingest import measure, synthesize

    work = home / "ingest_at_scale"
    shutil.rmtree(work, ignore_errors=True)
    try:
        made = synthesize(raw, work / "raw", lines)
        log.info(
            "bench ingest synthesized lines=%s bytes=%s", lines, made["size_bytes"]
        )
        measured = measure(work / "raw", work / "home", cfg_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {**made, **measured}


def _profile_candidates(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(run group, step, reason) to profile: for each missed time or memory target
    the slowest (or most memory-hungry) step of that run, and for a missed growth
    figure that step."""
    out: list[tuple[str, str, str]] = []
    for target in result.get("targets") or []:
        if target["met"] or target["kind"] == "quality":
            continue
        per_asset = result["runs"].get(target["run"], {}).get("per_asset") or {}
        if not per_asset:
            continue
        figure = "wall_s" if target["kind"] == "time" else "peak_rss_mb"
        step = max(per_asset, key=lambda s: per_asset[s].get(figure) or 0.0)
        out.append((target["run"], step, f"missed: {target['what']}"))
    for figure in result.get("growth_missed") or []:
        parts = figure.split(" ")
        if len(parts) == 3:  # "<run> <step> <figure>"
            out.append((parts[0], parts[1], f"grew faster than allowed: {figure}"))
    seen: set[str] = set()
    unique = []
    for run, step, reason in out:
        if step not in seen:
            seen.add(step)
            unique.append((run, step, reason))
    return unique[:MAX_PROFILES]


def _slowest_run(details: list[dict[str, Any]], step: str) -> dict[str, Any] | None:
    runs = [d for d in details if step in d.get("steps", {})]
    return max(runs, key=lambda d: d["steps"][step]) if runs else None


def profile_step(
    cfg: GosalesConfig, job: str, partition: str | None, path: Path, title: str
) -> dict[str, Any]:
    """Re-run one (job, partition) under cProfile; write the text profile to
    ``path`` (the top functions by cumulative time)."""
    from gosales_assets import runner

    defs = runner.load_definitions()
    instance = runner.dagster_instance(cfg)
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    try:
        result = runner.execute(defs, instance, job, partition)
    finally:
        profiler.disable()
    wall = time.perf_counter() - t0
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(PROFILE_LINES)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# {title}\n# re-run of {job}[{partition or '-'}] under cProfile: "
        f"{wall:.1f} s wall, success={bool(result.success)}\n\n{text.getvalue()}",
        encoding="utf-8",
    )
    return {"wall_s": round(wall, 3), "success": bool(result.success)}


def _profiles(
    cfg: GosalesConfig,
    result: dict[str, Any],
    reports_dir: Path,
    force: bool,
) -> list[dict[str, Any]]:
    candidates = _profile_candidates(result)
    if force and not candidates:
        # no target missed: profile the slowest step of the retraining run anyway
        per_asset = result["runs"]["retraining"]["per_asset"]
        if per_asset:
            step = max(per_asset, key=lambda s: per_asset[s]["wall_s"])
            candidates = [("retraining", step, "requested (--profile)")]
    out: list[dict[str, Any]] = []
    for run, step, reason in candidates:
        slowest = _slowest_run(result["run_details"].get(run, []), step)
        if slowest is None:
            continue
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", step)
        rel = f"{PROFILE_DIR}/{result['scale']}_{safe}.txt"
        title = f"{result['scale']} {run}: slowest step {step} ({reason})"
        log.info("bench profiling step=%s job=%s", step, slowest["job"])
        measured = profile_step(
            cfg, slowest["job"], slowest["partition"], reports_dir / rel, title
        )
        out.append(
            {
                "run": run,
                "step": step,
                "job": slowest["job"],
                "partition": slowest["partition"],
                "reason": reason,
                "file": rel,
                **measured,
            }
        )
    return out


def run_benchmark(
    scale: str,
    workdir: Path,
    reports_dir: Path,
    cfg_path: Path | None = None,
    *,
    customers: int | None = None,
    targets: int | None = None,
    ingest_lines: int | None = None,
    profile: bool | None = None,
) -> dict[str, Any]:
    """Generate data at ``scale`` in ``workdir``, run retraining then nightly, and
    merge the result into ``reports_dir/benchmark.{json,md}``.

    ``customers`` and ``targets`` (the first N configured targets) shrink a run; such
    a run is marked ``partial`` and not judged against the time targets.
    ``ingest_lines`` (default 10M at L, else 0 = off) measures ingestion at scale.
    ``profile``: True always profiles the slowest step, False never, None when a
    target is missed.
    """
    from gosales_assets import runner
    from gosales_assets.bench_quality import model_quality
    from gosales_assets.sample_data import generate

    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {sorted(SCALES)}")
    n_customers = customers or SCALES[scale]
    home = workdir / scale
    raw = home / "raw"
    env = {
        "GOSALES_HOME": str(home),
        "GOSALES_RAW_DIR": str(raw),
        "DAGSTER_HOME": str(home / "dagster"),
    }
    os.environ.update(env)
    cfg: GosalesConfig = load_config(cfg_path)
    if cfg.duckdb_path.exists():
        cfg.duckdb_path.unlink()  # a fresh store: the nightly run from scratch
    divisions = tuple(cfg.target_names[:targets]) if targets else ()
    sd = cfg.sample_data
    t0 = time.perf_counter()
    report = generate(
        raw,
        cfg,
        customers=n_customers,
        start=sd.start,
        end=sd.end,
        seed=sd.seed,
        ground_truth_cutoffs=sd.ground_truth_cutoffs,
        ground_truth_simulations=sd.ground_truth_simulations,
    )
    gen_s = round(time.perf_counter() - t0, 3)
    log.info(
        "bench generated scale=%s customers=%s seconds=%s", scale, n_customers, gen_s
    )
    runs: dict[str, Any] = {}
    details: dict[str, Any] = {}
    with Sampler() as sampler:
        for name, train in (("retraining", True), ("nightly", False)):
            fresh_process_state()
            recorder = Recorder(sampler)
            recorder.start()
            summary = runner.run_pipeline(
                cfg, None, divisions, observer=recorder, train=train
            )
            runs[name] = summarize(recorder.runs)
            details[name] = [r.__dict__ for r in recorder.runs]
    lines_n = ingest_lines
    if lines_n is None:
        lines_n = INGEST_LINES_AT_L if scale == "L" else 0
    result: dict[str, Any] = {
        "scale": scale,
        "customers": n_customers,
        "lines": report.row_counts.get("sales_lines.csv"),
        "partial": bool(targets) or customers is not None,
        "targets_run": list(divisions or cfg.target_names),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "generate_s": gen_s,
        "cutoff": str(summary.cutoff),
        "machine": machine(),
        "runs": runs,
        "run_details": details,
        "model_quality": model_quality(cfg, raw / "ground_truth.parquet"),
        "ingest_at_scale": (
            _ingest_at_scale(raw, home, lines_n, cfg_path) if lines_n else None
        ),
    }
    result["targets"] = evaluate_targets(result)
    merged = _merged(reports_dir, result)
    grown = growth(merged)
    if grown and scale == grown["to"]:
        result["growth_missed"] = grown["missed"]
    result["profiles"] = (
        [] if profile is False else _profiles(cfg, result, reports_dir, bool(profile))
    )
    write_reports(result, reports_dir)
    return result


def _merged(reports_dir: Path, result: dict[str, Any]) -> dict[str, Any]:
    path = reports_dir / "benchmark.json"
    data: dict[str, Any] = {}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    data.setdefault("scales", {})[result["scale"]] = result
    data["machine"] = result["machine"]
    return data


def write_reports(result: dict[str, Any], reports_dir: Path) -> dict[str, Any]:
    """Merge one scale's result into ``benchmark.json`` (keyed by scale), add the
    M-to-L growth, redraw the plot and rewrite ``benchmark.md``. Returns the data."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    data = _merged(reports_dir, result)
    grown = growth(data)
    if grown is None:
        data.pop("growth", None)
    else:
        data["growth"] = grown
    plot(data, reports_dir / PLOT_FILE)
    (reports_dir / "benchmark.json").write_text(
        json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    (reports_dir / "benchmark.md").write_text(markdown(data), encoding="utf-8")
    return data
