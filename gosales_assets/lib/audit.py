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

import contextlib
import datetime as dt
import json
import math
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.checks import BlockingCheckError
from gosales_assets.lib.feature_store import (
    read_base,
    read_snapshot,
    write_base,
    write_matrix,
)
from gosales_assets.lib.features import (
    build_als,
    build_customer_base,
    build_target_features,
)
from gosales_assets.lib.features.catalog import all_specs
from gosales_assets.lib.ingest import staged_raw_folder
from gosales_assets.lib.labels import build_labels
from gosales_assets.lib.model_store import load_examples
from gosales_assets.lib.models.controls import shuffled_label_control
from gosales_assets.lib.models.data import training_cutoffs
from gosales_assets.lib.raw_store import (
    LOAD_REPORT_TABLE,
    QUARANTINE_TABLE,
    RAW_TABLES,
    publish_raw,
    raw_checks,
)
from gosales_assets.lib.star import build_star
from gosales_assets.lib.store import (
    Store,
    partition_checksum,
    quote_ident,
    replace_partition_frame,
    table_ref,
)
from gosales_assets.lib.timeutil import month_ends, window_end

CHECKS = ("truncation", "shuffled")
Status = Literal["pass", "fail", "skipped"]
# Tables holding something computed at C that is not a pure function of the data.
UNCOMPARED = {"features.build_info": "holds the feature engine's timings"}
COMPARED_SCHEMAS = ("star", "features", "labels")
APPENDED_SOURCE = "audit:appended"
NEW_ACCOUNT_PREFIX = "audit-new-"
_BASE = "audit_base"
ONE_DAY = dt.timedelta(days=1)


@dataclass
class AuditCheck:
    """One control: ``name`` (``truncation:star``, ``shuffled:<division>``, ...)."""

    name: str
    status: Status
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "summary": self.summary,
            "detail": self.detail,
        }


@dataclass
class AuditReport:
    cutoff: dt.date
    divisions: list[str]
    checks: list[AuditCheck]
    data_through: dt.date | None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "divisions": self.divisions,
            "data_through": str(self.data_through) if self.data_through else None,
            "passed": self.passed,
            "seconds": round(self.seconds, 1),
            "checks": [c.to_json() for c in self.checks],
        }

    def table(self) -> str:
        """The pass/fail table printed by ``gosales audit``."""
        width = max([len(c.name) for c in self.checks] + [5])
        lines = [
            f"audit at {self.cutoff} (data through {self.data_through}) for "
            f"{', '.join(self.divisions)}",
            f"{'check':<{width}}  status   result",
            f"{'-' * width}  -------  {'-' * 40}",
        ]
        for c in self.checks:
            lines.append(f"{c.name:<{width}}  {c.status.upper():<7}  {c.summary}")
        verdict = "PASSED" if self.passed else "FAILED"
        failed = sum(c.status == "fail" for c in self.checks)
        lines.append(
            f"{verdict}: {len(self.checks)} checks, {failed} failed, "
            f"{sum(c.status == 'skipped' for c in self.checks)} skipped "
            f"({self.seconds:.0f}s)"
        )
        return "\n".join(lines)


def write_report(report: AuditReport, reports_dir: Path) -> Path:
    """``reports/audit/<cutoff>.json`` (replaced atomically)."""
    folder = reports_dir / "audit"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{report.cutoff.isoformat()}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


# ---------------------------------------------------------------------------------
# building a store


def ingest(store: Store, raw_dir: Path, cfg: GosalesConfig) -> dt.date | None:
    """Read and validate the raw folder into ``store`` exactly as the raw asset does
    (a refused input or a failed blocking check raises). Returns the newest line date.
    """
    load_date = cfg.ingest.effective_load_date()
    with store.transaction() as con, staged_raw_folder(con, raw_dir, cfg) as load:
        outcomes = raw_checks(con, load.views, load_date)
        if any(o.blocks for o in outcomes):
            raise BlockingCheckError(outcomes)
        publish_raw(con, load.views, load.report)
    with store.connect() as con:
        row = con.execute("SELECT max(order_date) FROM raw.sales_lines").fetchone()
    return row[0] if row else None


