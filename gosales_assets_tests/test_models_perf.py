"""Performance budget of a full-grid training (slow; `make test-slow`).

Measured on 2 cores (see docs/metrics.md, "Performance"): 3 cutoffs x 100,000
customers x 150 features, default grid (8 xgboost + 4 logreg points) about 5 minutes.
This test runs a fifth of that size with a proportionate budget.
"""

from __future__ import annotations

import pytest

from gosales_assets.lib.models.synthetic import benchmark


@pytest.mark.slow
def test_full_grid_training_budget() -> None:
    timings = benchmark(20_000, 150)
    print({k: round(v, 2) for k, v in timings.items()})
    assert timings["validation_auc"] > 0.75
    assert timings["total_s"] < 150.0
