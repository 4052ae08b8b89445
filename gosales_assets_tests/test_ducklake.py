"""The DuckLake store (store.backend: ducklake): extensions from the wheels, config
validation, the Store API unchanged on a lake, equal content to the DuckDB file, and
concurrent writers from several processes (a lost commit race is run again)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
import yaml

from gosales_assets.config import ConfigError, GosalesConfig, load_config
from gosales_assets.lib import lake as lake_mod
from gosales_assets.lib.lake import LakeError, LakeSpec, duckdb_build, lake_spec
from gosales_assets.lib.store import (
    Store,
    StoreConflictError,
    column_schema,
    partition_checksum,
    replace_partition_frame,
    replace_partition_sql,
    replace_table_frame,
)
from gosales_assets.resources.store import DuckDBStoreResource, DuckLakeStoreConfig
from gosales_assets.sample_data import generate
from gosales_assets_tests.conftest import point_env_at, run_job
from gosales_assets_tests.pg_server import PgServer

A, B = dt.date(2024, 1, 31), dt.date(2024, 2, 29)
ORDER = ["cutoff", "division", "customer_id"]


def _spec(root: Path, catalog: str = "sqlite", **kw: Any) -> LakeSpec:
    suffix = {"sqlite": "sqlite", "duckdb": "ducklake"}.get(catalog)
    return LakeSpec(
        catalog=catalog,  # type: ignore[arg-type]
        catalog_path=None if suffix is None else root / f"catalog.{suffix}",
        data_path=root / "data",
        extension_dir=root / "ext",
        retry_wait_seconds=0.05,
        **kw,
    )


def _frame(cutoff: dt.date, division: str, n: int, scale: float = 1.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "cutoff": [cutoff] * n,
            "division": [division] * n,
            "customer_id": [f"{i:04d}" for i in range(n)],
            "score": [None if i % 7 == 3 else i * scale for i in range(n)],
            "flag": [i % 2 == 0 for i in range(n)],
            "since": [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(n)],
        }
    )


def _write_sample(store: Store) -> dict[str, Any]:
    """The same writes on any backend; returns checksums, schemas and row counts."""

    def body(con: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for cutoff in (A, B):
            for division in ("CPE", "Success Plan"):
                part = {"cutoff": cutoff, "division": division}
                replace_partition_frame(
                    con,
                    "labels.labels",
                    _frame(cutoff, division, 25),
                    partition=part,
                    order_by=ORDER,
                )
        replace_partition_sql(
            con,
            "scoring.top",
            "SELECT cutoff, division, customer_id, score FROM labels.labels "
            "WHERE cutoff = ? AND score > 5",
            partition={"cutoff": A},
            order_by=["customer_id", "division"],
            params=[A],
        )
        replace_table_frame(con, "raw.customers", _frame(A, "-", 9), ["customer_id"])
        for table, part in (
            ("labels.labels", {"cutoff": A, "division": "CPE"}),
            ("labels.labels", {"cutoff": B, "division": "Success Plan"}),
            ("scoring.top", {"cutoff": A}),
            ("raw.customers", {}),
        ):
            out[f"{table}{sorted(part.items())}"] = partition_checksum(con, table, part)
        out["schema"] = column_schema(con, "labels.labels")
        return out

    first = store.write(body)
    # a second replacement of a partition replaces it (it does not append)
    with store.transaction() as con:
        replace_partition_frame(
            con,
            "labels.labels",
            _frame(B, "CPE", 4, scale=2.0),
            partition={"cutoff": B, "division": "CPE"},
            order_by=ORDER,
        )
    first["B|CPE"] = store.query(
        "SELECT count(*) AS n, sum(score) AS s FROM labels.labels "
        "WHERE cutoff = ? AND division = 'CPE'",
        [B],
    ).rows()
    return first


# --- extensions and configuration -------------------------------------------------


def test_extension_directory_links_the_wheel_binaries(tmp_path: Path) -> None:
    version, platform = duckdb_build()
    names = ("ducklake", "postgres_scanner", "sqlite_scanner")
    root = lake_mod.extension_directory(tmp_path / "ext", names)
    folder = root / version / platform
    assert sorted(p.name for p in folder.iterdir()) == [
        "ducklake.duckdb_extension",
        "postgres_scanner.duckdb_extension",
        "sqlite_scanner.duckdb_extension",
    ]
    for name in names:
        assert (folder / f"{name}.duckdb_extension").resolve() == (
            lake_mod.wheel_binary(name).resolve()
        )
    # a stale entry (another virtualenv) is replaced; a current one is kept
    stale = folder / "ducklake.duckdb_extension"
    stale.unlink()
    stale.symlink_to(tmp_path / "gone.duckdb_extension")
    lake_mod.extension_directory(tmp_path / "ext", names)
    assert stale.resolve() == lake_mod.wheel_binary("ducklake").resolve()


def test_a_missing_extension_wheel_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        lake_mod.EXTENSION_WHEELS, "ducklake", ("gosales_no_such_pkg", "ducklake")
    )
    with pytest.raises(LakeError, match=r"gosales-no-such-pkg==1\.5\.5"):
        lake_mod.wheel_binary("ducklake")


def _with_store(config_copy: Path, store: dict[str, Any]) -> Path:
    data = yaml.safe_load(config_copy.read_text(encoding="utf-8"))
    data["store"] = store
    config_copy.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return config_copy


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ({"backend": "lakehouse"}, r"store\.backend"),
        ({"ducklake": {"catalog": "mysql"}}, r"store\.ducklake\.catalog"),
        ({"ducklake": {"password": "x"}}, r"store\.ducklake\.password"),
        (
            {"ducklake": {"postgres_dsn_env": "host=db password=hunter2"}},
            r"store\.ducklake\.postgres_dsn_env: must be the NAME",
        ),
        (
            {"ducklake": {"catalog": "postgres", "catalog_path": "c.sqlite"}},
            r"catalog_path applies to the sqlite and duckdb catalogs only",
        ),
        (
            {"ducklake": {"data_path": "s3://bucket/lake"}},
            r"store\.ducklake\.data_path",
        ),
        ({"ducklake": {"max_retries": -1}}, r"store\.ducklake\.max_retries"),
        ({"ducklake": {"metadata_schema": "a;b"}}, r"ducklake\.metadata_schema"),
    ],
)
def test_store_config_errors_name_the_key(
    config_copy: Path, store: dict[str, Any], message: str
) -> None:
    _with_store(config_copy, store)
    with pytest.raises(ConfigError, match=message):
        load_config(config_copy, env={})


def test_lake_paths_resolve_against_home(config_copy: Path, tmp_path: Path) -> None:
    env = {"GOSALES_HOME": str(tmp_path / "home")}
    assert lake_spec(load_config(config_copy, env=env)) is None  # duckdb by default
    _with_store(config_copy, {"backend": "ducklake"})
    spec = lake_spec(load_config(config_copy, env=env))
    home = tmp_path / "home"
    assert spec is not None and spec.catalog == "sqlite"
    assert spec.catalog_path == home / "ducklake" / "catalog.sqlite"
    assert spec.data_path == home / "ducklake" / "data"
    assert spec.extension_dir == home / "duckdb_extensions"
    _with_store(
        config_copy,
        {
            "backend": "ducklake",
            "ducklake": {
                "catalog": "postgres",
                "data_path": str(tmp_path / "shared"),
                "postgres_dsn_env": "LAKE_DSN",
            },
        },
    )
    spec = lake_spec(load_config(config_copy, env=env))
    assert spec is not None and spec.catalog_path is None
    assert spec.data_path == tmp_path / "shared"
    assert spec.describe() == (
        f"DuckLake (postgres catalog from $LAKE_DSN, data {tmp_path / 'shared'})"
    )


# --- the Store API on a lake --------------------------------------------------------


@pytest.mark.parametrize("catalog", ["sqlite", "duckdb"])
def test_lake_store_content_equals_the_duckdb_file(
    tmp_path: Path, catalog: str
) -> None:
    plain = _write_sample(Store(tmp_path / "s.duckdb"))
    spec = _spec(tmp_path / "lake", catalog)
    lake = Store(tmp_path / "unused.duckdb", lake=spec)
    assert not lake.exists()
    assert _write_sample(lake) == plain
    assert plain["B|CPE"] == [(4, 6.0)]  # 0 + 2 + (null) + ... : ids 0..3, id 3 null
    assert lake.exists() and lake.table_exists("scoring.top")
    assert not lake.table_exists("scoring.nothing")
    assert not (tmp_path / "unused.duckdb").exists()
    # the rows live in Parquet files under the data path (inlining is off)
    assert list((spec.data_path / "labels" / "labels").glob("*.parquet"))
    # readers open the lake read-only
    with lake.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.customers").fetchone() == (9,)


def test_writers_of_one_process_share_the_loaded_lake(tmp_path: Path) -> None:
    spec = _spec(tmp_path / "lake")
    Store(tmp_path / "unused.duckdb", lake=spec).query("SELECT 1")  # creates it
    first, second = (lake_mod.connect_lake(spec, 1) for _ in range(2))
    reader = lake_mod.connect_lake(spec, 1, read_only=True)
    try:
        setting = "SELECT current_setting('ducklake_retry_wait_ms')"
        first.execute("SET GLOBAL ducklake_retry_wait_ms = 123")
        # one DuckDB instance (extensions loaded once), one session per connection
        assert second.execute(setting).fetchone() == (123,)
        assert reader.execute(setting).fetchone() != (123,)
        for con in (first, second, reader):
            assert con.execute("SELECT current_database()").fetchone() == ("lake",)
    finally:
        for con in (first, second, reader):
            con.close()


def test_a_failed_lake_transaction_leaves_nothing(tmp_path: Path) -> None:
    lake = Store(tmp_path / "unused.duckdb", lake=_spec(tmp_path / "lake"))
    part = {"cutoff": A, "division": "CPE"}
    with lake.transaction() as con:
        replace_partition_frame(
            con, "labels.labels", _frame(A, "CPE", 5), partition=part, order_by=ORDER
        )
    with pytest.raises(RuntimeError, match="boom"), lake.transaction() as con:
        replace_partition_frame(
            con, "labels.labels", _frame(A, "CPE", 2), partition=part, order_by=ORDER
        )
        raise RuntimeError("boom")
    assert lake.query("SELECT count(*) AS n FROM labels.labels")["n"][0] == 5


def _conflicting_commit(spec: LakeSpec) -> None:
    """Another writer replaces partition B while a transaction is open."""
    with Store(Path("unused"), lake=spec).transaction() as con:
        replace_partition_frame(
            con,
            "labels.labels",
            _frame(B, "CPE", 3),
            partition={"cutoff": B, "division": "CPE"},
            order_by=ORDER,
        )


def _seed_two_partitions(store: Store) -> None:
    with store.transaction() as con:
        for cutoff in (A, B):
            replace_partition_frame(
                con,
                "labels.labels",
                _frame(cutoff, "CPE", 10),
                partition={"cutoff": cutoff, "division": "CPE"},
                order_by=ORDER,
            )


def test_a_lost_commit_race_is_retried_by_write(tmp_path: Path) -> None:
    spec = _spec(tmp_path / "lake")
    store = Store(tmp_path / "unused.duckdb", lake=spec)
    _seed_two_partitions(store)
    attempts: list[int] = []

    def body(con: Any) -> int:
        attempts.append(len(attempts) + 1)
        rows = replace_partition_frame(
            con,
            "labels.labels",
            _frame(A, "CPE", 6),
            partition={"cutoff": A, "division": "CPE"},
            order_by=ORDER,
        )
        if len(attempts) == 1:
            _conflicting_commit(spec)
        return rows

    assert store.write(body) == 6
    assert attempts == [1, 2]
    counts = store.query(
        "SELECT cutoff, count(*) AS n FROM labels.labels GROUP BY 1 ORDER BY 1"
    )
    assert counts.rows() == [(A, 6), (B, 3)]
    # without retries left, the conflict surfaces with an actionable message
    no_retry = dataclasses.replace(store, lake=dataclasses.replace(spec, max_retries=0))
    attempts.clear()
    with pytest.raises(StoreConflictError, match="can be run again"):
        no_retry.write(body)


def test_the_dagster_resource_asks_dagster_to_retry_a_lost_race(
    tmp_path: Path,
) -> None:
    spec = _spec(tmp_path / "lake", max_retries=3)
    resource = DuckDBStoreResource(
        database=str(tmp_path / "unused.duckdb"),
        ducklake=DuckLakeStoreConfig.from_spec(spec),
    )
    store = resource.store()
    assert store.lake == spec
    _seed_two_partitions(store)
    with pytest.raises(dg.RetryRequested) as info, store.transaction() as con:
        replace_partition_frame(
            con,
            "labels.labels",
            _frame(A, "CPE", 6),
            partition={"cutoff": A, "division": "CPE"},
            order_by=ORDER,
        )
        _conflicting_commit(spec)
    assert info.value.max_retries == 3
    assert isinstance(info.value.__cause__, StoreConflictError)


# --- several processes ---------------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import datetime as dt, json, sys, time
    from pathlib import Path
    import polars as pl
    from gosales_assets.lib.lake import LakeSpec
    from gosales_assets.lib.store import Store, replace_partition_frame

    raw, me, peer, cutoff = json.loads(sys.argv[1]), *sys.argv[2:5]
    for key in ("data_path", "extension_dir", "catalog_path"):
        raw[key] = raw[key] and Path(raw[key])
    store = Store(Path("unused"), lake=LakeSpec(**raw))
    day = dt.date.fromisoformat(cutoff)
    attempts = []

    def body(con):
        attempts.append(1)
        frame = pl.DataFrame({"cutoff": [day] * 50, "division": ["CPE"] * 50,
                              "customer_id": [f"{i:04d}" for i in range(50)],
                              "score": [float(i) for i in range(50)]})
        replace_partition_frame(con, "labels.labels", frame,
                                partition={"cutoff": day, "division": "CPE"},
                                order_by=["customer_id"])
        if len(attempts) == 1:  # hold the transaction open until the peer wrote too
            Path(me).touch()
            deadline = time.monotonic() + 60
            while not Path(peer).exists():
                if time.monotonic() > deadline:
                    raise SystemExit("the peer never wrote")
                time.sleep(0.01)

    store.write(body)
    print(json.dumps({"attempts": len(attempts)}))
    """
)


