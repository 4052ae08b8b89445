"""What the Dagster UI shows about every definition, checked on the Definitions object.

Every asset: grouped by its layer (group = first key part = DuckDB schema), described,
owned, with kinds, and in the DuckDB pool when it touches the store; every asset check,
job, schedule and sensor described. Column schemas and row counts are emitted on every
materialization through ``defs.common.table_metadata`` (checked here on the helper, and
on a real run of every layer in ``test_ui_browser.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from gosales_assets.defs.common import POOL, table_metadata
from gosales_assets.lib.features.catalog import all_specs
from gosales_assets_tests.conftest import point_env_at

# an owner is a team ("team:name") or an e-mail address
OWNER_FORMS = ("team:", "@")
MIN_DESCRIPTION = 20  # characters: a sentence, not a placeholder


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dg.Definitions]:
    """The code location's Definitions, loaded once for this module."""
    base = tmp_path_factory.mktemp("ui_metadata")
    patch = pytest.MonkeyPatch()
    try:
        point_env_at(patch, base, base / "raw", "2024-12-31")
        from gosales_assets.definitions import defs as build

        yield build()
    finally:
        patch.undo()


def _problems_of_asset(node: Any, key: dg.AssetKey) -> list[str]:
    name = key.to_user_string()
    found = []
    if node.group_name != key.path[0]:
        found.append(f"{name}: group {node.group_name!r} is not its layer")
    if len((node.description or "").strip()) < MIN_DESCRIPTION:
        found.append(f"{name}: no description")
    owners = list(node.owners)
    if not owners or not all(any(f in o for f in OWNER_FORMS) for o in owners):
        found.append(f"{name}: owners {owners!r}")
    kinds = set(node.kinds)
    if not kinds:
        found.append(f"{name}: no kinds")
    if "duckdb" in kinds and node.pools != {POOL}:
        found.append(f"{name}: touches DuckDB outside pool {POOL}")
    return found


def test_every_asset_shows_layer_description_owners_and_kinds(defs) -> None:
    graph = defs.resolve_asset_graph()
    keys = sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())
    assert keys
    problems = [p for key in keys for p in _problems_of_asset(graph.get(key), key)]
    assert not problems, "\n".join(problems)


def test_every_check_job_schedule_and_sensor_is_described(defs) -> None:
    problems = []
    for assets in defs.assets or []:
        if isinstance(assets, dg.AssetsDefinition):
            for spec in assets.check_specs:
                if not (spec.description or "").strip():
                    problems.append(f"check {spec.key.to_user_string()}")
    for job in defs.jobs or []:
        if not (getattr(job, "description", None) or "").strip():
            problems.append(f"job {job.name}")
    for schedule in defs.schedules or []:
        if not (schedule.description or "").strip():
            problems.append(f"schedule {schedule.name}")
    for sensor in defs.sensors or []:
        if not (sensor.description or "").strip():
            problems.append(f"sensor {sensor.name}")
    assert not problems, "undescribed: " + ", ".join(problems)


def test_every_layer_is_a_group_of_the_asset_graph(defs) -> None:
    """The UI's lineage view groups by layer; no asset falls into 'default'."""
    graph = defs.resolve_asset_graph()
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {"raw", "star", "features", "labels", "models", "scoring"} <= groups
    assert "default" not in groups


@pytest.mark.parametrize("partitioned", [False, True])
def test_table_metadata_carries_schema_row_count_and_table_name(partitioned) -> None:
    meta = table_metadata(
        "scoring.icp_scores",
        [("cutoff", "DATE"), ("customer_id", "VARCHAR"), ("p_icp", "DOUBLE")],
        7,
        {"checksum": "rows=7;hash=1"},
        partitioned=partitioned,
    )
    schema = meta["dagster/column_schema"]
    assert [(c.name, c.type) for c in schema.columns] == [
        ("cutoff", "DATE"),
        ("customer_id", "VARCHAR"),
        ("p_icp", "DOUBLE"),
    ]
    count_key = "dagster/partition_row_count" if partitioned else "dagster/row_count"
    assert meta[count_key] == 7
    other = "dagster/row_count" if partitioned else "dagster/partition_row_count"
    assert other not in meta
    assert meta["dagster/table_name"] == "scoring.icp_scores"
    assert meta["checksum"] == "rows=7;hash=1"


def test_column_schema_describes_contract_and_key_columns() -> None:
    meta = table_metadata(
        "star.install_base",
        [("cutoff", "DATE"), ("customer_id", "VARCHAR"), ("quantity", "DOUBLE")],
        3,
        partitioned=True,
    )
    notes = {c.name: c.description for c in meta["dagster/column_schema"].columns}
    assert notes["cutoff"].startswith("the cutoff date C")
    assert notes["quantity"] == "installed units"  # the assets contract, not sales
    raw = table_metadata("raw.sales_lines", [("quantity", "DOUBLE")], 1)
    column = raw["dagster/column_schema"].columns[0]
    assert column.description == "units; negative for a return"


def test_feature_columns_carry_their_catalog_description(cfg) -> None:
    spec = all_specs(cfg)[0]
    meta = table_metadata(
        "features.feature_matrix",
        [("cutoff", "DATE"), (spec.name, spec.dtype), ("unlisted", "DOUBLE")],
        2,
        partitioned=True,
        notes={s.name: s.description for s in all_specs(cfg)},
    )
    notes = {c.name: c.description for c in meta["dagster/column_schema"].columns}
    assert notes[spec.name] == spec.description
    assert notes["unlisted"] is None
