"""The controls: truncation invariance and the shuffled-label null, and
:func:`run_audit`, which runs them on scratch stores."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.audit.report import CHECKS, ONE_DAY, AuditCheck, AuditReport
from gosales_assets.lib.audit.stores import (
    build_features,
    build_labels_at,
    compare_checksums,
    extended_raw,
    ingest,
    partition_checksums,
    truncated_raw,
)
from gosales_assets.lib.features.catalog import all_specs
from gosales_assets.lib.model_store import load_examples
from gosales_assets.lib.models.controls import shuffled_label_control
from gosales_assets.lib.models.data import training_cutoffs
from gosales_assets.lib.star import build_star
from gosales_assets.lib.store import (
    Store,
)
from gosales_assets.lib.timeutil import month_ends, window_end


def truncation_checks(
    work: Path,
    base: Path,
    cfg: GosalesConfig,
    cutoff: dt.date,
    targets: Sequence[str],
    data_through: dt.date | None,
    log: Callable[[str], None],
) -> list[AuditCheck]:
    """Star and features at C: truncated vs extended; labels at C: truncated after the
    newest window end vs rows appended after it."""
    rows = cfg.audit.appended_lines
    ends = {t: window_end(cutoff, cfg.window_months(t)) for t in targets}
    late = max(ends.values()) + ONE_DAY
    trunc, ext = _store(work, "truncated"), _store(work, "extended")
    log(f"truncation: building star and features at {cutoff}, rows after it dropped")
    truncated_raw(trunc, base, cutoff)
    build_features(trunc, cfg, cutoff, targets)
    log(f"truncation: the same with rows appended at {cutoff + ONE_DAY} and {late}")
    added = extended_raw(ext, base, [cutoff + ONE_DAY, late], rows, cutoff)
    build_features(ext, cfg, cutoff, targets)
    left = partition_checksums(trunc, cutoff, ("star", "features"))
    right = partition_checksums(ext, cutoff, ("star", "features"))
    checks = []
    for schema in ("star", "features"):
        check = compare_checksums(
            f"truncation:{schema}",
            {k: v for k, v in left.items() if k.startswith(schema + ".")},
            {k: v for k, v in right.items() if k.startswith(schema + ".")},
            f"{schema} at {cutoff}: rows after {cutoff} dropped vs appended",
        )
        check.detail["appended"] = added
        checks.append(check)
    closed = [
        t for t in targets if data_through is not None and ends[t] <= data_through
    ]
    if not closed:
        checks.append(
            AuditCheck(
                "truncation:labels",
                "skipped",
                f"no label window at {cutoff} has closed in the data (through "
                f"{data_through}; the windows end {min(ends.values())} or later)",
            )
        )
        return checks
    newest = max(ends[t] for t in closed)
    lab_t, lab_x = _store(work, "labels_truncated"), _store(work, "labels_extended")
    log(f"truncation: labels at {cutoff}, rows after {newest} dropped vs appended")
    truncated_raw(lab_t, base, newest)
    extended_raw(lab_x, base, [newest + ONE_DAY], rows, newest)
    for store in (lab_t, lab_x):
        with store.transaction() as con:
            build_star(con, cfg, cutoff)
        build_labels_at(store, cfg, cutoff, closed)
    check = compare_checksums(
        "truncation:labels",
        partition_checksums(lab_t, cutoff, ("labels",)),
        partition_checksums(lab_x, cutoff, ("labels",)),
        f"labels at {cutoff}: rows after {newest} dropped vs appended",
    )
    skipped = sorted(set(targets) - set(closed))
    if skipped:
        check.detail["not_closed"] = skipped
    checks.append(check)
    return checks


def null_auc_se(positives: int, negatives: int) -> float:
    """Standard error of the AUC of a score with no signal (Mann-Whitney)."""
    if positives < 1 or negatives < 1:
        return math.inf
    return math.sqrt((positives + negatives + 1) / (12 * positives * negatives))


def shuffled_checks(
    work: Path,
    base: Path,
    cfg: GosalesConfig,
    cutoff: dt.date,
    targets: Sequence[str],
    log: Callable[[str], None],
) -> list[AuditCheck]:
    """Per target: the training protocol on within-cutoff shuffled labels."""
    settings = cfg.modeling_settings
    plans = {
        t: training_cutoffs(cutoff, cfg.window_months(t), settings) for t in targets
    }
    store = _store(work, "training")
    truncated_raw(store, base, cutoff)
    names = [s.name for s in all_specs(cfg)]
    audit = cfg.audit
    checks: list[AuditCheck] = []
    for c in sorted({c for plan in plans.values() for c in plan}):
        todo = [t for t in targets if c in plans[t]]
        log(f"shuffled: features and labels at training cutoff {c}")
        build_features(store, cfg, c, todo)
        build_labels_at(store, cfg, c, todo)
    for target in targets:
        plan = plans[target]
        with store.connect(read_only=True) as con:
            examples = load_examples(con, target, plan, names)
        validation = examples.filter(examples["cutoff"] == plan[-1])
        pos = int(validation["label"].sum())
        neg = validation.height - pos
        log(f"shuffled: training {target} on shuffled labels, validated at {plan[-1]}")
        auc = shuffled_label_control(
            examples, names, plan[-1], settings, seed=audit.seed
        )
        se = null_auc_se(pos, neg)
        band = max(audit.shuffled_auc_tolerance, audit.shuffled_auc_z * se)
        detail = {
            "training_cutoffs": [str(c) for c in plan],
            "validation_cutoff": str(plan[-1]),
            "validation_positives": pos,
            "validation_negatives": neg,
            "auc": None if math.isnan(auc) else round(auc, 4),
            "allowed": [round(0.5 - band, 4), round(0.5 + band, 4)],
            "seed": audit.seed,
        }
        if math.isnan(auc):
            checks.append(
                AuditCheck(
                    f"shuffled:{target}",
                    "skipped",
                    "the shuffled training fell back to the prior-rate model (too few "
                    "positives, or no usable signal): nothing to compare",
                    detail,
                )
            )
            continue
        ok = abs(auc - 0.5) <= band
        checks.append(
            AuditCheck(
                f"shuffled:{target}",
                "pass" if ok else "fail",
                f"AUC {auc:.3f} on shuffled labels "
                f"({'within' if ok else 'OUTSIDE'} 0.5 +- {band:.3f}; "
                f"{pos} validation positives)",
                detail,
            )
        )
    return checks


def _guarded(name: str, control: Callable[[], list[AuditCheck]]) -> list[AuditCheck]:
    """A control that cannot run is a failed control, with the error."""
    try:
        return control()
    except Exception as err:  # the audit reports every control, whatever happens
        return [
            AuditCheck(
                name,
                "fail",
                f"could not run: {type(err).__name__}: {first_line(err)}",
                {"error": repr(err)},
            )
        ]


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else repr(err)


def _store(work: Path, name: str) -> Store:
    return Store(work / f"{name}.duckdb")


def run_audit(
    cfg: GosalesConfig,
    cutoff: dt.date | None,
    targets: Sequence[str],
    checks: Sequence[str] = CHECKS,
    workdir: Path | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> AuditReport:
    """Run the selected controls (:data:`CHECKS`) for ``cutoff`` and ``targets`` on
    the raw folder of ``cfg``, in throwaway stores under ``workdir`` (a temporary
    folder, removed afterwards, when None). ``cutoff=None``: the newest month-end the
    data covers."""
    unknown = sorted(set(checks) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown audit check(s) {unknown}; known: {list(CHECKS)}")
    for target in targets:
        cfg.target(target)
    began = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if workdir is None:
            tmp = tempfile.TemporaryDirectory(prefix="gosales-audit-")
            work = Path(stack.enter_context(tmp))
        else:
            work = Path(workdir)
            work.mkdir(parents=True, exist_ok=True)
        base = work / "base.duckdb"
        log(f"audit: ingesting {cfg.paths.raw_dir}")
        through = ingest(Store(base), cfg.paths.raw_dir, cfg)
        results: list[AuditCheck] = []
        if cutoff is None:
            ends = month_ends(cfg.partitions.cutoff_start, through) if through else []
            if not ends:
                raise ValueError(
                    f"no month-end between partitions.cutoff_start "
                    f"{cfg.partitions.cutoff_start} and the data's last date {through}"
                )
            cutoff = ends[-1]
            log(f"audit: cutoff {cutoff} (the newest month-end the data covers)")
        if through is None or through < cutoff:
            results.append(
                AuditCheck(
                    "data",
                    "fail",
                    f"the raw data ends {through}, before the cutoff {cutoff}; "
                    "audit a cutoff the data covers",
                )
            )
        else:
            if "truncation" in checks:
                results += _guarded(
                    "truncation",
                    lambda: truncation_checks(
                        work, base, cfg, cutoff, targets, through, log
                    ),
                )
            if "shuffled" in checks:
                results += _guarded(
                    "shuffled",
                    lambda: shuffled_checks(work, base, cfg, cutoff, targets, log),
                )
    return AuditReport(
        cutoff=cutoff,
        divisions=list(targets),
        checks=results,
        data_through=through,
        seconds=time.perf_counter() - began,
    )
