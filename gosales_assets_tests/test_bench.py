"""The benchmark's bookkeeping: per-asset sums, rates and the Markdown report."""

from __future__ import annotations

from gosales_assets.bench import RunMeasure, markdown, summarize, write_reports


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
    assert entry == {"wall_s": 2.0, "runs": 2, "rows": 40, "rows_per_s": 20.0}
    assert (out["wall_s"], out["cpu_s"], out["runs"]) == (4.0, 6.0, 2)


def test_reports_merge_scales_and_show_quality(tmp_path):
    base = {
        "machine": {"cores": 2, "memory_gib": 24, "python": "3.11", "commit": "x"},
        "customers": 10_000,
        "lines": 100,
        "runs": {"nightly": summarize([_run("a", {"s": 1.0}, {})])},
        "model_quality": [
            {
                "target": "PDM",
                "validation_positives": 300,
                "model_auc": 0.8,
                "oracle_auc": 0.85,
                "auc_ratio": 0.94,
                "model_lift10": 3.0,
                "oracle_lift10": 3.5,
                "is_fallback": False,
            }
        ],
    }
    write_reports({**base, "scale": "S"}, tmp_path)
    write_reports({**base, "scale": "M", "customers": 100_000}, tmp_path)
    text = (tmp_path / "benchmark.md").read_text()
    assert "| S | 10,000 |" in text and "| M | 100,000 |" in text
    assert "| PDM | 300 | 0.800 | 0.850 | 0.940 |" in text
    assert markdown({"scales": {}}).startswith("# Benchmark")
