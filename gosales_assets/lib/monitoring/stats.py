"""Distribution distances for drift monitoring: PSI on the reference's quantile bins
and the two-sample Kolmogorov-Smirnov statistic (numpy, no Dagster).

Both measure the current sample *at the resolution of the reference*: bin edges and
KS evaluation points lie halfway between consecutive distinct reference values, never
on one. A feature with a few distinct values (an encoded industry rate, a prior-filled
share, a 0/1 flag) then keeps each value inside its own cell, and a value that moves
by less than half the gap to its neighbour (a prior re-estimated at the new cutoff)
is not drift; a new value, or mass moving between values, is.

Both take the *reference* sample first. Missing values (null, NaN, +-inf) are dropped;
an empty side is refused (``ValueError``). :func:`psi_noise_floor` and
:func:`ks_noise_floor` give the value that sampling noise alone exceeds with
probability ``alpha`` when nothing drifted, for the sample sizes at hand.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property
from statistics import NormalDist

import numpy as np


def finite(values: np.ndarray) -> np.ndarray:
    """The finite values of ``values`` as float64."""
    arr = np.asarray(values, dtype=np.float64)
    return arr[np.isfinite(arr)]


@dataclass(frozen=True)
class Support:
    """A sample summarized once: its distinct values (ascending), how often each
    occurs, its size and its mean (summed in sorted order, so it does not depend on
    the row order)."""

    values: np.ndarray
    counts: np.ndarray
    mean: float

    @classmethod
    def of(cls, sample: np.ndarray, what: str = "sample") -> Support:
        arr = np.sort(finite(sample))
        if arr.size == 0:
            raise ValueError(f"the {what} has no finite value")
        return cls.from_sorted(arr)

    @classmethod
    def from_sorted(cls, arr: np.ndarray) -> Support:
        """From a non-empty, finite, ascending array."""
        keep = np.empty(arr.size, dtype=bool)
        keep[0] = True
        np.not_equal(arr[1:], arr[:-1], out=keep[1:])
        starts = np.flatnonzero(keep)
        return cls(arr[starts], np.diff(np.append(starts, arr.size)), float(arr.mean()))

    @classmethod
    def from_counts(cls, values: np.ndarray, counts: np.ndarray) -> Support:
        """From distinct ascending values and their (positive) counts; the mean is
        that of the sorted sample they describe."""
        return cls(values, counts, float(np.repeat(values, counts).mean()))

    @cached_property
    def ends(self) -> np.ndarray:
        """Number of values at or below each distinct value."""
        return np.cumsum(self.counts)

    @cached_property
    def n(self) -> int:
        return int(self.ends[-1])

    @cached_property
    def cum(self) -> np.ndarray:
        """Cumulative share at each distinct value."""
        return self.ends / self.n

    def at_or_below(self, points: np.ndarray) -> np.ndarray:
        """How many values are <= each of ``points``."""
        idx = np.searchsorted(self.values, points, side="right")
        return np.where(idx > 0, self.ends[np.maximum(idx - 1, 0)], 0)


def _edges(ref: Support, bins: int) -> np.ndarray:
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    values = ref.values
    if values.size == 1:
        v = values[0]
        return np.array([np.nextafter(v, -np.inf), v])
    mids = (values[:-1] + values[1:]) / 2
    probs = np.arange(1, bins) / bins
    index = np.searchsorted(ref.cum, probs - 1e-12, side="left")
    return np.unique(mids[index[index < mids.size]])


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Interior bin edges for ``bins`` reference-quantile bins.

    For each target share ``q = 1/bins .. (bins-1)/bins`` take the smallest distinct
    reference value ``u_j`` whose cumulative share reaches ``q`` and put the edge
    halfway to the next distinct value ``u_{j+1}``; duplicates collapse (a mass point
    is one bin). Bins are ``(-inf, e1], (e1, e2], ..., (ek, inf)``. A constant
    reference ``v`` gets the edges ``[v-, v]``: below, exactly ``v``, above.
    """
    return _edges(Support.of(reference, "reference sample"), bins)


def _shares(sample: Support, edges: np.ndarray, epsilon: float) -> np.ndarray:
    # counts per bin (e_{i-1}, e_i]
    cuts = sample.at_or_below(edges)
    counts = np.diff(np.concatenate([[0], cuts, [sample.n]])).astype(np.float64)
    shares = np.maximum(counts / sample.n, epsilon)
    return shares / shares.sum()


