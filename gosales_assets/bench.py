"""The benchmark: generate sample data at a scale, run the graph through Dagster
exactly as ``gosales run`` does, and report wall time, CPU time, peak memory and rows
per run and per asset, with the machine, versions and commit
(``reports/benchmark.{json,md}``).

Timings live here, never in timed unit tests.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import resource
import subprocess
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from gosales_assets.config import GosalesConfig, load_config

log = logging.getLogger("gosales.bench")

SCALES: dict[str, int] = {"S": 10_000, "M": 100_000, "L": 500_000}
PACKAGES = ("dagster", "duckdb", "polars", "scikit-learn", "xgboost-cpu", "implicit")


def _rss_bytes() -> int:
    """Resident memory of this process now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


class PeakSampler:
    """Samples resident memory in a thread; ``peak`` is the maximum since ``reset``."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(self.interval)

    def reset(self) -> None:
        self.peak = _rss_bytes()

    def __enter__(self) -> PeakSampler:
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


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _step_seconds(result: Any, instance: Any) -> dict[str, float]:
    """Seconds per step, from the run's event log timestamps."""
    starts: dict[str, float] = {}
    out: dict[str, float] = {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        kind = event.event_type_value
        if kind == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
            out[event.step_key] = round(entry.timestamp - starts[event.step_key], 3)
    return out


def _rows(result: Any) -> dict[str, int]:
    """Rows written per ``step/asset`` (from the materializations' row counts)."""
    out: dict[str, int] = {}
    for event in result.all_events:
        if event.event_type_value != "ASSET_MATERIALIZATION":
            continue
        mat = event.step_materialization_data.materialization
        meta = mat.metadata
        for key in ("dagster/partition_row_count", "dagster/row_count"):
            if key in meta:
                name = f"{event.step_key}/{mat.asset_key.to_user_string()}"
                out[name] = int(meta[key].value)
    return out


class Recorder:
    """Observer for :func:`gosales_assets.runner.run_pipeline` measuring every run."""

    def __init__(self, sampler: PeakSampler) -> None:
        self.sampler = sampler
        self.runs: list[RunMeasure] = []
        self._t0 = time.perf_counter()
        self._cpu0 = _cpu_seconds()

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._cpu0 = _cpu_seconds()
        self.sampler.reset()

    def __call__(self, job: str, key: str | None, result: Any, instance: Any) -> None:
        self.runs.append(
            RunMeasure(
                job=job,
                partition=key,
                success=bool(result.success),
                wall_s=round(time.perf_counter() - self._t0, 3),
                cpu_s=round(_cpu_seconds() - self._cpu0, 3),
                peak_rss_mb=round(self.sampler.peak / 2**20, 1),
                steps=_step_seconds(result, instance),
                rows=_rows(result),
            )
        )
        self.start()


def machine() -> dict[str, Any]:
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                check=False,
                cwd=Path(__file__).resolve().parent,
            ).stdout.strip()
            or None
        )
    except OSError:
        commit = None
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
    }


def summarize(runs: list[RunMeasure]) -> dict[str, Any]:
    """Totals of a run group, and per asset step: runs, seconds, rows, rows/s."""
    per_asset: dict[str, dict[str, Any]] = {}
    for run in runs:
        for step, seconds in run.steps.items():
            entry = per_asset.setdefault(step, {"wall_s": 0.0, "runs": 0, "rows": 0})
            entry["wall_s"] = round(entry["wall_s"] + seconds, 3)
            entry["runs"] += 1
        for name, n in run.rows.items():
            step = name.split("/", 1)[0]
            per_asset.setdefault(step, {"wall_s": 0.0, "runs": 0, "rows": 0})
            per_asset[step]["rows"] += n
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


