"""A writer killed with SIGKILL in the middle of a partition write leaves the previous
version of that partition intact and readable, and the next write completes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap

import polars as pl

from gosales_assets.lib.store import Store, replace_partition_frame

C = dt.date(2024, 6, 30)


def test_sigkill_mid_write_keeps_previous_partition(tmp_path):
    path = tmp_path / "s.duckdb"
    store = Store(path)
    old = pl.DataFrame({"cutoff": [C] * 3, "k": [1, 2, 3], "v": ["old"] * 3})
    with store.transaction() as con:
        replace_partition_frame(
            con, "x.t", old, partition={"cutoff": C}, order_by=["cutoff", "k"]
        )
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import datetime as dt, time
            import polars as pl
            from gosales_assets.lib.store import Store, replace_partition_frame
            c = dt.date(2024, 6, 30)
            new = pl.DataFrame({{"cutoff": [c] * 200_000, "k": range(200_000),
                                 "v": ["new"] * 200_000}})
            with Store(__import__("pathlib").Path({str(path)!r})).transaction() as con:
                replace_partition_frame(con, "x.t", new, partition={{"cutoff": c}},
                                        order_by=["cutoff", "k"])
                print("written, not committed", flush=True)
                time.sleep(60)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "written, not committed"
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    got = store.query("SELECT * FROM x.t ORDER BY k")
    assert got.equals(old)  # the previous version, whole
    new = old.with_columns(pl.lit("next").alias("v"))
    with store.transaction() as con:
        replace_partition_frame(
            con, "x.t", new, partition={"cutoff": C}, order_by=["cutoff", "k"]
        )
    assert store.query("SELECT v FROM x.t")["v"].unique().to_list() == ["next"]