def bin_shares(values: np.ndarray, edges: np.ndarray, epsilon: float) -> np.ndarray:
    """Share of ``values`` in each bin of ``edges``; an empty bin gets ``epsilon`` and
    the shares are renormalized to sum to 1."""
    return _shares(Support.of(values), edges, epsilon)


def _psi(ref: Support, cur: Support, bins: int, epsilon: float) -> tuple[float, int]:
    edges = _edges(ref, bins)
    r = _shares(ref, edges, epsilon)
    c = _shares(cur, edges, epsilon)
    return max(float(np.sum((c - r) * np.log(c / r))), 0.0), int(edges.size + 1)


def psi(
    reference: np.ndarray, current: np.ndarray, bins: int = 10, epsilon: float = 1e-4
) -> tuple[float, int]:
    """Population stability index of ``current`` against ``reference`` and the number
    of bins used: ``sum_i (c_i - r_i) * ln(c_i / r_i)`` over the bins of
    :func:`quantile_edges`, shares from :func:`bin_shares`. 0 for identical samples;
    never negative."""
    return _psi(
        Support.of(reference, "reference sample"), Support.of(current), bins, epsilon
    )


def _ks_points(ref: Support) -> np.ndarray:
    values = ref.values
    if values.size == 1:
        v = values[0]
        return np.array([np.nextafter(v, -np.inf), v])
    mids = (values[:-1] + values[1:]) / 2
    low = values[0] - (values[1] - values[0]) / 2
    high = values[-1] + (values[-1] - values[-2]) / 2
    return np.concatenate([[low], mids, [high]])


def ks_points(reference: np.ndarray) -> np.ndarray:
    """Where the KS statistic compares the two CDFs: halfway between consecutive
    distinct reference values, and half a neighbouring gap below the smallest and
    above the largest (a constant reference ``v``: just below ``v`` and at ``v``)."""
    return _ks_points(Support.of(reference, "reference sample"))


def _ks(ref: Support, cur: Support) -> float:
    # the reference CDF at its own points is known: 0 below, cum at each midpoint, 1
    points = _ks_points(ref)
    if ref.values.size == 1:
        cdf_a = np.array([0.0, 1.0])
    else:
        cdf_a = np.concatenate([[0.0], ref.cum[:-1], [1.0]])
    cdf_b = cur.at_or_below(points) / cur.n
    return float(np.max(np.abs(cdf_a - cdf_b)))


