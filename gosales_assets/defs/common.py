"""Shared helpers of the Dagster wrappers: metadata, check results, conventions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg

from gosales_assets.lib import contract
from gosales_assets.lib.checks import CheckOutcome
from gosales_assets.lib.store import ROWS_IN_KEY

POOL = "duckdb_write"
OWNERS = ["team:gosales-data-engineering"]
STORE_KINDS = {"duckdb", "polars"}


def asset_key(table: str) -> dg.AssetKey:
    """``schema.table`` -> asset key ``[schema, table]`` (schema = layer = prefix)."""
    return dg.AssetKey(table.split("."))


# Column descriptions shown in the UI's Columns view: the partition and lineage
# columns every table shares, and the contract's columns of the raw and star tables.
KEY_COLUMN_NOTES = {
    "cutoff": "the cutoff date C of the partition: the row uses data dated <= C",
    "customer_id": "account id (opaque string)",
    "source_file": "the raw file the row was read from",
    "source_row": "the row number in that file (1 = first data row)",
}
_CONTRACT_COLUMNS = {
    "sales_lines": contract.SALES_LINES,
    "fact_transactions": contract.SALES_LINES,
    "customers": contract.CUSTOMERS,
    "dim_customer": contract.CUSTOMERS,
    "assets": contract.ASSETS,
    "install_base": contract.ASSETS,
    "contacts": contract.CONTACTS,
    "open_deals": contract.OPEN_DEALS,
}


def column_notes(table: str) -> dict[str, str]:
    """The known column descriptions of ``schema.table`` (raw and star tables)."""
    schema, name = table.split(".")
    notes = dict(KEY_COLUMN_NOTES)
    if schema in ("raw", "star"):
        notes |= {c.name: c.description for c in _CONTRACT_COLUMNS.get(name, ())}
    return notes


def table_schema(
    columns: Iterable[tuple[str, str]], notes: Mapping[str, str] | None = None
) -> dg.TableSchema:
    known = notes or {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=n, type=t, description=known.get(n)) for n, t in columns
        ]
    )


def table_metadata(
    table: str,
    columns: Iterable[tuple[str, str]],
    rows: int,
    extra: dict[str, Any] | None = None,
    partitioned: bool = False,
    notes: Mapping[str, str] | None = None,
    rows_in: int | None = None,
) -> dict[str, Any]:
    """Table name, column schema (with descriptions: ``notes`` over the known ones)
    and row count, as the UI reads them, plus ``extra``. ``rows_in``: the rows the
    step read from its inputs (``ROWS_IN_KEY``; one figure for every asset of a
    multi-asset step), shown in the UI and summed per step by the benchmark."""
    meta: dict[str, Any] = {
        "dagster/table_name": table,
        "dagster/column_schema": table_schema(
            columns, {**column_notes(table), **(notes or {})}
        ),
        "dagster/partition_row_count" if partitioned else "dagster/row_count": rows,
    }
    if rows_in is not None:
        meta[ROWS_IN_KEY] = int(rows_in)
    meta.update(extra or {})
    return meta


def check_result(outcome: CheckOutcome) -> dg.AssetCheckResult:
    severity = (
        dg.AssetCheckSeverity.ERROR
        if outcome.severity == "ERROR"
        else dg.AssetCheckSeverity.WARN
    )
    meta = {k: v if v is not None else "" for k, v in outcome.metadata.items()}
    return dg.AssetCheckResult(
        asset_key=asset_key(outcome.table),
        check_name=outcome.name,
        passed=outcome.passed,
        severity=severity,
        description=outcome.description,
        metadata=meta,
    )


def check_spec(
    table: str,
    name: str,
    description: str,
    blocking: bool = True,
    partitions_def: Any = None,
) -> dg.AssetCheckSpec:
    del (
        partitions_def
    )  # partitioned check specs are preview in 1.13; in-asset is enough
    return dg.AssetCheckSpec(
        name=name, asset=asset_key(table), description=description, blocking=blocking
    )


def selected_checks(context: Any, outcomes: Iterable[CheckOutcome]) -> Any:
    """Check results of the checks selected in this run (for subsettable assets)."""
    selected = context.selected_asset_check_keys
    for outcome in outcomes:
        result = check_result(outcome)
        if dg.AssetCheckKey(result.asset_key, outcome.name) in selected:
            yield result


# A check table maps a check name to (severity, description).
CheckTable = dict[str, tuple[str, str]]


def layer_spec(
    table: str,
    description: str,
    partitions_def: Any,
    deps: Iterable[Any],
    kinds: set[str] | None = None,
) -> dg.AssetSpec:
    """The spec of a skippable asset of a multi-asset: group = schema = layer."""
    return dg.AssetSpec(
        asset_key(table),
        description=description,
        group_name=table.split(".")[0],
        owners=OWNERS,
        kinds=kinds or STORE_KINDS,
        partitions_def=partitions_def,
        deps=list(deps),
        skippable=True,
    )


def check_specs(table: str, checks: CheckTable) -> list[dg.AssetCheckSpec]:
    """In-asset check specs; ERROR checks are blocking."""
    return [
        dg.AssetCheckSpec(
            name, asset=asset_key(table), description=desc, blocking=sev == "ERROR"
        )
        for name, (sev, desc) in checks.items()
    ]


def outcomes_from(
    table: str, checks: CheckTable, bad: dict[str, int], meta: dict[str, Any]
) -> list[CheckOutcome]:
    """One outcome per check of ``checks``: passed iff its violation count is 0."""
    return [
        CheckOutcome(
            table,
            name,
            bad[name] == 0,
            sev,  # type: ignore[arg-type]
            desc,
            {"violations": bad[name], **meta},
        )
        for name, (sev, desc) in checks.items()
    ]


def gate(context: Any, outcomes: list[CheckOutcome]) -> Any:
    """Write-audit-publish: when a blocking check failed, record the results and
    fail the step before anything is written."""
    from gosales_assets.lib.checks import BlockingCheckError

    if any(o.blocks for o in outcomes):
        yield from selected_checks(context, outcomes)
        raise dg.Failure(description=str(BlockingCheckError(outcomes)))
