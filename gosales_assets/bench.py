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

import datetime as dt
import gc
import json
import logging
import os
import platform
import shutil
import subprocess
import time
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from gosales_assets.bench_markdown import markdown, plot
from gosales_assets.bench_measure import Recorder, RunMeasure, Sampler, summarize
from gosales_assets.bench_profile import _profiles
from gosales_assets.bench_report import (
    PLOT_FILE,
    SCALES,
    check_report,
    evaluate_targets,
    growth,
)
from gosales_assets.config import GosalesConfig, load_config

log = logging.getLogger("gosales.bench")

PACKAGES = ("dagster", "duckdb", "polars", "scikit-learn", "xgboost-cpu", "implicit")
INGEST_LINES_AT_L = 10_000_000  # ingestion at scale is on by default at L

__all__ = [
    "SCALES",
    "RunMeasure",
    "check_report",
    "markdown",
    "run_benchmark",
    "summarize",
    "write_reports",
]


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
    (the feature-input cache, garbage, freed heap pages) and flush the file system's
    pending writes (the generated data, or the gigabytes the retraining run wrote,
    would otherwise be written back during the next run's first steps), so each run
    is measured as the fresh run it is in production, not on top of the previous
    one."""
    from gosales_assets.lib.feature_cache import release_cached_inputs
    from gosales_assets.runner import trim_heap

    held = release_cached_inputs()
    gc.collect()
    trim_heap()
    os.sync()
    log.info("bench fresh process state released_cutoffs=%s", held)


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
