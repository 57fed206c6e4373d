"""Largest-remainder rounding to a unit, with per-item bounds.

Quotas are rounded to a unit (e.g. 1,000) so that they still add up to the total
exactly. The largest-remainder (Hamilton) method does that with the smallest
possible change: every value is first rounded down, and the units still missing
go, one each, to the values with the largest fractional parts. Ties go to the
lower index, so the result is deterministic.
"""

from __future__ import annotations

import numpy as np

#: Fractions this close to the next unit count as whole: LP solutions carry
#: round-off of ~1e-9 relative, which must not push 2.9999999999 units down to 2.
_UNIT_EPS = 1e-9


def to_units(values: np.ndarray, unit: float) -> np.ndarray:
    """Express ``values`` [currency] in rounding units [-] (floating point)."""
    return np.asarray(values, dtype=np.float64) / float(unit)


def round_half_up(value: float) -> int:
    """Round a non-negative number to the nearest integer, halves up.

    Examples
    --------
    >>> round_half_up(2.5), round_half_up(2.4999)
    (3, 2)
    """
    return int(np.floor(value + 0.5 + _UNIT_EPS))


def largest_remainder(
    units: np.ndarray,
    total: int,
    *,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> np.ndarray:
    """Round real unit counts to integers that sum to ``total`` exactly.

    Parameters
    ----------
    units
        Real values in rounding units [-], e.g. quota / 1000.
    total
        Required integer sum [-].
    lower, upper
        Integer bounds per item [-]; default 0 and unbounded.

    Returns
    -------
    numpy.ndarray
        int64 counts with ``lower <= counts <= upper`` and ``counts.sum() == total``.
        When ``lower <= units <= upper`` and ``units.sum() == total``, each count is
        ``floor(units)`` or ``floor(units) + 1``.

    Raises
    ------
    ValueError
        When the bounds make ``total`` unreachable.

    Examples
    --------
    >>> largest_remainder(np.array([1.5, 1.3, 1.2]), 4).tolist()
    [2, 1, 1]
    >>> largest_remainder(np.array([0.4, 0.4, 3.2]), 4, upper=np.array([0, 9, 9])).tolist()
    [0, 1, 3]
    """
    x = np.asarray(units, dtype=np.float64)
    lo = np.zeros(len(x), dtype=np.int64) if lower is None else np.asarray(lower, dtype=np.int64)
    hi = (
        np.full(len(x), np.iinfo(np.int64).max // 4, dtype=np.int64)
        if upper is None
        else np.asarray(upper, dtype=np.int64)
    )
    # Clip before summing: "unbounded" sentinels would overflow int64 when added up.
    reachable = int(np.minimum(hi, max(total, 0)).sum())
    if int(lo.sum()) > total or reachable < total or (lo > hi).any():
        msg = f"bounds make the total of {total} units unreachable"
        raise ValueError(msg)
    base = np.floor(x + _UNIT_EPS)
    frac = np.clip(x - base, 0.0, 1.0)
    counts = np.clip(base.astype(np.int64), lo, hi)
    # Largest fractions first; a stable sort keeps ties in index order.
    up_order = np.argsort(-frac, kind="stable")
    down_order = np.argsort(frac, kind="stable")
    need = total - int(counts.sum())
    while need != 0:
        if need > 0:
            room = up_order[counts[up_order] < hi[up_order]]
            take = room[:need]
            counts[take] += 1
        else:
            room = down_order[counts[down_order] > lo[down_order]]
            take = room[:-need]
            counts[take] -= 1
        need = total - int(counts.sum())
    return counts


def split_units(totals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split integer totals over columns in proportion to weights, exactly.

    Parameters
    ----------
    totals
        ``(m,)`` non-negative integers [units].
    weights
        ``(m, p)`` non-negative weights; a row of zeros is split evenly.

    Returns
    -------
    numpy.ndarray
        ``(m, p)`` int64 with every row summing to its total (largest remainder,
        ties to the earlier column).

    Examples
    --------
    >>> split_units(np.array([10, 3]), np.array([[1.0, 1, 1, 1], [0.1, 0.2, 0.3, 0.4]])).tolist()
    [[3, 3, 2, 2], [0, 1, 1, 1]]
    """
    t = np.asarray(totals, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    row_sum = w.sum(axis=1, keepdims=True)
    share = np.where(row_sum > 0, w / np.where(row_sum > 0, row_sum, 1.0), 1.0 / w.shape[1])
    exact = share * t[:, None]
    base = np.floor(exact + _UNIT_EPS)
    frac = np.clip(exact - base, 0.0, 1.0)
    counts = base.astype(np.int64)
    need = t - counts.sum(axis=1)
    # Rank of each column by fraction within its row (0 = largest, ties by column).
    order = np.argsort(-frac, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(w.shape[1])[None, :].repeat(len(t), 0), axis=1)
    counts += (rank < need[:, None]).astype(np.int64)
    odd = np.flatnonzero((need < 0) | (need > w.shape[1]))
    for r in odd:  # only after extreme round-off; the general routine handles it
        counts[r] = largest_remainder(exact[r], int(t[r]))
    return counts
