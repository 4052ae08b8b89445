"""Exact path-dependent TreeSHAP for shallow XGBoost trees, vectorized over rows.

xgboost's ``pred_contribs`` walks every tree for every row and adds a full feature
vector per tree, so its cost per row grows with trees x (leaves x depth^2 +
features). For shallow trees the same values come cheaper from tables:

For one leaf with value ``v``, let ``U`` be the distinct features split on along its
path (``d = |U|``), ``z_k`` the product of the cover fractions
``cover(child on the path) / cover(node)`` over the path's splits on feature ``k``
and ``o_k`` in {0, 1} whether the row takes the path's direction at all of them.
TreeSHAP (Lundberg et al. 2020, Algorithm 2) credits feature ``i`` in ``U`` with

    v * (o_i - z_i) * sum over S in U - {i} of
        |S|! (d - |S| - 1)! / d! * prod(o_k, k in S) * prod(z_k, k not in S, k != i)

and nothing to features off the path. The ``o`` bits are the only row-dependent
part, so each leaf gets a table over its ``2^d`` bit patterns once per model; a row
then needs one comparison per split node and one table lookup per (leaf, feature).
The sum over subsets is the polynomial ``prod_k (z_k + o_k t)`` weighted by its
coefficients, computed for all patterns at once.

Values equal xgboost's to float32 rounding (it accumulates in float32; this module in
float64). Categorical splits, multi-output models, non-tree boosters and trees
deeper than :data:`MAX_DEPTH` are not compiled: ``compile_trees`` returns ``None``
and the caller keeps xgboost's own TreeSHAP.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_DEPTH = 8  # 2^8 patterns x 8 features per leaf; deeper trees keep xgboost
ROW_CHUNK = 16_384  # rows per block: the block's columns stay in cache


@dataclass(frozen=True)
class _Leaf:
    features: np.ndarray  # (d,) distinct feature indices on the path
    nodes: np.ndarray  # (steps,) split node ids, root first
    left: np.ndarray  # (steps,) True where the path goes left
    slots: np.ndarray  # (steps,) index into ``features`` of each split's feature
    table: np.ndarray  # (d, 2^d) contribution per feature and pattern of o bits


@dataclass(frozen=True)
class _Tree:
    split_nodes: np.ndarray  # internal node ids
    split_features: np.ndarray
    thresholds: np.ndarray  # float32, as xgboost compares them
    default_left: np.ndarray  # where a missing value goes
    leaves: tuple[_Leaf, ...]


@dataclass(frozen=True)
class CompiledTrees:
    """Per-leaf TreeSHAP tables of a booster's first ``n_trees`` trees."""

    trees: tuple[_Tree, ...]
    n_features: int

    def contributions(self, X: np.ndarray, nthread: int = 1) -> np.ndarray:
        """Exact TreeSHAP values (rows x features, float64, bias excluded) of the
        rows of ``X`` (features in the booster's column order, NaN = missing)."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"expected a matrix with {self.n_features} columns, got {X.shape}"
            )
        n = X.shape[0]
        out = np.zeros((n, self.n_features), dtype=np.float64)
        if n == 0 or not self.trees:
            return out
        # xgboost compares float32 values with float32 thresholds
        X32 = np.asarray(X, dtype=np.float32)
        blocks = [(s, min(s + ROW_CHUNK, n)) for s in range(0, n, ROW_CHUNK)]
        workers = max(1, min(nthread if nthread > 0 else os.cpu_count() or 1, 64))

        def run(block: tuple[int, int]) -> None:
            s, e = block
            out[s:e] = self._block(X32[s:e])

        if workers == 1 or len(blocks) == 1:
            for block in blocks:
                run(block)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(run, blocks))
        return out

    def _block(self, X32: np.ndarray) -> np.ndarray:
        m = X32.shape[0]
        cols = np.asfortranarray(X32)
        acc = np.zeros((self.n_features, m), dtype=np.float64)  # a row per feature
        for tree in self.trees:
            goes_left: dict[int, np.ndarray] = {}
            for node, f, thr, dl in zip(
                tree.split_nodes.tolist(),
                tree.split_features.tolist(),
                tree.thresholds,
                tree.default_left.tolist(),
                strict=True,
            ):
                x = cols[:, f]
                lt = x < thr
                if dl:
                    lt |= np.isnan(x)
                goes_left[node] = lt
            for leaf in tree.leaves:
                pattern = np.full(m, (1 << len(leaf.features)) - 1, dtype=np.int64)
                for node, left, slot in zip(
                    leaf.nodes.tolist(),
                    leaf.left.tolist(),
                    leaf.slots.tolist(),
                    strict=True,
                ):
                    off_path = ~goes_left[node] if left else goes_left[node]
                    pattern &= ~(off_path.astype(np.int64) << slot)
                values = np.take(leaf.table, pattern, axis=1)  # (d, m)
                for i, f in enumerate(leaf.features.tolist()):
                    acc[f] += values[i]
        return acc.T


def _subset_weights(d: int) -> np.ndarray:
    """Shapley weights |S|! (d - |S| - 1)! / d! for |S| = 0..d-1."""
    return np.array(
        [
            math.factorial(r) * math.factorial(d - r - 1) / math.factorial(d)
            for r in range(d)
        ]
    )


def leaf_table(value: float, zero_fractions: Sequence[float]) -> np.ndarray:
    """``(2^d, d)`` TreeSHAP credit of each of a leaf's ``d`` path features for each
    pattern of o bits (bit ``k`` of the pattern = o of feature ``k``)."""
    z = np.asarray(zero_fractions, dtype=np.float64)
    d = z.size
    patterns = np.arange(1 << d)
    o = ((patterns[:, None] >> np.arange(d)) & 1).astype(np.float64)  # (P, d)
    weights = _subset_weights(d)
    table = np.empty((1 << d, d), dtype=np.float64)
    for i in range(d):
        # coefficients of prod over k != i of (z_k + o_k t), for every pattern
        coef = np.zeros((1 << d, d), dtype=np.float64)
        coef[:, 0] = 1.0
        for k in range(d):
            if k == i:
                continue
            shifted = np.zeros_like(coef)
            shifted[:, 1:] = coef[:, :-1] * o[:, k : k + 1]
            coef = coef * z[k] + shifted
        table[:, i] = value * (o[:, i] - z[i]) * (coef @ weights)
    return table


def _tree(tree: dict[str, Any]) -> _Tree | None:
    left_children = tree["left_children"]
    right_children = tree["right_children"]
    features = tree["split_indices"]
    conditions = tree["split_conditions"]
    cover = tree["sum_hessian"]
    if any(int(t) != 0 for t in tree.get("split_type", [])):
        return None  # categorical splits
    leaves: list[_Leaf] = []
    # depth-first walk; a stack of (node, path as [(node, goes left)])
    stack: list[tuple[int, list[tuple[int, bool]]]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        if left_children[node] == -1:
            if len(path) > MAX_DEPTH:
                return None
            uniq: list[int] = []
            zero: dict[int, float] = {}
            slots: list[int] = []
            for parent, left in path:
                f = int(features[parent])
                if f not in zero:
                    uniq.append(f)
                    zero[f] = 1.0
                child = left_children[parent] if left else right_children[parent]
                zero[f] *= float(cover[child]) / float(cover[parent])
                slots.append(uniq.index(f))
            value = float(np.float32(conditions[node]))
            if uniq:
                leaves.append(
                    _Leaf(
                        features=np.array(uniq, dtype=np.intp),
                        nodes=np.array([p for p, _ in path], dtype=np.intp),
                        left=np.array([lf for _, lf in path], dtype=bool),
                        slots=np.array(slots, dtype=np.intp),
                        table=np.ascontiguousarray(
                            leaf_table(value, [zero[f] for f in uniq]).T
                        ),
                    )
                )
            continue
        stack.append((right_children[node], [*path, (node, False)]))
        stack.append((left_children[node], [*path, (node, True)]))
    split = [i for i, c in enumerate(left_children) if c != -1]
    return _Tree(
        split_nodes=np.array(split, dtype=np.intp),
        split_features=np.array([features[i] for i in split], dtype=np.intp),
        thresholds=np.array([conditions[i] for i in split], dtype=np.float32),
        default_left=np.array([bool(tree["default_left"][i]) for i in split]),
        leaves=tuple(leaves),
    )


def compile_trees(model_json: bytes | str, n_trees: int) -> CompiledTrees | None:
    """Tables of the first ``n_trees`` trees of a booster saved as JSON
    (``booster.save_raw("json")``); ``None`` when the model is not a single-output
    gbtree model with numeric splits at most :data:`MAX_DEPTH` deep."""
    doc = json.loads(model_json)
    learner = doc["learner"]
    booster = learner["gradient_booster"]
    if booster.get("name") != "gbtree":
        return None
    params = learner.get("learner_model_param", {})
    if int(params.get("num_class", "0") or 0) > 1:
        return None
    if int(params.get("num_target", "1") or 1) > 1:
        return None
    model = booster["model"]
    if int(model["gbtree_model_param"].get("num_parallel_tree", "1")) != 1:
        return None
    compiled = []
    for tree in model["trees"][:n_trees]:
        t = _tree(tree)
        if t is None:
            return None
        compiled.append(t)
    n_features = int(params.get("num_feature", "0"))
    return CompiledTrees(trees=tuple(compiled), n_features=n_features)
