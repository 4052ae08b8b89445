"""The synthetic-data generator: determinism, contract formats, realism, wide layout and
the ground truth of true label probabilities."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from pathlib import Path

import polars as pl
import pytest

from gosales_assets.config import (
    DEFAULT_CONFIG_PATH,
    GosalesConfig,
    SkuEntry,
    SkuMap,
    TargetConfig,
    load_config,
)
from gosales_assets.lib import contract
from gosales_assets.lib.labels import positive_customers
from gosales_assets.sample_data import GenerationReport, generate, lines_to_wide

START, END = dt.date(2021, 1, 1), dt.date(2025, 12, 31)
CUTOFFS = (dt.date(2024, 6, 30), dt.date(2024, 9, 15))  # a month end and a mid-month
SIMS = 20
GUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_csv_text(path: Path) -> pl.DataFrame:
    """A CSV with every column as text, exactly as written."""
    return pl.read_csv(path, infer_schema=False)


def _typed(path: Path, columns: tuple[contract.Column, ...]) -> pl.DataFrame:
    """Parse a contract CSV strictly: ISO dates, numbers, ids kept as text."""
    text = _read_csv_text(path)
    return text.select(
        pl.col(c.name).str.to_date("%Y-%m-%d", strict=True)
        if c.dtype == pl.Date()
        else pl.col(c.name).cast(c.dtype, strict=True)
        for c in columns
    )


def _generate(out: Path, cfg: GosalesConfig, **kw: object) -> GenerationReport:
    args: dict = {"customers": 1500, "start": START, "end": END, "seed": 101}
    return generate(out, cfg, **{**args, **kw})


@pytest.fixture(scope="module")
def cfg_module(tmp_path_factory: pytest.TempPathFactory) -> GosalesConfig:
    home = tmp_path_factory.mktemp("home")
    return load_config(DEFAULT_CONFIG_PATH, env={"GOSALES_HOME": str(home)})


@pytest.fixture(scope="module")
def long_csv(
    tmp_path_factory: pytest.TempPathFactory, cfg_module: GosalesConfig
) -> GenerationReport:
    out = tmp_path_factory.mktemp("long_csv")
    return _generate(
        out, cfg_module, ground_truth_cutoffs=CUTOFFS, ground_truth_simulations=SIMS
    )


@pytest.fixture(scope="module")
def lines(long_csv: GenerationReport) -> pl.DataFrame:
    return _typed(long_csv.out_dir / "sales_lines.csv", contract.SALES_LINES)


@pytest.fixture(scope="module")
def customers(long_csv: GenerationReport) -> pl.DataFrame:
    return _typed(long_csv.out_dir / "customers.csv", contract.CUSTOMERS)


# --- determinism -------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path: Path, cfg: GosalesConfig):
    kw = {
        "customers": 400,
        "fmt": "parquet",
        "ground_truth_cutoffs": [dt.date(2024, 6, 30)],
        "ground_truth_simulations": 4,
    }
    a = _generate(tmp_path / "a", cfg, **kw)
    b = _generate(tmp_path / "b", cfg, **kw)
    names = sorted(p.name for p in a.out_dir.iterdir())
    assert names == sorted(p.name for p in b.out_dir.iterdir())
    assert "manifest.json" in names and "ground_truth.parquet" in names
    for name in names:
        assert _sha(a.out_dir / name) == _sha(b.out_dir / name), name
    c = _generate(tmp_path / "c", cfg, **{**kw, "seed": 102})
    for name in ("sales_lines.parquet", "customers.parquet"):
        assert _sha(a.out_dir / name) != _sha(c.out_dir / name)


def test_manifest_lists_every_file_with_rows_and_sha(long_csv: GenerationReport):
    manifest = json.loads(long_csv.manifest_path.read_text())
    assert manifest["seed"] == 101
    assert manifest["parameters"]["customers"] == 1500
    files = manifest["files"]
    assert set(files) == set(long_csv.files)
    for name, entry in files.items():
        path = long_csv.out_dir / name
        assert entry["sha256"] == _sha(path)
        assert entry["rows"] == long_csv.row_counts[name]
    assert (
        files["sales_lines.csv"]["rows"]
        == _read_csv_text(long_csv.out_dir / "sales_lines.csv").height
    )


def test_parquet_has_contract_dtypes_and_replaces_stale_files(
    tmp_path: Path, cfg: GosalesConfig
):
    (tmp_path / "sales_log.csv").write_text("old")  # a raw folder holds one layout
    report = _generate(tmp_path, cfg, customers=300, fmt="parquet")
    assert not (tmp_path / "sales_log.csv").exists()
    for stem, columns in contract.RAW_STEMS.items():
        frame = pl.read_parquet(report.out_dir / f"{stem}.parquet")
        assert frame.schema == pl.Schema(contract.schema_of(columns)), stem


def test_invalid_arguments_are_refused(tmp_path: Path, cfg: GosalesConfig):
    with pytest.raises(ValueError, match="fmt"):
        _generate(tmp_path, cfg, customers=50, fmt="xlsx")
    with pytest.raises(ValueError, match="cutoff"):
        _generate(
            tmp_path, cfg, customers=50, ground_truth_cutoffs=[dt.date(2030, 1, 1)]
        )


# --- contract formats ----------------------------------------------------------------


def test_csv_files_have_exactly_the_contract_columns(long_csv: GenerationReport):
    for stem, columns in contract.RAW_STEMS.items():
        path = long_csv.out_dir / f"{stem}.csv"
        assert _read_csv_text(path).columns == [c.name for c in columns], stem
        typed = _typed(path, columns)  # raises on a non-ISO date or a bad number
        required = [c.name for c in columns if c.required]
        assert typed.select(pl.col(required).null_count()).sum_horizontal().item() == 0


def test_every_line_has_gp_or_quantity(lines: pl.DataFrame):
    assert lines.height > 20_000
    assert lines.filter(
        (pl.col("gross_profit") == 0) & (pl.col("quantity") == 0)
    ).is_empty()
    assert lines["order_date"].min() >= START
    assert lines["order_date"].max() <= END


def test_one_line_per_sku_per_invoice_and_line_no_is_map_position(
    lines: pl.DataFrame, cfg_module: GosalesConfig
):
    assert lines.select("invoice_id", "sku").is_duplicated().sum() == 0
    position = {e.sku: i + 1 for i, e in enumerate(cfg_module.sku_map.entries)}
    expected = lines["sku"].replace_strict(position, return_dtype=pl.Int64)
    assert (lines["line_no"] == expected).all()
    # An invoice belongs to one customer and one day.
    per_invoice = lines.group_by("invoice_id").agg(
        pl.col("customer_id", "order_date").n_unique()
    )
    assert (per_invoice["customer_id"] == 1).all()
    assert (per_invoice["order_date"] == 1).all()


def test_rows_are_sorted_deterministically(
    lines: pl.DataFrame, customers: pl.DataFrame
):
    assert lines.equals(lines.sort("order_date", "invoice_id", "line_no"))
    assert customers["customer_id"].is_sorted()
    assert customers["customer_id"].is_unique().all()


# --- realism -------------------------------------------------------------------------


def test_mixed_id_formats_and_zero_padded_twins(customers: pl.DataFrame):
    ids = customers["customer_id"]
    numeric = ids.filter(ids.str.contains(r"^[0-9]+$"))
    padded = numeric.filter(numeric.str.starts_with("00"))
    stripped = padded.str.strip_chars_start("0")
    assert stripped.is_in(numeric.implode()).any(), "no '00123' next to a '123'"
    assert ids.str.contains(GUID).any()


def test_orphans_and_prospects_exist(lines: pl.DataFrame, customers: pl.DataFrame):
    buyers = lines["customer_id"].unique()
    listed = customers["customer_id"]
    orphans = buyers.filter(~buyers.is_in(listed.implode()))
    assert 2 <= orphans.len() <= 20
    never_bought = listed.filter(~listed.is_in(buyers.implode()))
    assert never_bought.len() > 0.1 * listed.len()


def test_returns_quantity_only_and_same_day_invoices(lines: pl.DataFrame):
    returns = lines.filter((pl.col("gross_profit") < 0) & (pl.col("quantity") < 0))
    assert returns.height > 0
    assert lines.filter((pl.col("gross_profit") < 0) & (pl.col("quantity") == 0)).height
    assert lines.filter((pl.col("gross_profit") == 0) & (pl.col("quantity") > 0)).height
    same_day = lines.group_by("customer_id", "order_date").agg(
        pl.col("invoice_id").n_unique().alias("invoices")
    )
    assert (same_day["invoices"] > 1).any()
    month = pl.col("order_date").dt.truncate("1mo")
    by_month = lines.group_by("customer_id", month).agg(
        (pl.col("gross_profit") < 0).all().alias("only_credits")
    )
    assert by_month["only_credits"].any(), "no return-only month"


def test_multi_line_orders_pair_skus_of_one_product_group(
    lines: pl.DataFrame, cfg_module: GosalesConfig
):
    """About a quarter of license orders carry a second SKU of the same product group
    (another seat type); modules are ordered one at a time, so the single-SKU targets
    built on them keep their membership."""
    entries = cfg_module.sku_map.entries
    group = {e.sku: f"{e.division}/{e.family}/{e.sale_type}" for e in entries}
    sale_type = {e.sku: e.sale_type for e in entries}
    per_group = (
        lines.filter(pl.col("invoice_id").str.starts_with("INV"))
        .with_columns(
            pl.col("sku").replace_strict(group).alias("group"),
            pl.col("sku").replace_strict(sale_type).alias("sale_type"),
        )
        .group_by("invoice_id", "group", "sale_type")
        .agg(pl.col("sku").n_unique().alias("skus"))
    )
    paired = per_group.group_by("sale_type").agg((pl.col("skus") > 1).mean())
    share = dict(zip(paired["sale_type"], paired["skus"], strict=True))
    assert 0.15 < share["License"] < 0.35
    assert share["Module"] < 0.02


def test_seasonality_december_beats_january(lines: pl.DataFrame):
    per_month = lines.group_by(pl.col("order_date").dt.month().alias("m")).len()
    counts = dict(zip(per_month["m"], per_month["len"], strict=True))
    assert counts[12] > 1.3 * counts[1]


def test_optional_inputs(long_csv: GenerationReport, cfg_module: GosalesConfig):
    out = long_csv.out_dir
    assets = _typed(out / "assets.csv", contract.ASSETS)
    subs = assets.filter(pl.col("expiration_date").is_not_null())
    assert subs.height > 0 and assets.height > subs.height
    expected = subs["purchase_date"].dt.offset_by("1y").dt.offset_by("-1d")
    assert (subs["expiration_date"] == expected).all()
    assert (assets["quantity"] > 0).all()
    assert set(assets["sku"]) <= set(cfg_module.sku_map.skus)
    contacts = _typed(out / "contacts.csv", contract.CONTACTS)
    assert contacts["division"].null_count() > 0
    assert set(contacts["division"].drop_nulls()) <= set(cfg_module.sku_map.divisions)
    deals = _typed(out / "open_deals.csv", contract.OPEN_DEALS)
    assert deals["closed_date"].null_count() > 0  # still open at the end
    closed = deals.drop_nulls("closed_date")
    assert (closed["closed_date"] > closed["opened_date"]).all()


# --- wide layout ---------------------------------------------------------------------


def _parse_money(col: str) -> pl.Expr:
    text = pl.col(col).str.replace_all(r"[$,]", "")
    negative = text.str.starts_with("(")
    value = text.str.strip_chars("()").cast(pl.Float64)
    return pl.when(negative).then(-value).otherwise(value).alias(col)


def _unpivot(wide: pl.DataFrame, cfg: GosalesConfig) -> pl.DataFrame:
    """What the wide-log reader does: one line per non-zero product cell."""
    parts = []
    for i, e in enumerate(cfg.sku_map.entries):
        parts.append(
            wide.select(
                pl.col("InvoiceId").alias("invoice_id"),
                pl.lit(i + 1, dtype=pl.Int64).alias("line_no"),
                pl.col("Rec Date").alias("order_date"),
                pl.col("CustomerId").alias("customer_id"),
                pl.lit(e.sku).alias("sku"),
                pl.col(e.qty_column).cast(pl.Float64).fill_null(0.0).alias("quantity"),
                pl.col(e.gp_column)
                .cast(pl.Float64)
                .fill_null(0.0)
                .alias("gross_profit"),
                pl.col("Rep").alias("rep"),
                pl.col("Branch").alias("branch"),
            ).filter((pl.col("quantity") != 0) | (pl.col("gross_profit") != 0))
        )
    return pl.concat(parts).sort("order_date", "invoice_id", "line_no")


def test_lines_to_wide_round_trip(lines: pl.DataFrame, cfg_module: GosalesConfig):
    wide = lines_to_wide(lines, cfg_module)
    assert wide.height == lines["invoice_id"].n_unique()
    assert wide["InvoiceId"].is_unique().all()
    gp_cols = [e.gp_column for e in cfg_module.sku_map.entries]
    total = wide.select(pl.sum_horizontal(pl.col(gp_cols).fill_null(0)).sum()).item()
    assert total == pytest.approx(lines["gross_profit"].sum(), abs=0.01)
    back = _unpivot(wide, cfg_module)
    assert back.equals(lines.drop("revenue").select(back.columns))


def test_wide_csv_layout_matches_long_data(
    tmp_path: Path, cfg_module: GosalesConfig, lines: pl.DataFrame
):
    report = _generate(tmp_path, cfg_module, layout="wide")
    assert "sales_log.csv" in report.files and "sales_lines.csv" not in report.files
    raw = _read_csv_text(tmp_path / "sales_log.csv")
    fixed = ["Rec Date", "CustomerId", "Customer", "InvoiceId", "Branch", "Rep"]
    product = [
        c for e in cfg_module.sku_map.entries for c in (e.gp_column, e.qty_column)
    ]
    assert raw.columns == [*fixed, "Division", *product]
    gp_cols = [e.gp_column for e in cfg_module.sku_map.entries]
    cells = raw.select(pl.concat_list(gp_cols).explode().drop_nulls()).to_series()
    assert cells.str.contains(r"^\$[0-9]{1,3}(,[0-9]{3})+\.[0-9]{2}$").any()
    assert cells.str.contains(r"^\([0-9,]+\.[0-9]{2}\)$").any()
    wide = raw.with_columns(
        pl.col("Rec Date").str.to_date("%Y-%m-%d"), *[_parse_money(c) for c in gp_cols]
    )
    back = _unpivot(wide, cfg_module)
    assert back.equals(lines.drop("revenue").select(back.columns))


# --- ground truth --------------------------------------------------------------------


@pytest.fixture(scope="module")
def truth(long_csv: GenerationReport) -> pl.DataFrame:
    return pl.read_parquet(long_csv.out_dir / "ground_truth.parquet")


def test_ground_truth_shape(
    truth: pl.DataFrame, customers: pl.DataFrame, cfg_module: GosalesConfig
):
    assert truth.schema == pl.Schema(
        {"cutoff": pl.Date, "target": pl.String, "customer_id": pl.String,
         "p_true": pl.Float64}
    )  # fmt: skip
    assert truth.select("cutoff", "target", "customer_id").is_unique().all()
    assert truth["p_true"].is_between(0.0, 1.0).all()
    assert set(truth["cutoff"]) == set(CUTOFFS)
    assert set(truth["target"]) == set(cfg_module.target_names)
    for cutoff in CUTOFFS:
        # Population: every customer created on or before the cutoff (orphans too).
        pop = truth.filter(pl.col("cutoff") == cutoff, pl.col("target") == "Solidworks")
        listed = customers.filter(pl.col("created_date") <= cutoff)["customer_id"]
        assert listed.is_in(pop["customer_id"].implode()).all()
        later = customers.filter(pl.col("created_date") > cutoff)["customer_id"]
        assert not later.is_in(pop["customer_id"].implode()).any()
    # Each p_true is a share of SIMS simulations.
    assert (
        (truth["p_true"] * SIMS - (truth["p_true"] * SIMS).round()).abs() < 1e-9
    ).all()


def _labelled(
    truth: pl.DataFrame,
    lines: pl.DataFrame,
    cfg: GosalesConfig,
    cutoff: dt.date,
    target: str,
) -> pl.DataFrame:
    """The ground-truth population of (cutoff, target) with its observed label ``y``."""
    positive = positive_customers(
        lines,
        skus=cfg.target_skus(target),
        cutoff=cutoff,
        months=cfg.window_months(target),
        threshold=cfg.labels.gp_min_threshold,
        denylist=cfg.labels.denylist_skus,
    ).collect()["customer_id"]
    return truth.filter(pl.col("cutoff") == cutoff, pl.col("target") == target).select(
        "p_true", pl.col("customer_id").is_in(positive.implode()).alias("y")
    )


def _gap(pop: pl.DataFrame, sims: int) -> tuple[float, float]:
    """Observed minus expected positives, and its standard deviation."""
    p = pop["p_true"]
    sd = math.sqrt(max((p * (1 - p)).sum() * (1 + 1 / sims), 1e-9))
    return pop["y"].sum() - p.sum(), sd


@pytest.mark.parametrize("target", ["Solidworks", "Services", "Success Plan"])
@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_ground_truth_matches_observed_positive_rate(
    truth: pl.DataFrame,
    lines: pl.DataFrame,
    cfg_module: GosalesConfig,
    target: str,
    cutoff: dt.date,
):
    """Given the simulation state at the cutoff, the customers' labels are independent
    Bernoulli(p_i), so the observed positive count O has mean sum(p_i) and variance
    sum(p_i (1 - p_i)); p_true estimates p_i from SIMS re-simulations, adding about
    1 / SIMS of that variance. We allow 4 standard deviations (a false alarm about once
    in 15,000 checks) plus one customer for rounding. The probabilities also rank:
    positives have a far higher mean p_true than negatives."""
    pop = _labelled(truth, lines, cfg_module, cutoff, target)
    assert pop["p_true"].sum() > 40, "target too small to judge"
    gap, sd = _gap(pop, SIMS)
    assert abs(gap) <= 4 * sd + 1, (gap, sd)
    means = pop.group_by("y").agg(pl.col("p_true").mean())
    by_label = dict(zip(means["y"], means["p_true"], strict=True))
    assert by_label[True] > 3 * by_label[False]


# --- another SKU map -----------------------------------------------------------------


def test_unknown_divisions_and_sale_types_degrade_gracefully(
    tmp_path: Path, cfg: GosalesConfig
):
    entries = (
        SkuEntry(sku="W1", division="Widgets", family="W", sale_type="Gizmo",
                 gp_column="W1", qty_column="W1_Qty"),
        SkuEntry(sku="W2", division="Widgets", family="W", sale_type="License",
                 gp_column="W2", qty_column="W2_Qty"),
        SkuEntry(sku="C1", division="Care", family="W", sale_type="Maintenance",
                 gp_column="C1", qty_column="C1_Qty"),
    )  # fmt: skip
    other = cfg.model_copy(
        update={
            "sku_map": SkuMap(entries=entries),
            "targets": (TargetConfig(name="Widgets", division="Widgets"),),
        }
    )
    report = generate(
        tmp_path, other, customers=300, start=START, end=END, seed=5, fmt="parquet",
        ground_truth_cutoffs=[dt.date(2024, 6, 30)], ground_truth_simulations=3,
    )  # fmt: skip
    sales = pl.read_parquet(report.files["sales_lines.parquet"])
    assert set(sales["sku"]) == {"W1", "W2", "C1"}
    truth = pl.read_parquet(report.files["ground_truth.parquet"])
    assert set(truth["target"]) == {"Widgets"}


# --- scale ----------------------------------------------------------------------------


def test_ground_truth_calibrated_at_scale(tmp_path: Path, cfg: GosalesConfig):
    """15k customers, mid-month cutoffs: the standardized differences between observed
    and expected positives over all targets look like draws of N(0, 1) (about 8 s)."""
    cutoffs = [dt.date(2024, 3, 15), dt.date(2025, 1, 20)]
    report = generate(
        tmp_path, cfg, customers=15_000, start=START, end=END, seed=9, fmt="parquet",
        ground_truth_cutoffs=cutoffs, ground_truth_simulations=10,
    )  # fmt: skip
    assert report.row_counts["sales_lines.parquet"] > 200_000
    sales = pl.read_parquet(report.files["sales_lines.parquet"])
    truth = pl.read_parquet(report.files["ground_truth.parquet"])
    z = []
    for cutoff in cutoffs:
        for target in cfg.target_names:
            gap, sd = _gap(_labelled(truth, sales, cfg, cutoff, target), 10)
            z.append(gap / sd)
    assert max(abs(v) for v in z) < 4.0
    assert abs(sum(z) / len(z)) < 0.75