def _concurrent_writers(tmp_path: Path, spec: LakeSpec, env: dict[str, str]) -> None:
    store = Store(tmp_path / "unused.duckdb", lake=spec)
    _seed_two_partitions(store)
    raw = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in dataclasses.asdict(spec).items()
    }
    flags = tmp_path / "a.ready", tmp_path / "b.ready"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WRITER,
                json.dumps(raw),
                str(me),
                str(peer),
                str(c),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        for me, peer, c in ((flags[0], flags[1], A), (flags[1], flags[0], B))
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    attempts = sorted(
        json.loads(out.strip().splitlines()[-1])["attempts"] for out, _ in outputs
    )
    # both transactions were open at once: the later commit lost and ran again
    assert attempts[0] == 1 and attempts[1] >= 2
    got = store.query(
        "SELECT cutoff, count(*) AS n, sum(score) AS s FROM labels.labels "
        "GROUP BY 1 ORDER BY 1"
    )
    assert got.rows() == [(A, 50, 1225.0), (B, 50, 1225.0)]


def test_two_processes_write_different_partitions_at_once(tmp_path: Path) -> None:
    _concurrent_writers(tmp_path, _spec(tmp_path / "lake"), {})


# --- PostgreSQL catalog ---------------------------------------------------------------


def _pg_spec(root: Path, env_name: str = "GOSALES_TEST_LAKE_DSN") -> LakeSpec:
    return _spec(root, "postgres", postgres_dsn_env=env_name)


