"""The default HiGHS pipeline: priced LP bound, LP-guided sub-MIP, reduced-cost fixing.

Notes
-----
1. **Candidate arcs.** Each item gets its ``k`` nearest reps (within its
   segment pool), its current and locked rep; each rep gets its nearest items
   (reverse neighbours). With a pair table the listed pairs are the arcs.
2. **Priced LP.** The LP relaxation is solved on the candidate arcs. With row
   duals u (items), π (bands, budgets), the reduced cost of any arc is
   rc = c − u_i − Σ_l π_{r,l} load_l − Σ_g π_g budget_g. Pricing evaluates rc
   over *all* arcs in chunks and adds the negative ones until none is left, so
   the final LP value is the LP bound of the full problem. Before convergence,
   z_restricted + Σ_i min(0, min_r rc_ir) is still a valid (Lagrangian) bound
   because each item's arcs sum to one.
3. **Incumbent.** A dive on the LP (:mod:`~territory_opt.alignment.dive`)
   fixes the largest split items batch by batch; its last LP is rounded,
   repaired and improved by moves and exchanges. If repair gets stuck, items
   the LP assigns integrally are fixed to that arc; the fractional ones (at most
   one per binding band row) and items with cheap alternatives are solved as a
   small MIP. The free set grows until a plan is found.
4. **Reduced-cost fixing.** With incumbent value z* and LP bound z_LP, an arc
   with rc > z* − z_LP cannot be in any plan better than z*. The MIP over the
   remaining arcs, warm-started from z*, is then solved; the optimum of the full
   problem is ≥ min(z*, bound of that MIP), which is reported as the bound.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from territory_opt._interrupt import requested as interrupt_requested
from territory_opt._progress import step
from territory_opt.alignment.backends.base import (
    BackendResult,
    SolveOptions,
    Status,
    relative_gap,
)
from territory_opt.alignment.backends.highs import (
    HighsMip,
    LpSession,
    LpSolution,
    RowMap,
    row_map,
    version,
)
from territory_opt.alignment.cells import applicable as cells_applicable
from territory_opt.alignment.cells import cell_instance, cell_of_item, cell_size, split_cells
from territory_opt.alignment.decompose import applicable as by_regions_applicable
from territory_opt.alignment.decompose import polish_by_regions, solve_by_regions
from territory_opt.alignment.dive import item_sizes, lp_dive
from territory_opt.alignment.instance import ArcModel, Instance, pools
from territory_opt.alignment.ipm import IpmSession
from territory_opt.alignment.lagrangian import applicable as lagrangian_applicable
from territory_opt.alignment.lagrangian import (
    guided_arcs,
    near_arcs,
    smoothed_dual,
)
from territory_opt.alignment.neighbourhood import large_neighbourhood_search
from territory_opt.alignment.repair import improve, repair
from territory_opt.geo.distance import unit_vectors

#: Models with at most this many arcs are solved on all arcs, without pricing.
FULL_ARC_LIMIT = 400_000
#: Nearest reps per account in the candidate set (enough for ±5 % bands in tests
#: on clustered books; pricing adds whatever else the LP needs).
CANDIDATE_K = 12
#: Nearest items per rep added as reverse candidates: at least this many, and at
#: least REVERSE_SHARE times the rep's average share of items, so that an open
#: seat in a crowded city can still reach its band.
REVERSE_K = 30
REVERSE_SHARE = 3.0
#: Arcs priced per chunk (bounds memory at ~200 MB for 3 metrics).
PRICE_CHUNK = 2_000_000
#: Price of violation in the elastic LP (see _elastic_price), and how often and by
#: how much it is raised when slack remains at convergence.
ELASTIC_FACTOR = 10.0
ELASTIC_RAISES = 3
ELASTIC_RAISE = 100.0
#: Elastic slack (relative) below which the LP counts as feasible.
SLACK_TOL = 1e-7
#: LPs with more arcs than this use the interior point solver (with crossover).
IPM_ARCS = 50_000
#: Above this many (item, rep) pairs the LP is replaced by the Lagrangian
#: relaxation (bound and first plan), which scales linearly in pairs.
LP_ARC_LIMIT = 5_000_000
#: Large books up to this many pairs solve the LP (structured interior point)
#: from arcs chosen by the smoothed Lagrangian dual, which takes this share of
#: the time (the better its prices, the fewer pricing rounds: at 100k × 200, 17 s
#: of it left 281k arcs to price in, 28 s only 26k), plus each item's nearest
#: reps; larger ones use the Lagrangian route.
GUIDED_ARC_LIMIT = 50_000_000
GUIDED_DUAL_SHARE = 0.15
GUIDED_NEAREST_K = 4
#: Books above GUIDED_ARC_LIMIT pairs whose accounts can be grouped solve the LP
#: over cells (:mod:`territory_opt.alignment.cells`) in this share of the time
#: (its pricing stops at LP_TIME_SHARE of it: at 100k × 1,000 it needs 70-100 s,
#: and unconverged cell duals split into a plan that repair cannot mend);
#: the accounts' LP then starts from each account's LP_NEAREST_K nearest reps,
#: its CELL_PRICED_K cheapest arcs at the cell LP's prices and the first plan;
#: the plan moves along those and the ITEM_NEAREST_K nearest reps.
CELL_TIME_SHARE = 0.75
#: Shares (of the time left) for repairing the split plan, improving it, and the
#: accounts' LP (whose pricing rounds stop at LP_TIME_SHARE of that).
CELL_REPAIR_SHARE = 0.3
CELL_IMPROVE_SHARE = 0.05
ACCOUNTS_LP_SHARE = 0.7
#: The accounts' LP narrows every two-sided limit by this share of its half-width
#: (at 100k × 1,000: plan 6.3 % -> 1.95 % above a bound 0.2 % below the true LP),
#: but by at most ACCOUNTS_LP_NARROW_ITEMS mean account loads: rounding moves a
#: rep's load by a few accounts, so with many accounts per rep less room does.
ACCOUNTS_LP_NARROW = 0.2
ACCOUNTS_LP_NARROW_ITEMS = 1.0
#: An accounts' LP the clock cuts is still rounded when its relative duality gap
#: is below this (at 1M × 1,000 the interior point reaches 1e-3 after ~100 of its
#: ~150 steps; stopping it at 1e-4 left a rounding that repair could not mend at
#: 100k × 1,000, so it is not stopped early).
ACCOUNTS_LP_ROUND_GAP = 1e-3
#: Accounts' LPs of up to this many first arcs pause at a 10 % duality gap to
#: prune and price over every pair, then restart (100k x 1,000, 576k arcs: 1.91 %
#: -> 1.57 %); at 1M x 1,000 (5.8M arcs) the restart did not get within 0.1 % of
#: the optimum in the time left, so nothing was rounded.
ACCOUNTS_LP_PAUSE_ARCS = 2_000_000
ROUND_SLACK = 1e-3
#: An accounts' LP not priced to the end is followed by a second LP for the bound
#: (see ``_second_lp_bound``) that may use this share of the time left, and starts
#: when SECOND_LP_MIN times the first LP's time fits in it: at 1M x 1,000 (first
#: LP 560 s; the interior point alone) its bound is 1,130.6M after 420 s and
#: 1,130.9M after 600 s, against 1,097.2M at the first LP's duals, the LP itself
#: being at most 1,132.1M.
SECOND_LP_SHARE = 0.8
SECOND_LP_MIN = 0.75
CELL_PRICED_K = 3
ITEM_NEAREST_K = 4
LP_NEAREST_K = 1
#: Candidate LPs with more arcs than this are solved by the structured interior
#: point method (:mod:`territory_opt.alignment.ipm`) instead of HiGHS.
STRUCTURED_IPM_ARCS = 500_000
#: Time shares (of what is left) of the Lagrangian bound before the first plan
#: (only when the plan is not built by regions) and after it.
LAGRANGE_FIRST_SHARE = 0.1
LAGRANGE_SECOND_SHARE = 0.4
#: Time shares (of what is left) of the region-by-region first plan and of
#: re-solving it over regions drawn across the first borders.
REGIONS_SHARE = 0.55
POLISH_SHARE = 0.3
#: Share of the time limit kept for overruns of solver calls and building the plan.
RESERVE_SHARE = 0.05
#: Share of the time limit after which pricing stops (unless nothing is solved yet).
LP_TIME_SHARE = 0.6
#: Re-solve from scratch (interior point) when a round adds more than this share of arcs.
WARM_ADD_SHARE = 0.05
#: Safety cap on column generation rounds.
MAX_PRICING_ROUNDS = 200
#: Most negative arcs added per item per pricing round.
ADD_PER_ITEM = 3
#: MIP after reduced-cost fixing is attempted up to this many arcs.
MIP_ARC_LIMIT = 300_000
#: Time shares (of what is left) for greedy repair and move/swap improvement.
REPAIR_TIME_SHARE = 0.5
IMPROVE_TIME_SHARE = 0.6
#: Price-guided repairs run while at least this share of the time limit is left, with
#: these weights of the reduced cost added to the cost (large: reduced cost decides).
RESTART_MIN_SHARE = 0.3
RESTART_WEIGHTS = (1000.0, 1.0, 4.0)
#: Time share (of what is left) and reduced-cost reach of the plan/LP disagreement MIP;
#: the reach is in multiples of the LP's average cost per item.
RINS_TIME_SHARE = 0.3
#: Share of the time left after the LP that diving on it may use.
DIVE_TIME_SHARE = 0.25
RINS_DELTA = 0.8
#: Time share of one LP-guided sub-MIP attempt at a first plan.
INCUMBENT_TIME_SHARE = 0.2
#: Share of the remaining time given to the neighbourhood search before rc-fixing.
LNS_TIME_SHARE = 0.5
#: Values within this of 0 or 1 count as integral.
INTEGRAL_TOL = 1e-6


def _sub_options(
    options: SolveOptions, time_limit: float, *, gap: float, warm_start: np.ndarray | None = None
) -> SolveOptions:
    """Options of an inner solve: the caller's threads and seed, its own limits."""
    return dataclasses.replace(options, time_limit=time_limit, gap=gap, warm_start=warm_start)


