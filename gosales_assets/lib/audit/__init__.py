"""The leakage controls, run on demand for a cutoff (``gosales audit``; no Dagster).

1. **Truncation invariance.** The raw folder is ingested once into a private store,
   then rebuilt into throwaway stores that differ only in rows dated after ``C``:

   - ``truncated``: every dated row after ``C`` dropped (lines, assets, contacts, deals
     opened after ``C``, customers created after ``C`` without a line by ``C``,
     quarantined records; a deal closed after ``C`` is open again);
   - ``extended``: everything, plus copies of the newest lines, assets, contacts and
     deals re-dated to ``C + 1`` and to just after the label windows, lines of new
     accounts created after ``C``, and every deal open at ``C`` closed at ``C + 1``.

   Star and features at ``C`` are built in both with the pipeline's own functions and
   every partition at ``C`` (each division separately) must have equal checksums
   (:func:`gosales_assets.lib.store.partition_checksum`). Labels read ``(C, end]``, so
   they are compared between the data truncated after the newest window end and the
   data with rows appended after it (skipped while the data does not cover the
   window).

2. **Shuffled-label control.** Per division, the full training protocol on the labelled
   training cutoffs of a model at ``C``, with the labels permuted within each cutoff
   (:func:`gosales_assets.lib.models.controls.shuffled_label_control`), must score an
   out-of-time AUC of about 0.5: within ``max(audit.shuffled_auc_tolerance,
   audit.shuffled_auc_z x SE)`` of 0.5, SE the standard error of a no-signal AUC for
   the validation cutoff's positives and negatives.

:func:`run_audit` returns an :class:`AuditReport` (a table for the terminal, JSON for
``reports/audit/<cutoff>.json``); the caller's exit code follows ``report.passed``.
"""

from __future__ import annotations

from gosales_assets.lib.audit.controls import (
    first_line,
    null_auc_se,
    run_audit,
    shuffled_checks,
    truncation_checks,
)
from gosales_assets.lib.audit.report import (
    APPENDED_SOURCE,
    CHECKS,
    COMPARED_SCHEMAS,
    NEW_ACCOUNT_PREFIX,
    ONE_DAY,
    UNCOMPARED,
    AuditCheck,
    AuditReport,
    Status,
    write_report,
)
from gosales_assets.lib.audit.stores import (
    build_features,
    build_labels_at,
    compare_checksums,
    extended_raw,
    ingest,
    partition_checksums,
    truncated_raw,
)

__all__ = [
    "APPENDED_SOURCE",
    "CHECKS",
    "COMPARED_SCHEMAS",
    "NEW_ACCOUNT_PREFIX",
    "ONE_DAY",
    "UNCOMPARED",
    "AuditCheck",
    "AuditReport",
    "Status",
    "build_features",
    "build_labels_at",
    "compare_checksums",
    "extended_raw",
    "first_line",
    "ingest",
    "null_auc_se",
    "partition_checksums",
    "run_audit",
    "shuffled_checks",
    "truncated_raw",
    "truncation_checks",
    "write_report",
]
