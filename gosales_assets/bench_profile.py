"""Profiles of the slowest asset steps for the benchmark report (cProfile, top
functions by cumulative time)."""

from __future__ import annotations

import cProfile
import io
import logging
import pstats
import re
import time
from pathlib import Path
from typing import Any

from gosales_assets.bench_report import (
    PROFILE_DIR,
)
from gosales_assets.config import GosalesConfig

log = logging.getLogger("gosales.bench")

MAX_PROFILES = 3
PROFILE_LINES = 60


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
