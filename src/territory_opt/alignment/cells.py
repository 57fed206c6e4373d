r"""Books of a billion pairs: solve the LP over cells of neighbouring accounts.

Notes
-----
At 1M accounts × 1,000 reps the LP has 1e9 columns; even the arcs the
Lagrangian prices favour (about 6 per account) make each interior-point step
take 20 s. So for such books the LP is solved on *cells*: groups of
neighbouring items (recursive coordinate bisection), each treated as one
divisible account with the summed loads and travel weight at its weighted
centre. That book has at most :data:`CELL_PAIRS` pairs, and its bands are
narrowed by :data:`CELL_MARGIN` of their width; its priced LP converges in
minutes (:mod:`territory_opt.alignment.pipeline`, ``solve_by_cells``).

Two things carry over to the accounts:

- **the first plan**: a cell the LP gives to one rep sends every account
  there; a cell it splits is split account by account towards the LP's shares
  of its loads (:func:`split_cells`). The narrowed bands leave room for whole
  accounts, so repair has little left to do;
- **the prices**: the cell LP is neither a relaxation nor a restriction of the
  account LP (cells split in one proportion, costs measured from a centre,
  narrower bands), so its value is not a bound. Its limit duals :math:`\pi`
  are multipliers like any others, and the Lagrangian :math:`L(\pi)` evaluated
  over every account × rep pair is a valid lower bound for the book
  (:func:`~territory_opt.alignment.pipeline.exact_lagrangian_bound`; one pass of
  cost rows, about 10 s at 1e9 pairs). The arcs cheapest at those prices,
  with the first plan's arcs, are where the accounts' LP starts (structured
  interior point, priced over every pair); its value or the Lagrangian at its
  duals is the bound reported, and its rounding a second plan.

Applies to located books without a pair table, locks, exclusions, segments
to match, disruption cost, budgets or a maximum distance (each would make a
cell's arcs differ from its items' arcs); others take the Lagrangian route.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from territory_opt.alignment.instance import ArcModel, Instance
from territory_opt.alignment.lagrangian import applicable as lagrangian_applicable
from territory_opt.data.problem import NO_INDEX
from territory_opt.data.schema import CoordSystem
from territory_opt.geo.distance import unit_vectors

#: Pairs (cells × reps) the cell book aims at: its priced LP (HiGHS, warm
#: simplex rounds) converges in about 4 minutes at 8,192 cells × 1,000 reps.
CELL_PAIRS = 8_000_000
#: Share of each band the cell book may not use (half on each side), so that
#: splitting its cells into whole accounts stays within the book's limits.
CELL_MARGIN = 0.5


def applicable(inst: Instance) -> bool:
    """Whether a cell's arcs can stand for its items' arcs (see module notes)."""
    p, spec = inst.problem, inst.spec
    if inst.centers is None or p.coord_system is None or p.pairs is not None:
        return False
    if len(inst.budget_hi) or spec.max_distance is not None or len(p.excluded):
        return False
    if (p.locked_rep != NO_INDEX).any():
        return False
    if spec.segment_match and len(p.segment_names) and (p.account_segment != NO_INDEX).any():
        return False
    if spec.disruption_weight and (p.current_rep != NO_INDEX).any():
        return False
    return lagrangian_applicable(inst)


def cell_size(inst: Instance) -> int:
    """Most items per cell so that the cell book has at most :data:`CELL_PAIRS` pairs.

    Bisection halves cells, so their number is a power of two.
    """
    cells = max(1, CELL_PAIRS // max(inst.n_reps, 1))
    leaves = 1 << max(0, int(np.floor(np.log2(cells))))
    return max(1, -(-inst.n_items // leaves))


def item_points(inst: Instance) -> np.ndarray:
    """Locate each item at its first account: unit vectors for lat/lon, else x/y."""
    p = inst.problem
    assert p.account_coords is not None and p.coord_system is not None
    first = p.account_coords[inst.item_members[inst.item_ptr[:-1]]]
    return unit_vectors(first, p.coord_system)


def cell_of_item(inst: Instance, size: int) -> np.ndarray:
    """Cell number of every item: recursive bisection into groups of at most ``size``."""
    from territory_opt.alignment.decompose import regions

    return regions(item_points(inst), size)


def cell_instance(inst: Instance, cell: np.ndarray) -> Instance:
    """Build the book whose accounts are the cells: summed loads, weighted centre.

    Each cell's travel weight is the sum of its accounts'; its location is
    their travel-weighted centre (on the sphere for lat/lon). Reps and their
    centres are the book's; each two-sided band is narrowed by
    :data:`CELL_MARGIN` of its width.
    """
    p = inst.problem
    assert p.account_coords is not None and p.coord_system is not None
    n_cells = int(cell.max()) + 1 if len(cell) else 0
    acc_cell = cell[inst.account_item]
    sizes = np.bincount(acc_cell, minlength=n_cells).astype(np.float64)
    metrics = np.column_stack(
        [
            np.bincount(acc_cell, weights=np.nan_to_num(p.metrics[:, j]), minlength=n_cells)
            for j in range(p.metrics.shape[1])
        ]
        + [sizes]  # account count, for count loads
    )
    count_col = metrics.shape[1] - 1
    load_metric = tuple(count_col if j is None else j for j in inst.load_metric)
    weight = inst.travel_w if inst.travel_w is not None else np.ones(p.n_accounts)
    travel = np.bincount(acc_cell, weights=weight, minlength=n_cells)
    w = np.where(travel[acc_cell] > 0, weight, 1.0)  # a cell without weight: plain mean
    total = np.bincount(acc_cell, weights=w, minlength=n_cells)
    if p.coord_system == CoordSystem.LATLON:
        vec = unit_vectors(p.account_coords, p.coord_system)
        mean = np.column_stack(
            [np.bincount(acc_cell, weights=w * vec[:, d], minlength=n_cells) for d in range(3)]
        ).astype(np.float64)
        mean = mean / np.maximum(np.linalg.norm(mean, axis=1), 1e-300)[:, None]
        coords = np.column_stack(
            [
                np.degrees(np.arcsin(np.clip(mean[:, 2], -1.0, 1.0))),
                np.degrees(np.arctan2(mean[:, 1], mean[:, 0])),
            ]
        )
    else:
        coords = np.column_stack(
            [
                np.bincount(acc_cell, weights=w * p.account_coords[:, d], minlength=n_cells) / total
                for d in range(2)
            ]
        )
    none = np.full(n_cells, NO_INDEX, dtype=p.current_rep.dtype)
    problem = dataclasses.replace(
        p,
        account_ids=np.array([f"cell-{c}" for c in range(n_cells)], dtype=object),
        account_coords=coords,
        metric_names=(*p.metric_names, "_accounts"),
        metrics=metrics,
        current_rep=none,
        locked_rep=none,
        excluded=np.zeros((0, 2), dtype=p.excluded.dtype),
        account_segment=np.full(n_cells, NO_INDEX, dtype=p.account_segment.dtype),
        family=np.full(n_cells, NO_INDEX, dtype=p.family.dtype),
        adjacency=None,
        account_attrs={},
        geometry=None,
    )
    single = np.arange(n_cells, dtype=inst.item_members.dtype)
    # Narrowed limits leave room for the whole accounts of split cells.
    room = np.where(np.isfinite(inst.lo) & np.isfinite(inst.hi), inst.hi - inst.lo, 0.0)
    room *= CELL_MARGIN / 2
    return dataclasses.replace(
        inst,
        lo=inst.lo + room,
        hi=inst.hi - room,
        problem=problem,
        item_ptr=np.arange(n_cells + 1, dtype=inst.item_ptr.dtype),
        item_members=single,
        account_item=single.astype(inst.account_item.dtype),
        load_metric=load_metric,
        travel_w=travel if inst.travel_w is not None else None,
        disruption_basis=np.zeros(n_cells),
        share_basis=None,
    )


def split_cells(
    inst: Instance, cell: np.ndarray, model: ArcModel, values: np.ndarray
) -> np.ndarray:
    """Rep of every item from the cell LP: each cell's items split by its LP shares.

    A cell the LP gives to one rep sends every item there. A cell it splits
    gives each rep of its support a target load (its share of the cell's
    loads); items, largest first, each go to the rep where they bring the loads
    closest to the targets (squared deviation in units of each rep's band
    width), the cheaper rep breaking near-ties. Accounts are whole, so a cell
    with one large account cannot match every share; repair fixes the rest.
    """
    rep = np.full(inst.n_items, -1, dtype=np.int32)
    keep = values > SHARE_TOL
    arc_cell, arc_rep, share = model.arc_item[keep], model.arc_rep[keep], values[keep]
    n_cells = model.n_items
    support = np.bincount(arc_cell, minlength=n_cells)
    whole = support == 1
    main = np.full(n_cells, -1, dtype=np.int32)
    main[arc_cell[whole[arc_cell]]] = arc_rep[whole[arc_cell]]
    rep[:] = main[cell]
    split = np.flatnonzero(~whole & (support > 0))
    if not len(split):
        return rep
    width = np.where(np.isfinite(inst.hi) & np.isfinite(inst.lo), inst.hi - inst.lo, np.inf)
    width = np.where(width > 0, width, np.inf)
    loads = inst.item_loads
    order = np.argsort(cell, kind="stable")
    bounds = np.searchsorted(cell[order], np.arange(n_cells + 1))
    arc_bounds = np.searchsorted(arc_cell, np.arange(n_cells + 1))  # arcs sorted by item
    for c in split:
        items = order[bounds[c] : bounds[c + 1]].astype(np.int32)
        reps = arc_rep[arc_bounds[c] : arc_bounds[c + 1]]
        parts = share[arc_bounds[c] : arc_bounds[c + 1]]
        q = loads[items]
        scale = 1.0 / width[reps]  # (r, L)
        gap = (parts / parts.sum())[:, None] * q.sum(axis=0)[None, :] * scale  # to fill
        cost = inst.cost_rows(items)[:, reps]
        spread = np.ptp(cost[np.isfinite(cost)]) if np.isfinite(cost).any() else 0.0
        cost = np.where(np.isfinite(cost), cost, np.inf) / max(spread, 1e-12)
        size = (q[:, None, :] * scale[None, :, :]).max(axis=(1, 2))
        for i in np.argsort(-size, kind="stable"):
            step = q[i][None, :] * scale
            # change of the squared distance to the targets, plus a cost tie-breaker
            score = ((gap - step) ** 2 - gap**2).sum(axis=1) + SPLIT_COST_WEIGHT * cost[i]
            pick = int(np.argmin(score))
            rep[items[i]] = reps[pick]
            gap[pick] -= step[pick]
    return rep


#: Weight of the (normalised) cost in choosing an item's rep when splitting a cell.
SPLIT_COST_WEIGHT = 1e-3


#: LP values above this count as a share of a cell.
SHARE_TOL = 1e-6
