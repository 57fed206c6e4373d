r"""Lagrangian bound and plan for large books: relax the bands, solve items independently.

Notes
-----
With multipliers :math:`\lambda^{hi}_{rl}, \lambda^{lo}_{rl} \ge 0` on the upper
and lower limits (budgets are dropped, which only weakens the bound), the
relaxation separates by item:

.. math::
    L(\lambda) = \sum_j \min_r \Big(c_{jr}
                 + \sum_l (\lambda^{hi}_{rl} - \lambda^{lo}_{rl}) q_{jl}\Big)
                 - \sum_{rl} \lambda^{hi}_{rl}\, hi_{rl} + \sum_{rl} \lambda^{lo}_{rl}\, lo_{rl}
                 \;\le\; \text{optimum}

for every :math:`\lambda \ge 0`, over all allowed arcs of every item. The
subproblem is integral, so :math:`\max_\lambda L(\lambda)` equals the LP bound.
:func:`smoothed_dual` maximises a smooth version with L-BFGS-B; each step costs
one pass over the items' cheapest arcs, so the bound scales to books whose LP
is too large. The item-wise minimisers are a starting plan for the greedy repair
(:mod:`territory_opt.alignment.repair`) when the book cannot be split into
regions (:mod:`territory_opt.alignment.decompose`).

Needs item loads that do not depend on the rep (no pair-table metric overrides).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from territory_opt._interrupt import expired
from territory_opt.alignment.instance import Instance

#: Largest items × reps matrix held in memory [cells] (float64: 8 bytes each).
MAX_CELLS = 200_000_000
#: Items evaluated at once when building the cost matrix.
CHUNK_ITEMS = 20_000


@dataclass(frozen=True)
class LagrangianResult:
    """Best bound found and the item-wise plan (rep per item) at the best multipliers."""

    bound: float
    rep_of_item: np.ndarray
    iterations: int
    multipliers: tuple[np.ndarray, np.ndarray]


def applicable(inst: Instance) -> bool:
    """Whether the relaxation applies (rep-independent loads) and fits in memory."""
    return inst.problem.pairs is None and inst.n_items * inst.n_reps <= MAX_CELLS


def _cost_matrix(inst: Instance) -> np.ndarray:
    """Items × reps cost, +inf where the arc is not allowed."""
    m = inst.n_reps
    cost = np.empty((inst.n_items, m))
    for start in range(0, inst.n_items, CHUNK_ITEMS):
        its = np.arange(start, min(inst.n_items, start + CHUNK_ITEMS), dtype=np.int32)
        ev = inst.evaluate(np.repeat(its, m), np.tile(np.arange(m, dtype=np.int32), len(its)))
        block = np.where(ev["allowed"], ev["cost"], np.inf)
        cost[its] = block.reshape(len(its), m)
    return cost


def _item_loads(inst: Instance) -> np.ndarray:
    """Items × loads (rep-independent)."""
    ev = inst.evaluate(np.arange(inst.n_items, dtype=np.int32), np.zeros(inst.n_items, np.int32))
    return np.asarray(ev["load"])


#: Nearest arcs (by cost) per item in the smoothed dual; the bound itself is
#: always evaluated over every arc.
SMOOTH_K = 30
#: Temperatures of the smoothed dual, in units of the mean cheapest cost per item.
SMOOTH_TAUS = (0.1, 0.03, 0.01, 0.003)
#: L-BFGS iterations per temperature.
SMOOTH_ITERATIONS = 400


def smoothed_dual(
    inst: Instance,
    *,
    deadline: float,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    taus: tuple[float, ...] = SMOOTH_TAUS,
) -> LagrangianResult:
    r"""Maximise a smoothed Lagrangian with L-BFGS; return the best exact bound seen.

    The min over reps in :math:`L(\lambda)` is replaced by the soft minimum
    :math:`-\tau \log \sum_r e^{-\bar c_{jr}/\tau}` over each item's
    :data:`SMOOTH_K` cheapest arcs, which makes the dual smooth: L-BFGS-B then
    converges in a few hundred steps where subgradient steps need thousands.
    Lowering τ approaches the exact dual. After each temperature the exact
    :math:`L(\lambda)` is evaluated over every arc, so the bound is valid
    whatever the smoothing and the arc restriction did.

    Parameters
    ----------
    inst
        The instance (see :func:`applicable`).
    deadline
        ``time.perf_counter()`` value at which to stop.
    start
        Multipliers (upper, lower) of an earlier run to continue from.
    taus
        Temperatures, from coarse to fine.

    Returns
    -------
    LagrangianResult
        Multipliers (upper, lower) in cost per unit of each load's typical limit.
    """
    from scipy.optimize import minimize

    cost = _cost_matrix(inst)
    n, m = cost.shape
    finite = np.where(np.isfinite(inst.hi), np.abs(inst.hi), np.nan)
    scale = np.nan_to_num(np.nanmean(finite, axis=0), nan=1.0)
    scale = np.where(scale > 0, scale, 1.0)
    q = _item_loads(inst) / scale
    shape = inst.hi.shape
    lo = np.where(np.isfinite(inst.lo), inst.lo / scale, 0.0)
    hi = np.where(np.isfinite(inst.hi), inst.hi / scale, 0.0)
    k = min(SMOOTH_K, m)
    near = np.argpartition(cost, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (n, 1))
    near_cost = np.take_along_axis(cost, near, axis=1)
    cheapest = near_cost.min(axis=1)
    unit = float(np.mean(cheapest[np.isfinite(cheapest)])) if np.isfinite(cheapest).any() else 1.0
    unit = max(unit, 1e-9)
    c_near = np.where(np.isfinite(near_cost), near_cost / unit, np.inf)
    flat_rep = near.ravel()
    n_load = shape[1]
    # Variables: lower-limit multipliers, then upper-limit ones; a missing limit is fixed at 0.
    bounds = [(0.0, None if ok else 0.0) for ok in np.isfinite(inst.lo).ravel()] + [
        (0.0, None if ok else 0.0) for ok in np.isfinite(inst.hi).ravel()
    ]
    z = np.zeros(2 * lo.size)
    if start is not None:  # start = (upper, lower), as returned in multipliers
        z = np.concatenate([start[1].ravel(), start[0].ravel()]) / unit

    def split(vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return vec[: lo.size].reshape(shape), vec[lo.size :].reshape(shape)

    def smooth(vec: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
        lam_lo, lam_hi = split(vec)
        price = lam_lo - lam_hi  # (m, L)
        reduced = c_near - np.einsum("il,ikl->ik", q, price[near])
        low = reduced.min(axis=1)
        weight = np.exp(-(reduced - low[:, None]) / tau)
        total = weight.sum(axis=1)
        value = float((low - tau * np.log(total)).sum() + (lam_lo * lo).sum() - (lam_hi * hi).sum())
        share = (weight / total[:, None]).ravel()
        load = np.stack(
            [
                np.bincount(flat_rep, weights=share * np.repeat(q[:, col], k), minlength=m)
                for col in range(n_load)
            ],
            axis=1,
        )
        grad_lo = lo - load
        grad_hi = load - hi
        return -value, -np.concatenate([grad_lo.ravel(), grad_hi.ravel()])

    def exact(vec: np.ndarray) -> tuple[float, np.ndarray]:
        lam_lo, lam_hi = split(vec)
        price = (lam_lo - lam_hi) * unit
        total = 0.0
        rep = np.empty(n, dtype=np.int32)
        for first in range(0, n, CHUNK_ITEMS):
            block = cost[first : first + CHUNK_ITEMS] - q[first : first + CHUNK_ITEMS] @ price.T
            rep[first : first + CHUNK_ITEMS] = np.argmin(block, axis=1)
            total += float(block.min(axis=1).sum())
        value = total + unit * float((lam_lo * lo).sum() - (lam_hi * hi).sum())
        return value, rep

    class _OutOfTimeError(Exception):
        pass

    def check(_: object) -> None:
        if expired(deadline):
            raise _OutOfTimeError

    best, best_rep = exact(z)
    best_z, done = z, 0
    for tau in taus:
        if expired(deadline):
            break
        last = {"z": z}

        def fun(vec: np.ndarray, tau: float = tau, last: dict[str, np.ndarray] = last) -> Any:
            last["z"] = vec
            return smooth(vec, tau)

        try:
            res = minimize(
                fun,
                z,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                callback=check,
                options={"maxiter": SMOOTH_ITERATIONS, "ftol": 1e-12, "gtol": 1e-9},
            )
            z, done = res.x, done + int(res.nit)
        except _OutOfTimeError:
            z = last["z"]
        value, rep = exact(z)
        if value > best:
            best, best_rep, best_z = value, rep, z
    lam_lo, lam_hi = split(best_z * unit)
    return LagrangianResult(best, best_rep, done, (lam_hi, lam_lo))