def ks_statistic(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sample KS statistic at the reference's resolution: the largest gap between
    the two empirical CDFs over :func:`ks_points`. With a continuous reference this
    is the classical statistic up to where, between two reference values, the
    current sample's own jumps fall."""
    return _ks(Support.of(reference, "reference sample"), Support.of(current))


def measure(
    reference: np.ndarray, current: np.ndarray, bins: int, epsilon: float
) -> dict[str, float | int]:
    """PSI, its bins, KS, sizes and means of one comparison, each sample sorted once.
    Means are summed in sorted order, so they do not depend on the row order."""
    return measure_supports(
        Support.of(reference, "reference sample"),
        Support.of(current, "current sample"),
        bins,
        epsilon,
    )


def measure_supports(
    ref: Support, cur: Support, bins: int, epsilon: float
) -> dict[str, float | int]:
    """:func:`measure` of two summarized samples."""
    value, used = _psi(ref, cur, bins, epsilon)
    return {
        "psi": value,
        "ks": _ks(ref, cur),
        "bins": used,
        "n_reference": ref.n,
        "n_current": cur.n,
        "mean_reference": ref.mean,
        "mean_current": cur.mean,
    }


def chi2_quantile(p: float, df: np.ndarray) -> np.ndarray:
    """Chi-square quantiles for degrees of freedom ``df`` (Wilson-Hilferty; slightly
    conservative, i.e. too large, for 1-2 degrees of freedom)."""
    z = NormalDist().inv_cdf(p)
    k = np.maximum(np.asarray(df, dtype=np.float64), 1.0)
    return k * (1 - 2 / (9 * k) + z * np.sqrt(2 / (9 * k))) ** 3


def psi_noise_floor(
    bins: np.ndarray, n_reference: np.ndarray, n_current: np.ndarray, p: float
) -> np.ndarray:
    """The PSI that two samples of one distribution exceed with probability ``p``:
    ``chi2_{1-p}(bins - 1) * (1/n_reference + 1/n_current)`` (PSI is asymptotically
    that scaled chi-square). Vectorized over rows."""
    scale = 1 / np.asarray(n_reference, dtype=np.float64) + 1 / np.asarray(
        n_current, dtype=np.float64
    )
    return chi2_quantile(1 - p, np.asarray(bins) - 1) * scale


def ks_noise_floor(
    n_reference: np.ndarray, n_current: np.ndarray, p: float
) -> np.ndarray:
    """The KS statistic two samples of one distribution exceed with probability ``p``
    (asymptotic): ``sqrt(-ln(p / 2) / 2) * sqrt(1/n + 1/m)``. Vectorized."""
    scale = 1 / np.asarray(n_reference, dtype=np.float64) + 1 / np.asarray(
        n_current, dtype=np.float64
    )
    return math.sqrt(-math.log(p / 2) / 2) * np.sqrt(scale)


# an integer column is counted (no sort) when its range spans at most this many
# cells per row of the sample (segments x range)
_COUNT_CELLS_PER_ROW = 4


def _from_counts_row(low: float, counts: np.ndarray) -> Support | None:
    nz = np.flatnonzero(counts)
    if nz.size == 0:
        return None
    return Support.from_counts(nz.astype(np.float64) + low, counts[nz])


@dataclass(frozen=True)
class Grouping:
    """The group of each row (``codes``, ``0 .. count-1``), with the rows ordered
    by group (stable) and the group sizes, computed once for many columns."""

    codes: np.ndarray
    count: int
    order: np.ndarray
    sizes: np.ndarray

    @classmethod
    def of(cls, codes: np.ndarray, count: int) -> Grouping:
        # small integer codes: numpy's stable sort is a counting (radix) sort
        small = codes.astype(np.int16 if count < 2**15 else np.int64)
        return cls(
            small,
            count,
            np.argsort(small, kind="stable"),
            np.bincount(small, minlength=count),
        )

    def subset(self, keep: np.ndarray) -> Grouping:
        return Grouping.of(self.codes[keep], self.count)


def grouped_supports(
    values: np.ndarray,
    groups: Grouping | None,
    *,
    integer: bool = False,
) -> tuple[Support | None, list[Support | None]]:
    """The :class:`Support` of a whole sample and of each of its groups (None where
    a group, or the sample, has no finite value; no groups without ``groups``).

    ``integer``: the values are whole numbers (an integer column cast to float);
    when their range is small they are counted instead of sorted, as are
    whole-valued floats. Otherwise the sample is sorted once and each group once.
    Either way the supports, and their means, are exactly those of
    :meth:`Support.of` on each group's values.
    """
    x = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(x)
    if not ok.all():
        x = x[ok]
        groups = None if groups is None else groups.subset(ok)
    g = 0 if groups is None else groups.count
    if x.size == 0:
        return None, [None] * g
    if not integer:
        # whole-valued floats (counts stored as float) are counted too; a negative
        # zero keeps the sort, which is what tells it apart from 0.0
        integer = bool(np.array_equal(x, np.trunc(x))) and not bool(
            np.signbit(x[x == 0]).any()
        )
    if integer:
        low, high = float(x.min()), float(x.max())
        cells = int(high - low) + 1
        if cells * max(g, 1) <= _COUNT_CELLS_PER_ROW * x.size + 1024:
            offset = (x - low).astype(np.int64)
            whole = np.bincount(offset, minlength=cells)
            parts: list[Support | None] = []
            if groups is not None:
                table = np.bincount(
                    groups.codes.astype(np.int64) * cells + offset,
                    minlength=g * cells,
                ).reshape(g, cells)
                parts = [_from_counts_row(low, row) for row in table]
            return _from_counts_row(low, whole), parts
    if groups is None:
        return Support.from_sorted(np.sort(x)), []
    # sort each group, then merge the sorted groups into the whole sample: numpy's
    # stable sort finds the sorted runs (about half the cost of sorting afresh)
    grouped = x[groups.order]
    bounds = np.concatenate([[0], np.cumsum(groups.sizes)])
    out: list[Support | None] = []
    for a, b in itertools.pairwise(bounds):
        if b == a:
            out.append(None)
            continue
        part = grouped[a:b]
        part.sort()
        out.append(Support.from_sorted(part))
    return Support.from_sorted(np.sort(grouped, kind="stable")), out
