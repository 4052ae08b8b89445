"""Pure logic behind the schedules and sensors of ``defs/automation``.

- Which cutoff a scheduled pipeline materializes (:func:`choose_cutoff`,
  :func:`newest_month_end`), from the newest complete day, the load date and the
  newest order date ingested.
- Which job partitions each pipeline needs, in stages of runs whose partitions only
  depend on earlier stages (:func:`nightly_plan`, :func:`retrain_plan`), and how a
  pipeline moves through them as its runs finish (:func:`advance`).
- The fingerprint of a raw extract (:func:`scan_extract`, :func:`stat_signature`,
  :func:`content_fingerprint`), so a new or changed extract is noticed cheaply and
  the same content is never ingested twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.contract import OPTIONAL_STEMS
from gosales_assets.lib.ingest_io import EXTENSIONS, sha256_of
from gosales_assets.lib.store import Store
from gosales_assets.lib.timeutil import month_ends

Pipeline = Literal["nightly", "retrain"]
CutoffMode = Literal["newest_data", "load_date"]
PIPELINES: tuple[Pipeline, ...] = ("nightly", "retrain")

# Job names of defs/automation/jobs.py that a plan refers to.
STAR_JOB = "star_job"
FEATURES_BASE_JOB = "features_base_job"
LABELS_JOB = "labels_job"
FEATURE_MATRIX_JOB = "feature_matrix_job"
MODEL_JOB = "model_job"
SCORING_JOB = "scoring_job"
ACCOUNTS_JOB = "whitespace_accounts_job"
DRIFT_JOB = "drift_job"
# feature matrix, scores, whitespace and drift of one (cutoff, division) in one run
DIVISION_NIGHTLY_JOB = "division_nightly_job"

SALES_STEMS = ("sales_lines", "sales_log")
INPUT_STEMS = (*SALES_STEMS, "customers", *OPTIONAL_STEMS)


class NoCutoffError(ValueError):
    """No cutoff can be materialized yet (no data, or before cutoff_start)."""


# ---------------------------------------------------------------------------- cutoffs


def choose_cutoff(
    mode: CutoffMode,
    *,
    newest_partition: dt.date,
    load_date: dt.date,
    last_data_date: dt.date | None,
    cutoff_start: dt.date,
) -> dt.date:
    """The cutoff of a nightly run.

    ``newest_data``: the newest order date ingested; ``load_date``: the load date.
    Either is capped at ``newest_partition`` (the newest complete day the cutoff
    dimension offers), so a cutoff never covers a day still in progress.
    """
    if mode == "newest_data":
        if last_data_date is None:
            raise NoCutoffError("no sales lines have been ingested; nothing to score")
        chosen = min(last_data_date, newest_partition)
    else:
        chosen = min(load_date, newest_partition)
    if chosen < cutoff_start:
        raise NoCutoffError(
            f"the newest cutoff {chosen} is before partitions.cutoff_start "
            f"{cutoff_start}"
        )
    return chosen


def newest_month_end(day: dt.date, cutoff_start: dt.date) -> dt.date:
    """The newest month-end on or before ``day`` (training cutoffs are month-ends)."""
    ends = month_ends(cutoff_start, day)
    if not ends:
        raise NoCutoffError(
            f"no month-end between partitions.cutoff_start {cutoff_start} and {day}"
        )
    return ends[-1]


@dataclass(frozen=True)
class StoreFacts:
    """What the scheduled pipelines need to know about the store."""

    last_order_date: dt.date | None
    # target -> cutoff of its oldest registered model (a model exists at C iff <= C)
    first_model_cutoff: Mapping[str, dt.date] = field(default_factory=dict)

    def scorable(self, targets: Iterable[str], cutoff: dt.date) -> list[str]:
        """The targets that have a model trained on or before ``cutoff``."""
        return [
            t
            for t in targets
            if t in self.first_model_cutoff and self.first_model_cutoff[t] <= cutoff
        ]


def read_store_facts(store: Store) -> StoreFacts:
    """Newest order date ingested and the registered models (read-only)."""
    if not store.exists():
        return StoreFacts(last_order_date=None)
    with store.connect(read_only=True) as con:
        tables = {
            f"{s}.{t}"
            for s, t in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_catalog = current_database()"
            ).fetchall()
        }
        last = None
        if "raw.sales_lines" in tables:
            row = con.execute("SELECT max(order_date) FROM raw.sales_lines").fetchone()
            last = row[0] if row else None
        models: dict[str, dt.date] = {}
        if "models.registry" in tables:
            rows = con.execute(
                "SELECT division, min(cutoff) FROM models.registry GROUP BY division "
                "ORDER BY division"
            ).fetchall()
            models = {str(d): c for d, c in rows}
    return StoreFacts(last_order_date=last, first_model_cutoff=models)


# ------------------------------------------------------------------------------ plans


@dataclass(frozen=True)
class PlanStep:
    """Partitions of one job: cutoff keys ``YYYY-MM-DD`` or ``YYYY-MM-DD|target``."""

    job: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """The runs of a scheduled pipeline, in stages: the runs of a stage start once
    those of the previous stage have finished (their partitions are upstream)."""

    pipeline: Pipeline
    cutoff: dt.date
    stages: tuple[tuple[PlanStep, ...], ...]
    notes: tuple[str, ...] = ()

    def keys_of(self, job: str) -> list[str]:
        return sorted(
            {k for stage in self.stages for s in stage if s.job == job for k in s.keys}
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "cutoff": self.cutoff.isoformat(),
            "stages": [[[s.job, list(s.keys)] for s in stage] for stage in self.stages],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            pipeline=data["pipeline"],
            cutoff=dt.date.fromisoformat(data["cutoff"]),
            stages=tuple(
                tuple(PlanStep(job, tuple(keys)) for job, keys in stage)
                for stage in data["stages"]
            ),
            notes=tuple(data.get("notes", ())),
        )


def _key(cutoff: dt.date, target: str | None = None) -> str:
    return cutoff.isoformat() if target is None else f"{cutoff.isoformat()}|{target}"


def _step(job: str, keys: Iterable[str]) -> PlanStep:
    return PlanStep(job, tuple(sorted(set(keys))))


def nightly_plan(
    cutoff: dt.date, targets: Sequence[str], scorable: Sequence[str]
) -> Plan:
    """Star and features of ``cutoff``; per target with a model, its feature matrix,
    scores, whitespace list and drift in one run (``division_nightly_job``, no
    training); the feature matrix alone for the others; then the cross-division
    list."""
    skipped = [t for t in targets if t not in scorable]
    divisions = [
        _step(job, [_key(cutoff, t) for t in chosen])
        for job, chosen in (
            (DIVISION_NIGHTLY_JOB, scorable),
            (FEATURE_MATRIX_JOB, skipped),
        )
        if chosen
    ]
    stages: list[tuple[PlanStep, ...]] = [
        (_step(STAR_JOB, [_key(cutoff)]),),
        (_step(FEATURES_BASE_JOB, [_key(cutoff)]),),
        tuple(divisions),
    ]
    if scorable:
        stages.append((_step(ACCOUNTS_JOB, [_key(cutoff)]),))
    notes = (
        (f"not scored, no model trained on or before {cutoff}: {', '.join(skipped)}",)
        if skipped
        else ()
    )
    return Plan("nightly", cutoff, tuple(stages), notes)


def retrain_plan(cfg: GosalesConfig, cutoff: dt.date) -> Plan:
    """Everything the models at ``cutoff`` train on (star and features at every
    training cutoff, labels and feature matrices per target), the models, and the
    scores and whitespace at ``cutoff`` with the new models (as ``gosales run``)."""
    from gosales_assets.lib.models.data import training_cutoffs

    targets = cfg.target_names
    plans = {
        t: training_cutoffs(cutoff, cfg.window_months(t), cfg.modeling_settings)
        for t in targets
    }
    cutoffs = sorted({c for plan in plans.values() for c in plan} | {cutoff})
    if cutoffs[0] < cfg.partitions.cutoff_start:
        raise NoCutoffError(
            f"the models at {cutoff} train on cutoffs from {cutoffs[0]}, before "
            f"partitions.cutoff_start {cfg.partitions.cutoff_start}"
        )
    stages = (
        (_step(STAR_JOB, [_key(c) for c in cutoffs]),),
        (_step(FEATURES_BASE_JOB, [_key(c) for c in cutoffs]),),
        (
            _step(LABELS_JOB, [_key(c, t) for t in targets for c in plans[t]]),
            _step(
                FEATURE_MATRIX_JOB,
                [_key(c, t) for t in targets for c in [*plans[t], cutoff]],
            ),
        ),
        (_step(MODEL_JOB, [_key(cutoff, t) for t in targets]),),
        (_step(SCORING_JOB, [_key(cutoff, t) for t in targets]),),
        (
            _step(ACCOUNTS_JOB, [_key(cutoff)]),
            _step(DRIFT_JOB, [_key(cutoff, t) for t in targets]),
        ),
    )
    return Plan("retrain", cutoff, stages)


# --------------------------------------------------------------------------- progress

RunState = Literal["pending", "success", "failed"]
Run = tuple[str, str]  # (job, partition key)


@dataclass(frozen=True)
class Progress:
    """Where a pipeline stands after looking at its runs.

    ``requests``: the runs of the current stage that do not exist yet (request them;
    a run key makes a repeated request harmless). ``finished``: every stage is done;
    ``stopped``: why the pipeline ended early (a cutoff-level run failed).
    """

    stage: int
    dropped: tuple[str, ...] = ()
    requests: tuple[Run, ...] = ()
    finished: bool = False
    stopped: str | None = None
    notes: tuple[str, ...] = ()


def _division(key: str) -> str | None:
    return key.split("|", 1)[1] if "|" in key else None


def stage_runs(stage: Sequence[PlanStep], dropped: Iterable[str]) -> list[Run]:
    """The runs of a stage once ``dropped`` divisions are left out. A cutoff-level
    step after a division failed (the cross-division list) is left out too: it would
    mix this cutoff's lists with missing or older ones."""
    gone = set(dropped)
    runs: list[Run] = []
    for step in stage:
        for key in step.keys:
            division = _division(key)
            if (division is None and gone) or division in gone:
                continue
            runs.append((step.job, key))
    return runs


