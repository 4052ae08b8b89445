"""Quality of a default training at a moderate size (slow; `make test-slow`).

3 cutoffs x 20,000 customers x 150 features with the default settings (2 xgboost +
1 logreg grid points, only the winner calibrated, negatives sampled 2 per positive).
The time it takes is printed, never asserted: speed is measured and judged by the
benchmark (`make bench`, reports/benchmark.md).
"""

from __future__ import annotations

import pytest

from gosales_assets.lib.models.synthetic import benchmark


@pytest.mark.slow
def test_default_training_quality_at_size() -> None:
    timings = benchmark(20_000, 150)
    print({k: round(v, 2) for k, v in timings.items()})
    assert timings["validation_auc"] > 0.75