@pytest.mark.postgres
def test_postgres_catalog_content_equals_the_duckdb_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pg_server: PgServer,
    pg_database: str,
) -> None:
    monkeypatch.setenv("GOSALES_TEST_LAKE_DSN", pg_server.dsn(pg_database))
    plain = _write_sample(Store(tmp_path / "s.duckdb"))
    lake = Store(tmp_path / "unused.duckdb", lake=_pg_spec(tmp_path / "lake"))
    assert _write_sample(lake) == plain
    # the catalog is in PostgreSQL, in its own schema
    tables = pg_server.query(
        pg_database,
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'gosales_lake' AND table_name LIKE 'ducklake_%%'",
    )
    assert tables[0][0] > 5


@pytest.mark.postgres
def test_postgres_catalog_takes_concurrent_writers(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pg_server: PgServer,
    pg_database: str,
) -> None:
    dsn = pg_server.dsn(pg_database)
    monkeypatch.setenv("GOSALES_TEST_LAKE_DSN", dsn)
    _concurrent_writers(
        tmp_path, _pg_spec(tmp_path / "lake"), {"GOSALES_TEST_LAKE_DSN": dsn}
    )


@pytest.mark.postgres
def test_postgres_errors_never_show_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_server: PgServer
) -> None:
    bad = dataclasses.replace(pg_server, password="not-the-password-0451")
    monkeypatch.setenv("GOSALES_TEST_LAKE_DSN", bad.dsn("postgres"))
    spec = dataclasses.replace(_pg_spec(tmp_path / "lake"), max_retries=0)
    with pytest.raises(Exception, match="cannot open DuckLake") as info:
        Store(tmp_path / "unused.duckdb", lake=spec).query("SELECT 1")
    assert "not-the-password-0451" not in str(info.value)


