"""Large books: split the map into regions of neighbouring reps and solve each region.

Notes
-----
Above :data:`~territory_opt.alignment.pipeline.GUIDED_ARC_LIMIT` pairs the LP of
the whole book is too slow to solve in minutes, so the first plan is built in
three steps (one band pool, no budgets, rep-independent loads):

1. **Regions.** Reps are split by recursive coordinate bisection of their
   centres into regions of at most :data:`REGION_REPS` neighbouring reps.
2. **Accounts to regions.** A model with one "rep" per region assigns every
   item to a region: cost = its cheapest candidate arc into the region, limits
   = the sums of the region's rep limits, narrowed towards the target by
   :data:`REGION_MARGIN` of the half band so that the region's reps can still
   meet their own limits with whole items. It is solved like a small book
   (elastic LP, rounding, repair).
3. **Regions.** Each region is then an ordinary book of a few thousand items and
   at most :data:`REGION_REPS` reps, every pair allowed, solved with the rep
   limits of the whole book by LP, rounding, repair and improvement.
   Together the regions' plans meet every rep's limits, so they form a plan
   of the whole book, which moves and exchanges across region borders then
   improve.

The bound is the Lagrangian bound of the whole book
(:mod:`territory_opt.alignment.lagrangian`): the regions' LPs are not bounds
for the whole book, since the split into regions is a choice.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from scipy.spatial import cKDTree

from territory_opt._interrupt import expired
from territory_opt._interrupt import requested as interrupt_requested
from territory_opt._progress import step
from territory_opt.alignment.backends.base import SolveOptions
from territory_opt.alignment.backends.highs import LpSession
from territory_opt.alignment.instance import ArcModel, Instance, pools
from territory_opt.alignment.repair import improve, repair
from territory_opt.geo.distance import unit_vectors

#: Most reps per region (every account of a region may go to every rep of it).
REGION_REPS = 16
#: Share of each half band that region totals may not use (room for whole items).
REGION_MARGIN = 0.5
#: A region assignment is taken without repair when its totals keep this margin.
ACCEPT_MARGIN = 0.25
#: Most items per cell in the item-to-region model.
CELL_ITEMS = 50
#: Nearest regions (by centre) every cell may also go to in the cell LP, besides the
#: regions its items' candidate arcs reach.
CELL_REACH = 8
#: ... and every region its nearest cells, this many times its share of the cells.
REVERSE_CELLS = 3.0
#: LP values within this of 0 or 1 count as whole.
INTEGRAL = 1e-6
#: Time shares: region assignment (of what is left), then all regions together.
ASSIGN_TIME_SHARE = 0.3
REGIONS_TIME_SHARE = 0.8
#: LPs with more arcs than this use the interior point solver.
IPM_ARCS = 20_000


def applicable(inst: Instance) -> bool:
    """Whether the book can be split: located, one band pool, no budgets."""
    if inst.centers is None or inst.problem.coord_system is None:
        return False
    if len(inst.budget_hi) or inst.n_reps <= REGION_REPS:
        return False
    _, rep_pool = pools(inst.problem, inst.spec)
    return len(np.unique(rep_pool)) == 1


def regions(points: np.ndarray, size: int) -> np.ndarray:
    """Region number of every point: recursive bisection along the wider axis.

    >>> regions(np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 0.0], [5.0, 1.0]]), 2).tolist()
    [0, 0, 1, 1]
    """
    out = np.zeros(len(points), dtype=np.int32)
    todo = [np.arange(len(points))]
    next_label = 0
    while todo:
        members = todo.pop()
        if len(members) <= size:
            out[members] = next_label
            next_label += 1
            continue
        spread = np.ptp(points[members], axis=0)
        axis = int(np.argmax(spread))
        order = members[np.argsort(points[members, axis], kind="stable")]
        half = len(order) // 2
        todo.extend([order[half:], order[:half]])
    return out


def _sub_model(model: ArcModel, items: np.ndarray) -> tuple[ArcModel, np.ndarray]:
    """Return the arcs of ``items`` (sorted) as a model of their own (items renumbered 0..)."""
    idx = np.flatnonzero(np.isin(model.arc_item, items))
    return model.take(idx, items), idx


def solve_small(
    model: ArcModel, options: SolveOptions, deadline: float, *, polish: bool = True
) -> np.ndarray | None:
    """LP on every arc of ``model``, rounding, repair and (``polish``) improvement.

    Returns None when the LP or the repair does not finish by ``deadline``.
    """
    from territory_opt.alignment.pipeline import ELASTIC_FACTOR, _round

    left = deadline - time.perf_counter()
    if left <= 0 or model.n_arcs == 0 or interrupt_requested():
        return None
    # Violation priced as in the whole-book LP (see pipeline._elastic_price).
    limited = max(int((np.isfinite(model.lo) | np.isfinite(model.hi)).any(axis=1).sum()), 1)
    worst = max(float(np.abs(model.cost).max()), 1.0)
    elastic = ELASTIC_FACTOR * worst * max(model.n_items / limited, 1.0)
    session = LpSession(model, options, elastic=elastic)
    status, _, values, _, _ = session.solve(0.85 * left, ipm=model.n_arcs > IPM_ARCS)
    if status != "optimal":
        return None
    items, reps = session.arcs()
    order = np.lexsort((reps, items))  # session arcs are the model's arcs, in add order
    choice = _round(model, values[order])
    if model.violation(choice) > 0:
        rest = deadline - time.perf_counter()
        fixed = repair(model, choice, deadline=time.perf_counter() + 0.7 * rest)
        if fixed is None:
            return None
        choice = fixed
    if not polish:
        return choice
    rest = deadline - time.perf_counter()
    return improve(model, choice, deadline=time.perf_counter() + max(rest, 0.0))


def _region_limits(
    full: ArcModel, region_of_rep: np.ndarray, target: np.ndarray, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sum the limits of each region's reps, narrowed towards the target by ``margin``."""
    n_regions = int(region_of_rep.max()) + 1
    lo = np.zeros((n_regions, full.lo.shape[1]))
    hi = np.zeros_like(lo)
    mid = np.zeros_like(lo)
    np.add.at(lo, region_of_rep, np.where(np.isfinite(full.lo), full.lo, -np.inf))
    np.add.at(hi, region_of_rep, np.where(np.isfinite(full.hi), full.hi, np.inf))
    np.add.at(mid, region_of_rep, np.where(np.isfinite(target), target, 0.0))
    ok = np.isfinite(lo) & np.isfinite(hi)
    mid = np.where(ok, np.clip(mid, lo, hi), mid)
    return (
        np.where(np.isfinite(lo), mid - (1 - margin) * (mid - lo), lo),
        np.where(np.isfinite(hi), mid + (1 - margin) * (hi - mid), hi),
    )


