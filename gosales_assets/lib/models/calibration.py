"""Probability calibrators (Platt, isotonic) and the cross-fit protocol helpers.

Calibrators are stored as plain numbers/arrays (no pickled sklearn object), so a model's
serialized bytes are canonical and its predictions do not depend on the sklearn
version once trained. See docs/metrics.md, "Calibration protocol".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.isotonic import IsotonicRegression

_CLIP = 1e-12


def logit(p: np.ndarray) -> np.ndarray:
    pc = np.clip(np.asarray(p, dtype=np.float64), _CLIP, 1 - _CLIP)
    return np.log(pc) - np.log1p(-pc)


def sigmoid(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


@dataclass(frozen=True)
class Calibrator:
    """A fitted calibrator: ``method`` is ``platt``, ``isotonic`` or ``none``.

    - platt: ``p = sigmoid(a * logit(s) + b)``; ``params = (a, b)``.
    - isotonic: ``p = interp(s, x, y)`` clipped to the fitted range (the step function
      of ``sklearn.isotonic.IsotonicRegression(out_of_bounds="clip")``).
    - none: ``p = s`` (only when calibration data is unusable; the reason is kept).
    """

    method: str
    params: tuple[float, ...] = ()
    x: tuple[float, ...] = field(default=(), repr=False)
    y: tuple[float, ...] = field(default=(), repr=False)

    def transform(self, s: np.ndarray) -> np.ndarray:
        s = np.asarray(s, dtype=np.float64)
        if self.method == "platt":
            a, b = self.params
            return sigmoid(a * logit(s) + b)
        if self.method == "isotonic":
            out = np.interp(s, np.asarray(self.x), np.asarray(self.y))
            return np.clip(out, 0.0, 1.0)
        return np.clip(s, 0.0, 1.0)

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "params": list(self.params),
            "x": list(self.x),
            "y": list(self.y),
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Calibrator:
        return cls(
            method=str(d["method"]),
            params=tuple(float(v) for v in d.get("params", ())),  # type: ignore[union-attr]
            x=tuple(float(v) for v in d.get("x", ())),  # type: ignore[union-attr]
            y=tuple(float(v) for v in d.get("y", ())),  # type: ignore[union-attr]
        )


IDENTITY = Calibrator("none")


PLATT_C = 1e6  # inverse L2 penalty on the slope: unpenalized in practice


def platt_fit(
    x: np.ndarray, y: np.ndarray, C: float = PLATT_C, max_iter: int = 100
) -> tuple[float, float]:
    """``(a, b)`` minimizing ``sum log(1 + exp(a x + b)) - y (a x + b) + a^2 / (2C)``:
    scikit-learn's ``LogisticRegression(C)`` objective on one feature, solved by
    Newton's method with step halving (a handful of vectorized passes instead of an
    iterative solver's hundreds; tested equal to scikit-learn)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    theta = np.zeros(2)

    def loss(t: np.ndarray) -> float:
        m = t[0] * x + t[1]
        return float(np.sum(np.logaddexp(0.0, m) - y * m) + t[0] ** 2 / (2 * C))

    current = loss(theta)
    for _ in range(max_iter):
        p = sigmoid(theta[0] * x + theta[1])
        r, h = p - y, p * (1.0 - p)
        grad = np.array([r @ x + theta[0] / C, r.sum()])
        hx = h @ x
        hess = np.array([[h @ (x * x) + 1.0 / C, hx], [hx, h.sum()]])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = grad / max(float(np.trace(hess)), 1e-12)
        t = 1.0
        while t > 1e-10:
            candidate = theta - t * step
            value = loss(candidate)
            if value <= current:
                break
            t /= 2
        else:
            break  # no descent possible: at the optimum within float precision
        done = float(np.max(np.abs(candidate - theta))) <= 1e-12 * (
            1.0 + float(np.max(np.abs(theta)))
        )
        theta, current = candidate, value
        if done:
            break
    return float(theta[0]), float(theta[1])


