"""The fitting sample: every positive and a seeded share of the negatives.

Most examples of a propensity target are negatives (typically 75-98%), so most of the
cost of a fit is spent on rows that carry little information each. Every fit of the
training (grid search, cross-fit folds, shipped refit) therefore uses every positive
of its rows and ``min(N, max(ceil(ratio * P), minimum))`` of its ``N`` negatives: the
ones with the smallest seeded uniform draw. One draw per row of the examples, in
canonical row order, serves every fit, so each sample depends only on the data, the
settings and the seed.

Correction of the prior: the fits use class-balanced weights computed on the sample,
which give both classes the same total weight with or without sampling, so the fit's
objective is the same in expectation and the raw score stays on the balanced scale.
Calibrators are fit on the out-of-fold scores of *every* row (sampled or not), so
they map that scale to the real positive rate (docs/metrics.md, "Fitting sample").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SAMPLE_STREAM = 1  # random stream of the draws, apart from folds and SHAP samples


def sample_draws(n: int, seed: int) -> np.ndarray:
    """One uniform draw per row (canonical order), from ``default_rng([seed, 1])``."""
    return np.random.default_rng([seed, SAMPLE_STREAM]).random(n)


def kept_negatives(positives: int, negatives: int, ratio: float, minimum: int) -> int:
    """How many negatives a fit keeps; ``ratio == 0`` keeps them all."""
    if ratio <= 0:
        return negatives
    return min(negatives, max(math.ceil(ratio * positives), minimum))


def fit_sample(
    y: np.ndarray, draws: np.ndarray, ratio: float, minimum: int
) -> np.ndarray:
    """Sorted row indices of the fitting sample of rows with labels ``y`` and
    uniform ``draws``: every positive and the kept negatives with the smallest
    draws (ties, which float64 draws practically never have, by row order)."""
    y = np.asarray(y)
    pos = np.flatnonzero(y == 1)
    neg = np.flatnonzero(y != 1)
    keep = kept_negatives(pos.size, neg.size, ratio, minimum)
    if keep >= neg.size:
        return np.arange(y.size)
    order = np.argsort(draws[neg], kind="stable")[:keep]
    return np.sort(np.concatenate([pos, neg[order]]))


@dataclass(frozen=True)
class SampleInfo:
    """What one fit was given: positives and kept/available negatives."""

    positives: int
    negatives: int
    negatives_available: int

    @classmethod
    def of(cls, y: np.ndarray, idx: np.ndarray) -> SampleInfo:
        pos = int((np.asarray(y)[idx] == 1).sum())
        return cls(pos, int(idx.size) - pos, int((np.asarray(y) != 1).sum()))

    @property
    def sampled(self) -> bool:
        return self.negatives < self.negatives_available

    def describe(self) -> str:
        return (
            f"{self.positives} positives + {self.negatives} of "
            f"{self.negatives_available} negatives"
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "positives": self.positives,
            "negatives": self.negatives,
            "negatives_available": self.negatives_available,
        }
