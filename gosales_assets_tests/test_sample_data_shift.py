"""Deliberate spend shifts of the sample data (drift scenarios): only the chosen
industry's lines from the date on change, by exactly the factor; everything else is
byte-identical to the unshifted output; partial shifts are seeded."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from gosales_assets.cli import main
from gosales_assets.config import GosalesConfig
from gosales_assets.sample_data import generate
from gosales_assets.sample_data.shift import SpendShift, parse_shift

FROM = dt.date(2023, 1, 1)
KW = {"customers": 150, "start": dt.date(2021, 1, 1), "end": dt.date(2023, 12, 31)}


def _lines(folder: Path) -> pl.DataFrame:
    customers = pl.read_csv(folder / "customers.csv", infer_schema=False)
    return (
        pl.read_csv(folder / "sales_lines.csv", infer_schema=False)
        .with_columns(
            pl.col("order_date").str.to_date(),
            pl.col("gross_profit", "revenue").cast(pl.Float64),
        )
        .join(customers.select("customer_id", "industry"), on="customer_id", how="left")
    )


@pytest.fixture(scope="module")
def folders(tmp_path_factory, cfg_module_shift) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("shift")
    cfg = cfg_module_shift
    out = {"plain": base / "plain", "shifted": base / "shifted", "half": base / "half"}
    generate(out["plain"], cfg, seed=4, **KW)
    industry = "Industrial Machinery"
    generate(
        out["shifted"], cfg, seed=4, **KW, shifts=[SpendShift(industry, 2.5, FROM)]
    )
    generate(
        out["half"], cfg, seed=4, **KW, shifts=[SpendShift(industry, 2.0, FROM, 0.5)]
    )
    return out


@pytest.fixture(scope="module")
def cfg_module_shift(tmp_path_factory) -> GosalesConfig:
    from gosales_assets.config import DEFAULT_CONFIG_PATH, load_config

    home = tmp_path_factory.mktemp("home")
    return load_config(DEFAULT_CONFIG_PATH, env={"GOSALES_HOME": str(home)})


def test_only_the_industrys_spend_from_the_date_changes(folders):
    plain, shifted = folders["plain"], folders["shifted"]
    for name in ("customers.csv", "assets.csv", "contacts.csv", "open_deals.csv"):
        assert (plain / name).read_bytes() == (shifted / name).read_bytes(), name
    a, b = _lines(plain), _lines(shifted)
    assert a.drop("gross_profit", "revenue").equals(b.drop("gross_profit", "revenue"))
    hit = (pl.col("industry") == "Industrial Machinery") & (
        pl.col("order_date") >= FROM
    )
    assert a.filter(~hit).equals(b.filter(~hit))
    moved = a.filter(hit)
    assert moved.height > 20
    for column in ("gross_profit", "revenue"):  # in cents, rounded half to even
        expected = [round(round(v * 100) * 2.5) / 100 for v in moved[column]]
        assert b.filter(hit)[column].to_list() == expected
    manifest = json.loads((shifted / "manifest.json").read_text())
    (summary,) = manifest["parameters"]["shifts"]
    assert summary["industry"] == "Industrial Machinery" and summary["factor"] == 2.5
    assert summary["lines"] == moved.height
    assert (
        "shifts" not in json.loads((plain / "manifest.json").read_text())["parameters"]
    )


def test_a_partial_shift_is_a_seeded_share_of_the_accounts(folders, cfg_module_shift):
    a, half = _lines(folders["plain"]), _lines(folders["half"])
    hit = (pl.col("industry") == "Industrial Machinery") & (
        pl.col("order_date") >= FROM
    )
    changed = a.join(half, on=["invoice_id", "line_no"], suffix="_s").filter(
        pl.col("gross_profit") != pl.col("gross_profit_s")
    )
    accounts = set(changed["customer_id"])
    industry_accounts = set(
        a.filter(hit).filter(pl.col("gross_profit") != 0)["customer_id"]
    )
    assert accounts < industry_accounts  # a strict subset of the industry
    assert changed.filter(~hit).height == 0
    manifest = json.loads((folders["half"] / "manifest.json").read_text())
    assert manifest["parameters"]["shifts"][0]["share"] == 0.5
    again = folders["half"].parent / "again"
    shift = SpendShift("Industrial Machinery", 2.0, FROM, 0.5)
    generate(again, cfg_module_shift, seed=4, **KW, shifts=[shift])
    for name in ("sales_lines.csv", "manifest.json"):
        assert (again / name).read_bytes() == (folders["half"] / name).read_bytes()


def test_parse_shift():
    s = parse_shift("industry=Medical Devices,factor=2.0,from=2025-01-01")
    assert s == SpendShift("Medical Devices", 2.0, dt.date(2025, 1, 1))
    comma = parse_shift(
        "industry=Architecture, Engineering & Construction,factor=3,"
        "from=2024-07-01,share=0.25"
    )
    assert comma.industry == "Architecture, Engineering & Construction"
    assert comma.share == 0.25
    for bad, message in (
        ("industry=Nope,factor=2,from=2025-01-01", "unknown industry 'Nope'"),
        ("industry=Government,factor=-1,from=2025-01-01", "positive finite"),
        ("industry=Government,factor=x,from=2025-01-01", "must be numbers"),
        ("industry=Government,factor=2,from=01/01/2025", "YYYY-MM-DD"),
        ("industry=Government,factor=2", "missing from"),
        ("industry=Government,factor=2,from=2025-01-01,share=2", "share"),
        ("colour=red", "cannot read"),
        ("industry=Government,industry=Government,factor=2,from=2025-01-01", "twice"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_shift(bad)


def test_cli_generate_shift(tmp_path, cfg_env, monkeypatch):
    for key, value in cfg_env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    bad = runner.invoke(main, ["generate", "--shift", "industry=Nope,factor=2,from=x"])
    assert bad.exit_code != 0 and "--shift" in bad.output
    out = tmp_path / "gen"
    args = ["generate", "--out", str(out), "--customers", "40", "--no-ground-truth"]
    args += ["--start", "2023-01-01", "--end", "2023-12-31"]
    spec = "industry=Government,factor=2,from=2023-07-01"
    ok = runner.invoke(main, [*args, "--shift", spec])
    assert ok.exit_code == 0, ok.output
    shifts = json.loads((out / "manifest.json").read_text())["parameters"]["shifts"]
    assert shifts[0]["industry"] == "Government" and shifts[0]["from"] == "2023-07-01"
