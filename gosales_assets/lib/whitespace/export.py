"""Deterministic CSV exports of whitespace lists (byte-identical on re-run)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from gosales_assets.lib.features.naming import unique_slugs
from gosales_assets.lib.whitespace.settings import WhitespaceSettings

FLOAT_DECIMALS = 6
_NO_REP = "unassigned"


def _sort_keys(frame: pl.DataFrame) -> list[str]:
    for keys in (["list_rank"], ["target", "rank"], ["division", "rank"], ["rank"]):
        if all(k in frame.columns for k in keys):
            return keys
    return list(frame.columns)


def canonical(
    frame: pl.DataFrame, sort_by: Sequence[str] | None = None
) -> pl.DataFrame:
    """Sorted rows, floats rounded to ``FLOAT_DECIMALS`` with ``-0`` made ``0``."""
    keys = list(sort_by) if sort_by else _sort_keys(frame)
    floats = [c for c, t in frame.schema.items() if t in (pl.Float32, pl.Float64)]
    return frame.sort(keys, nulls_last=True, maintain_order=True).with_columns(
        [
            (pl.col(c).cast(pl.Float64).round(FLOAT_DECIMALS) + 0.0).alias(c)
            for c in floats
        ]
    )


def write_whitespace_csv(
    frame: pl.DataFrame, path: str | Path, sort_by: Sequence[str] | None = None
) -> Path:
    """Write ``frame`` as CSV: sorted (``list_rank``, else ``target, rank``, else
    ``rank``, else every column), fixed ``%.6f`` floats, ISO dates, ``\\n`` line
    ends, empty nulls; written to a temporary file and renamed (no half files)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    canonical(frame, sort_by).write_csv(
        tmp,
        float_precision=FLOAT_DECIMALS,
        float_scientific=False,
        date_format="%Y-%m-%d",
        line_terminator="\n",
        null_value="",
    )
    os.replace(tmp, path)
    return path


def rep_file_names(reps: Sequence[str | None]) -> dict[str | None, str]:
    """Rep -> file-name slug (distinct; a missing rep is ``unassigned``)."""
    labels = sorted({r for r in reps if r is not None})
    slugs = unique_slugs([*labels, _NO_REP] if None in reps else labels)
    out: dict[str | None, str] = {r: slugs[r] for r in labels}
    if None in reps:
        out[None] = slugs[_NO_REP]
    return out


def write_per_rep_csvs(
    frame: pl.DataFrame, directory: str | Path, stem: str
) -> list[Path]:
    """One ``<stem>_rep_<slug>.csv`` per rep (column ``rep``), same format as
    :func:`write_whitespace_csv`. Stale files of the same stem are removed first, so
    a re-run leaves exactly the current reps' files."""
    if "rep" not in frame.columns:
        raise ValueError("write_per_rep_csvs: the frame has no 'rep' column")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for old in sorted(directory.glob(f"{stem}_rep_*.csv")):
        old.unlink()
    names = rep_file_names(frame["rep"].unique().to_list())
    paths = []
    for rep in sorted(names, key=lambda r: names[r]):
        part = frame.filter(
            pl.col("rep").is_null() if rep is None else pl.col("rep") == rep
        )
        paths.append(
            write_whitespace_csv(part, directory / f"{stem}_rep_{names[rep]}.csv")
        )
    return paths


def export_whitespace(
    frame: pl.DataFrame,
    reports_dir: str | Path,
    cutoff: dt.date,
    settings: WhitespaceSettings,
) -> list[Path]:
    """``whitespace_<cutoff>.csv`` (+ per-rep files when capacity mode is per_rep)."""
    stem = f"whitespace_{cutoff.isoformat()}"
    paths = [write_whitespace_csv(frame, Path(reports_dir) / f"{stem}.csv")]
    if settings.capacity.mode == "per_rep":
        paths += write_per_rep_csvs(frame, reports_dir, stem)
    return paths
