"""The benchmark's judgement: targets and by how much they are missed, growth from M
to L, and the completeness check of ``benchmark.json``.

Pure functions of the benchmark data (``{"machine": ..., "scales": {scale: result}}``);
``gosales_assets.bench`` measures, this module judges, ``bench_markdown`` writes
``benchmark.md`` and the plot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Customers per scale. XS is the CI mode: the whole graph on a small sample, checked for
# completeness, not speed.
SCALES: dict[str, int] = {"XS": 1_000, "S": 10_000, "M": 100_000, "L": 500_000}
GROWTH_FROM, GROWTH_TO = "M", "L"
DATA_GROWTH = SCALES[GROWTH_TO] / SCALES[GROWTH_FROM]  # 5x
MAX_GROWTH = 6.0  # no figure may grow faster than this from M to L
# Figures too small to time reliably are listed in the growth table but not judged.
GROWTH_FLOOR = {"wall_s": 1.0, "cpu_s": 1.0, "peak_rss_mb": 100.0}
MIN_QUALITY_POSITIVES = 200
MIN_AUC_RATIO = 0.95
PLOT_FILE = "benchmark_time_per_asset.png"
PROFILE_DIR = "profiles"


@dataclass(frozen=True)
class Target:
    scale: str
    run: str  # retraining | nightly | ingest_at_scale
    figure: str  # wall_s | peak_rss_mb
    limit: float
    what: str


# Issue #8 (and #9 for ingestion at scale): targets on the 2-core reference machine.
TARGETS: tuple[Target, ...] = (
    Target("M", "nightly", "wall_s", 180.0, "nightly run under 3 min"),
    Target("M", "retraining", "wall_s", 900.0, "retraining run under 15 min"),
    Target("M", "nightly", "peak_rss_mb", 4096.0, "peak memory under 4 GiB"),
    Target("M", "retraining", "peak_rss_mb", 4096.0, "peak memory under 4 GiB"),
    Target("L", "nightly", "wall_s", 720.0, "nightly run under 12 min"),
    Target("L", "nightly", "peak_rss_mb", 12288.0, "peak memory under 12 GiB"),
    Target("L", "retraining", "peak_rss_mb", 12288.0, "peak memory under 12 GiB"),
)
INGEST_PEAK_LIMIT_MB = 2048.0  # ingestion of a 10M-line CSV under 2 GiB

# Keys every scale's result must carry (dotted paths; "*" = every entry of a mapping
# or list). ``check_report`` lists the ones missing.
REQUIRED: tuple[str, ...] = (
    "scale",
    "customers",
    "lines",
    "generated_at",
    "generate_s",
    "cutoff",
    "targets_run",
    "machine.cores",
    "machine.memory_gib",
    "machine.python",
    "machine.platform",
    "machine.versions",
    "machine.commit",
    "runs.retraining",
    "runs.nightly",
    "runs.*.wall_s",
    "runs.*.cpu_s",
    "runs.*.peak_rss_mb",
    "runs.*.success",
    "runs.*.runs",
    "runs.*.per_asset",
    "runs.*.per_asset.*.wall_s",
    "runs.*.per_asset.*.cpu_s",
    "runs.*.per_asset.*.peak_rss_mb",
    "runs.*.per_asset.*.runs",
    "runs.*.per_asset.*.rows_in",
    "runs.*.per_asset.*.rows",
    "runs.*.per_asset.*.rows_per_s",
    "run_details",
    "model_quality",
    "model_quality.*.target",
    "model_quality.*.validation_positives",
    "model_quality.*.model_auc",
    "model_quality.*.oracle_auc",
    "model_quality.*.auc_ratio",
    "model_quality.*.model_lift10",
    "model_quality.*.oracle_lift10",
    "model_quality.*.lift10_ratio",
    "targets",
    "profiles",
)
INGEST_REQUIRED: tuple[str, ...] = (
    "ingest_at_scale.lines",
    "ingest_at_scale.size_bytes",
    "ingest_at_scale.success",
    "ingest_at_scale.wall_s",
    "ingest_at_scale.cpu_s",
    "ingest_at_scale.peak_rss_mb",
    "ingest_at_scale.rows_per_s",
)


RUNS = ("retraining", "nightly")  # report order (the JSON sorts its keys)


def scale_order(name: str) -> int:
    return SCALES.get(name, 0)


def runs_of(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    runs = result.get("runs", {})
    return [(n, runs[n]) for n in (*RUNS, *sorted(set(runs) - set(RUNS))) if n in runs]


def _missing(value: Any, parts: list[str], path: str) -> list[str]:
    if not parts:
        return []
    head, rest = parts[0], parts[1:]
    if head == "*":
        items = value.values() if isinstance(value, dict) else value
        if not isinstance(items, list) and not hasattr(items, "__iter__"):
            return [path]
        out: list[str] = []
        for item in items:
            out += _missing(item, rest, f"{path}.*")
        return out
    if not isinstance(value, dict) or head not in value:
        return [f"{path}.{head}".lstrip(".")]
    return _missing(value[head], rest, f"{path}.{head}".lstrip("."))


def check_report(
    data: dict[str, Any], scales: Sequence[str] | None = None
) -> list[str]:
    """Every required key missing from ``benchmark.json`` data, as ``scale: path``
    (only for ``scales`` when given: results of older runs may predate a key)."""
    problems: list[str] = []
    if not isinstance(data.get("scales"), dict) or not data["scales"]:
        return ["scales"]
    for name, result in sorted(data["scales"].items()):
        if scales is not None and name not in scales:
            continue
        required = list(REQUIRED)
        if result.get("ingest_at_scale") is not None:
            required += INGEST_REQUIRED
        for path in required:
            for miss in _missing(result, path.split("."), ""):
                problems.append(f"{name}: {miss}")
        for run in ("retraining", "nightly"):
            run_data = result.get("runs", {}).get(run, {})
            if run_data and not run_data.get("per_asset"):
                problems.append(f"{name}: runs.{run}.per_asset is empty")
    both = GROWTH_FROM in data["scales"] and GROWTH_TO in data["scales"]
    if both and "growth" not in data:
        problems.append("growth")
    return sorted(set(problems))


def _judge(value: float | None, limit: float) -> dict[str, Any]:
    if value is None:
        return {"value": None, "limit": limit, "met": False, "missed_by": None}
    over = value - limit
    return {
        "value": value,
        "limit": limit,
        "met": value < limit,
        "missed_by": round(over, 3) if over >= 0 else None,
        "missed_by_pct": round(100 * over / limit, 1) if over >= 0 else None,
    }


def evaluate_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The scale's time, memory, ingestion and quality targets, met or missed (and
    by how much)."""
    scale = result["scale"]
    out: list[dict[str, Any]] = []
    for target in TARGETS:
        if target.scale != scale or result.get("partial"):
            continue
        run = result["runs"].get(target.run)
        value = run.get(target.figure) if run else None
        out.append(
            {
                "kind": "time" if target.figure == "wall_s" else "memory",
                "run": target.run,
                "figure": target.figure,
                "what": target.what,
                **_judge(value, target.limit),
            }
        )
    ingest = result.get("ingest_at_scale")
    if ingest:
        out.append(
            {
                "kind": "memory",
                "run": "ingest_at_scale",
                "figure": "peak_rss_mb",
                "what": f"ingesting {ingest.get('lines', 0):,} lines under 2 GiB",
                **_judge(
                    ingest.get("peak_rss_mb") if ingest.get("success") else None,
                    INGEST_PEAK_LIMIT_MB,
                ),
            }
        )
    for q in result.get("model_quality") or []:
        if (q.get("validation_positives") or 0) < MIN_QUALITY_POSITIVES:
            continue
        ratio = q.get("auc_ratio")
        met = ratio is not None and ratio >= MIN_AUC_RATIO
        out.append(
            {
                "kind": "quality",
                "run": "retraining",
                "figure": "auc_ratio",
                "what": f"{q['target']}: AUC at least 95% of the oracle's",
                "value": ratio,
                "limit": MIN_AUC_RATIO,
                "met": met,
                "missed_by": None
                if met or ratio is None
                else round(MIN_AUC_RATIO - ratio, 4),
                "missed_by_pct": None,
            }
        )
    return out