def _region_model(full: ArcModel, region_of_rep: np.ndarray, target: np.ndarray) -> ArcModel:
    """One "rep" per region: cheapest arc into the region, summed (narrowed) limits."""
    n_regions = int(region_of_rep.max()) + 1
    key = full.arc_item.astype(np.int64) * n_regions + region_of_rep[full.arc_rep]
    order = np.lexsort((full.cost, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    best = order[first]  # cheapest arc of every (item, region)
    lo, hi = _region_limits(full, region_of_rep, target, REGION_MARGIN)
    return ArcModel(
        n_items=full.n_items,
        n_reps=n_regions,
        arc_item=full.arc_item[best],
        arc_rep=region_of_rep[full.arc_rep[best]].astype(np.int32),
        cost=full.cost[best],
        load=full.load[best],
        lo=lo,
        hi=hi,
        budget=np.zeros((len(best), 0)),
        budget_hi=np.zeros(0),
        load_names=full.load_names,
        budget_names=(),
    )


def _cell_reach(
    inst: Instance,
    pts: np.ndarray,
    cell_of_item: np.ndarray,
    region_of_rep: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arcs from every cell to its :data:`CELL_REACH` nearest regions, with their cost.

    The candidate arcs of the items only reach the regions of their nearest
    reps, and where reps crowd (cities) those are shared by many regions, so a
    region can lack the items its limits need. Here each cell is priced into
    nearby regions at the sum of its items' costs with the region's rep nearest
    to the cell's centre. Cells with an item not allowed with that rep get no arc.
    Returns cell, region and cost of each arc.
    """
    n_cells = int(cell_of_item.max()) + 1
    n_regions = int(region_of_rep.max()) + 1
    assert inst.centers is not None and inst.problem.coord_system is not None
    rep_pts = unit_vectors(inst.centers, inst.problem.coord_system)
    centre = np.stack(
        [np.bincount(cell_of_item, weights=pts[:, d], minlength=n_cells) for d in range(3)], axis=1
    )
    region_centre = np.stack(
        [np.bincount(region_of_rep, weights=rep_pts[:, d], minlength=n_regions) for d in range(3)],
        axis=1,
    )
    # Directions: sums of unit vectors, scaled back to the sphere.
    centre = centre / np.maximum(np.linalg.norm(centre, axis=1, keepdims=True), 1e-12)
    region_centre = region_centre / np.maximum(
        np.linalg.norm(region_centre, axis=1, keepdims=True), 1e-12
    )
    reach = min(CELL_REACH, n_regions)
    _, near = cKDTree(region_centre).query(centre, k=reach)
    near = np.asarray(near).reshape(n_cells, reach)
    # And every region its nearest cells, a few times its share (a crowded city's
    # regions must reach out further than the cells nearest to them look).
    share = min(int(np.ceil(REVERSE_CELLS * n_cells / n_regions)), n_cells)
    _, back = cKDTree(centre).query(region_centre, k=share)
    back = np.asarray(back).reshape(n_regions, share)
    keys = np.unique(
        np.concatenate(
            [
                np.repeat(np.arange(n_cells, dtype=np.int64), reach) * n_regions + near.ravel(),
                back.ravel().astype(np.int64) * n_regions + np.repeat(np.arange(n_regions), share),
            ]
        )
    )
    cell_arc = keys // n_regions
    region_arc = keys % n_regions
    rep_arc = np.empty(len(cell_arc), dtype=np.int32)
    for g in range(n_regions):
        at = np.flatnonzero(region_arc == g)
        members = np.flatnonzero(region_of_rep == g)
        if len(at) == 0 or len(members) == 0:
            continue
        _, pick = cKDTree(rep_pts[members]).query(centre[cell_arc[at]])
        rep_arc[at] = members[np.asarray(pick)]
    # Every item with the reps of its cell's arcs (arcs are sorted by cell).
    members = np.argsort(cell_of_item, kind="stable")
    size = np.bincount(cell_of_item, minlength=n_cells)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    # Pairs (arc, item): arc a of cell c with each of c's items.
    arc_of = np.repeat(np.arange(len(cell_arc)), size[cell_arc])
    arc_start = np.cumsum(size[cell_arc]) - size[cell_arc]
    offset = np.arange(len(arc_of)) - np.repeat(arc_start, size[cell_arc])
    item = members[start[cell_arc[arc_of]] + offset]
    ev = inst.evaluate(item.astype(np.int32), rep_arc[arc_of])
    cost = np.bincount(arc_of, weights=ev["cost"], minlength=len(cell_arc))
    banned = np.bincount(arc_of, weights=~ev["allowed"], minlength=len(cell_arc)) > 0
    keep = ~banned & (size[cell_arc] > 0)
    return cell_arc[keep], region_arc[keep], cost[keep]


def _assign_regions(
    inst: Instance,
    coarse: ArcModel,
    region_of_rep: np.ndarray,
    accept: tuple[np.ndarray, np.ndarray],
    options: SolveOptions,
    deadline: float,
) -> np.ndarray | None:
    """Solve the item-to-region model through cells of neighbouring items.

    The LP of every item is slow at this size, so items are grouped into cells
    of at most :data:`CELL_ITEMS` neighbours; the cell LP (cells split freely)
    is small. Items of cells the LP keeps whole go to that region, the others
    to their cell's largest share, and repair on the item model removes the
    remaining excess.
    """
    from territory_opt.alignment.pipeline import _round

    p = inst.problem
    assert p.account_coords is not None and p.coord_system is not None
    lead = inst.item_members[inst.item_ptr[:-1]]
    pts = unit_vectors(p.account_coords[lead], p.coord_system)
    cell_of_item = regions(pts, CELL_ITEMS)
    n_cells = int(cell_of_item.max()) + 1
    g = coarse.n_reps
    key = cell_of_item[coarse.arc_item].astype(np.int64) * g + coarse.arc_rep
    keys, where, count = np.unique(key, return_inverse=True, return_counts=True)
    size = np.bincount(cell_of_item, minlength=n_cells)
    cost = np.bincount(where, weights=coarse.cost) * (size[keys // g] / count)
    # Add the reach arcs; where both price a (cell, region), keep the cheaper.
    reach_cell, reach_region, reach_cost = _cell_reach(inst, pts, cell_of_item, region_of_rep)
    both = np.concatenate([keys, reach_cell.astype(np.int64) * g + reach_region])
    both_cost = np.concatenate([cost, reach_cost])
    keys, where = np.unique(both, return_inverse=True)
    cost = np.full(len(keys), np.inf)
    np.minimum.at(cost, where, both_cost)
    item_load = np.zeros((coarse.n_items, coarse.load.shape[1]))
    item_load[coarse.arc_item] = coarse.load
    cell_load = np.stack(
        [np.bincount(cell_of_item, weights=col, minlength=n_cells) for col in item_load.T], axis=1
    )
    cells = ArcModel(
        n_items=n_cells,
        n_reps=g,
        arc_item=(keys // g).astype(np.int32),
        arc_rep=(keys % g).astype(np.int32),
        cost=cost,
        load=cell_load[keys // g],
        lo=coarse.lo,
        hi=coarse.hi,
        budget=np.zeros((len(keys), 0)),
        budget_hi=np.zeros(0),
        load_names=coarse.load_names,
        budget_names=(),
    )
    limited = max(int(np.isfinite(cells.hi).any(axis=1).sum()), 1)
    from territory_opt.alignment.pipeline import ELASTIC_FACTOR

    elastic = ELASTIC_FACTOR * max(float(cells.cost.max()), 1.0) * max(n_cells / limited, 1.0)
    session = LpSession(cells, options, elastic=elastic)
    left = deadline - time.perf_counter()
    status, _, values, _, _ = session.solve(0.5 * left, ipm=cells.n_arcs > IPM_ARCS)
    if status != "optimal":
        return None
    its, rps = session.arcs()
    values = values[np.lexsort((rps, its))]
    region_of_cell = cells.arc_rep[_round(cells, values)]
    wanted = region_of_cell[cell_of_item]
    _split_cells(coarse, cells, values, cell_of_item, wanted)
    every = np.arange(coarse.n_items, dtype=np.int32)
    missing = coarse.arc_index(every, wanted) < 0
    if missing.any():
        # Items without a candidate arc into their cell's region get one, priced at
        # the cell's average cost there, so that the loads match the cell LP.
        add = every[missing]
        cell_arc = cells.arc_index(cell_of_item[add].astype(np.int32), wanted[add])
        average = cells.cost[cell_arc] / size[cell_of_item[add]]
        coarse = _with_arcs(coarse, add, wanted[add], average, item_load[add])
    start = coarse.arc_index(every, wanted)
    # Splitting cells by their first load shifts region totals a little; within the
    # wider ``accept`` limits the regions' reps still have room, and repairing a
    # book of a million items costs minutes.
    wide = dataclasses.replace(coarse, lo=accept[0], hi=accept[1])
    if coarse.violation(start) <= 0 or wide.violation(start) <= 0:
        return coarse.arc_rep[start]
    fixed = repair(coarse, start, deadline=deadline)
    return None if fixed is None else coarse.arc_rep[fixed]


def _with_arcs(
    model: ArcModel, items: np.ndarray, reps: np.ndarray, cost: np.ndarray, load: np.ndarray
) -> ArcModel:
    """Return ``model`` with extra arcs (no budgets), kept in (item, rep) order."""
    item = np.concatenate([model.arc_item, items.astype(np.int32)])
    rep = np.concatenate([model.arc_rep, reps.astype(np.int32)])
    order = np.lexsort((rep, item))
    return ArcModel(
        n_items=model.n_items,
        n_reps=model.n_reps,
        arc_item=item[order],
        arc_rep=rep[order],
        cost=np.concatenate([model.cost, cost])[order],
        load=np.concatenate([model.load, load])[order],
        lo=model.lo,
        hi=model.hi,
        budget=np.zeros((len(order), 0)),
        budget_hi=np.zeros(0),
        load_names=model.load_names,
        budget_names=(),
    )


def _split_cells(
    coarse: ArcModel,
    cells: ArcModel,
    values: np.ndarray,
    cell_of_item: np.ndarray,
    wanted: np.ndarray,
) -> None:
    """Share the items of cells the LP splits between regions, as the LP splits them.

    For each split cell, regions in order of their LP share take the items that
    are cheapest for them until they hold that share of the cell's first load;
    ``wanted`` (region per item) is updated in place.
    """
    split = np.flatnonzero((values > INTEGRAL) & (values < 1.0 - INTEGRAL))
    if len(split) == 0:
        return
    order = np.argsort(coarse.arc_item, kind="stable")
    first = np.searchsorted(coarse.arc_item[order], np.arange(coarse.n_items + 1))
    members = np.argsort(cell_of_item, kind="stable")
    bounds = np.searchsorted(cell_of_item[members], np.arange(cells.n_items + 1))
    load = np.zeros(coarse.n_items)
    load[coarse.arc_item] = coarse.load[:, 0]
    for cell in np.unique(cells.arc_item[split]):
        arcs = np.flatnonzero((cells.arc_item == cell) & (values > INTEGRAL))
        arcs = arcs[np.argsort(-values[arcs], kind="stable")]
        items = members[bounds[cell] : bounds[cell + 1]]
        free = np.ones(len(items), dtype=bool)
        total = float(load[items].sum())
        for arc in arcs[:-1]:
            region = cells.arc_rep[arc]
            cost = np.full(len(items), np.inf)
            for j, item in enumerate(items):
                own = order[first[item] : first[item + 1]]
                hit = own[coarse.arc_rep[own] == region]
                if len(hit) and free[j]:
                    cost[j] = coarse.cost[hit[0]]
            taken = 0.0
            for j in np.argsort(cost, kind="stable"):
                if not np.isfinite(cost[j]) or taken >= values[arc] * total:
                    break
                wanted[items[j]] = region
                free[j] = False
                taken += load[items[j]]
        wanted[items[free]] = cells.arc_rep[arcs[-1]]


def solve_by_regions(
    inst: Instance, full: ArcModel, options: SolveOptions, deadline: float
) -> np.ndarray | None:
    """Rep of every item in a plan built region by region; None if a step is stuck.

    ``full`` holds candidate arcs covering every item; it prices the assignment
    of items to regions. Each region then uses its own nearest-rep arcs.
    """
    assert inst.centers is not None and inst.problem.coord_system is not None
    region_of_rep = regions(unit_vectors(inst.centers, inst.problem.coord_system), REGION_REPS)
    n_regions = int(region_of_rep.max()) + 1
    with step(f"Assigning accounts to {n_regions} regions"):
        coarse = _region_model(full, region_of_rep, inst.target)
        accept = _region_limits(full, region_of_rep, inst.target, ACCEPT_MARGIN)
        share = time.perf_counter() + ASSIGN_TIME_SHARE * (deadline - time.perf_counter())
        region_of_item = _assign_regions(inst, coarse, region_of_rep, accept, options, share)
    if region_of_item is None:
        return None
    chosen_item, chosen_rep = [], []
    start = time.perf_counter()
    budget = REGIONS_TIME_SHARE * (deadline - start)
    done = 0
    for g in range(n_regions):
        with step(f"Region {g + 1} of {n_regions}"):
            items = np.flatnonzero(region_of_item == g).astype(np.int32)
            reps = np.flatnonzero(region_of_rep == g).astype(np.int32)
            if len(items) == 0:
                continue
            # Every pair of the region (a few reps): no candidate set can miss a move.
            model = inst.arc_model(np.repeat(items, len(reps)), np.tile(reps, len(items)))
            rows = np.zeros(inst.n_reps, dtype=bool)
            rows[reps] = True
            model = _limit_rows(model, rows)
            sub, idx = _sub_model(model, items)
            # Each region's share of the time is its share of the items.
            done += len(items)
            now = time.perf_counter()
            fair = now + (start + budget - now) / (n_regions - g)  # if earlier ones overran
            until = min(max(start + budget * done / inst.n_items, fair), deadline)
            plan = solve_small(sub, options, until)
            if plan is None:  # out of its share: once more with what the regions have left
                plan = solve_small(sub, options, min(start + budget, deadline))
            if plan is None:
                return None
            chosen_item.append(model.arc_item[idx[plan]])
            chosen_rep.append(model.arc_rep[idx[plan]])
    item = np.concatenate(chosen_item)
    rep = np.concatenate(chosen_rep)
    out = np.full(inst.n_items, -1, dtype=np.int32)
    out[item] = rep
    return out


def _limit_rows(model: ArcModel, rows: np.ndarray) -> ArcModel:
    """Keep the limits of the ``rows`` reps only (others have no arcs here)."""
    import dataclasses

    keep = rows[:, None]
    return dataclasses.replace(
        model,
        lo=np.where(keep, model.lo, -np.inf),
        hi=np.where(keep, model.hi, np.inf),
    )


def polish_by_regions(
    inst: Instance, rep_of_item: np.ndarray, options: SolveOptions, deadline: float
) -> np.ndarray:
    """Re-solve a plan region by region over regions drawn across the old borders.

    The reps are split again after a seeded random rotation of the map, so the
    new regions straddle the borders of the first split. Each region frees the
    items of its reps and solves them over every pair of the region (LP,
    rounding, repair, improvement); the other reps keep their items, so every
    limit still holds, and a region's new plan is kept only when it costs less.
    """
    p = inst.problem
    assert inst.centers is not None and p.coord_system is not None
    rng = np.random.default_rng(options.seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    region_of_rep = regions(unit_vectors(inst.centers, p.coord_system) @ rotation, REGION_REPS)
    out = rep_of_item.copy()
    n_regions = int(region_of_rep.max()) + 1
    start = time.perf_counter()
    done = 0
    for g in range(n_regions):
        if expired(deadline):
            break
        with step(f"Re-solving region {g + 1} of {n_regions}"):
            reps = np.flatnonzero(region_of_rep == g).astype(np.int32)
            items = np.flatnonzero(np.isin(out, reps)).astype(np.int32)
            done += len(items)
            if len(items) == 0:
                continue
            model = inst.arc_model(np.repeat(items, len(reps)), np.tile(reps, len(items)))
            rows = np.zeros(inst.n_reps, dtype=bool)
            rows[reps] = True
            sub, idx = _sub_model(_limit_rows(model, rows), items)
            until = min(start + (deadline - start) * done / inst.n_items, deadline)
            plan = solve_small(sub, options, until)
            if plan is None:  # too little time per region: leave it to the later steps
                break
            now = sub.arc_index(np.arange(len(items), dtype=np.int32), out[items])
            if (now >= 0).all() and sub.objective(plan) < sub.objective(now):
                out[model.arc_item[idx[plan]]] = model.arc_rep[idx[plan]]
    return out