def run_benchmark(
    scale: str,
    workdir: Path,
    reports_dir: Path,
    cfg_path: Path | None = None,
) -> dict[str, Any]:
    """Generate data at ``scale`` in ``workdir`` and run the nightly graph once."""
    from gosales_assets import runner
    from gosales_assets.bench_quality import model_quality
    from gosales_assets.sample_data import generate

    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {sorted(SCALES)}")
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
    sd = cfg.sample_data
    t0 = time.perf_counter()
    report = generate(
        raw,
        cfg,
        customers=SCALES[scale],
        start=sd.start,
        end=sd.end,
        seed=sd.seed,
        ground_truth_cutoffs=sd.ground_truth_cutoffs,
        ground_truth_simulations=sd.ground_truth_simulations,
    )
    gen_s = round(time.perf_counter() - t0, 3)
    log.info("bench generated scale=%s seconds=%s", scale, gen_s)
    runs: dict[str, Any] = {}
    details: dict[str, Any] = {}
    with PeakSampler() as sampler:
        # retraining: every target's model at the newest cutoff, with every upstream
        # partition it needs; then the nightly run scores with those models
        for name, train in (("retraining", True), ("nightly", False)):
            recorder = Recorder(sampler)
            recorder.start()
            summary = runner.run_pipeline(cfg, None, observer=recorder, train=train)
            runs[name] = summarize(recorder.runs)
            details[name] = [r.__dict__ for r in recorder.runs]
    result = {
        "scale": scale,
        "customers": SCALES[scale],
        "lines": report.row_counts.get("sales_lines.csv"),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "generate_s": gen_s,
        "cutoff": str(summary.cutoff),
        "machine": machine(),
        "runs": runs,
        "run_details": details,
        "model_quality": model_quality(cfg, raw / "ground_truth.parquet"),
    }
    write_reports(result, reports_dir)
    return result


def write_reports(result: dict[str, Any], reports_dir: Path) -> None:
    """Merge one scale's result into ``benchmark.json`` and rewrite ``benchmark.md``."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / "benchmark.json"
    data: dict[str, Any] = {}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    data.setdefault("scales", {})[result["scale"]] = result
    data["machine"] = result["machine"]
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    (reports_dir / "benchmark.md").write_text(markdown(data), encoding="utf-8")


def markdown(data: dict[str, Any]) -> str:
    m = data.get("machine", {})
    lines = [
        "# Benchmark",
        "",
        f"Machine: {m.get('cores')} cores, {m.get('memory_gib')} GiB, Python "
        f"{m.get('python')}; commit `{m.get('commit')}`.",
        "",
        "| scale | customers | lines | run | wall s | CPU s | peak RSS MiB | ok |",
        "|---|---|---|---|---|---|---|---|",
    ]
    scales = data.get("scales", {})
    for name in sorted(scales, key=lambda s: SCALES.get(s, 0)):
        res = scales[name]
        for run_name, run in res["runs"].items():
            lines.append(
                f"| {name} | {res['customers']:,} | {res.get('lines') or 0:,} | "
                f"{run_name} | {run['wall_s']} | {run['cpu_s']} | "
                f"{run['peak_rss_mb']} | {'yes' if run['success'] else 'NO'} |"
            )
    for name in sorted(scales, key=lambda s: SCALES.get(s, 0)):
        res = scales[name]
        for run_name, run in res["runs"].items():
            lines += [
                "",
                f"## {name} {run_name}: seconds per asset step (all partitions)",
                "",
                "| step | runs | wall s | rows out | rows/s |",
                "|---|---|---|---|---|",
            ]
            for step, entry in sorted(
                run["per_asset"].items(), key=lambda kv: -kv[1]["wall_s"]
            ):
                lines.append(
                    f"| {step} | {entry['runs']} | {entry['wall_s']} | "
                    f"{entry['rows']:,} | {entry['rows_per_s']} |"
                )
    for name in sorted(scales, key=lambda s: SCALES.get(s, 0)):
        quality = scales[name].get("model_quality") or []
        if not quality:
            continue
        lines += [
            "",
            f"## {name} model quality (out-of-time, vs the planted ground truth)",
            "",
            "| target | val. positives | model AUC | oracle AUC | ratio "
            "| model lift@10 | oracle lift@10 | fallback |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for q in quality:
            lines.append(
                f"| {q['target']} | {q['validation_positives']} | "
                f"{_f(q.get('model_auc'))} | {_f(q.get('oracle_auc'))} | "
                f"{_f(q.get('auc_ratio'))} | {_f(q.get('model_lift10'))} | "
                f"{_f(q.get('oracle_lift10'))} | {q['is_fallback']} |"
            )
    if "M" in scales and "L" in scales:
        lines += ["", "## Growth from M to L (data grows 5x)", ""]
        for run_name in scales["M"]["runs"]:
            a, b = scales["M"]["runs"][run_name], scales["L"]["runs"].get(run_name)
            if b:
                for key in ("wall_s", "cpu_s", "peak_rss_mb"):
                    ratio = b[key] / a[key] if a[key] else float("nan")
                    lines.append(f"- {run_name} {key}: x{ratio:.2f}")
    return "\n".join(lines) + "\n"


def _f(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "-"
