"""Running the asset graph without the UI, through a real Dagster instance.

``gosales run`` uses these helpers: the runs land in the persistent instance under
``$GOSALES_HOME/dagster`` so they show in the Dagster UI like scheduled runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.timeutil import month_ends
from gosales_assets.partitions import training_plan

log = logging.getLogger("gosales.runner")

INGEST_JOB = "ingest_job"
STAR_JOB = "star_job"
# jobs partitioned by (cutoff, division), run in this order for every requested target
LABELS_JOB = "labels_job"
DIVISION_JOBS = (LABELS_JOB, "feature_matrix_job")
CUTOFF_JOBS = (STAR_JOB, "features_base_job")
MODEL_JOB = "model_job"
# jobs run per (cutoff, division) after the model, at the run's cutoff only
SCORING_JOBS: tuple[str, ...] = ("scoring_job", "drift_job")
# without training, the feature matrix, scores, whitespace and drift of a division
# at the run's cutoff in one run (one run's overhead instead of three)
NIGHTLY_DIVISION_JOBS = (LABELS_JOB, "division_nightly_job")
ACCOUNTS_JOB = "whitespace_accounts_job"
# per scored (cutoff, division) whose label window has closed, once (defs/validation)
FORWARD_JOB = "forward_validation_job"


@dataclass
class RunSummary:
    cutoff: dt.date
    runs: list[tuple[str, str, bool]] = field(default_factory=list)  # job, run id, ok
    published: Path | None = None  # the refreshed analyst copy (lib/publish.py)
    publish_error: str | None = None

    @property
    def success(self) -> bool:
        return all(ok for _, _, ok in self.runs)


def dagster_instance(cfg: GosalesConfig) -> dg.DagsterInstance:
    """The persistent instance in ``$GOSALES_HOME/dagster`` (created on first use)."""
    home = Path(os.environ.get("DAGSTER_HOME") or cfg.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    yaml_path = home / "dagster.yaml"
    if not yaml_path.exists():
        project_yaml = Path(__file__).resolve().parent.parent / "dagster.yaml"
        yaml_path.write_text(project_yaml.read_text(encoding="utf-8"), encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def load_definitions() -> dg.Definitions:
    from gosales_assets.definitions import defs

    return defs()


def _run_config() -> dict[str, object]:
    """Dagster's console logger at our level: quiet unless --verbose."""
    level = "DEBUG" if logging.getLogger().isEnabledFor(logging.DEBUG) else "WARNING"
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def newest_cutoff(last_data_date: dt.date, earliest: dt.date) -> dt.date:
    """The newest month-end on or before the last date the data covers."""
    ends = month_ends(earliest, last_data_date)
    if not ends:
        raise ValueError(
            f"no month-end cutoff between {earliest} and the data's last date "
            f"{last_data_date}"
        )
    return ends[-1]


# An observer gets (job, partition key or None, result, instance) after every run;
# the benchmark uses it to measure each run.
Observer = Callable[[str, str | None, Any, dg.DagsterInstance], None]


def execute(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    job: str,
    key: str | None = None,
) -> Any:
    log.info("run job=%s partition=%s", job, key or "-")
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance,
        partition_key=key,
        raise_on_error=False,
        run_config=_run_config(),
    )
    trim_heap()
    return result


def trim_heap() -> None:
    """Hand the C heap's free pages back to the OS (glibc ``malloc_trim``): runs in
    one process one after another free large frames and arrays that the allocator
    would otherwise keep resident. No-op where glibc is absent."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def run_pipeline(
    cfg: GosalesConfig,
    cutoff: dt.date | None,
    divisions: Sequence[str] = (),
    skip_ingest: bool = False,
    instance: dg.DagsterInstance | None = None,
    observer: Observer | None = None,
    train: bool = True,
    publish: bool = True,
) -> RunSummary:
    """Materialize (see :func:`materialize`), then, when any run succeeded and
    ``publish`` is set, refresh the read-only analyst copy (``cfg.published_path``)
    with ``publish_job``, as the schedules do (the observer sees that run too). A
    failed refresh is logged and reported in ``publish_error``; the runs stand."""
    instance = instance or dagster_instance(cfg)
    summary = materialize(
        cfg, cutoff, divisions, skip_ingest, instance, observer, train
    )
    if publish and any(ok for _, _, ok in summary.runs):
        from gosales_assets.defs.automation.publish import PUBLISH_JOB

        result = execute(load_definitions(), instance, PUBLISH_JOB)
        if observer is not None:
            observer(PUBLISH_JOB, None, result, instance)
        if result.success:
            summary.published = cfg.published_path
        else:
            summary.publish_error = failure_message(result)
            log.error("publishing the analyst copy failed: %s", summary.publish_error)
    return summary


def failure_message(result: Any) -> str:
    """The innermost error of a failed in-process run's first failed step."""
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE" and event.step_failure_data:
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:
                error = error.cause
            if error is not None:
                return error.message.strip()
    return f"run {result.run_id} failed"


