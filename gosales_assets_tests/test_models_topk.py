"""top_k_columns is a stable descending argsort cut to k columns."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gosales_assets.lib.models.topk import top_k_columns


def reference(key: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-key, axis=1, kind="stable")[:, :k]


def test_ties_keep_column_order_by_hand() -> None:
    key = np.array(
        [
            [0.0, 2.0, 2.0, 1.0, 2.0],  # three-way tie across the cut
            [0.0, 0.0, 0.0, 0.0, 0.0],  # all equal: the first three columns
            [-1.0, -3.0, 5.0, -2.0, 0.0],  # negatives below zero
        ]
    )
    got = top_k_columns(key, 3)
    assert got.tolist() == [[1, 2, 4], [0, 1, 2], [2, 4, 0]]
    assert top_k_columns(key, 1).tolist() == [[1], [0], [2]]


def test_k_at_least_the_width_is_the_full_argsort() -> None:
    key = np.array([[3.0, 1.0, 3.0]])
    assert top_k_columns(key, 5).tolist() == [[0, 2, 1]]


def test_nan_and_infinite_keys_follow_the_argsort() -> None:
    key = np.zeros((2, 24))
    key[0, :4] = [np.nan, 1.0, 2.0, 1.0]
    key[1, :4] = [-np.inf, 0.5, np.inf, 0.5]
    assert np.array_equal(top_k_columns(key, 2), reference(key, 2))


def test_empty_and_invalid_inputs() -> None:
    assert top_k_columns(np.zeros((0, 4)), 3).shape == (0, 3)
    with pytest.raises(ValueError, match="k must be"):
        top_k_columns(np.zeros((2, 2)), 0)
    with pytest.raises(ValueError, match="matrix"):
        top_k_columns(np.zeros(3), 1)


@settings(max_examples=200, deadline=None)
@given(
    key=arrays(
        np.float64,
        st.tuples(st.integers(1, 12), st.integers(1, 40)),
        # a few distinct values: ties everywhere, at and across the cut
        elements=st.sampled_from([-1.5, -0.25, 0.0, 0.0, 0.25, 1.0, 2.0]),
    ),
    k=st.integers(1, 6),
)
def test_equals_the_stable_argsort(key: np.ndarray, k: int) -> None:
    assert np.array_equal(top_k_columns(key, k), reference(key, k))


def test_equals_the_stable_argsort_on_wide_continuous_rows() -> None:
    rng = np.random.default_rng(3)
    key = rng.normal(size=(500, 150))
    key[:, 100:] = 0.0  # unused features contribute exactly zero
    key[::7, :] = np.round(key[::7, :], 1)  # coarse rows tie often
    for k in (1, 3, 5):
        assert np.array_equal(top_k_columns(key, k), reference(key, k))