def growth(data: dict[str, Any]) -> dict[str, Any] | None:
    """L/M ratio of every figure (runs and per asset) against the 5x data growth."""
    scales = data.get("scales", {})
    if GROWTH_FROM not in scales or GROWTH_TO not in scales:
        return None
    m, big = scales[GROWTH_FROM], scales[GROWTH_TO]
    rows: list[dict[str, Any]] = []

    def add(name: str, figure: str, a: float | None, b: float | None) -> None:
        if a is None or b is None:
            return
        ratio = b / a if a else math.inf if b else 1.0
        judged = a >= GROWTH_FLOOR.get(figure, 0.0)
        rows.append(
            {
                "figure": f"{name} {figure}",
                "M": a,
                "L": b,
                "ratio": round(ratio, 2) if math.isfinite(ratio) else None,
                "judged": judged,
                "met": (not judged) or ratio <= MAX_GROWTH,
            }
        )

    for run_name, a_run in runs_of(m):
        b_run = big["runs"].get(run_name)
        if not b_run:
            continue
        for figure in ("wall_s", "cpu_s", "peak_rss_mb"):
            add(run_name, figure, a_run.get(figure), b_run.get(figure))
        for step, a_step in sorted(a_run["per_asset"].items()):
            b_step = b_run["per_asset"].get(step)
            if not b_step:
                continue
            for figure in ("wall_s", "cpu_s", "peak_rss_mb"):
                add(
                    f"{run_name} {step}", figure, a_step.get(figure), b_step.get(figure)
                )
    return {
        "from": GROWTH_FROM,
        "to": GROWTH_TO,
        "customers_ratio": round(big["customers"] / m["customers"], 2),
        "lines_ratio": (
            round(big["lines"] / m["lines"], 2)
            if m.get("lines") and big.get("lines")
            else None
        ),
        "max_ratio": MAX_GROWTH,
        "commits": {
            GROWTH_FROM: _commit_label(m),
            GROWTH_TO: _commit_label(big),
        },
        "figures": rows,
        "missed": [r["figure"] for r in rows if not r["met"]],
    }


def _commit_label(scale: dict[str, Any]) -> str | None:
    """The commit a scale was measured at, ``+dirty`` when the tree had changes."""
    machine = scale.get("machine") or {}
    commit = machine.get("commit")
    if not commit:
        return None
    return f"{commit}+dirty" if machine.get("uncommitted_changes") else str(commit)
