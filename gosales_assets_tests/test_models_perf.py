"""Performance budget of a default training (slow; `make test-slow`).

Measured on 2 cores (see docs/metrics.md, "Performance"): 3 cutoffs x 20,000
customers x 150 features with the default settings (2 xgboost + 1 logreg grid
points, only the winner calibrated, negatives sampled 2 per positive) in about 13 s
of one core; the budget leaves room for a busy machine.
"""

from __future__ import annotations

import pytest

from gosales_assets.lib.models.synthetic import benchmark


@pytest.mark.slow
def test_default_training_budget() -> None:
    timings = benchmark(20_000, 150)
    print({k: round(v, 2) for k, v in timings.items()})
    assert timings["validation_auc"] > 0.75
    assert timings["total_s"] < 45.0
