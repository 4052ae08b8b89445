"""The benchmark report as Markdown (``reports/benchmark.md``) and the plot of time
per asset step and scale."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from gosales_assets.bench_report import (
    GROWTH_FLOOR,
    MIN_QUALITY_POSITIVES,
    PLOT_FILE,
    RUNS,
    runs_of,
    scale_order,
)


def plot(data: dict[str, Any], path: Path) -> Path | None:
    """Horizontal bars of seconds per asset step, one bar per scale, one panel per run
    (log scale; slowest step on top). None when there is nothing to plot."""
    scales = sorted(data.get("scales", {}), key=scale_order)
    runs = RUNS

    def per_asset(scale: str, run: str) -> dict[str, Any]:
        return data["scales"][scale]["runs"].get(run, {}).get("per_asset", {})

    steps: dict[str, list[str]] = {}
    for run in runs:
        longest: dict[str, float] = {}
        for scale in scales:
            for step, entry in per_asset(scale, run).items():
                longest[step] = max(longest.get(step, 0.0), entry.get("wall_s") or 0.0)
        steps[run] = sorted(longest, key=lambda s: (-longest[s], s))
    if not any(steps.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    rows = max(len(v) for v in steps.values())
    height = max(3.0, 0.22 * rows * max(1, len(scales)) + 1.5)
    fig, axes = plt.subplots(1, len(runs), figsize=(13, height), squeeze=False)
    bar = 0.8 / max(1, len(scales))
    for ax, run in zip(axes[0], runs, strict=True):
        names = steps[run]
        for i, scale in enumerate(scales):
            entries = per_asset(scale, run)
            values = [max(entries.get(s, {}).get("wall_s") or 0.0, 1e-2) for s in names]
            ax.barh(
                [j + i * bar for j in range(len(names))],
                values,
                height=bar,
                label=scale,
            )
        ax.set_yticks([j + bar * (len(scales) - 1) / 2 for j in range(len(names))])
        ax.set_yticklabels(names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("seconds, all partitions (log scale)")
        ax.set_title(f"{run}: time per asset step")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(title="scale", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _f(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "-"


def _target_line(scale: str, t: dict[str, Any]) -> str:
    quality = t["figure"] == "auc_ratio"
    unit = {"wall_s": " s", "peak_rss_mb": " MiB"}.get(t["figure"], "")
    digits = 3 if quality else 1
    verdict = "met" if t["met"] else "**MISSED**"
    if not t["met"] and t.get("missed_by") is not None:
        pct = t.get("missed_by_pct")
        share = f" ({pct:+.1f}%)" if pct is not None else ""
        verdict += f" by {_f(t['missed_by'], digits)}{unit}{share}"
    limit = f"{'>=' if quality else '<'} {_f(t['limit'], 2 if quality else 0)}{unit}"
    return (
        f"| {scale} | {t['run']} | {t['what']} | {_f(t['value'], digits)}{unit} "
        f"| {limit} | {verdict} |"
    )


def markdown(data: dict[str, Any]) -> str:
    m = data.get("machine", {})
    scales = data.get("scales", {})
    order = sorted(scales, key=scale_order)
    lines = [
        "# Benchmark",
        "",
        f"Machine: {m.get('cores')} cores, {m.get('memory_gib')} GiB, Python "
        f"{m.get('python')}; commit `{m.get('commit')}`.",
        "",
        "| scale | customers | lines | targets | run | wall s | CPU s "
        "| peak RSS MiB | ok | commit |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in order:
        res = scales[name]
        n_targets = len(res.get("targets_run") or []) or "-"
        rm = res.get("machine") or {}
        commit = f"`{str(rm.get('commit'))[:12]}`" if rm.get("commit") else "?"
        if rm.get("uncommitted_changes"):
            commit += " + uncommitted changes"
        for run_name, run in runs_of(res):
            lines.append(
                f"| {name} | {res['customers']:,} | {res.get('lines') or 0:,} | "
                f"{n_targets}{' (partial)' if res.get('partial') else ''} | "
                f"{run_name} | {run['wall_s']} | {run['cpu_s']} | "
                f"{run['peak_rss_mb']} | {'yes' if run['success'] else 'NO'} | "
                f"{commit} |"
            )
    if any(scales[n].get("run_details") for n in order):
        lines += ["", f"![time per asset step and scale]({PLOT_FILE})"]

    target_rows = [(n, t) for n in order for t in scales[n].get("targets") or []]
    if target_rows:
        lines += [
            "",
            "## Targets",
            "",
            "Time and memory targets of issue #8 on this machine (M and L), "
            "ingestion of a 10M-line CSV under 2 GiB, and model AUC at least 95% "
            "of the planted "
            f"oracle's for targets with {MIN_QUALITY_POSITIVES}+ validation positives.",
            "",
            "| scale | run | target | value | limit | verdict |",
            "|---|---|---|---|---|---|",
        ]
        lines += [_target_line(n, t) for n, t in target_rows]
    profiles = [(n, e) for n in order for e in scales[n].get("profiles") or []]
    if profiles:
        lines += ["", "Profiles (cProfile, top functions by cumulative time):", ""]
    for name, entry in profiles:
        lines.append(
            f"- {name}: profile of the slowest step `{entry['step']}` "
            f"({entry['job']}[{entry['partition'] or '-'}], {entry['reason']}): "
            f"[{entry['file']}]({entry['file']})"
        )

    for name in order:
        ingest = scales[name].get("ingest_at_scale")
        if not ingest:
            continue
        lines += [
            "",
            f"## {name} ingestion at scale",
            "",
            f"`raw_ingest` through Dagster in a child process on a synthesized "
            f"`sales_lines.csv` of {ingest.get('lines', 0):,} lines "
            f"({ingest.get('size_bytes', 0) / 2**20:,.0f} MiB; the sample repeated "
            f"with new invoice ids), batches of {ingest.get('batch_lines')} lines, "
            f"DuckDB memory limit {ingest.get('memory_limit_mb')} MiB.",
            "",
            "| ok | wall s | CPU s | peak RSS MiB | baseline RSS MiB | rows/s |",
            "|---|---|---|---|---|---|",
            f"| {'yes' if ingest.get('success') else 'NO'} | {ingest.get('wall_s')} | "
            f"{ingest.get('cpu_s')} | {ingest.get('peak_rss_mb')} | "
            f"{ingest.get('baseline_rss_mb')} | {ingest.get('rows_per_s')} |",
        ]
        if ingest.get("error"):
            lines += ["", "```", str(ingest["error"]), "```"]

    for name in order:
        res = scales[name]
        for run_name, run in runs_of(res):
            lines += [
                "",
                f"## {name} {run_name}: per asset step (all partitions)",
                "",
                "| step | runs | wall s | CPU s | peak RSS MiB | rows in | rows out "
                "| rows out/s |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for step, entry in sorted(
                run["per_asset"].items(), key=lambda kv: -kv[1]["wall_s"]
            ):
                lines.append(
                    f"| {step} | {entry['runs']} | {entry['wall_s']} | "
                    f"{entry.get('cpu_s', '-')} | {entry.get('peak_rss_mb', '-')} | "
                    f"{entry.get('rows_in', 0):,} | {entry['rows']:,} | "
                    f"{entry['rows_per_s']} |"
                )
    for name in order:
        quality = scales[name].get("model_quality") or []
        if not quality:
            continue
        lines += [
            "",
            f"## {name} model quality (out-of-time, vs the planted ground truth)",
            "",
            "| target | val. positives | model AUC | oracle AUC | ratio "
            "| model lift@10 | oracle lift@10 | ratio | fallback |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for q in quality:
            lines.append(
                f"| {q['target']} | {q['validation_positives']} | "
                f"{_f(q.get('model_auc'))} | {_f(q.get('oracle_auc'))} | "
                f"{_f(q.get('auc_ratio'))} | {_f(q.get('model_lift10'))} | "
                f"{_f(q.get('oracle_lift10'))} | {_f(q.get('lift10_ratio'))} | "
                f"{q['is_fallback']} |"
            )
    grown = data.get("growth")
    if grown:
        lines += [
            "",
            f"## Growth from {grown['from']} to {grown['to']} (customers x"
            f"{grown['customers_ratio']}, lines x{grown['lines_ratio']})",
            "",
            f"No figure may grow faster than x{grown['max_ratio']:g}. Figures below "
            f"{GROWTH_FLOOR['wall_s']:g} s or {GROWTH_FLOOR['peak_rss_mb']:g} MiB at "
            f"{grown['from']} are listed, not judged.",
            *_commit_note(grown),
            "",
            f"| figure | {grown['from']} | {grown['to']} | ratio | verdict |",
            "|---|---|---|---|---|",
        ]
        for row in grown["figures"]:
            excess = (row["ratio"] or math.inf) - grown["max_ratio"]
            verdict = (
                "not judged"
                if not row["judged"]
                else "met"
                if row["met"]
                else f"**MISSED** by x{excess:.2f}"
            )
            lines.append(
                f"| {row['figure']} | {row['M']} | {row['L']} | "
                f"x{_f(row['ratio'], 2)} | {verdict} |"
            )
    return "\n".join(lines) + "\n"


def _commit_note(grown: dict[str, Any]) -> list[str]:
    """A warning when the two scales were measured at different commits: their
    ratios then mix the change of the code with the growth of the data."""
    commits = grown.get("commits") or {}
    a, b = commits.get(grown["from"]), commits.get(grown["to"])
    if a == b and a is not None:
        return []
    short = {k: (str(v)[:12] if v else "unknown") for k, v in commits.items()}
    return [
        "",
        f"**{grown['from']} and {grown['to']} were measured at different commits** "
        f"({grown['from']} at `{short.get(grown['from'])}`, {grown['to']} at "
        f"`{short.get(grown['to'])}`): a ratio mixes the change of the code with "
        "the growth of the data.",
    ]
