"""Synthetic training examples with a known logistic signal (tests and benchmark).

``python -m gosales_assets.lib.models.synthetic [customers] [features]`` times a full
training on 3 cutoffs (the default grid) and prints the phases.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

CUTOFFS = (dt.date(2023, 12, 31), dt.date(2024, 6, 30), dt.date(2024, 12, 31))


def synthetic_examples(
    n_customers: int = 2000,
    n_features: int = 20,
    cutoffs: tuple[dt.date, ...] = CUTOFFS,
    seed: int = 0,
    intercept: float = -2.5,
) -> tuple[pl.DataFrame, list[str]]:
    """``cutoff, customer_id, label, net_gp`` + ``f00..`` features.

    ``P(label=1) = sigmoid(intercept + x . beta)`` with five informative features;
    positives carry a gamma-distributed net GP, negatives a small noisy one.
    Feature dtypes mix Float64, Int32 and Int8 like the real catalog.
    """
    rng = np.random.default_rng(seed)
    beta = np.zeros(n_features)
    beta[:5] = [1.2, -0.8, 0.6, 0.5, -0.4]
    names = [f"f{j:02d}" for j in range(n_features)]
    frames = []
    for c in cutoffs:
        X = rng.normal(size=(n_customers, n_features))
        X[:, -1] = (X[:, -1] > 0).astype(float)  # an Int8 flag
        X[:, -2] = np.round(3 * np.abs(X[:, -2]))  # an Int32 count
        z = intercept + X @ beta
        y = (rng.random(n_customers) < 1 / (1 + np.exp(-z))).astype(np.int8)
        gp = np.where(
            y == 1, rng.gamma(2.0, 500.0, n_customers), rng.normal(0, 10, n_customers)
        )
        data: dict[str, object] = {
            "cutoff": [c] * n_customers,
            "customer_id": [f"C{i:05d}" for i in range(n_customers)],
            "label": y,
            "net_gp": gp,
        }
        for j, name in enumerate(names):
            data[name] = X[:, j]
        df = pl.DataFrame(data).with_columns(
            pl.col("label").cast(pl.Int8),
            pl.col(names[-1]).cast(pl.Int8),
            pl.col(names[-2]).cast(pl.Int32),
        )
        frames.append(df)
    return pl.concat(frames), names


def benchmark(
    n_customers: int = 100_000, n_features: int = 150, intercept: float = -4.0
) -> dict[str, float]:
    """Time ``train_model`` with the default settings; returns the timings."""
    import time

    from gosales_assets.lib.models.train import train_model

    start = time.perf_counter()
    examples, names = synthetic_examples(
        n_customers, n_features, seed=1, intercept=intercept
    )
    generated = time.perf_counter() - start
    model = train_model(examples, names, CUTOFFS[-1])
    out = {"generate_s": generated, **model.timings}
    out["validation_auc"] = model.validation_metrics.get("auc", float("nan"))
    return out


if __name__ == "__main__":  # pragma: no cover - manual benchmark
    import sys

    args = [int(a) for a in sys.argv[1:3]]
    for key, value in benchmark(*args).items():
        print(f"{key}: {value:.3f}")