# --- the asset graph on DuckLake ------------------------------------------------------

TINY_CUTOFF = "2023-03-31"
TINY_TARGET = "Solidworks"


@pytest.fixture
def tiny_raw(tmp_path: Path, cfg: GosalesConfig) -> Path:
    raw = tmp_path / "raw"
    generate(
        raw,
        cfg,
        customers=60,
        start=dt.date(2022, 1, 1),
        end=dt.date(2023, 12, 31),
        seed=11,
    )
    return raw


def _all_checksums(store: Store) -> dict[str, str]:
    with store.connect(read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY 1"
        ).fetchall()
        return {t: partition_checksum(con, t, {}) for (t,) in tables}


def _run_graph(home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    from gosales_assets.config import current_config

    monkeypatch.setenv("GOSALES_HOME", str(home))
    with dg.instance_for_test() as instance:
        assert run_job("ingest_job", instance).success
        assert run_job("star_job", instance, TINY_CUTOFF).success
        assert run_job("labels_job", instance, f"{TINY_CUTOFF}|{TINY_TARGET}").success
    return _all_checksums(Store.from_config(current_config()))


def test_assets_on_ducklake_equal_the_duckdb_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    config_copy: Path,
    tiny_raw: Path,
) -> None:
    point_env_at(monkeypatch, tmp_path, tiny_raw, "2024-01-31")
    on_file = _run_graph(tmp_path / "home_duckdb", monkeypatch)
    _with_store(config_copy, {"backend": "ducklake"})
    monkeypatch.setenv("GOSALES_CONFIG", str(config_copy))
    on_lake = _run_graph(tmp_path / "home_lake", monkeypatch)
    assert "star.fact_transactions" in on_file and "labels.labels" in on_file
    assert on_lake == on_file
    assert not (tmp_path / "home_lake" / "gosales.duckdb").exists()
    assert (tmp_path / "home_lake" / "ducklake" / "catalog.sqlite").exists()


