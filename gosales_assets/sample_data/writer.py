"""Deterministic file output: CSV or Parquet tables, checksums and the manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import polars as pl

Format = Literal["csv", "parquet"]

# Every file name the generator may write; stale ones are removed before a run so a
# folder never holds, say, both sales_lines and sales_log.
STEMS = ("sales_lines", "sales_log", "customers", "assets", "contacts", "open_deals")
OTHER_FILES = ("ground_truth.parquet", "manifest.json")


def clear_outputs(out_dir: Path) -> list[str]:
    removed = []
    names = [f"{s}.{ext}" for s in STEMS for ext in ("csv", "parquet")]
    for name in [*names, *OTHER_FILES]:
        path = out_dir / name
        if path.is_file():
            path.unlink()
            removed.append(name)
    return removed


def write_table(frame: pl.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path, compression="zstd", statistics=True)
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(
    path: Path,
    *,
    version: str,
    seed: int,
    parameters: dict[str, Any],
    files: dict[str, tuple[Path, int]],
    stats: dict[str, int],
) -> Path:
    """``manifest.json``: generator version, seed, parameters, per-file rows and sha256.

    It names files relative to their folder and holds no timestamps, so the same
    arguments give a byte-identical manifest."""
    manifest = {
        "generator": "gosales_assets.sample_data",
        "generator_version": version,
        "seed": seed,
        "parameters": parameters,
        "files": {
            name: {"rows": rows, "bytes": p.stat().st_size, "sha256": sha256_file(p)}
            for name, (p, rows) in sorted(files.items())
        },
        "stats": stats,
    }
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", "utf-8")
    return path
