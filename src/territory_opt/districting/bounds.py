r"""Lower bounds for layers too large for the exact models.

*Sum of weighted distance*: Lagrangian relaxation of the assignment rows of
the center model (see :mod:`.exact`). With multipliers ``u``,

.. math::
    L(u) = \sum_i u_i + \min_{|C| = k} \sum_{c \in C} \rho_c(u), \quad
    \rho_c(u) = \min \Big\{ \sum_i (w_i d_{ic} - u_i) x_i :
        L_1 \le \sum_i v_{i1} x_i \le U_1,\ x_c = 1,\ 0 \le x \le 1 \Big\}

where ``v_1`` is the first banded metric (the other bands and contiguity are
dropped, which keeps the bound valid). Each ``rho_c`` is a continuous knapsack
with a lower and an upper limit, solved exactly by taking units in order of
``(w_i d_ic - u_i) / v_i`` until the total reaches ``clip(V^-, L_1, U_1)``,
``V^-`` being the weight of the units with negative cost. ``L(u)`` is a lower
bound for every ``u``; subgradient steps (Polyak, towards the best design's
objective) raise it.

*Cut edges*: a connected graph split into ``k`` non-empty parts cuts at least
``k - 1`` edges. *Largest distance*: none (0).
"""

from __future__ import annotations

import time

import numpy as np

#: Largest layer for the Lagrangian bound (a few n x n matrices in memory).
MAX_LAGRANGE_UNITS = 3000
#: Subgradient iterations at most.
MAX_ITERATIONS = 400


def knapsack_values(
    a: np.ndarray, v: np.ndarray, lo: float, hi: float
) -> tuple[np.ndarray, np.ndarray]:
    """Solve every column's continuous knapsack; the center (diagonal) is forced in.

    Parameters
    ----------
    a
        ``(n, m)`` cost of unit i in the district of candidate center ``c``
        (column ``c`` is center unit ``c`` of the first ``m`` units... see caller).
    v
        ``(n,)`` non-negative weights.
    lo, hi
        Limits on the total weight.

    Returns
    -------
    (rho, x)
        Optimal value per column (``inf`` when no selection reaches ``lo``) and
        the ``(n, m)`` optimal fractions.
    """
    n, m = a.shape
    diag = np.zeros((n, m), dtype=bool)
    diag[np.arange(m), np.arange(m)] = True
    vv = np.broadcast_to(v[:, None], (n, m))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(vv > 0, a / np.where(vv > 0, vv, 1.0), np.where(a < 0, -np.inf, np.inf))
    ratio[diag] = -np.inf
    order = np.argsort(ratio, axis=0, kind="stable")
    vs = np.take_along_axis(vv, order, axis=0)
    as_ = np.take_along_axis(a, order, axis=0)
    neg = (as_ < 0) | np.take_along_axis(diag, order, axis=0)
    v_neg = (vs * neg).sum(axis=0)
    target = np.clip(v_neg, lo, hi)
    before = np.cumsum(vs, axis=0) - vs
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(
            vs > 0,
            np.clip((target[None, :] - before) / np.where(vs > 0, vs, 1.0), 0, 1),
            neg.astype(float),
        )
    forced = np.take_along_axis(diag, order, axis=0)
    frac = np.where(forced, 1.0, frac)
    reachable = vv.sum(axis=0) >= lo - 1e-9
    rho = np.where(reachable, (as_ * frac).sum(axis=0), np.inf)
    x = np.empty_like(frac)
    np.put_along_axis(x, order, frac, axis=0)
    return rho, x


def sum_distance_bound(
    cost: np.ndarray,
    k: int,
    v: np.ndarray | None,
    lo: float,
    hi: float,
    upper: float,
    deadline: float,
    fixed_centers: np.ndarray | None = None,
) -> float:
    """Best Lagrangian bound found by subgradient steps before ``deadline``.

    Parameters
    ----------
    cost
        ``(n, n)`` weighted distance of unit i to center c.
    k
        Number of districts.
    v, lo, hi
        First banded metric and its district limits (None: no band).
    upper
        Objective of a known design (the Polyak step target).
    deadline
        ``time.monotonic`` deadline.
    fixed_centers
        Centers that must be used (then only they are candidates).
    """
    n = cost.shape[0]
    if v is None:
        v, lo, hi = np.zeros(n), 0.0, np.inf
    cand = np.arange(n) if fixed_centers is None else np.asarray(fixed_centers)
    # Reorder so that the candidate centers are the first columns' diagonal.
    perm = np.concatenate([cand, np.setdiff1d(np.arange(n), cand)])
    c = cost[np.ix_(perm, cand)]
    vp = v[perm]
    u = np.sort(c, axis=1)[:, min(1, c.shape[1] - 1)].astype(np.float64)  # a usual start
    best = -np.inf
    step = 2.0
    stall = 0
    for _ in range(MAX_ITERATIONS):
        if time.monotonic() >= deadline:
            break
        rho, x = knapsack_values(c - u[:, None], vp, lo, hi)
        chosen = np.argsort(rho, kind="stable")[:k]
        if not np.isfinite(rho[chosen]).all():
            break
        value = float(u.sum() + rho[chosen].sum())
        if value > best + 1e-9 * max(1.0, abs(value)):
            best, stall = value, 0
        else:
            stall += 1
            if stall >= 8:
                step, stall = step / 2, 0
        g = 1.0 - x[:, chosen].sum(axis=1)
        norm = float(g @ g)
        if norm < 1e-12 or step < 1e-4 or best >= upper * (1 - 1e-9):
            break
        u = u + step * (upper - value) / norm * g
    return best