@contextlib.contextmanager
def _attached(store: Store, base: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A write transaction on ``store`` with the base store attached read-only."""
    with store.connect() as con:
        con.execute(f"ATTACH {_sql_str(str(base))} AS {_BASE} (READ_ONLY)")
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.execute(f"DETACH {_BASE}")


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _copy_raw(con: duckdb.DuckDBPyConnection, filters: dict[str, str]) -> None:
    """``raw.*`` of the base store into ``con``, each table filtered by ``filters``
    (SQL over the base table's columns; missing = everything)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for table in [*RAW_TABLES, QUARANTINE_TABLE, LOAD_REPORT_TABLE]:
        schema, name = table.split(".")
        src = f"{_BASE}.{quote_ident(schema)}.{quote_ident(name)}"
        where = filters.get(table, "TRUE")
        con.execute(
            f"CREATE OR REPLACE TABLE {table_ref(table)} AS "
            f"SELECT * FROM {src} WHERE {where}"
        )


def truncated_raw(store: Store, base: Path, through: dt.date) -> None:
    """The base store's raw data as it would have been with nothing dated after
    ``through``."""
    d = f"DATE '{through.isoformat()}'"
    with _attached(store, base) as con:
        _copy_raw(
            con,
            {
                "raw.sales_lines": f"order_date <= {d}",
                "raw.assets": f"purchase_date <= {d}",
                "raw.contacts": f"contact_date <= {d}",
                "raw.open_deals": f"opened_date <= {d}",
                "raw.quarantine": f"order_date IS NULL OR order_date <= {d}",
                "raw.customers": f"created_date IS NULL OR created_date <= {d} OR "
                f"customer_id IN (SELECT customer_id FROM {_BASE}.raw.sales_lines "
                f"WHERE order_date <= {d})",
            },
        )
        con.execute(
            f"UPDATE raw.open_deals SET closed_date = NULL WHERE closed_date > {d}"
        )


def extended_raw(
    store: Store, base: Path, dates: Sequence[dt.date], rows: int, cutoff: dt.date
) -> dict[str, int]:
    """The base store's raw data plus rows dated after ``cutoff``: for each of
    ``dates``, copies of the ``rows`` newest lines on or before ``cutoff`` (a tenth of
    them for new accounts created on that date) and of the newest assets, contacts and
    deals, re-dated; and, at the first date, every deal open at ``cutoff`` closed.
    Returns the number of rows appended per table."""
    c = f"DATE '{cutoff.isoformat()}'"
    added: dict[str, int] = {}

    def count(table: str, sql: str, params: list[Any]) -> None:
        before = _rows(con, table)
        con.execute(sql, params)
        added[table] = added.get(table, 0) + _rows(con, table) - before

    with _attached(store, base) as con:
        _copy_raw(con, {})
        offset = _max_source_row(con)
        for i, day in enumerate(dates, start=1):
            suffix = f"-AUDIT{i}"
            new = f"{NEW_ACCOUNT_PREFIX}{i}-"
            picked = (
                f"SELECT *, row_number() OVER (ORDER BY order_date DESC, invoice_id, "
                f"line_no) AS _k FROM {_BASE}.raw.sales_lines WHERE order_date <= {c} "
                f"ORDER BY _k LIMIT {int(rows)}"
            )
            count(
                "raw.sales_lines",
                f"""INSERT INTO raw.sales_lines BY NAME
                SELECT * EXCLUDE (_k) REPLACE (
                    invoice_id || ? AS invoice_id, CAST(? AS DATE) AS order_date,
                    CASE WHEN _k % 10 = 0 THEN ? || customer_id ELSE customer_id END
                        AS customer_id,
                    ? AS source_file, source_row + ? AS source_row)
                FROM ({picked})""",
                [suffix, day, new, APPENDED_SOURCE, offset * i],
            )
            count(
                "raw.customers",
                f"""INSERT INTO raw.customers BY NAME
                SELECT * REPLACE (
                    ? || customer_id AS customer_id, CAST(? AS DATE) AS created_date,
                    ? AS source_file, source_row + ? AS source_row)
                FROM {_BASE}.raw.customers
                WHERE customer_id IN (SELECT customer_id FROM ({picked}) p
                                      WHERE p._k % 10 = 0)""",
                [new, day, APPENDED_SOURCE, offset * i],
            )
            for table, column in (
                ("raw.assets", "purchase_date"),
                ("raw.contacts", "contact_date"),
                ("raw.open_deals", "opened_date"),
            ):
                extra, params = "", [day]
                if table == "raw.assets":  # the same term, from the new date
                    extra = (
                        ", CAST(? AS DATE) + "
                        "CAST(expiration_date - purchase_date AS INTEGER) "
                        "AS expiration_date"
                    )
                    params.append(day)
                elif table == "raw.open_deals":  # open when it is opened
                    extra = ", CAST(NULL AS DATE) AS closed_date"
                count(
                    table,
                    f"""INSERT INTO {table_ref(table)} BY NAME
                    SELECT * REPLACE (CAST(? AS DATE) AS {quote_ident(column)}{extra},
                        ? AS source_file, source_row + ? AS source_row)
                    FROM {_BASE}.{table_ref(table)} WHERE {quote_ident(column)} <= {c}
                    ORDER BY {quote_ident(column)} DESC, customer_id, source_row
                    LIMIT {int(rows)}""",
                    [*params, APPENDED_SOURCE, offset * i],
                )
        first = f"DATE '{dates[0].isoformat()}'"
        before = _rows(con, "raw.open_deals", f"closed_date = {first}")
        con.execute(
            f"UPDATE raw.open_deals SET closed_date = {first} "
            f"WHERE opened_date <= {c} AND (closed_date IS NULL OR closed_date > {c})"
        )
        added["closed_deals"] = _rows(con, "raw.open_deals", f"closed_date = {first}")
        added["closed_deals"] -= before
    return added


def _rows(con: duckdb.DuckDBPyConnection, table: str, where: str = "TRUE") -> int:
    row = con.execute(f"SELECT count(*) FROM {table_ref(table)} WHERE {where}")
    got = row.fetchone()
    return int(got[0]) if got else 0


def _max_source_row(con: duckdb.DuckDBPyConnection) -> int:
    top = 0
    for table in RAW_TABLES:
        got = con.execute(
            f"SELECT coalesce(max(source_row), 0) FROM {table_ref(table)}"
        ).fetchone()
        top = max(top, int(got[0]) if got else 0)
    return top + 1


def build_features(
    store: Store, cfg: GosalesConfig, cutoff: dt.date, targets: Sequence[str]
) -> None:
    """Star, base features, ALS and the feature matrices of ``targets`` at ``cutoff``,
    with the pipeline's own functions, each step in its own transaction."""
    with store.transaction() as con:
        build_star(con, cfg, cutoff)
    with store.transaction() as con:
        snap = read_snapshot(con, cutoff)
        base = build_customer_base(snap, cfg)
        als = build_als(snap, cfg, base=base)
        write_base(con, cutoff, base, als)
    with store.transaction() as con:
        stored_base, stored_als = read_base(con, cutoff)
        for target in targets:
            result = build_target_features(snap, stored_base, stored_als, target, cfg)
            write_matrix(con, cutoff, target, result)


def build_labels_at(
    store: Store, cfg: GosalesConfig, cutoff: dt.date, targets: Sequence[str]
) -> None:
    """Labels of ``targets`` at ``cutoff`` (the star at ``cutoff`` must exist) from the
    same inputs the labels asset reads."""
    lab = cfg.labels
    with store.transaction() as con:
        population = con.execute(
            "SELECT customer_id FROM star.dim_customer WHERE cutoff = ?", [cutoff]
        ).pl()
        history = con.execute(
            "SELECT customer_id, sku, max(order_date) AS order_date "
            "FROM star.fact_transactions WHERE cutoff = ? GROUP BY ALL",
            [cutoff],
        ).pl()
        for target in targets:
            skus = cfg.target_skus(target)
            months = cfg.window_months(target)
            window = con.execute(
                "SELECT customer_id, order_date, sku, gross_profit "
                "FROM raw.sales_lines WHERE order_date > ? AND order_date <= ? "
                "AND list_contains(?, sku)",
                [cutoff, window_end(cutoff, months), skus],
            ).pl()
            result = build_labels(
                population,
                history,
                window,
                skus=skus,
                cutoff=cutoff,
                months=months,
                threshold=lab.gp_min_threshold,
                mode=lab.mode,
                denylist=lab.denylist_skus,
            )
            frame = result.frame.select(
                pl.lit(cutoff, dtype=pl.Date).alias("cutoff"),
                pl.lit(target).alias("division"),
                pl.all(),
            )
            replace_partition_frame(
                con,
                "labels.labels",
                frame,
                partition={"cutoff": cutoff, "division": target},
                order_by=("cutoff", "division", "customer_id"),
            )


def partition_checksums(
    store: Store, cutoff: dt.date, schemas: Sequence[str] = COMPARED_SCHEMAS
) -> dict[str, str]:
    """``{table or table[division]: checksum}`` of every table of ``schemas`` with a
    ``cutoff`` column, at ``cutoff`` (per division where the table has one), except
    :data:`UNCOMPARED`."""
    out: dict[str, str] = {}
    with store.connect(read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name, "
            "bool_or(column_name = 'division') AS has_division "
            "FROM information_schema.columns "
            "WHERE table_catalog = current_database() "
            "AND list_contains(?, table_schema) "
            "GROUP BY ALL HAVING bool_or(column_name = 'cutoff') ORDER BY 1, 2",
            [list(schemas)],
        ).fetchall()
        for schema, name, has_division in tables:
            table = f"{schema}.{name}"
            if table in UNCOMPARED:
                continue
            if not has_division:
                out[table] = partition_checksum(con, table, {"cutoff": cutoff})
                continue
            divisions = con.execute(
                f"SELECT DISTINCT division FROM {table_ref(table)} WHERE cutoff = ? "
                "ORDER BY 1",
                [cutoff],
            ).fetchall()
            for (division,) in divisions:
                part = {"cutoff": cutoff, "division": division}
                out[f"{table}[{division}]"] = partition_checksum(con, table, part)
    return out


def compare_checksums(
    name: str, left: dict[str, str], right: dict[str, str], what: str
) -> AuditCheck:
    keys = sorted(set(left) | set(right))
    differ = [k for k in keys if left.get(k) != right.get(k)]
    if differ:
        return AuditCheck(
            name,
            "fail",
            f"{len(differ)} of {len(keys)} partitions differ: "
            + ", ".join(differ[:5])
            + (" ..." if len(differ) > 5 else ""),
            {
                "compared": what,
                "differing": {
                    k: {"truncated": left.get(k), "extended": right.get(k)}
                    for k in differ
                },
                "equal": [k for k in keys if k not in differ],
            },
        )
    return AuditCheck(
        name,
        "pass",
        f"{len(keys)} partitions byte-identical",
        {"compared": what, "checksums": left},
    )


# ---------------------------------------------------------------------------------
# the controls


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