# --- slow: the whole graph, and Dagster runs in parallel processes -------------------

FULL_CUTOFF = dt.date(2024, 6, 30)
FULL_TARGET = "Printers"
# columns that record how long something ran, not what it computed
_RUN_DEPENDENT = {"features.build_info": {"info"}}  # the feature engine's timings


def _content(store: Store) -> dict[str, tuple[int, int]]:
    """Per table: row count and an order-independent hash of the run-independent
    columns."""
    out: dict[str, tuple[int, int]] = {}
    with store.connect(read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY 1, 2"
        ).fetchall()
        for schema, name in tables:
            table = f"{schema}.{name}"
            skip = _RUN_DEPENDENT.get(table, set())
            cols = [c for c, _ in column_schema(con, table) if c not in skip]
            select = ", ".join(f'"{c}"' for c in cols)
            row = con.execute(
                "SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) "
                f'FROM (SELECT {select} FROM "{schema}"."{name}") t'
            ).fetchone()
            assert row is not None
            out[table] = (int(row[0]), int(row[1]))
    return out


@pytest.mark.slow
def test_whole_pipeline_on_ducklake_equals_the_duckdb_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    config_copy: Path,
    cfg: GosalesConfig,
) -> None:
    from gosales_assets.config import current_config
    from gosales_assets.runner import run_pipeline

    raw = tmp_path / "raw"
    generate(
        raw,
        cfg,
        customers=600,
        start=dt.date(2021, 1, 1),
        end=dt.date(2024, 6, 30),
        seed=21,
    )
    point_env_at(monkeypatch, tmp_path, raw, "2024-07-31")
    results = {}
    for backend in ("duckdb", "ducklake"):
        _with_store(config_copy, {"backend": backend})
        monkeypatch.setenv("GOSALES_CONFIG", str(config_copy))
        monkeypatch.setenv("GOSALES_HOME", str(tmp_path / f"home_{backend}"))
        monkeypatch.setenv("GOSALES_REPORTS_DIR", str(tmp_path / f"reports_{backend}"))
        now = current_config()
        with dg.instance_for_test() as instance:
            summary = run_pipeline(now, FULL_CUTOFF, [FULL_TARGET], instance=instance)
        assert summary.success, summary.runs
        results[backend] = _content(Store.from_config(now))
    assert "scoring.whitespace" in results["duckdb"]
    assert results["ducklake"] == results["duckdb"]


