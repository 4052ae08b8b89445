"""The forward metric set of bootstrap resamples of a *ranked* sample, fast.

A resample keeps the input order (``bootstrap.resample_indices``). When the input is
already in ranking order (score descending, ties in row order, as
``forward.evaluation_frame`` returns it), every resample is too, so the metrics need
no sort at all: the top K% is a prefix, the tie blocks are runs of equal scores and
the ascending order (for AUC ranks and calibration bins) is the runs in reverse.

:class:`RankedMetrics` evaluates ``models.metrics.evaluate``'s metric set on the rows
of a resample with exactly the operations of the reference functions on the same
values in the same order (row-wise terms are computed once per account and gathered;
sums run over the resample's values in the same sequence), so each value is
bit-for-bit the one ``evaluate`` returns on the repeated rows.
``test_forward_validation_lib.py`` checks that equality on random ranked samples with
ties.
"""

from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from gosales_assets.lib.models.metrics import top_k_count
from gosales_assets.lib.models.settings import k_label

if TYPE_CHECKING:
    from gosales_assets.lib.validation.forward import ForwardSettings

_EPS = np.finfo(np.float64).eps


def is_ranked(p: np.ndarray) -> bool:
    """True when ``p`` is non-increasing (the ranking order, ties in row order)."""
    return bool(p.size < 2 or np.all(p[1:] <= p[:-1]))