def advance(
    plan: Plan, stage: int, dropped: Iterable[str], states: Mapping[Run, RunState]
) -> Progress:
    """Move through the stages whose runs have all finished.

    A failed division-level run drops its division from the later stages; a failed
    cutoff-level run stops the pipeline (everything after it depends on it)."""
    gone = set(dropped)
    notes: list[str] = []
    while stage < len(plan.stages):
        runs = stage_runs(plan.stages[stage], gone)
        if any(states.get(r, "pending") == "pending" for r in runs):
            missing = tuple(r for r in runs if r not in states)
            return Progress(stage, tuple(sorted(gone)), missing, notes=tuple(notes))
        for job, key in runs:
            if states[(job, key)] != "failed":
                continue
            division = _division(key)
            if division is None:
                return Progress(
                    stage,
                    tuple(sorted(gone)),
                    stopped=f"{job} [{key}] failed; the later stages depend on it",
                    notes=tuple(notes),
                )
            if division not in gone:
                gone.add(division)
                notes.append(f"{job} [{key}] failed; {division} is left out from here")
        stage += 1
    return Progress(stage, tuple(sorted(gone)), finished=True, notes=tuple(notes))


# ---------------------------------------------------------------------- raw extracts


@dataclass(frozen=True)
class ExtractFile:
    name: str
    size: int
    mtime_ns: int


