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

Books whose items × reps cost matrix exceeds :data:`MAX_CELLS` are streamed:
one pass keeps each item's :data:`SMOOTH_K` cheapest arcs and the K-th cost
:math:`c^{(K)}_j`. Every other arc costs at least :math:`c^{(K)}_j`, so
:math:`\min_{r \notin K} (c_{jr} + \pi_r q_j) \ge c^{(K)}_j + \min_r \pi_r q_j`;
only items where that floor is below their best kept arc are evaluated over
every rep again, and the bound stays exact.
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
#: Arcs evaluated at once when streaming a book too large for the matrix.
STREAM_ARCS = 5_000_000
#: Each rep also keeps its cheapest items in the smoothed dual: this many times
#: its share of the items, and at least REVERSE_MIN.
REVERSE_SHARE = 3.0
REVERSE_MIN = 30


@dataclass(frozen=True)
class LagrangianResult:
    """Best bound found and the item-wise plan (rep per item) at the best multipliers."""

    bound: float
    rep_of_item: np.ndarray
    iterations: int
    multipliers: tuple[np.ndarray, np.ndarray]


def applicable(inst: Instance) -> bool:
    """Whether the relaxation applies (rep-independent loads)."""
    return inst.problem.pairs is None


@dataclass(frozen=True)
class NearArcs:
    """Each item's cheapest allowed reps and a floor on the cost of all others.

    Attributes
    ----------
    rep, cost
        ``(n, K)`` reps and costs (``inf`` where fewer than K reps are allowed).
    floor
        ``(n,)`` every rep not kept costs at least this (``inf`` when all are kept).
    dense
        The full cost matrix when it fits in :data:`MAX_CELLS`, else None.
    extra_item, extra_rep, extra_cost
        Each rep's cheapest items (:data:`REVERSE_SHARE` times its share of the
        items) where the item does not keep that rep: with them every rep can
        reach its lower limits in the smoothed dual, whose arcs would otherwise
        leave a rep in a crowded city with too few items (an infeasible
        restriction, so an unbounded dual).
    """

    rep: np.ndarray
    cost: np.ndarray
    floor: np.ndarray
    dense: np.ndarray | None
    extra_item: np.ndarray
    extra_rep: np.ndarray
    extra_cost: np.ndarray


def _cost_rows(inst: Instance, its: np.ndarray) -> np.ndarray:
    """Cost of items ``its`` with every rep, +inf where not allowed."""
    return inst.cost_rows(its)


