"""Ingestion at scale for the benchmark: a large ``sales_lines.csv`` synthesized from a
sample, ingested by the real ``ingest_job`` in a child process that reports its wall
time, CPU time and peak resident memory.

The child process is measured alone, so its peak memory is the ingestion's own (plus
the Python, Dagster and library baseline every run pays), not the benchmark's.

``python -m gosales_assets.bench_ingest RAW_DIR HOME`` is the child; it prints one JSON
line with its measures.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

# Optional inputs copied unchanged next to the synthesized lines (they are ingested
# too, at their sample size).
COPIED = ("customers.csv", "assets.csv", "contacts.csv", "open_deals.csv")


def synthesize(sample_dir: Path, out_dir: Path, lines: int) -> dict[str, Any]:
    """Write ``out_dir/sales_lines.csv`` with exactly ``lines`` data rows.

    Copy 0 is the sample's ``sales_lines.csv``; copy ``k`` repeats it with
    ``-R<k>`` appended to every ``invoice_id``, so every line stays a distinct
    ``(invoice_id, line_no)`` and every customer stays known. The other inputs are
    copied once. Every copy is streamed from the sample file: memory stays small
    whatever the sample's size.
    """
    if lines < 1:
        raise ValueError(f"lines must be at least 1, got {lines}")
    source = sample_dir / "sales_lines.csv"
    if not source.is_file():
        raise FileNotFoundError(f"{source}: the sample has no sales_lines.csv")
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sample = pl.scan_csv(source, infer_schema=False)
    rows = int(sample.select(pl.len()).collect().item())
    if not rows:
        raise ValueError(f"{source}: the sample has no rows")
    written = 0
    copies = 0
    with (out_dir / "sales_lines.csv").open("wb") as fh:
        while written < lines:
            take = min(rows, lines - written)
            part = sample.head(take)
            if copies:
                part = part.with_columns(pl.col("invoice_id") + f"-R{copies}")
            part.sink_csv(fh, include_header=copies == 0)
            written += take
            copies += 1
    for name in COPIED:
        if (sample_dir / name).is_file():
            shutil.copyfile(sample_dir / name, out_dir / name)
    return {
        "lines": written,
        "copies": copies,
        "size_bytes": (out_dir / "sales_lines.csv").stat().st_size,
        "synthesize_s": round(time.perf_counter() - t0, 3),
    }


def measure(
    raw_dir: Path, home: Path, config_path: Path | None = None
) -> dict[str, Any]:
    """Run the ingestion child on ``raw_dir`` with state under ``home``."""
    env = dict(os.environ)
    env.update(
        {
            "GOSALES_RAW_DIR": str(raw_dir),
            "GOSALES_HOME": str(home),
            "DAGSTER_HOME": str(home / "dagster"),
        }
    )
    if config_path is not None:
        env["GOSALES_CONFIG"] = str(config_path)
    shutil.rmtree(home, ignore_errors=True)
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "gosales_assets.bench_ingest", str(raw_dir), str(home)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-20:]
        return {"success": False, "error": "\n".join(tail)}
    return json.loads(lines[-1])


def _status_mib(field: str) -> float | None:
    """``VmHWM`` (peak) or ``VmRSS`` (now) of this process in MiB (Linux).

    Not ``ru_maxrss``: Linux carries it over from the parent across ``exec``, so a
    child of a large benchmark process would report the parent's size.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(f"{field}:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _child(raw_dir: Path, home: Path) -> dict[str, Any]:
    import dagster as dg

    from gosales_assets.config import load_config
    from gosales_assets.definitions import defs
    from gosales_assets.lib.store import Store

    os.environ["GOSALES_RAW_DIR"] = str(raw_dir)
    os.environ["GOSALES_HOME"] = str(home)
    cfg = load_config()
    job = defs().resolve_job_def("ingest_job")
    baseline = _status_mib("VmRSS")
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out: dict[str, Any] = {
        "success": bool(result.success),
        "wall_s": round(wall, 3),
        "cpu_s": round(
            usage.ru_utime + usage.ru_stime - usage0.ru_utime - usage0.ru_stime, 3
        ),
        # the peak of the whole child (the baseline of imports and definitions included)
        "peak_rss_mb": _status_mib("VmHWM") or round(usage.ru_maxrss / 1024, 1),
        "baseline_rss_mb": baseline,
        "batch_lines": cfg.ingest.batch_lines,
        "memory_limit_mb": cfg.ingest.memory_limit_mb,
    }
    if result.success:
        store = Store.from_config(cfg)
        counts = store.query(
            "SELECT (SELECT count(*) FROM raw.sales_lines) AS lines, "
            "(SELECT count(*) FROM raw.quarantine) AS quarantined"
        )
        out["rows_loaded"] = int(counts["lines"][0])
        out["quarantined"] = int(counts["quarantined"][0])
        out["rows_per_s"] = round(out["rows_loaded"] / wall, 1) if wall else None
    return out


if __name__ == "__main__":  # the measured child process
    print(json.dumps(_child(Path(sys.argv[1]), Path(sys.argv[2]))))
