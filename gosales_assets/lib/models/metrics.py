"""Model metrics: each defined once, vectorized with numpy (see docs/metrics.md).

Conventions shared by every function:

- ``y`` is 0/1, ``p`` is a finite score (a probability for ``brier``/``log_loss``).
- The ranking is "score descending, then row order" (a stable sort), so ties are
  broken deterministically by the position of the row in the input.
- The top K% of ``n`` rows is the first ``k_n = max(1, floor(n * K / 100))`` rows of
  that ranking (``top_k_count``).
- A metric that is undefined on the data (no positive, one class, no weight) is
  ``nan``; nothing raises for a degenerate but well-formed input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import polars as pl

_EPS = np.finfo(np.float64).eps


def _arrays(y: Iterable[float], p: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
    ya = np.asarray(y, dtype=np.float64).ravel()
    pa = np.asarray(p, dtype=np.float64).ravel()
    if ya.shape != pa.shape:
        raise ValueError(f"y and p differ in length: {ya.size} != {pa.size}")
    if not np.all(np.isfinite(pa)):
        raise ValueError("scores must be finite (no NaN or infinity)")
    if ya.size and not np.all((ya == 0) | (ya == 1)):
        raise ValueError("labels must be 0 or 1")
    return ya, pa


def _weights(weight: Iterable[float] | None, n: int) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(weight, dtype=np.float64).ravel()
    if w.size != n:
        raise ValueError(f"weight has {w.size} values for {n} rows")
    w = np.where(np.isfinite(w), w, 0.0)
    return np.clip(w, 0.0, None)


def ranking(p: np.ndarray) -> np.ndarray:
    """Row indices by score descending, ties in row order (a stable sort)."""
    return np.argsort(-np.asarray(p, dtype=np.float64), kind="stable")


def top_k_count(n: int, k_pct: float) -> int:
    """Rows in the top ``k_pct`` percent of ``n`` rows: ``max(1, floor(n*K/100))``.

    ``0`` when ``n == 0``. A tiny epsilon absorbs floating error (``n*K/100`` that is
    an integer in exact arithmetic is never floored to the integer below).
    """
    if not 0 < k_pct <= 100:
        raise ValueError(f"k_pct must be in (0, 100], got {k_pct}")
    if n <= 0:
        return 0
    return min(n, max(1, math.floor(n * k_pct / 100 + 1e-9)))


def auc(y: Iterable[float], p: Iterable[float]) -> float:
    """ROC AUC (Mann-Whitney with mid-ranks for ties); nan with one class."""
    ya, pa = _arrays(y, p)
    n_pos = float(ya.sum())
    n_neg = float(ya.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(pa, kind="stable")
    sp = pa[order]
    # mid-ranks (1-based) of tied blocks
    starts = np.flatnonzero(np.r_[True, sp[1:] != sp[:-1]])
    ends = np.r_[starts[1:], sp.size]
    mid = (starts + ends + 1) / 2.0
    ranks = np.empty(sp.size, dtype=np.float64)
    ranks[order] = np.repeat(mid, ends - starts)
    u = float(ranks[ya == 1].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def pr_auc(y: Iterable[float], p: Iterable[float]) -> float:
    """Average precision: sum over distinct thresholds of (R_t - R_{t-1}) * P_t.

    Same definition as ``sklearn.metrics.average_precision_score`` (no trapezoidal
    interpolation); nan without a positive.
    """
    ya, pa = _arrays(y, p)
    n_pos = float(ya.sum())
    if n_pos == 0:
        return math.nan
    order = ranking(pa)
    ys, ps = ya[order], pa[order]
    # last index of each block of equal scores
    last = np.flatnonzero(np.r_[ps[1:] != ps[:-1], True])
    tps = np.cumsum(ys)[last]
    precision = tps / (last + 1)
    recall = tps / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def brier(y: Iterable[float], p: Iterable[float]) -> float:
    """Mean squared error of the probability: ``mean((p - y)^2)``; nan if empty."""
    ya, pa = _arrays(y, p)
    return float(np.mean((pa - ya) ** 2)) if ya.size else math.nan


def log_loss(y: Iterable[float], p: Iterable[float]) -> float:
    """Mean negative log-likelihood, ``p`` clipped to ``[eps, 1 - eps]``."""
    ya, pa = _arrays(y, p)
    if not ya.size:
        return math.nan
    pc = np.clip(pa, _EPS, 1 - _EPS)
    return float(-np.mean(ya * np.log(pc) + (1 - ya) * np.log1p(-pc)))


def capture_at_k(y: Iterable[float], p: Iterable[float], k_pct: float) -> float:
    """Share of all positives found in the top K%: ``sum(y_top) / sum(y)``."""
    ya, pa = _arrays(y, p)
    n_pos = ya.sum()
    if n_pos == 0:
        return math.nan
    k = top_k_count(ya.size, k_pct)
    return float(ya[ranking(pa)[:k]].sum() / n_pos)


def lift_at_k(y: Iterable[float], p: Iterable[float], k_pct: float) -> float:
    """Positive rate in the top K% divided by the overall positive rate.

    Equivalently ``capture_at_k / (k_n / n)``; nan without a positive.
    """
    ya, pa = _arrays(y, p)
    n_pos = ya.sum()
    if n_pos == 0:
        return math.nan
    k = top_k_count(ya.size, k_pct)
    top_rate = ya[ranking(pa)[:k]].mean()
    return float(top_rate / (n_pos / ya.size))


def gp_capture_at_k(
    y: Iterable[float], p: Iterable[float], weight: Iterable[float], k_pct: float
) -> float:
    """Share of the positives' weight found in the top K%.

    ``weight`` is the realized net GP in the label window; it is clipped at 0 and
    only positives count (``w_i = max(gp_i, 0) * y_i``). nan when the positives
    carry no weight. A random ranking captures ``k_n / n`` on average.
    """
    ya, pa = _arrays(y, p)
    w = _weights(weight, ya.size)
    assert w is not None
    wp = w * ya
    total = wp.sum()
    if ya.size == 0 or total <= 0:
        return math.nan
    k = top_k_count(ya.size, k_pct)
    return float(wp[ranking(pa)[:k]].sum() / total)


def gp_weighted_lift_at_k(
    y: Iterable[float], p: Iterable[float], weight: Iterable[float], k_pct: float
) -> float:
    """``gp_capture_at_k / (k_n / n)``: 1 is what a random ranking achieves on
    average; nan when the positives carry no weight."""
    ya, pa = _arrays(y, p)
    if ya.size == 0:
        return math.nan
    share = gp_capture_at_k(ya, pa, weight, k_pct)
    return share / (top_k_count(ya.size, k_pct) / ya.size)


def calibration_bins(
    y: Iterable[float], p: Iterable[float], n_bins: int = 10
) -> pl.DataFrame:
    """Equal-count bins of the score (ascending): ``bin, n, mean_p, mean_y``.

    Rows are sorted by score ascending (ties in row order) and split into
    ``min(n_bins, n)`` contiguous groups whose sizes differ by at most one (the
    first groups get the extra rows). Bin 1 holds the lowest scores.
    """
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    ya, pa = _arrays(y, p)
    schema = {
        "bin": pl.Int32,
        "n": pl.Int64,
        "mean_p": pl.Float64,
        "mean_y": pl.Float64,
    }
    if ya.size == 0:
        return pl.DataFrame(schema=schema)
    order = np.argsort(pa, kind="stable")
    groups = np.array_split(order, min(n_bins, ya.size))
    return pl.DataFrame(
        {
            "bin": list(range(1, len(groups) + 1)),
            "n": [g.size for g in groups],
            "mean_p": [float(pa[g].mean()) for g in groups],
            "mean_y": [float(ya[g].mean()) for g in groups],
        },
        schema=schema,
    )


def calibration_mae(y: Iterable[float], p: Iterable[float], n_bins: int = 10) -> float:
    """``sum_b n_b * |mean_p_b - mean_y_b| / sum_b n_b`` over ``calibration_bins``."""
    bins = calibration_bins(y, p, n_bins)
    if bins.height == 0:
        return math.nan
    n = bins["n"].to_numpy().astype(np.float64)
    gap = np.abs(bins["mean_p"].to_numpy() - bins["mean_y"].to_numpy())
    return float((n * gap).sum() / n.sum())


def gains_by_decile(
    y: Iterable[float], p: Iterable[float], weight: Iterable[float] | None = None
) -> pl.DataFrame:
    """Gains table by score decile (decile 1 = highest scores).

    Row ``i`` (0-based) of the ranking gets decile ``floor(10 * i / n) + 1``, so the
    deciles are equal-count within one row. Columns: ``decile, n, positives, rate``
    (positives / n), ``lift`` (rate / overall rate), ``cum_capture`` (positives in
    deciles 1..d / all positives), ``cum_gp_capture`` (same with the positives'
    clipped weight; null without weight) and ``mean_p``. Empty deciles (n < 10) are
    omitted.
    """
    ya, pa = _arrays(y, p)
    w = _weights(weight, ya.size)
    schema = {
        "decile": pl.Int32,
        "n": pl.Int64,
        "positives": pl.Int64,
        "rate": pl.Float64,
        "lift": pl.Float64,
        "cum_capture": pl.Float64,
        "cum_gp_capture": pl.Float64,
        "mean_p": pl.Float64,
    }
    n = ya.size
    if n == 0:
        return pl.DataFrame(schema=schema)
    order = ranking(pa)
    dec = (np.arange(n) * 10) // n  # 0..9 in ranking order
    ys, ps = ya[order], pa[order]
    counts = np.bincount(dec, minlength=10)
    pos = np.bincount(dec, weights=ys, minlength=10)
    psum = np.bincount(dec, weights=ps, minlength=10)
    keep = counts > 0
    total_pos = ys.sum()
    base = total_pos / n
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(counts > 0, pos / np.maximum(counts, 1), np.nan)
        lift = rate / base if base > 0 else np.full(10, np.nan)
        cum_cap = np.cumsum(pos) / total_pos if total_pos > 0 else np.full(10, np.nan)
    cum_gp: list[float | None]
    if w is not None and (w * ya).sum() > 0:
        wp = (w * ya)[order]
        gp = np.bincount(dec, weights=wp, minlength=10)
        cum_gp = list(np.cumsum(gp) / wp.sum())
    else:
        cum_gp = [None] * 10
    idx = np.flatnonzero(keep)
    return pl.DataFrame(
        {
            "decile": [int(i) + 1 for i in idx],
            "n": [int(counts[i]) for i in idx],
            "positives": [round(float(pos[i])) for i in idx],
            "rate": [float(rate[i]) for i in idx],
            "lift": [float(lift[i]) for i in idx],
            "cum_capture": [float(cum_cap[i]) for i in idx],
            "cum_gp_capture": [
                None if cum_gp[i] is None else float(cum_gp[i])  # type: ignore[arg-type]
                for i in idx
            ],
            "mean_p": [float(psum[i] / counts[i]) for i in idx],
        },
        schema=schema,
    )


def top_k_thresholds(p: Iterable[float], ks: Iterable[float]) -> dict[float, float]:
    """Score of the last row inside the top K% (the ``k_n``-th largest score).

    Every row with a score strictly above the threshold is in the top K%; with ties at
    the threshold, ``score >= threshold`` can select more than ``k_n`` rows. nan for
    an empty input.
    """
    pa = np.asarray(p, dtype=np.float64).ravel()
    if not np.all(np.isfinite(pa)):
        raise ValueError("scores must be finite (no NaN or infinity)")
    out: dict[float, float] = {}
    srt = np.sort(pa)[::-1]
    for k in ks:
        kn = top_k_count(pa.size, k)
        out[k] = float(srt[kn - 1]) if kn else math.nan
    return out


def evaluate(
    y: Iterable[float],
    p: Iterable[float],
    weight: Iterable[float] | None,
    *,
    top_k_percents: Iterable[float],
    gp_k_percent: float,
    n_bins: int,
    extra: Iterable[str] = (),
) -> dict[str, float]:
    """The standard metric set of a scored cutoff (names as in ``docs/metrics.md``).

    ``auc, pr_auc, brier, log_loss, calibration_mae``, ``lift@K``, ``capture@K`` and
    ``gp_capture@K`` for each K, ``gp_weighted_lift@K`` for ``gp_k_percent``,
    ``prevalence``, ``rows``, ``positives``, ``mean_p`` and ``score_std``, plus any
    ``extra`` metric names (``lift@K`` etc.). When every score is equal the ranking
    carries no information: lift, capture, GP capture and GP-weighted lift are nan,
    AUC is 0.5 and PR-AUC the prevalence.
    """
    from gosales_assets.lib.models.settings import k_label, metric_k

    ya, pa = _arrays(y, p)
    out: dict[str, float] = {
        "rows": float(ya.size),
        "positives": float(ya.sum()),
        "prevalence": float(ya.mean()) if ya.size else math.nan,
        "mean_p": float(pa.mean()) if pa.size else math.nan,
        "score_std": float(pa.std()) if pa.size else math.nan,
        "auc": auc(ya, pa),
        "pr_auc": pr_auc(ya, pa),
        "brier": brier(ya, pa),
        "log_loss": log_loss(ya, pa),
        "calibration_mae": calibration_mae(ya, pa, n_bins),
    }
    constant = pa.size == 0 or float(pa.max() - pa.min()) == 0.0
    ks = list(top_k_percents)
    wanted = [f"{kind}@{k_label(k)}" for kind in ("lift", "capture") for k in ks]
    wanted += [f"gp_capture@{k_label(k)}" for k in ks]
    wanted.append(f"gp_weighted_lift@{k_label(gp_k_percent)}")
    wanted += [e for e in extra if metric_k(e) is not None and e not in wanted]
    for name in wanted:
        kind, k = name.split("@")[0], metric_k(name)
        assert k is not None
        if constant or ya.size == 0:
            out[name] = math.nan
        elif kind == "lift":
            out[name] = lift_at_k(ya, pa, k)
        elif kind == "capture":
            out[name] = capture_at_k(ya, pa, k)
        elif weight is None:
            out[name] = math.nan
        elif kind == "gp_capture":
            out[name] = gp_capture_at_k(ya, pa, weight, k)
        else:
            out[name] = gp_weighted_lift_at_k(ya, pa, weight, k)
    return out


def finite_or_none(values: Mapping[str, float]) -> dict[str, float | None]:
    """JSON-safe copy: nan/inf become None."""
    return {
        k: (float(v) if v is not None and math.isfinite(float(v)) else None)
        for k, v in values.items()
    }