def near_arcs(inst: Instance, k: int = 0) -> NearArcs:
    """Each item's ``k`` (default :data:`SMOOTH_K`) cheapest arcs, in one pass over all arcs.

    The same pass keeps each rep's cheapest items (see :class:`NearArcs`).
    """
    n, m = inst.n_items, inst.n_reps
    k = min(k or SMOOTH_K, m)
    dense = _cost_matrix(inst) if n * m <= MAX_CELLS else None
    rep = np.empty((n, k), dtype=np.int64)
    cost = np.empty((n, k))
    reach = min(n, max(REVERSE_MIN, int(np.ceil(REVERSE_SHARE * n / max(m, 1)))))
    best_cost = np.full((m, 0), np.inf)  # per rep: its cheapest items so far
    best_item = np.zeros((m, 0), dtype=np.int64)
    chunk = max(1, STREAM_ARCS // m)
    for first in range(0, n, chunk):
        its = np.arange(first, min(n, first + chunk), dtype=np.int32)
        block = dense[its] if dense is not None else _cost_rows(inst, its)
        part = (
            np.argpartition(block, k - 1, axis=1)[:, :k]
            if k < m
            else np.tile(np.arange(m), (len(its), 1))
        )
        rep[its] = part
        cost[its] = np.take_along_axis(block, part, axis=1)
        if k < m:
            pool_cost = np.concatenate([best_cost, block.T], axis=1)
            pool_item = np.concatenate([best_item, np.broadcast_to(its, (m, len(its)))], axis=1)
            if pool_cost.shape[1] > reach:
                keep = np.argpartition(pool_cost, reach - 1, axis=1)[:, :reach]
                pool_cost = np.take_along_axis(pool_cost, keep, axis=1)
                pool_item = np.take_along_axis(pool_item, keep, axis=1)
            best_cost, best_item = pool_cost, pool_item
    floor = (
        np.full(n, np.inf) if k >= m else np.max(np.where(np.isfinite(cost), cost, -np.inf), axis=1)
    )
    if k < m:
        floor = np.where(np.isfinite(cost).all(axis=1), floor, np.inf)
    extra_item = best_item.ravel()
    extra_rep = np.repeat(np.arange(m, dtype=np.int64), best_item.shape[1])
    extra_cost = best_cost.ravel()
    new = np.isfinite(extra_cost) & ~(rep[extra_item] == extra_rep[:, None]).any(axis=1)
    return NearArcs(rep, cost, floor, dense, extra_item[new], extra_rep[new], extra_cost[new])


def _cost_matrix(inst: Instance) -> np.ndarray:
    """Items × reps cost, +inf where the arc is not allowed."""
    cost = np.empty((inst.n_items, inst.n_reps))
    for start in range(0, inst.n_items, CHUNK_ITEMS):
        its = np.arange(start, min(inst.n_items, start + CHUNK_ITEMS), dtype=np.int32)
        cost[its] = inst.cost_rows(its)
    return cost


def _load_scale(inst: Instance) -> np.ndarray:
    """``(L,)`` typical upper limit of each load (the unit of the multipliers)."""
    finite = np.where(np.isfinite(inst.hi), np.abs(inst.hi), np.nan)
    if np.isnan(finite).all(axis=0).any():
        finite = np.where(np.isnan(finite).all(axis=0), 1.0, finite)
    scale = np.nan_to_num(np.nanmean(finite, axis=0), nan=1.0)
    return np.asarray(np.where(scale > 0, scale, 1.0))


def _item_loads(inst: Instance) -> np.ndarray:
    """Items × loads (rep-independent)."""
    return inst.item_loads


#: Arcs whose reduced cost at the smoothed dual's multipliers is within this many
#: mean cheapest costs of their item's best start the LP of a large book (see
#: :func:`guided_arcs`; at 100k × 200 the LP on them needed 2 pricing rounds).
GUIDED_REACH = 0.1

#: Nearest arcs (by cost) per item in the smoothed dual; the bound itself is
#: always evaluated over every arc.
SMOOTH_K = 30
#: Temperatures of the smoothed dual, in units of the mean cheapest cost per item.
SMOOTH_TAUS = (0.1, 0.03, 0.01, 0.003)
#: L-BFGS iterations per temperature.
SMOOTH_ITERATIONS = 400
#: Most runs per temperature; after each, the arcs that the exact evaluation
#: finds cheapest and the smoothed dual lacks are added.
SMOOTH_PRICING_ROUNDS = 3
#: Cap on a multiplier, in mean cheapest costs per item per typical limit,
#: times the items per rep (see :func:`smoothed_dual`).
SMOOTH_CAP = 1000.0


def smoothed_dual(
    inst: Instance,
    *,
    deadline: float,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    taus: tuple[float, ...] = SMOOTH_TAUS,
    near_set: NearArcs | None = None,
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
    near_set
        :func:`near_arcs` of ``inst`` when already computed (one pass over
        every arc; worth keeping between calls on large books).

    Returns
    -------
    LagrangianResult
        Multipliers (upper, lower) in cost per unit of each load's typical limit.
    """
    from scipy.optimize import minimize

    arcs = near_set if near_set is not None else near_arcs(inst)
    cost = arcs.dense
    n, m = inst.n_items, inst.n_reps
    scale = _load_scale(inst)
    q = _item_loads(inst) / scale
    shape = inst.hi.shape
    lo = np.where(np.isfinite(inst.lo), inst.lo / scale, 0.0)
    hi = np.where(np.isfinite(inst.hi), inst.hi / scale, 0.0)
    k = arcs.rep.shape[1]
    near, near_cost = arcs.rep, arcs.cost
    cheapest = near_cost.min(axis=1)
    unit = float(np.mean(cheapest[np.isfinite(cheapest)])) if np.isfinite(cheapest).any() else 1.0
    unit = max(unit, 1e-9)
    # The smoothed dual's arcs: each item's kept arcs, the reps' extra ones, and the
    # arcs that exact evaluations find cheapest (added between temperatures), by item.
    arc_item = np.concatenate([np.repeat(np.arange(n), k), arcs.extra_item])
    arc_rep = np.concatenate([near.ravel(), arcs.extra_rep])
    arc_cost = np.concatenate([near_cost.ravel(), arcs.extra_cost])
    flat: dict[str, np.ndarray] = {}

    def build(items: np.ndarray, reps: np.ndarray, costs: np.ndarray) -> None:
        order = np.lexsort((reps, items))
        flat["item"], flat["rep"] = items[order], reps[order]
        flat["c"] = np.where(np.isfinite(costs[order]), costs[order] / unit, np.inf)
        flat["q"] = q[flat["item"]]
        flat["first"] = np.searchsorted(flat["item"], np.arange(n))
        flat["key"] = flat["item"].astype(np.int64) * m + flat["rep"]
        flat["cost"] = costs[order]

    build(arc_item, arc_rep, arc_cost)
    n_load = shape[1]
    # Multipliers are capped (in units of the mean cheapest cost per item, per
    # typical limit) so that a restriction the arcs cannot meet stays bounded;
    # the exact evaluation then prices in the arcs such a rep attracts.
    cap = SMOOTH_CAP * max(1.0, n / max(m, 1))
    # Variables: lower-limit multipliers, then upper-limit ones; a missing limit is fixed at 0.
    bounds = [(0.0, cap if ok else 0.0) for ok in np.isfinite(inst.lo).ravel()] + [
        (0.0, cap if ok else 0.0) for ok in np.isfinite(inst.hi).ravel()
    ]
    z = np.zeros(2 * lo.size)
    if start is not None:  # start = (upper, lower), as returned in multipliers
        z = np.minimum(np.concatenate([start[1].ravel(), start[0].ravel()]) / unit, cap)

    def split(vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return vec[: lo.size].reshape(shape), vec[lo.size :].reshape(shape)

    def smooth(vec: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
        lam_lo, lam_hi = split(vec)
        price = lam_lo - lam_hi  # (m, L)
        f_item, f_rep, f_q = flat["item"], flat["rep"], flat["q"]
        reduced = flat["c"] - np.einsum("al,al->a", f_q, price[f_rep])
        low = np.minimum.reduceat(reduced, flat["first"])
        weight = np.exp(-(reduced - low[f_item]) / tau)
        total = np.add.reduceat(weight, flat["first"])
        value = float((low - tau * np.log(total)).sum() + (lam_lo * lo).sum() - (lam_hi * hi).sum())
        share = weight / total[f_item]
        load = np.stack(
            [np.bincount(f_rep, weights=share * f_q[:, col], minlength=m) for col in range(n_load)],
            axis=1,
        )
        grad_lo = lo - load
        grad_hi = load - hi
        return -value, -np.concatenate([grad_lo.ravel(), grad_hi.ravel()])

    def exact(vec: np.ndarray) -> tuple[float, np.ndarray]:
        lam_lo, lam_hi = split(vec)
        price = (lam_lo - lam_hi) * unit
        best = np.empty(n)
        rep = np.empty(n, dtype=np.int32)
        for first in range(0, n, CHUNK_ITEMS):
            rows = slice(first, first + CHUNK_ITEMS)
            shift = q[rows] @ price.T  # (items, m)
            if cost is not None:
                block = cost[rows] - shift
                rep[rows] = np.argmin(block, axis=1)
                best[rows] = block.min(axis=1)
                continue
            kept = near_cost[rows] - np.take_along_axis(shift, near[rows], axis=1)
            pick = np.argmin(kept, axis=1)
            rep[rows] = np.take_along_axis(near[rows], pick[:, None], axis=1)[:, 0]
            best[rows] = kept.min(axis=1)
            # Items whose unkept arcs might be cheaper: evaluate them over every rep.
            unsure = np.flatnonzero(arcs.floor[rows] - shift.max(axis=1) < best[rows])
            for part in range(0, len(unsure), max(1, STREAM_ARCS // m)):
                idx = unsure[part : part + max(1, STREAM_ARCS // m)]
                block = _cost_rows(inst, (first + idx).astype(np.int32)) - shift[idx]
                rep[first + idx] = np.argmin(block, axis=1)
                best[first + idx] = block.min(axis=1)
        value = float(best.sum()) + unit * float((lam_lo * lo).sum() - (lam_hi * hi).sum())
        return value, rep

    class _OutOfTimeError(Exception):
        pass

    def check(_: object) -> None:
        if expired(deadline):
            raise _OutOfTimeError

    def price_in(rep: np.ndarray) -> bool:
        """Add each item's exact cheapest arc where the smoothed dual lacks it."""
        items = np.arange(n)
        key = items.astype(np.int64) * m + rep
        pos = np.minimum(np.searchsorted(flat["key"], key), len(flat["key"]) - 1)
        missing = flat["key"][pos] != key
        if not missing.any():
            return False
        its, rps = items[missing].astype(np.int32), rep[missing].astype(np.int32)
        costs = inst.evaluate(its, rps)["cost"]
        build(
            np.concatenate([flat["item"], its]),
            np.concatenate([flat["rep"], rps]),
            np.concatenate([flat["cost"], costs]),
        )
        return True

    best, best_rep = exact(z)
    best_z, done = z, 0
    schedule = [tau for tau in taus for _ in range(SMOOTH_PRICING_ROUNDS)]
    finished: set[float] = set()
    for tau in schedule:
        if expired(deadline):
            break
        if tau in finished:
            continue
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
        if expired(deadline) or not price_in(rep):
            finished.add(tau)  # no arc to add: on to the next temperature
    lam_lo, lam_hi = split(best_z * unit)
    return LagrangianResult(best, best_rep, done, (lam_hi, lam_lo))


def prices_of(inst: Instance, multipliers: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """LP-dual-like prices ``(m, L)`` per unit of load from multipliers (upper, lower)."""
    lam_hi, lam_lo = multipliers
    return np.asarray((lam_lo - lam_hi) / _load_scale(inst))


def guided_arcs(
    inst: Instance, result: LagrangianResult, near: NearArcs, *, reach: float = GUIDED_REACH
) -> tuple[np.ndarray, np.ndarray]:
    """Arcs that are nearly the cheapest of their item at the multipliers of ``result``.

    With near-optimal multipliers the LP assigns every item to arcs of minimal
    reduced cost c − Σ_l π_rl q_l, so the arcs within ``reach`` mean cheapest
    costs of their item's best are a candidate set that already spans the
    prices of the whole book: reps in crowded cities reach as far as their
    limits need, which nearest-rep candidates do not.

    Returns
    -------
    tuple of numpy.ndarray
        Items and reps of the chosen arcs (every item keeps at least its best).
    """
    price = prices_of(inst, result.multipliers)
    reduced = near.cost - np.einsum("il,ikl->ik", _item_loads(inst), price[near.rep])
    best = reduced.min(axis=1)
    cheapest = near.cost.min(axis=1)
    ok = np.isfinite(cheapest)
    typical = float(cheapest[ok].mean()) if ok.any() else 1.0
    keep = np.isfinite(reduced) & (reduced - best[:, None] <= reach * max(typical, 1e-12))
    items = np.broadcast_to(np.arange(inst.n_items, dtype=np.int32)[:, None], keep.shape)[keep]
    return items, near.rep[keep].astype(np.int32)