def fit_calibrator(method: str, s: np.ndarray, y: np.ndarray) -> Calibrator:
    """Fit one calibrator on scores ``s`` and labels ``y`` (both classes required)."""
    s = np.asarray(s, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0 or y.min() == y.max():
        raise ValueError("calibration needs both classes")
    if method == "platt":
        return Calibrator("platt", platt_fit(logit(s), y))
    if method == "isotonic":
        iso = IsotonicRegression(
            y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip"
        )
        iso.fit(s, y)
        return Calibrator(
            "isotonic",
            x=tuple(float(v) for v in iso.X_thresholds_),
            y=tuple(float(v) for v in iso.y_thresholds_),
        )
    raise ValueError(f"unknown calibration method {method!r}")


def group_folds(groups: Sequence[object] | np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold index (0..k-1) per row; all rows of a group share a fold.

    The distinct groups are sorted, shuffled with ``numpy.random.default_rng(seed)``
    and dealt round-robin, so the assignment depends only on the set of groups, the
    seed and ``k``.
    """
    arr = np.asarray(groups, dtype=object)
    uniq, inverse = np.unique(arr.astype(str), return_inverse=True)
    perm = np.random.default_rng(seed).permutation(uniq.size)
    fold_of_group = np.empty(uniq.size, dtype=np.int64)
    fold_of_group[perm] = np.arange(uniq.size) % k
    return fold_of_group[inverse]


@dataclass(frozen=True)
class CalibrationChoice:
    """Outcome of choosing and fitting a calibrator on out-of-fold scores."""

    calibrator: Calibrator
    reason: str
    cv_brier: dict[str, float]
    rows: int
    positives: int


def choose_calibrator(
    oof: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    methods: Sequence[str],
    isotonic_min_positives: int,
    tolerance: float,
    force: str | None = None,
) -> CalibrationChoice:
    """Pick the method by cross-validated Brier on the out-of-fold scores, then fit it.

    For each method and fold ``f``: fit on the other folds' out-of-fold scores,
    predict fold ``f``; the method's CV Brier is the mean squared error over all rows.
    The lowest CV Brier wins (within ``tolerance``, the earlier method in ``methods``).
    Isotonic is a candidate only with ``>= isotonic_min_positives`` positives. The
    winner is then fitted on all out-of-fold scores. ``force`` skips the choice and
    fits that method (used for the shipped refit, which keeps the chosen method).
    """
    y = np.asarray(y, dtype=np.float64)
    pos = int(y.sum())
    n = int(y.size)
    if n == 0 or pos == 0 or pos == n:
        return CalibrationChoice(IDENTITY, "calibration data has one class", {}, n, pos)
    allowed = [m for m in methods if m != "isotonic" or pos >= isotonic_min_positives]
    notes = []
    if "isotonic" in methods and "isotonic" not in allowed:
        notes.append(f"isotonic skipped: {pos} positives < {isotonic_min_positives}")
    if force is not None:
        if force == "isotonic" and pos < isotonic_min_positives:
            notes.append("forced isotonic lacks positives; platt used")
            force = "platt"
        if force == "none":
            return CalibrationChoice(IDENTITY, "uncalibrated (forced)", {}, n, pos)
        cal = fit_calibrator(force, oof, y)
        return CalibrationChoice(
            cal, "; ".join([f"{force} (kept)", *notes]), {}, n, pos
        )
    if not allowed:
        return CalibrationChoice(IDENTITY, "; ".join(notes), {}, n, pos)
    scores: dict[str, float] = {}
    for method in allowed:
        pred = np.empty(n, dtype=np.float64)
        ok = True
        for f in np.unique(folds):
            test = folds == f
            train = ~test
            yt = y[train]
            if yt.size == 0 or yt.min() == yt.max():
                ok = False
                break
            pred[test] = fit_calibrator(method, oof[train], yt).transform(oof[test])
        scores[method] = float(np.mean((pred - y) ** 2)) if ok else math.nan
    finite = {m: v for m, v in scores.items() if math.isfinite(v)}
    if not finite:
        # not enough data for a cross-validated choice: fall back to the first method
        best = allowed[0]
        notes.append("cross-validated choice impossible; first allowed method used")
    else:
        low = min(finite.values())
        best = next(m for m in allowed if m in finite and finite[m] <= low + tolerance)
    cal = fit_calibrator(best, oof, y)
    reason = f"{best} by out-of-fold CV Brier"
    return CalibrationChoice(cal, "; ".join([reason, *notes]), scores, n, pos)
