"""The benchmark's bookkeeping and report: per-asset sums, targets and by how much they
are missed, M-to-L growth, the plot, the completeness check, and the synthesized CSV
of the ingestion-at-scale measurement. No timing is asserted here."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import polars as pl

from gosales_assets.bench import RunMeasure, markdown, summarize, write_reports
from gosales_assets.bench_ingest import synthesize
from gosales_assets.bench_report import (
    PLOT_FILE,
    check_report,
    evaluate_targets,
)


def _run(job: str, steps: dict[str, float], rows: dict[str, int]) -> RunMeasure:
    return RunMeasure(
        job=job,
        partition="2024-06-30",
        success=True,
        wall_s=2.0,
        cpu_s=3.0,
        peak_rss_mb=100.0,
        steps=steps,
        rows=rows,
        rows_in={
            s: 3 * n for s, n in {k.split("/")[0]: v for k, v in rows.items()}.items()
        },
        step_cpu_s={s: v / 2 for s, v in steps.items()},
        step_peak_rss_mb={s: 100.0 + v for s, v in steps.items()},
    )


def test_summarize_sums_steps_and_rows():
    runs = [
        _run(
            "a", {"feature_matrix": 1.5}, {"feature_matrix/features/feature_matrix": 30}
        ),
        _run(
            "b", {"feature_matrix": 0.5}, {"feature_matrix/features/feature_matrix": 10}
        ),
    ]
    out = summarize(runs)
    entry = out["per_asset"]["feature_matrix"]
    assert entry == {
        "wall_s": 2.0,
        "cpu_s": 1.0,
        "peak_rss_mb": 101.5,
        "runs": 2,
        "rows_in": 120,
        "rows": 40,
        "rows_per_s": 20.0,
    }
    assert (out["wall_s"], out["cpu_s"], out["runs"]) == (4.0, 6.0, 2)


QUALITY = {
    "target": "PDM",
    "validation_positives": 300,
    "model_auc": 0.8,
    "oracle_auc": 0.85,
    "auc_ratio": 0.94,
    "model_lift10": 3.0,
    "oracle_lift10": 3.5,
    "lift10_ratio": 0.857,
    "is_fallback": False,
}
MACHINE = {
    "cores": 2,
    "memory_gib": 24,
    "python": "3.11",
    "platform": "Linux",
    "versions": {},
    "commit": "x",
}


def _result(scale: str, customers: int, seconds: float, peak: float) -> dict[str, Any]:
    steps = {"propensity_model": seconds * 0.6, "star_schema": seconds * 0.1}
    group = summarize([_run("a", steps, {"star_schema/star/fact": 100})])
    group["wall_s"], group["peak_rss_mb"] = seconds, peak
    result: dict[str, Any] = {
        "scale": scale,
        "customers": customers,
        "lines": customers * 20,
        "partial": False,
        "targets_run": ["PDM"],
        "generated_at": "2026-01-01T00:00:00+00:00",
        "generate_s": 1.0,
        "cutoff": "2025-12-31",
        "machine": MACHINE,
        "runs": {"retraining": group, "nightly": copy.deepcopy(group)},
        "run_details": {"retraining": [], "nightly": []},
        "model_quality": [dict(QUALITY)],
        "ingest_at_scale": None,
        "profiles": [],
    }
    result["targets"] = evaluate_targets(result)
    return result


def test_targets_say_by_how_much_they_are_missed():
    result = _result("M", 100_000, seconds=200.0, peak=1000.0)
    by_what = {t["what"]: t for t in result["targets"]}
    nightly = by_what["nightly run under 3 min"]
    assert (nightly["met"], nightly["missed_by"], nightly["missed_by_pct"]) == (
        False,
        20.0,
        11.1,
    )
    assert by_what["retraining run under 15 min"]["met"] is True
    assert by_what["peak memory under 4 GiB"]["met"] is True
    quality = by_what["PDM: AUC at least 95% of the oracle's"]
    assert (quality["met"], quality["missed_by"]) == (False, 0.01)
    # a partial run (fewer targets or customers) is not judged on time
    partial = {**result, "partial": True}
    assert [t["kind"] for t in evaluate_targets(partial)] == ["quality"]


def test_reports_merge_scales_grow_and_are_complete(tmp_path: Path):
    write_reports(_result("S", 10_000, 100.0, 900.0), tmp_path)
    write_reports(_result("M", 100_000, 100.0, 1000.0), tmp_path)
    data = write_reports(_result("L", 500_000, 700.0, 3000.0), tmp_path)
    assert check_report(data) == []
    grown = data["growth"]
    ratios = {r["figure"]: r for r in grown["figures"]}
    assert ratios["nightly wall_s"]["ratio"] == 7.0
    assert ratios["nightly peak_rss_mb"]["ratio"] == 3.0
    assert "nightly wall_s" in grown["missed"]
    assert "nightly peak_rss_mb" not in grown["missed"]
    text = (tmp_path / "benchmark.md").read_text()
    assert "| S | 10,000 |" in text and "| L | 500,000 |" in text
    assert "| PDM | 300 | 0.800 | 0.850 | 0.940 |" in text
    assert "## Growth from M to L (customers x5.0, lines x5.0)" in text
    assert "| nightly wall_s | 100.0 | 700.0 | x7.00 | **MISSED** by x1.00 |" in text
    assert "nightly run under 3 min | 100.0 s | < 180 s | met |" in text
    assert "nightly run under 12 min | 700.0 s | < 720 s | met |" in text
    assert f"]({PLOT_FILE})" in text
    assert (tmp_path / PLOT_FILE).read_bytes()[:4] == b"\x89PNG"
    assert markdown({"scales": {}}).startswith("# Benchmark")
    assert "measured at different commits" not in text  # one commit for both


def test_growth_warns_when_scales_ran_at_different_commits(tmp_path: Path):
    write_reports(_result("M", 100_000, 100.0, 1000.0), tmp_path)
    later = _result("L", 500_000, 400.0, 3000.0)
    later["machine"] = {**later["machine"], "commit": "f" * 40}
    data = write_reports(later, tmp_path)
    assert data["growth"]["commits"]["L"] == "f" * 40
    assert data["growth"]["commits"]["M"] != "f" * 40
    text = (tmp_path / "benchmark.md").read_text()
    assert "**M and L were measured at different commits**" in text
    assert "L at `ffffffffffff`" in text


def test_completeness_check_names_what_is_missing():
    result = _result("XS", 1_000, 10.0, 500.0)
    data = {"machine": MACHINE, "scales": {"XS": result}}
    assert check_report(data) == []
    del result["runs"]["nightly"]["per_asset"]["star_schema"]["cpu_s"]
    del result["model_quality"][0]["lift10_ratio"]
    result["ingest_at_scale"] = {"lines": 10, "success": True}
    missing = check_report(data)
    assert "XS: runs.*.per_asset.*.cpu_s" in missing
    assert "XS: model_quality.*.lift10_ratio" in missing
    assert "XS: ingest_at_scale.peak_rss_mb" in missing
    assert check_report({"scales": {}}) == ["scales"]
    assert check_report({"scales": {"XS": result, "S": {}}}, ["S"]) != []
    old = {"scales": {"XS": _result("XS", 1_000, 10.0, 500.0), "S": {}}}
    assert check_report(old, ["XS"]) == []  # an older scale's result is not judged
    both = {"scales": {"M": result, "L": result}}
    assert "growth" in check_report(both)


def test_synthesized_csv_has_exactly_n_distinct_lines(tmp_path: Path):
    sample = tmp_path / "sample"
    sample.mkdir()
    pl.DataFrame(
        {
            "invoice_id": ["A", "A", "B"],
            "line_no": [1, 2, 1],
            "customer_id": ["C1", "C1", "C2"],
        }
    ).write_csv(sample / "sales_lines.csv")
    (sample / "customers.csv").write_text("customer_id\nC1\nC2\n")
    made = synthesize(sample, tmp_path / "out", 8)
    assert (made["lines"], made["copies"]) == (8, 3)
    out = pl.read_csv(tmp_path / "out" / "sales_lines.csv", infer_schema=False)
    assert out.height == 8
    assert out.select("invoice_id", "line_no").n_unique() == 8
    assert out.get_column("invoice_id").to_list()[:4] == ["A", "A", "B", "A-R1"]
    assert (tmp_path / "out" / "customers.csv").read_text() == "customer_id\nC1\nC2\n"


def test_rows_in_is_read_per_step_from_materialization_metadata() -> None:
    """A multi-asset step repeats its rows-in figure on each asset: counted once."""
    import dagster as dg

    from gosales_assets.bench_measure import _rows
    from gosales_assets.defs.common import table_metadata

    @dg.multi_asset(specs=[dg.AssetSpec("a"), dg.AssetSpec("b")], name="two_tables")
    def two_tables() -> Any:
        for key, rows in (("a", 4), ("b", 6)):
            yield dg.MaterializeResult(
                asset_key=key,
                metadata=table_metadata(
                    f"x.{key}", [("id", "BIGINT")], rows, rows_in=9
                ),
            )

    result = dg.materialize([two_tables])
    out, read = _rows(result)
    assert out == {"two_tables/a": 4, "two_tables/b": 6}
    assert read == {"two_tables": 9}
