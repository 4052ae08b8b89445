"""Fast exact Poisson sampling for large arrays of mostly tiny rates."""

from __future__ import annotations

import numpy as np

_MAX_TERMS = 400  # inverse-transform terms; rates in the simulation stay far below


def poisson_hits(
    rng: np.random.Generator, lam: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``Poisson(lam)`` for every cell and return the non-zero ones as
    (flat index, count).

    Inverse transform with one uniform per cell: a cell is zero when ``u <= exp(-lam)``
    (almost all of them), and only the others walk up the CDF. That is exact and about
    ten times faster than ``Generator.poisson`` on millions of cells with small rates.
    """
    flat = np.ascontiguousarray(lam, dtype=np.float64).ravel()
    u = rng.random(flat.size)
    p0 = np.exp(-flat)
    hit = np.flatnonzero(u > p0)
    rate, uh = flat[hit], u[hit]
    p = p0[hit] * rate
    cdf = p0[hit] + p
    count = np.ones(len(hit), dtype=np.int64)
    todo = np.flatnonzero(uh > cdf)
    k = 1
    while len(todo) and k < _MAX_TERMS:
        k += 1
        p[todo] *= rate[todo] / k
        cdf[todo] += p[todo]
        count[todo] += 1
        todo = todo[uh[todo] > cdf[todo]]
    return hit, count