def materialize(
    cfg: GosalesConfig,
    cutoff: dt.date | None,
    divisions: Sequence[str] = (),
    skip_ingest: bool = False,
    instance: dg.DagsterInstance | None = None,
    observer: Observer | None = None,
    train: bool = True,
) -> RunSummary:
    """Ingest (unless skipped) and materialize everything that exists for ``cutoff``.

    With ``train``, also every upstream partition the models need (star, features and
    labels at each training cutoff) and the model of every target at ``cutoff``.
    Cutoff-major: every target's labels and matrix at one cutoff, then the next
    cutoff (the cached feature inputs of one cutoff at a time), then per target its
    model, scores and drift. Without ``train``, every target's matrix, scores,
    whitespace list and drift at ``cutoff`` run together (``division_nightly_job``).
    ``cutoff=None`` picks the newest month-end covered by the ingested data. Last,
    ``forward_validation_job`` for every scored partition of the targets whose label
    window the data now covers and that has no forward metrics yet.
    """
    for name in divisions:
        cfg.target(name)  # validates early, naming the known targets
    defs = load_definitions()
    instance = instance or dagster_instance(cfg)
    summary = RunSummary(cutoff=cutoff or dt.date.min)

    def run(job: str, key: str | None) -> bool:
        result = execute(defs, instance, job, key)
        label = job if key is None else f"{job}[{key}]"
        summary.runs.append((label, result.run_id, result.success))
        if observer is not None:
            observer(job, key, result, instance)
        return bool(result.success)

    if not skip_ingest and not run(INGEST_JOB, None):
        return summary
    from gosales_assets.lib.labels import window_state
    from gosales_assets.lib.store import Store

    store = Store.from_config(cfg)
    last = (
        store.query("SELECT max(order_date) AS d FROM raw.sales_lines")["d"][0]
        if store.table_exists("raw.sales_lines")
        else None
    )
    if cutoff is None:
        if last is None:
            raise ValueError("no sales lines were ingested; cannot choose a cutoff")
        cutoff = newest_cutoff(last, cfg.partitions.cutoff_start)
        log.info("chose newest complete cutoff=%s last_order_date=%s", cutoff, last)
    summary.cutoff = cutoff
    targets = [t.strip() for t in divisions] or cfg.target_names
    plans = {t: training_plan(cfg, cutoff, t) if train else [] for t in targets}
    cutoffs = sorted({c for plan in plans.values() for c in plan} | {cutoff})
    from gosales_assets.lib.feature_cache import release_cached_inputs

    # cutoff by cutoff: the star, the base and every target's labels and matrix at
    # one cutoff, then that cutoff's cached feature inputs go (one cutoff's inputs
    # in memory at a time, however many targets train on it)
    for c in cutoffs:
        for job in CUTOFF_JOBS:
            if not run(job, c.isoformat()):
                return summary
        for target in targets:
            if c != cutoff and c not in plans[target]:
                continue
            jobs = DIVISION_JOBS if train else NIGHTLY_DIVISION_JOBS
            for job in jobs:
                censored = window_state(c, cfg.window_months(target), last)
                if job == LABELS_JOB and censored is not None:
                    # the asset would only log the skip: spare the run
                    log.info("labels not run partition=%s|%s: %s", c, target, censored)
                    continue
                run(job, f"{c.isoformat()}|{target}")
        release_cached_inputs()
        trim_heap()
    for target in targets if train else ():
        run(MODEL_JOB, f"{cutoff.isoformat()}|{target}")
        for job in SCORING_JOBS:
            run(job, f"{cutoff.isoformat()}|{target}")
    run(ACCOUNTS_JOB, cutoff.isoformat())
    from gosales_assets.defs.validation.sensors import (
        pending_forward_partitions,
        read_data_through,
    )
    from gosales_assets.lib.store import Store

    through = read_data_through(Store.from_config(cfg))
    for key in pending_forward_partitions(instance, cfg, through, targets):
        run(FORWARD_JOB, key)
    return summary