_DAGSTER_WRITER = textwrap.dedent(
    """
    import sys
    import dagster as dg
    from gosales_assets_tests.conftest import run_job

    with dg.instance_for_test() as instance:
        result = run_job("labels_job", instance, sys.argv[1])
    print("OK" if result.success else "FAILED")
    """
)


@pytest.mark.slow
def test_dagster_runs_in_two_processes_write_one_lake(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    config_copy: Path,
    tiny_raw: Path,
) -> None:
    from gosales_assets.config import current_config

    point_env_at(monkeypatch, tmp_path, tiny_raw, "2024-01-31")
    _with_store(config_copy, {"backend": "ducklake"})
    monkeypatch.setenv("GOSALES_CONFIG", str(config_copy))
    with dg.instance_for_test() as instance:
        assert run_job("ingest_job", instance).success
        assert run_job("star_job", instance, TINY_CUTOFF).success
    keys = [f"{TINY_CUTOFF}|{t}" for t in ("Solidworks", "Services")]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _DAGSTER_WRITER, key],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for key in keys
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0 and out.strip().endswith("OK"), err[-3000:]
    got = Store.from_config(current_config()).query(
        "SELECT division, count(*) AS n FROM labels.labels GROUP BY 1 ORDER BY 1"
    )
    assert got["division"].to_list() == ["Services", "Solidworks"]
    assert all(n > 0 for n in got["n"].to_list())