class RankedMetrics:
    """The metric set of ``settings`` (``forward.ForwardSettings``) on resamples of
    a ranked sample ``y, p, gp``."""

    def __init__(
        self, y: np.ndarray, p: np.ndarray, gp: np.ndarray, settings: ForwardSettings
    ) -> None:
        y = np.asarray(y, dtype=np.float64)
        p = np.asarray(p, dtype=np.float64)
        if not is_ranked(p):
            raise ValueError("RankedMetrics needs scores in ranking order")
        self.y, self.p = y, p
        self.rows = np.arange(y.size)
        self.brier_term = (p - y) ** 2
        pc = np.clip(p, _EPS, 1 - _EPS)
        self.log_term = y * np.log(pc) + (1 - y) * np.log1p(-pc)
        w = np.asarray(gp, dtype=np.float64)
        w = np.clip(np.where(np.isfinite(w), w, 0.0), 0.0, None)
        self.gp_term = w * y
        self.names: list[str] = list(settings.metric_names)
        self.ks = [(k, k_label(k)) for k in settings.top_k_percents]
        self.gp_k = settings.gp_lift_k_percent
        self.n_bins = settings.calibration_bins

    def of_counts(self, counts: np.ndarray) -> dict[str, float]:
        """The metrics of the resample holding row ``i`` ``counts[i]`` times, in
        row order."""
        idx = np.repeat(self.rows, counts)
        ys = self.y.take(idx)
        ps = self.p.take(idx)
        m = ys.size
        out = dict.fromkeys(self.names, math.nan)
        if m == 0:
            return out
        n_pos = float(ys.sum())
        out["prevalence"] = float(ys.mean())
        out["mean_p"] = float(ps.mean())
        out["brier"] = float(np.mean(self.brier_term.take(idx)))
        out["log_loss"] = float(-np.mean(self.log_term.take(idx)))
        # runs of equal scores, descending: [starts[b], ends[b])
        starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
        ends = np.r_[starts[1:], m]
        cum_y = np.cumsum(ys)
        n_neg = float(m - n_pos)
        if n_pos > 0 and n_neg > 0:
            run_pos = cum_y[ends - 1] - np.r_[0.0, cum_y[starts[1:] - 1]]
            # 1-based ascending mid-rank of each run
            mid = ((m - ends) + (m - starts) + 1) / 2.0
            u = float((run_pos * mid).sum()) - n_pos * (n_pos + 1) / 2.0
            out["auc"] = u / (n_pos * n_neg)
        if n_pos > 0:
            last = ends - 1
            tps = cum_y[last]
            precision = tps / (last + 1)
            recall = tps / n_pos
            out["pr_auc"] = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
        out["calibration_mae"] = self._calibration_mae(ps, cum_y, starts, ends)
        if float(ps[0] - ps[-1]) == 0.0:  # a constant score ranks nothing
            return out
        ys_pos = ys.sum()
        gp = self.gp_term.take(idx)
        gp_total = gp.sum()
        for k, label in self.ks:
            kn = top_k_count(m, k)
            if ys_pos != 0:
                out[f"lift@{label}"] = float(ys[:kn].mean() / (ys_pos / m))
                out[f"capture@{label}"] = float(ys[:kn].sum() / ys_pos)
            if gp_total > 0:
                out[f"gp_capture@{label}"] = float(gp[:kn].sum() / gp_total)
        if gp_total > 0:
            kn = top_k_count(m, self.gp_k)
            share = float(gp[:kn].sum() / gp_total)
            out[f"gp_weighted_lift@{k_label(self.gp_k)}"] = share / (kn / m)
        return out

    def _calibration_mae(
        self, ps: np.ndarray, cum_y: np.ndarray, starts: np.ndarray, ends: np.ndarray
    ) -> float:
        """``calibration_mae``: equal-count bins of the ascending stable order, that
        is the runs of equal scores in reverse order, each run in row order."""
        m = ps.size
        k = min(self.n_bins, m)
        sizes = np.full(k, m // k)
        sizes[: m % k] += 1
        bounds = np.r_[0, np.cumsum(sizes)]
        p_asc = ps[::-1].copy()  # the ascending values (equal within a run)
        # positives among the first q rows of the ascending order: the runs below
        # q's run entirely, then the first rows of its run in row order
        asc_start = m - ends  # ascending start of each run (descending in b)
        run = np.searchsorted(-asc_start, -bounds[:-1], side="left")
        run = np.minimum(run, starts.size - 1)
        below = cum_y[-1] - cum_y[ends[run] - 1]
        first = bounds[:-1] - asc_start[run]
        before_run = np.where(starts[run] > 0, cum_y[starts[run] - 1], 0.0)
        within = np.where(
            first > 0, cum_y[starts[run] + np.maximum(first, 1) - 1] - before_run, 0.0
        )
        pos_before = np.r_[below + within, cum_y[-1]]
        positives = np.diff(pos_before)
        mean_p = np.array([p_asc[a:b].mean() for a, b in itertools.pairwise(bounds)])
        mean_y = positives / sizes
        n = sizes.astype(np.float64)
        gap = np.abs(mean_p - mean_y)
        return float((n * gap).sum() / n.sum())


# resamples drawn ahead and evaluated together on the worker threads
_BATCH = 16
THREADS = max(1, min(4, os.cpu_count() or 1))


def bootstrap_ranked(
    metrics: RankedMetrics, resamples: int, seed: int, threads: int = THREADS
) -> dict[str, np.ndarray]:
    """The value of every metric in each of ``resamples`` seeded resamples (nan where
    undefined): the draws of ``bootstrap.bootstrap_intervals`` with the same seed.

    The draws are made in order on the calling thread; the resamples, independent
    of each other, are evaluated on ``threads`` threads (numpy works without the
    GIL) and stored by resample number, so the result does not depend on it."""
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    n = metrics.y.size
    rng = np.random.default_rng(seed)
    draws = {name: np.full(resamples, np.nan) for name in metrics.names}
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for first in range(0, resamples, _BATCH):
            # the draws of ``resample_indices``, kept as counts per row
            batch = [
                np.bincount(rng.integers(0, n, size=n), minlength=n)
                for _ in range(first, min(first + _BATCH, resamples))
            ]
            for r, values in enumerate(pool.map(metrics.of_counts, batch), first):
                for name, value in values.items():
                    draws[name][r] = value
    return draws