@dataclass
class _Clock:
    deadline: float
    budget: float = 0.0

    def left(self) -> float:
        if interrupt_requested():  # Ctrl-C: time is up, keep the plan found so far
            return 0.0
        return max(0.0, self.deadline - time.perf_counter())

    def after(self, share: float) -> float:
        """Deadline after ``share`` of the time that is left."""
        return time.perf_counter() + share * self.left()


def candidate_arcs(
    inst: Instance, k: int = CANDIDATE_K, *, reverse: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-rep candidates plus current/locked reps and (``reverse``) reverse neighbours."""
    p = inst.problem
    if inst.n_all_arcs <= FULL_ARC_LIMIT or inst.centers is None or p.coord_system is None:
        return inst.all_arcs()
    assert p.account_coords is not None
    lead = inst.item_members[inst.item_ptr[:-1]]  # first account of each item
    pts = unit_vectors(p.account_coords[lead], p.coord_system)
    ctr = unit_vectors(inst.centers, p.coord_system)
    acc_pool, rep_pool = pools(p, inst.spec)
    item_pool = acc_pool[lead]
    items_out, reps_out = [], []
    for pool in np.unique(rep_pool):
        reps = np.flatnonzero((rep_pool == pool) | (rep_pool < 0))
        members = np.flatnonzero(item_pool == pool) if pool >= 0 else np.flatnonzero(item_pool < 0)
        if len(members) == 0 or len(reps) == 0:
            continue
        kk = min(k, len(reps))
        _, near = cKDTree(ctr[reps]).query(pts[members], k=kk, workers=-1)
        near = np.asarray(near).reshape(len(members), kk)
        items_out.append(np.repeat(members, kk))
        reps_out.append(reps[near].ravel())
        if not reverse:
            continue
        # Enough nearby items for every rep to fill its band: a few times its share.
        share = int(np.ceil(REVERSE_SHARE * len(members) / max(len(reps), 1)))
        kr = min(max(REVERSE_K, share), len(members))
        _, back = cKDTree(pts[members]).query(ctr[reps], k=kr, workers=-1)
        back = np.asarray(back).reshape(len(reps), kr)
        items_out.append(members[back].ravel())
        reps_out.append(np.repeat(reps, kr))
    for col in (p.current_rep, p.locked_rep):
        has = col >= 0
        items_out.append(inst.account_item[has])
        reps_out.append(col[has])
    keys = np.unique(
        np.concatenate(items_out).astype(np.int64) * inst.n_reps + np.concatenate(reps_out)
    )
    return (keys // inst.n_reps).astype(np.int32), (keys % inst.n_reps).astype(np.int32)


def _duals(model: ArcModel, lp: LpSolution) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Item duals u, band duals π (m, L), budget duals (G)."""
    u = lp.row_dual[: model.n_items]
    pi = np.zeros(model.lo.shape)
    ok = lp.rows.band_row >= 0
    pi[ok] = lp.row_dual[lp.rows.band_row[ok]]
    beta = lp.row_dual[lp.rows.budget_row] if len(lp.rows.budget_row) else np.zeros(0)
    return u, pi, beta


def reduced_costs(
    inst: Instance,
    items: np.ndarray,
    reps: np.ndarray,
    u: np.ndarray,
    pi: np.ndarray,
    beta: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Reduced cost and allowed flag of arbitrary arcs under the given duals."""
    ev = inst.evaluate(items, reps)
    rc = ev["cost"] - u[items] - (ev["load"] * pi[reps]).sum(axis=1)
    if len(beta):
        rc -= ev["budget"] @ beta
    return rc, ev["allowed"]


def _price_all(
    inst: Instance,
    u: np.ndarray,
    pi: np.ndarray,
    beta: np.ndarray,
    threshold: float,
    per_item: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every allowed arc with reduced cost below ``threshold`` (chunked over items)."""
    m = inst.n_reps
    chunk_items = max(1, PRICE_CHUNK // max(m, 1))
    if inst.dense_costs and not np.any(beta):
        return _price_rows(inst, u, pi, threshold, per_item, chunk_items)
    found_i, found_r, found_rc = [], [], []
    if inst.problem.pairs is not None:
        all_i, all_r = inst.all_arcs()
        bounds = np.searchsorted(all_i, np.arange(0, inst.n_items + chunk_items, chunk_items))
        chunks = [(all_i[a:b], all_r[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    else:
        chunks = []
        for start in range(0, inst.n_items, chunk_items):
            its = np.arange(start, min(inst.n_items, start + chunk_items), dtype=np.int32)
            chunks.append((np.repeat(its, m), np.tile(np.arange(m, dtype=np.int32), len(its))))
    for its, rps in chunks:
        if len(its) == 0:
            continue
        rc, allowed = reduced_costs(inst, its, rps, u, pi, beta)
        keep = allowed & (rc < threshold)
        its, rps, rc = its[keep], rps[keep], rc[keep]
        if per_item is not None and len(rc):
            order = np.lexsort((rc, its))
            its, rps, rc = its[order], rps[order], rc[order]
            rank = np.arange(len(its)) - np.searchsorted(its, its)
            keep = rank < per_item
            its, rps, rc = its[keep], rps[keep], rc[keep]
        found_i.append(its)
        found_r.append(rps)
        found_rc.append(rc)
    if not found_i:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0)
    return np.concatenate(found_i), np.concatenate(found_r), np.concatenate(found_rc)


def _price_rows(
    inst: Instance,
    u: np.ndarray,
    pi: np.ndarray,
    threshold: float,
    per_item: int | None,
    chunk_items: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_price_all` on blocks of whole cost rows (books without a pair table)."""
    m = inst.n_reps
    loads = inst.item_loads
    found_i, found_r, found_rc = [], [], []
    for start in range(0, inst.n_items, chunk_items):
        its = np.arange(start, min(inst.n_items, start + chunk_items), dtype=np.int32)
        rc = inst.cost_rows(its)
        rc -= u[its][:, None]
        rc -= loads[its] @ pi.T
        if per_item is not None and per_item < m:
            cols = np.argpartition(rc, per_item - 1, axis=1)[:, :per_item]
            rows = np.broadcast_to(its[:, None], cols.shape)
            vals = np.take_along_axis(rc, cols, axis=1)
        else:
            cols = np.broadcast_to(np.arange(m, dtype=np.int32)[None, :], rc.shape)
            rows, vals = np.broadcast_to(its[:, None], rc.shape), rc
        keep = vals < threshold
        found_i.append(rows[keep].astype(np.int32))
        found_r.append(cols[keep].astype(np.int32))
        found_rc.append(vals[keep])
    if not found_i:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0)
    return np.concatenate(found_i), np.concatenate(found_r), np.concatenate(found_rc)


def exact_lagrangian_bound(inst: Instance, pi: np.ndarray, beta: np.ndarray) -> float:
    r"""Lagrangian bound :math:`L(\pi, \beta)` over every arc, for any multipliers.

    Multipliers of the wrong sign for a limit (a positive π on a row without a
    lower limit, a positive β on a budget) are clipped to 0 first, so the value
    is a valid lower bound on every plan whatever solver produced them:
    :math:`\sum_j \min_r (c_{jr} - \sum_l \pi_{rl} q_{jrl} - \beta b_{jr})
    + \sum \pi^+ lo - \sum \pi^- hi + \sum_g \beta_g\, budget_g`.
    """
    pi = np.where(np.isfinite(inst.lo), pi, np.minimum(pi, 0.0))
    pi = np.where(np.isfinite(inst.hi), pi, np.maximum(pi, 0.0))
    beta = np.minimum(beta, 0.0)
    items, _, rc = _price_all(inst, np.zeros(inst.n_items), pi, beta, np.inf, 1)
    if len(np.unique(items)) < inst.n_items:
        return np.inf  # an item without any allowed rep: no plan at all
    limits = (np.where(pi > 0, pi * np.where(np.isfinite(inst.lo), inst.lo, 0.0), 0.0)).sum()
    limits += (np.where(pi < 0, pi * np.where(np.isfinite(inst.hi), inst.hi, 0.0), 0.0)).sum()
    return float(rc.sum() + limits + (beta @ inst.budget_hi if len(beta) else 0.0))


def _lagrangian_bound(inst: Instance, lp_obj: float, items: np.ndarray, rc: np.ndarray) -> float:
    best = np.zeros(inst.n_items)
    np.minimum.at(best, items, rc)
    return lp_obj + float(best.sum())


@dataclass(frozen=True)
class PricedLp:
    """The LP bound of the full problem and the arcs it was solved on."""

    model: ArcModel
    lp: LpSolution
    bound: float
    converged: bool
    rounds: int
    full: bool
    session: LpSession | IpmSession | None = None  # holds the last LP (and its basis)


def priced_lp(
    inst: Instance,
    options: SolveOptions,
    clock: _Clock,
    *,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    shrink: bool = False,
    pause: bool | None = None,
) -> PricedLp | None:
    """Column generation until no arc prices out; None when the LP is infeasible.

    The LP is elastic: each limit has a slack that costs far more than any plan
    (:data:`ELASTIC_FACTOR` × the sum of all candidate costs per unit of relative
    violation), so a restricted candidate set is never infeasible and its duals
    price in the arcs that restore feasibility. The elastic LP relaxes the true
    LP, so its value is a valid bound; at convergence without slack they agree.
    Rounds after the first re-solve by simplex from the previous basis. ``start``
    replaces the nearest-rep candidates as the first arcs. With ``shrink``, the
    structured interior point drops arcs headed to 0 as it converges (faster,
    but the LP's arcs are then too few for repair to move along: the caller
    adds the ones it needs back).
    """
    items, reps = candidate_arcs(inst) if start is None else start
    first = _cover_items(inst, inst.arc_model(items, reps))
    full = len(items) >= inst.n_all_arcs
    elastic = _elastic_price(inst, first)
    raises = 0
    session: LpSession | IpmSession
    if first.n_arcs > STRUCTURED_IPM_ARCS:
        # Large LPs: the structured interior point method, pricing as it converges.
        # Nearest-rep candidates can be far from the LP's arcs: the first solve
        # pauses to prune and price them; guided arcs (``start``) need no pause.
        # Arcs the solves drop come back through pricing, so a model of every arc
        # (which is not priced) keeps them all.
        if pause is None:
            pause = start is None
        pause = pause and not full
        session = IpmSession(
            first,
            elastic=elastic,
            pricer=_pricer(inst) if pause else None,
            shrink=shrink and not full,
        )
    else:
        session = LpSession(first, options, elastic=elastic)
    n_arcs = first.n_arcs
    added = 0
    bound = -np.inf
    # Pricing stops early enough to leave time for finding a plan.
    lp_deadline = time.perf_counter() + LP_TIME_SHARE * clock.left()
    last: tuple[ArcModel, LpSolution] | None = None
    # An interior point round starts afresh, so the next one takes about as long
    # as the last: one that cannot finish before the deadline is not started.
    round_seconds = 0.0
    for rounds in range(1, MAX_PRICING_ROUNDS + 1):
        began = time.perf_counter()
        with step(f"LP round {rounds} ({n_arcs:,} arcs)"):
            # Interior point for the first LP and after large additions; a warm
            # simplex from the previous basis after small ones.
            big = rounds == 1 or added > WARM_ADD_SHARE * n_arcs
            limit = clock.left() if last is None else max(0.0, lp_deadline - time.perf_counter())
            status, objective, values, duals, slack = session.solve(
                limit, ipm=big and n_arcs > IPM_ARCS
            )
        if isinstance(session, IpmSession):
            round_seconds = time.perf_counter() - began
        model, lp = _session_model(inst, session, status, objective, values, duals, slack)
        if status != "optimal" and isinstance(session, IpmSession) and len(duals):
            # Any multipliers give a valid bound; an unfinished interior point
            # run's are often far better than the last round's.
            with step("Lagrangian bound at the last duals"):
                bound = max(bound, exact_lagrangian_bound(inst, *_duals(model, lp)[1:]))
        if status != "optimal":
            if last is not None:  # out of LP time: go on with the last solved LP,
                items_all, reps_all = session.arcs()  # plus the arcs priced in since
                extended = _with_arcs(inst, last[0], last[1], items_all, reps_all)
                return PricedLp(*extended, bound, False, rounds, full, session)
            return PricedLp(model, lp, bound, False, rounds, full, session)
        last = (model, lp)
        u, pi, beta = _duals(model, lp)
        ni = nr = np.zeros(0, np.int32)
        if not full:
            with step("Pricing all arcs"):
                tol = -1e-7 * max(1.0, abs(objective) / max(inst.n_items, 1))
                ni, nr, nrc = _price_all(inst, u, pi, beta, tol, ADD_PER_ITEM)
            bound = max(bound, _lagrangian_bound(inst, objective, ni, nrc))
        if len(ni) == 0:  # converged: this LP is the LP of the whole problem
            if slack <= SLACK_TOL:
                return PricedLp(model, lp, objective, True, rounds, full, session)
            if raises >= ELASTIC_RAISES:
                return None  # violation is cheaper than any plan at every price: infeasible
            session.scale_elastic(ELASTIC_RAISE)
            raises += 1
            continue
        have = model.arc_item.astype(np.int64) * inst.n_reps + model.arc_rep
        fresh = ~np.isin(ni.astype(np.int64) * inst.n_reps + nr, have)
        if not fresh.any():  # numerical noise only: nothing new to add
            return PricedLp(model, lp, objective, True, rounds, full, session)
        out_of_time = time.perf_counter() + round_seconds >= lp_deadline
        if out_of_time or rounds == MAX_PRICING_ROUNDS or interrupt_requested():
            # Out of LP time or rounds: keep the priced arcs (at value 0) so that repair can
            # use the moves the LP was asking for.
            model, lp = _with_arcs(inst, model, lp, ni[fresh], nr[fresh])
            return PricedLp(model, lp, bound, False, rounds, full, session)
        new = inst.arc_model(ni[fresh], nr[fresh])
        session.add(new)
        added = new.n_arcs
        n_arcs += new.n_arcs
    return None


def _pricer(inst: Instance) -> Callable[[np.ndarray], ArcModel]:
    """Pricing for :class:`IpmSession`: the arcs of negative reduced cost under given duals."""
    rows: RowMap | None = None

    def price(row_dual: np.ndarray) -> ArcModel:
        nonlocal rows
        if rows is None:
            rows = row_map(inst.arc_model(np.zeros(0, np.int32), np.zeros(0, np.int32)))
        u = row_dual[: inst.n_items]
        pi = np.zeros(inst.lo.shape)
        ok = rows.band_row >= 0
        pi[ok] = row_dual[rows.band_row[ok]]
        beta = row_dual[rows.budget_row] if len(rows.budget_row) else np.zeros(0)
        scale = max(float(np.abs(u).mean()), 1.0)
        with step("Pricing all arcs"):
            ni, nr, _ = _price_all(inst, u, pi, beta, -1e-7 * scale, ADD_PER_ITEM)
        return inst.arc_model(ni, nr)

    return price


def _with_arcs(
    inst: Instance, model: ArcModel, lp: LpSolution, items: np.ndarray, reps: np.ndarray
) -> tuple[ArcModel, LpSolution]:
    """Add arcs (ignoring ones it has) to a model, with LP value 0 for them."""
    keys = np.union1d(
        model.arc_item.astype(np.int64) * inst.n_reps + model.arc_rep,
        items.astype(np.int64) * inst.n_reps + reps,
    )
    bigger = inst.arc_model(
        (keys // inst.n_reps).astype(np.int32), (keys % inst.n_reps).astype(np.int32)
    )
    old = _map_choice(model, np.arange(model.n_arcs), bigger)
    values = np.zeros(bigger.n_arcs)
    if old is not None:
        values[old] = lp.values
    return bigger, dataclasses.replace(lp, values=values)


def _elastic_price(inst: Instance, model: ArcModel) -> float:
    """Price of one unit of relative violation in the elastic LP.

    Violating a limit by 100 % of its scale costs as much as
    :data:`ELASTIC_FACTOR` reps' worth of items each sent on the costliest
    candidate arc: dear enough that the LP prefers far-away reps to violation,
    moderate enough that its duals stay on the scale of real costs (a huge price
    makes simplex slow and prices in arcs that only matter for slack).
    """
    items_per_rep = inst.n_items / max(inst.n_reps, 1)
    worst = float(np.abs(model.cost).max()) if model.n_arcs else 1.0
    return ELASTIC_FACTOR * max(worst, 1.0) * max(items_per_rep, 1.0)


def _session_model(
    inst: Instance,
    session: LpSession | IpmSession,
    status: str,
    objective: float,
    values: np.ndarray,
    duals: np.ndarray,
    slack: float,
) -> tuple[ArcModel, LpSolution]:
    """Return the session's arcs as a sorted ArcModel, with the LP values in that order."""
    items, reps = session.arcs()
    model = inst.arc_model(items, reps)
    order = np.lexsort((reps, items))
    lp = LpSolution(status, objective, values[order], duals, session.rows, "", slack)
    return model, lp


def _cover_items(inst: Instance, model: ArcModel) -> ArcModel:
    """Add all allowed arcs of items that have none among the candidates."""
    covered = np.zeros(inst.n_items, dtype=bool)
    covered[model.arc_item] = True
    missing = np.flatnonzero(~covered).astype(np.int32)
    if len(missing) == 0 or inst.problem.pairs is not None:
        return model
    m = inst.n_reps
    items = np.concatenate([model.arc_item, np.repeat(missing, m)])
    reps = np.concatenate([model.arc_rep, np.tile(np.arange(m, dtype=np.int32), len(missing))])
    return inst.arc_model(items, reps)


def _sub_model(model: ArcModel, keep: np.ndarray) -> tuple[ArcModel, np.ndarray]:
    idx = np.flatnonzero(keep)
    return model.take(idx), idx


def lp_guided_incumbent(
    model: ArcModel, lp: LpSolution, rc: np.ndarray, options: SolveOptions, clock: _Clock
) -> tuple[np.ndarray | None, str, bool]:
    """Fix integral LP items, solve the rest as a MIP; widen the free set until a plan is found.

    Returns the plan (or None), the solver log, and whether the last attempt, on
    every arc of ``model`` with every item free, proved that no plan exists.
    """
    x = lp.values
    best_x = np.zeros(model.n_items)
    np.maximum.at(best_x, model.arc_item, x)
    fractional = best_x < 1.0 - INTEGRAL_TOL
    scale = max(abs(lp.objective), 1.0) / max(model.n_items, 1)
    delta = 0.05 * scale
    log = ""
    for attempt in range(8):
        free = fractional.copy()
        if attempt:
            cheap = rc <= delta
            free[model.arc_item[cheap & (x < INTEGRAL_TOL)]] = True
        keep = (x > INTEGRAL_TOL) | (free[model.arc_item] & (rc <= delta))
        # Fixed items keep only their LP arc.
        keep &= free[model.arc_item] | (x > 1.0 - INTEGRAL_TOL)
        sub, idx = _sub_model(model, keep)
        limit = min(clock.left(), max(1.0, INCUMBENT_TIME_SHARE * options.time_limit))
        res = HighsMip().solve(sub, _sub_options(options, limit, gap=max(options.gap, 1e-3)))
        log += res.log
        if res.choice is not None:
            return idx[res.choice], log, False
        if res.status == Status.INFEASIBLE and keep.all():
            return None, log, True
        if res.status == Status.TIME_LIMIT and clock.left() <= 0:
            break
        delta *= 4.0
        if attempt >= 4:
            delta = np.inf
    return None, log, False


def _priced_restart(
    model: ArcModel, rounded: np.ndarray, rc: np.ndarray, choice: np.ndarray, clock: _Clock
) -> np.ndarray:
    """Repair the rounded LP again, pricing moves by cost plus LP reduced cost; keep the best.

    The reduced cost says how much an arc works against the LP's balance
    prices, so these repairs prefer moves the LP finds cheap in the whole
    problem and land in other local optima than repair by cost alone. Each
    weight of :data:`RESTART_WEIGHTS` is tried while time allows.
    """
    best, best_value = choice, model.objective(choice)
    for weight in RESTART_WEIGHTS:
        if clock.left() < RESTART_MIN_SHARE * clock.budget:
            break
        priced = dataclasses.replace(model, cost=model.cost + weight * np.maximum(rc, 0.0))
        other = repair(priced, rounded, deadline=clock.after(REPAIR_TIME_SHARE))
        if other is None:
            continue
        other = improve(model, other, deadline=clock.after(IMPROVE_TIME_SHARE))
        value = model.objective(other)
        if value < best_value:
            best, best_value = other, value
    return best


def rins_step(
    model: ArcModel,
    lp: LpSolution,
    rc: np.ndarray,
    choice: np.ndarray,
    options: SolveOptions,
    time_limit: float,
) -> np.ndarray:
    """Re-solve, as one MIP, every item where the plan and the LP disagree.

    Items that the LP assigns integrally to the same rep as the plan stay
    fixed; the others (and items with cheap alternatives) may take their LP
    arcs, their plan arc or any arc of small reduced cost. Warm-started from
    the plan, so the result is never worse.
    """
    x = lp.values
    scale = max(abs(lp.objective), 1.0) / max(model.n_items, 1)
    plan_arc = np.zeros(model.n_arcs, dtype=bool)
    plan_arc[choice] = True
    agree = np.zeros(model.n_items, dtype=bool)
    agree[model.arc_item[plan_arc & (x > 1.0 - INTEGRAL_TOL)]] = True
    cheap = rc <= RINS_DELTA * scale
    free = ~agree
    free[model.arc_item[cheap & (x < INTEGRAL_TOL)]] = True
    keep = plan_arc | (free[model.arc_item] & ((x > INTEGRAL_TOL) | cheap))
    sub, idx = _sub_model(model, keep)
    start = np.searchsorted(idx, choice)
    res = HighsMip().solve(
        sub, _sub_options(options, time_limit, gap=options.gap, warm_start=start)
    )
    if res.choice is None or res.objective >= model.objective(choice):
        return choice
    return idx[res.choice]


def _no_plan(
    status: Status, bound: float, log: str, stats: dict[str, float] | None = None
) -> BackendResult:
    """Build a result without a plan (infeasible, or out of time before a first plan)."""
    return BackendResult(status, None, np.inf, bound, "highs", version(), log, stats)


def solve_lagrangian(
    inst: Instance, options: SolveOptions, clock: _Clock
) -> tuple[BackendResult, ArcModel | None]:
    """Large books: first plan, Lagrangian bound, improvement, neighbourhood search.

    The first plan is built by regions where possible, else by repairing the
    item-wise minimisers of the Lagrangian.
    """
    t0 = time.perf_counter()
    items, reps = candidate_arcs(inst)
    start_rep: np.ndarray | None = None
    if by_regions_applicable(inst):
        base = _cover_items(inst, inst.arc_model(items, reps))
        start_rep = solve_by_regions(inst, base, options, clock.after(REGIONS_SHARE))
        if start_rep is not None:
            start_rep = polish_by_regions(inst, start_rep, options, clock.after(POLISH_SHARE))
    from_regions = start_rep is not None
    first = None
    with step("Cheapest arcs of every item"):
        near = near_arcs(inst)
    if start_rep is None:
        with step("Lagrangian bound (smoothed dual)"):
            first = smoothed_dual(inst, deadline=clock.after(LAGRANGE_FIRST_SHARE), near_set=near)
        start_rep = first.rep_of_item
    own = np.arange(inst.n_items, dtype=np.int32)
    model = inst.arc_model(np.concatenate([items, own]), np.concatenate([reps, start_rep]))
    start = model.arc_index(own, start_rep)
    stats: dict[str, float] = {
        "arcs": float(model.n_arcs),
        "plan_from_regions": float(from_regions),
    }
    with step("Finding a plan (repair)"):
        choice = repair(model, start, deadline=clock.after(REPAIR_TIME_SHARE))
    if choice is not None:
        with step("Improving the plan (moves and swaps)"):
            choice = improve(model, choice, deadline=clock.after(IMPROVE_TIME_SHARE))
        stats["first_plan_seconds"] = time.perf_counter() - t0
    with step("Lagrangian bound (smoothed dual)"):
        second = smoothed_dual(
            inst,
            deadline=clock.after(LAGRANGE_SECOND_SHARE),
            start=None if first is None else first.multipliers,
            near_set=near,
        )
    bound = max(-np.inf if first is None else first.bound, second.bound)
    stats["lagrangian_bound"] = bound
    if choice is None:
        return _no_plan(Status.TIME_LIMIT, bound, "", stats), model
    choice, incumbent, status = _finish(inst, model, choice, bound, options, clock, stats)
    stats["seconds"] = time.perf_counter() - t0
    return BackendResult(
        status,
        choice,
        incumbent,
        bound,
        "highs",
        version(),
        "Lagrangian relaxation of the limits (smoothed dual); see models/README.md",
        stats,
    ), model


@dataclass(frozen=True)
class LpOutcome:
    """An optimal LP of the route: its arcs, values, limit duals (m, L) and budget duals."""

    model: ArcModel
    values: np.ndarray
    pi: np.ndarray
    beta: np.ndarray


def _finish(
    inst: Instance,
    model: ArcModel,
    choice: np.ndarray,
    bound: float,
    options: SolveOptions,
    clock: _Clock,
    stats: dict[str, float],
) -> tuple[np.ndarray, float, Status]:
    """Neighbourhood search until the gap or the clock; the plan, its value, its status."""
    with step("Improving the plan (neighbourhood search)"):
        choice, steps = large_neighbourhood_search(
            inst, model, choice, options, clock, target=bound + options.gap * abs(bound)
        )
    incumbent = model.objective(choice)
    stats["lns_improvements"] = float(steps)
    gap = relative_gap(incumbent, bound)
    status = (
        Status.OPTIMAL
        if gap <= options.gap
        else (Status.TIME_LIMIT if clock.left() <= 0 else Status.FEASIBLE)
    )
    return choice, incumbent, status


def solve_pipeline(inst: Instance, options: SolveOptions) -> tuple[BackendResult, ArcModel | None]:
    """Run the default HiGHS pipeline (see module notes) within the time limit."""
    # Solver calls stop a little after their limits and the plan is still to be
    # built, so the pipeline keeps a small share of the time limit in reserve.
    budget = options.time_limit * (1.0 - RESERVE_SHARE)
    clock = _Clock(time.perf_counter() + budget, budget)
    if inst.n_all_arcs > GUIDED_ARC_LIMIT and lagrangian_applicable(inst):
        if cells_applicable(inst):
            return solve_by_cells(inst, options, clock)
        return solve_lagrangian(inst, options, clock)
    result, model, _ = _solve_lp_route(inst, options, clock)
    return result, model


def solve_by_cells(
    inst: Instance, options: SolveOptions, clock: _Clock
) -> tuple[BackendResult, ArcModel | None]:
    """Books of about 1e9 pairs: the LP on cells, a plan from it, then the accounts' LP.

    See :mod:`territory_opt.alignment.cells`: the cell LP's shares, split into
    whole accounts and repaired, give the first plan; its duals give a
    Lagrangian bound of the book and the arcs the accounts' LP starts from.
    That LP (structured interior point, priced over every pair) starts from
    those arcs plus the plan's, so it is feasible from the start; its value (or
    the Lagrangian bound at its duals) is the bound, and its rounding, repaired,
    a second plan. When the clock stopped its pricing, a second LP over its
    support and the arcs its duals price in gives the bound instead.
    """
    t0 = time.perf_counter()
    with step("Cells of neighbouring accounts"):
        size = cell_size(inst)
        cell = cell_of_item(inst, size)
        coarse = cell_instance(inst, cell)
    stats: dict[str, float] = {"cells": float(coarse.n_items), "cell_size": float(size)}
    cell_clock = _Clock(clock.after(CELL_TIME_SHARE))
    # Nearest-rep candidates, priced over every cell pair (cheap: cells × reps is
    # small); the candidates cannot meet the limits at first (at 100k × 1,000 their
    # elastic LP has slack 514), and warm simplex rounds add what is missing.
    priced = priced_lp(coarse, options, cell_clock)
    if priced is None:
        return _no_plan(Status.INFEASIBLE, np.inf, "LP relaxation is infeasible"), None
    cell_model, lp = priced.model, priced.lp
    stats.update(
        cell_seconds=time.perf_counter() - t0,
        cell_lp_rounds=float(priced.rounds),
        cell_lp_arcs=float(cell_model.n_arcs),
        cell_lp_converged=float(priced.converged),
        cell_lp_slack=float(lp.slack),
    )
    if lp.status != "optimal":
        return _no_plan(Status.TIME_LIMIT, -np.inf, lp.log, stats), None
    _, pi, beta = _duals(cell_model, lp)
    with step("Lagrangian bound over every pair"):
        bound = exact_lagrangian_bound(inst, pi, beta)
    stats["cell_duals_bound"] = bound
    with step("Pricing all arcs"):
        fi, fr, _ = _price_all(inst, np.zeros(inst.n_items), pi, beta, np.inf, CELL_PRICED_K)
    # The arcs priced in at the cell LP's prices reach as far as each rep's limits
    # need, so reverse neighbours (3M arcs at 1M × 1,000) are left out.
    near_i, near_r = candidate_arcs(inst, k=ITEM_NEAREST_K, reverse=False)
    items, reps = np.concatenate([near_i, fi]), np.concatenate([near_r, fr])
    own = np.arange(inst.n_items, dtype=np.int32)
    with step("Plan of every account from the cell LP"):
        split_rep = split_cells(inst, cell, cell_model, lp.values)
    model = inst.arc_model(np.concatenate([items, own]), np.concatenate([reps, split_rep]))
    # The LP's shares split cells between reps item by item; the loads nearly
    # meet the limits, so a repair finds a plan.
    with step("Finding a plan (cell LP split and repair)"):
        choice = repair(
            model, model.arc_index(own, split_rep), deadline=clock.after(CELL_REPAIR_SHARE)
        )
    if choice is None:
        with step("Finding a plan (cell LP rounding and repair)"):
            rounded = repair(
                cell_model,
                _round(cell_model, lp.values),
                deadline=clock.after(CELL_REPAIR_SHARE),
            )
        if rounded is None:
            return _no_plan(Status.TIME_LIMIT, bound, lp.log, stats), model
        rep_of_cell = np.full(coarse.n_items, -1, dtype=np.int32)
        rep_of_cell[cell_model.arc_item[rounded]] = cell_model.arc_rep[rounded]
        whole = rep_of_cell[cell]
        model = inst.arc_model(
            np.concatenate([items, own, own]), np.concatenate([reps, split_rep, whole])
        )
        choice = model.arc_index(own, whole)
    stats["split_plan_objective"] = model.objective(choice)
    stats["first_plan_seconds"] = time.perf_counter() - t0
    log = "LP over cells of neighbouring accounts, then the accounts' LP\n" + lp.log
    # The accounts' LP starts from fewer arcs than the plan moves along: the
    # nearest rep and the cheapest at the cell prices (at 100k × 1,000 its first
    # solve takes 34 s instead of 50 s for a Lagrangian bound 0.27 % lower).
    lead_i, lead_r = candidate_arcs(inst, k=LP_NEAREST_K, reverse=False)
    first_arcs = np.concatenate([lead_i, fi]), np.concatenate([lead_r, fr])
    model, choice, bound = _accounts_lp(
        inst, options, clock, (model, choice), first_arcs, bound, stats
    )
    choice, incumbent, status = _finish(inst, model, choice, bound, options, clock, stats)
    stats["seconds"] = time.perf_counter() - t0
    return BackendResult(status, choice, incumbent, bound, "highs", version(), log, stats), model


def _accounts_lp(
    inst: Instance,
    options: SolveOptions,
    clock: _Clock,
    plan: tuple[ArcModel, np.ndarray],
    first_arcs: tuple[np.ndarray, np.ndarray],
    bound: float,
    stats: dict[str, float],
) -> tuple[ArcModel, np.ndarray, float]:
    """Solve the accounts' priced LP; return the better plan (and its arcs) and the best bound.

    ``plan`` is a model and a plan on it. The LP starts from ``first_arcs``
    plus the plan's arcs, so it is feasible from its first round. Its rounding,
    repaired and improved on the LP's arcs and the model's, replaces the plan
    when it is cheaper.
    """
    model, choice = plan
    with step("Improving the plan (moves and swaps)"):
        choice = improve(model, choice, deadline=clock.after(CELL_IMPROVE_SHARE))
    start = (
        np.concatenate([first_arcs[0], model.arc_item[choice]]),
        np.concatenate([first_arcs[1], model.arc_rep[choice]]),
    )
    lp_clock = _Clock(clock.after(ACCOUNTS_LP_SHARE))
    # The LP runs on narrowed limits so that its rounding has room inside the
    # true ones; its duals still price the true limits, so the bound is L(π) at
    # them over every pair with the true limits.
    mean_load = inst.item_loads.sum(axis=0) / max(int(inst.item_size.sum()), 1)
    narrow = inst.narrowed(ACCOUNTS_LP_NARROW, ACCOUNTS_LP_NARROW_ITEMS * mean_load)
    pause = len(start[0]) <= ACCOUNTS_LP_PAUSE_ARCS
    began = time.perf_counter()
    priced = priced_lp(narrow, options, lp_clock, start=start, shrink=True, pause=pause)
    stats["lp_seconds"] = time.perf_counter() - began
    if priced is None:  # narrowed limits no plan meets: the LP's duals prove nothing here
        return model, choice, bound
    with step("Lagrangian bound at the LP's duals"):
        lp_bound = exact_lagrangian_bound(inst, *_duals(priced.model, priced.lp)[1:])
    stats.update(
        lp_rounds=float(priced.rounds),
        lp_bound=lp_bound,
        narrowed_lp_value=priced.lp.objective,
        lp_arcs=float(priced.model.n_arcs),
        lp_converged=float(priced.converged),
    )
    bound = max(bound, lp_bound)
    if priced.lp.status != "optimal" and not _nearly_solved(priced.model, priced.lp):
        return model, choice, bound
    # The LP may have dropped arcs that stay at 0 (the plan's among them): put them back.
    lp_model, lp_sol = _with_arcs(inst, priced.model, priced.lp, model.arc_item, model.arc_rep)
    mapped = _map_choice(model, choice, lp_model)
    if mapped is None:  # cannot happen: every arc of model is in lp_model
        return model, choice, bound
    rounded = _round(lp_model, lp_sol.values)
    with step("Finding a plan (LP rounding and repair)"):
        other = repair(lp_model, rounded, deadline=clock.after(REPAIR_TIME_SHARE))
    if not priced.converged:
        bound = max(bound, _second_lp_bound(inst, options, clock, priced, start, stats))
    if other is not None:
        with step("Improving the plan (moves and swaps)"):
            other = improve(lp_model, other, deadline=clock.after(IMPROVE_TIME_SHARE))
        stats["lp_plan_objective"] = lp_model.objective(other)
        if lp_model.objective(other) < lp_model.objective(mapped):
            mapped = other
    return lp_model, mapped, bound


def _second_lp_bound(
    inst: Instance,
    options: SolveOptions,
    clock: _Clock,
    priced: PricedLp,
    start: tuple[np.ndarray, np.ndarray],
    stats: dict[str, float],
) -> float:
    """Bound from a second LP: the first one's arcs plus the ones its duals price in.

    An accounts' LP that was not priced to the end lacks arcs of negative
    reduced cost, and L(π) at its duals pays for each of them (at 1M × 1,000,
    43.6M of the 46.5M between the narrowed LP and L(π)). This LP has every
    arc the first one started from or priced in, plus each account's
    :data:`ADD_PER_ITEM` most negative ones at its duals, and runs on the true
    limits, so no narrowing is paid either. Its bound is L(π) at its last
    duals when its interior point converges or the clock stops it (keeping
    only the first LP's support, 3.3M arcs instead of 7M at 1M × 1,000, left
    L(π) at 1,096.3M: the dropped arcs price in again). It gets
    :data:`SECOND_LP_SHARE` of the time left, and starts only when
    :data:`SECOND_LP_MIN` of the first LP's time fits in that.
    """
    deadline = clock.after(SECOND_LP_SHARE)
    if time.perf_counter() + SECOND_LP_MIN * stats.get("lp_seconds", 0.0) > deadline:
        return -np.inf
    u, pi, beta = _duals(priced.model, priced.lp)
    with step("Pricing all arcs"):
        scale = max(float(np.abs(u).mean()), 1.0)
        ni, nr, _ = _price_all(inst, u, pi, beta, -1e-7 * scale, ADD_PER_ITEM)
    if not len(ni):
        return -np.inf
    keys = np.unique(
        np.concatenate([start[0], priced.model.arc_item, ni]).astype(np.int64) * inst.n_reps
        + np.concatenate([start[1], priced.model.arc_rep, nr])
    )
    arcs = (keys // inst.n_reps).astype(np.int32), (keys % inst.n_reps).astype(np.int32)
    began = time.perf_counter()
    second = priced_lp(inst, options, _Clock(deadline), start=arcs, shrink=True, pause=False)
    if second is None:  # the true limits have no LP solution: nothing to bound
        return -np.inf
    stats.update(
        second_lp_bound=second.bound,
        second_lp_arcs=float(len(keys)),
        second_lp_seconds=time.perf_counter() - began,
    )
    return second.bound


def _nearly_solved(model: ArcModel, lp: LpSolution) -> bool:
    """Whether an unfinished interior point's values are worth rounding.

    Its objective is the dual one; the values' cost must be within
    :data:`ACCOUNTS_LP_ROUND_GAP` of it, with (almost) no elastic slack.
    """
    if not len(lp.values) or not np.isfinite(lp.objective) or lp.slack > ROUND_SLACK:
        return False
    primal = float(model.cost @ lp.values)
    return primal - lp.objective <= ACCOUNTS_LP_ROUND_GAP * max(abs(primal), 1.0)


def _large_book_lp(
    inst: Instance, options: SolveOptions, clock: _Clock, nearest_k: int, stats: dict[str, float]
) -> tuple[PricedLp | None, float]:
    """Solve the priced LP; a large book's starts from arcs its Lagrangian prices favour.

    Those are the arcs near each item's best at the smoothed dual's prices, plus
    its ``nearest_k`` nearest reps (and the reverse neighbours of every rep).
    Returns the LP (None if infeasible) and the smoothed dual's bound.
    """
    first_arcs: tuple[np.ndarray, np.ndarray] | None = None
    dual_bound = -np.inf
    if inst.n_all_arcs > LP_ARC_LIMIT and lagrangian_applicable(inst):
        with step("Cheapest arcs of every item"):
            near = near_arcs(inst)
        with step("Lagrangian bound (smoothed dual)"):
            dual = smoothed_dual(inst, deadline=clock.after(GUIDED_DUAL_SHARE), near_set=near)
        items, reps = guided_arcs(inst, dual, near)
        nearest_items, nearest_reps = candidate_arcs(inst, k=nearest_k)
        keys = np.unique(
            np.concatenate([items, nearest_items]).astype(np.int64) * inst.n_reps
            + np.concatenate([reps, nearest_reps])
        )
        first_arcs = (keys // inst.n_reps).astype(np.int32), (keys % inst.n_reps).astype(np.int32)
        dual_bound = dual.bound
        stats["lagrangian_bound"] = dual_bound
    priced = priced_lp(inst, options, clock, start=first_arcs)
    if priced is not None:
        stats.update(
            lp_rounds=float(priced.rounds),
            lp_bound=priced.bound,
            lp_arcs=float(priced.model.n_arcs),
        )
    return priced, dual_bound


def _solve_lp_route(
    inst: Instance, options: SolveOptions, clock: _Clock
) -> tuple[BackendResult, ArcModel | None, LpOutcome | None]:
    """Solve by the LP route: priced LP, rounding, repair, MIPs, neighbourhood search.

    Also returns the duals of the LP when it was solved to optimality.
    """
    stats: dict[str, float] = {}
    t0 = time.perf_counter()
    priced, dual_bound = _large_book_lp(inst, options, clock, GUIDED_NEAREST_K, stats)
    if priced is None:
        return _no_plan(Status.INFEASIBLE, np.inf, "LP relaxation is infeasible"), None, None
    stats["lp_seconds"] = time.perf_counter() - t0
    model, lp = priced.model, priced.lp
    if lp.status != "optimal":
        lost = _no_plan(Status.TIME_LIMIT, max(priced.bound, dual_bound), lp.log, stats)
        return lost, model, None
    u, pi, beta = _duals(model, lp)
    outcome = LpOutcome(model, lp.values, pi, beta)
    model, lp, dived = _dive(inst, priced, model, lp, clock, stats)
    rc = model.cost - u[model.arc_item] - (model.load * pi[model.arc_rep]).sum(axis=1)
    if len(beta):
        rc -= model.budget @ beta
    log = lp.log
    bound = max(priced.bound, dual_bound)
    proven = False
    rounded = _round(model, lp.values)
    choice: np.ndarray | None = None
    for rounding in [rounded] if dived is None else [dived, rounded]:
        choice = rounding
        if model.violation(rounding) > 0:  # rounding breaks a limit: repair it
            with step("Finding a plan (LP rounding and repair)"):
                choice = repair(model, rounding, deadline=clock.after(REPAIR_TIME_SHARE))
        if choice is not None:
            rounded = rounding
            break
    if choice is not None:
        with step("Improving the plan (moves and swaps)"):
            choice = improve(model, choice, deadline=clock.after(IMPROVE_TIME_SHARE))
        with step("Improving the plan (repair guided by LP prices)"):
            choice = _priced_restart(model, rounded, rc, choice, clock)
    if choice is None:  # repair got stuck: search with a MIP around the LP
        with step("Finding a plan (LP-guided MIP)"):
            choice, more, proven = lp_guided_incumbent(model, lp, rc, options, clock)
        log += more
    if choice is None and not proven and clock.left() > 0:
        with step("Finding a plan (MIP heuristics)"):
            first = HighsMip(max_improving_solutions=1).solve(
                model,
                _sub_options(options, clock.left(), gap=options.gap),
            )
            choice = first.choice
            proven = first.status == Status.INFEASIBLE
    if choice is None and proven and not priced.full and inst.n_all_arcs <= MIP_ARC_LIMIT:
        with step("Checking every arc"):
            everything = inst.arc_model(*inst.all_arcs())
            res = HighsMip().solve(
                everything,
                _sub_options(options, clock.left(), gap=options.gap),
            )
        if res.status == Status.INFEASIBLE:
            return res, None, None
        proven = False
        if res.choice is not None:
            model, choice = everything, res.choice
    if choice is None and proven and priced.full:
        return (
            _no_plan(Status.INFEASIBLE, np.inf, log + "\nno integer plan exists on any arc", stats),
            model,
            None,
        )
    if choice is None:
        return _no_plan(Status.TIME_LIMIT, bound, log, stats), model, outcome
    incumbent = model.objective(choice)
    stats["first_plan_seconds"] = time.perf_counter() - t0
    stats["first_plan_gap"] = relative_gap(incumbent, bound)
    if relative_gap(incumbent, bound) > options.gap and clock.left() > 0:
        with step("Improving the plan (MIP where plan and LP disagree)"):
            choice = rins_step(model, lp, rc, choice, options, RINS_TIME_SHARE * clock.left())
        incumbent = model.objective(choice)
        stats["rins_gap"] = relative_gap(incumbent, bound)
    with step("Improving the plan (neighbourhood search)"):
        target = bound + options.gap * abs(bound)
        lns_clock = _Clock(min(clock.deadline, time.perf_counter() + LNS_TIME_SHARE * clock.left()))
        choice, steps = large_neighbourhood_search(
            inst, model, choice, options, lns_clock, target=target
        )
    incumbent = model.objective(choice)
    stats["lns_improvements"] = float(steps)
    stats["lns_gap"] = relative_gap(incumbent, bound)
    if relative_gap(incumbent, bound) > options.gap and clock.left() > 0 and priced.converged:
        with step("Reduced-cost fixing and MIP"):
            threshold = incumbent - bound + 1e-9 * max(1.0, abs(incumbent))
            fi, fr, _ = _price_all(inst, u, pi, beta, threshold, None)
            stats["fixed_arcs"] = float(len(fi))
            if len(fi) <= MIP_ARC_LIMIT:
                reduced = inst.arc_model(fi, fr)
                start = _map_choice(model, choice, reduced)
                res = HighsMip().solve(
                    reduced,
                    _sub_options(options, clock.left(), gap=options.gap, warm_start=start),
                )
                log += res.log
                if res.choice is not None and res.objective <= incumbent + 1e-9:
                    model, choice, incumbent = reduced, res.choice, res.objective
                if np.isfinite(res.lower_bound):
                    bound = max(bound, min(incumbent, res.lower_bound))
                elif res.status == Status.INFEASIBLE:
                    bound = incumbent  # nothing better than the incumbent exists
    gap = relative_gap(incumbent, bound)
    status = (
        Status.OPTIMAL
        if gap <= options.gap + 1e-12
        else (Status.TIME_LIMIT if clock.left() <= 0 else Status.FEASIBLE)
    )
    stats["seconds"] = time.perf_counter() - t0
    result = BackendResult(status, choice, incumbent, bound, "highs", version(), log, stats)
    return result, model, outcome


def _dive(
    inst: Instance,
    priced: PricedLp,
    model: ArcModel,
    lp: LpSolution,
    clock: _Clock,
    stats: dict[str, float],
) -> tuple[ArcModel, LpSolution, np.ndarray | None]:
    """Dive on the LP's HiGHS session (see :mod:`~territory_opt.alignment.dive`).

    Returns the model extended by the arcs the dive priced in (LP values 0),
    the LP on it, and the rounding of the dive's last LP (None without a dive).
    """
    session = priced.session
    if not isinstance(session, LpSession) or clock.left() <= 0:
        return model, lp, None
    with step("Diving on the LP (fixing split accounts)"):
        dive = lp_dive(
            session,
            item_sizes(model),
            clock.after(DIVE_TIME_SHARE),
            price=None if priced.full else _pricer(inst),
        )
    if dive is None:
        return model, lp, None
    stats["dive_rounds"] = float(dive.rounds)
    stats["dive_objective"] = dive.objective
    model, lp = _with_arcs(inst, model, lp, dive.items, dive.reps)
    values = np.zeros(model.n_arcs)
    values[model.arc_index(dive.items, dive.reps)] = dive.values
    return model, lp, _round(model, values)


def _map_choice(src: ArcModel, choice: np.ndarray, dst: ArcModel) -> np.ndarray | None:
    """Translate chosen arcs of one model to arc indices of another (None if missing)."""
    pos = dst.arc_index(src.arc_item[choice], src.arc_rep[choice])
    return None if (pos < 0).any() else pos


def _round(model: ArcModel, values: np.ndarray) -> np.ndarray:
    """Pick the arc with the largest LP value for each item."""
    order = np.lexsort((-values, model.arc_item))
    first = np.ones(len(order), dtype=bool)
    first[1:] = model.arc_item[order][1:] != model.arc_item[order][:-1]
    choice = order[first]
    return choice[np.argsort(model.arc_item[choice])]