def input_file_names() -> list[str]:
    """Every file name the ingestion reads (``<stem>.csv`` / ``<stem>.parquet``)."""
    return [f"{stem}{ext}" for stem in INPUT_STEMS for ext, _ in EXTENSIONS]


def scan_extract(raw_dir: Path) -> tuple[ExtractFile, ...]:
    """The input files present in ``raw_dir`` with size and mtime (sorted by name).

    Other files (temporary copies, notes) are ignored; a broken link counts with size
    -1 so that fixing it is a change."""
    found: list[ExtractFile] = []
    if not raw_dir.is_dir():
        return ()
    for name in input_file_names():
        path = raw_dir / name
        if not os.path.lexists(path):
            continue
        try:
            info = path.stat()
        except OSError:
            found.append(ExtractFile(name, -1, 0))
            continue
        found.append(ExtractFile(name, info.st_size, info.st_mtime_ns))
    return tuple(sorted(found, key=lambda f: f.name))


def extract_problem(files: Sequence[ExtractFile]) -> str | None:
    """Why the extract cannot be ingested yet (None when it can be tried)."""
    stems = {f.name.rsplit(".", 1)[0] for f in files}
    if not stems & set(SALES_STEMS):
        return "no sales_lines or sales_log file yet"
    if "customers" not in stems:
        return "no customers file yet"
    return None


def _digest(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stat_signature(files: Sequence[ExtractFile]) -> str:
    """A cheap signature of names, sizes and modification times."""
    return _digest([[f.name, f.size, f.mtime_ns] for f in files])


def content_fingerprint(raw_dir: Path, files: Sequence[ExtractFile]) -> str:
    """The extract's identity: the names and SHA-256 of its input files (32 hex)."""
    return _digest([[f.name, sha256_of(raw_dir / f.name)] for f in files])[:32]
