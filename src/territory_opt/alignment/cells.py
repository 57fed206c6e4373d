r"""Books of a billion pairs: solve the LP over cells of neighbouring accounts.

Notes
-----
At 1M accounts × 1,000 reps the LP has 1e9 columns; even the arcs the
Lagrangian prices favour (about 6 per account) make each interior-point step
take 20 s. So for such books the LP is solved on *cells*: groups of
:data:`CELL_SIZE`-ish neighbouring items (recursive coordinate bisection), each
treated as one divisible account with the summed loads and travel weight at its
weighted centre. That book has about :data:`CELL_PAIRS` pairs, which the guided
LP route (:mod:`territory_opt.alignment.pipeline`) solves in minutes.

Two things carry over to the accounts:

- **the plan**: every item takes its cell's rep; the cell plan meets every
  limit, and so does this one, since loads add up. Its objective is the exact
  one (the cell's centre only served to price the LP); moves, exchanges and
  the neighbourhood search then improve it item by item;
- **the bound**: the cell LP is neither a relaxation nor a restriction of the
  account LP (cells split in one proportion, costs measured from a centre), so
  its value is not a bound. Its limit duals :math:`\pi` are multipliers like
  any others, and the Lagrangian :math:`L(\pi)` evaluated over every account ×
  rep pair is a valid lower bound for the book
  (:func:`~territory_opt.alignment.pipeline.exact_lagrangian_bound`; one pass of
  cost rows, about 10 s at 1e9 pairs).

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

#: Pairs (cells × reps) the cell book aims at; the guided LP route solves a
#: book of this size in minutes.
CELL_PAIRS = 40_000_000


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
    their travel-weighted centre (on the sphere for lat/lon). Limits, reps and
    their centres are the book's.
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
    return dataclasses.replace(
        inst,
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
    gives each rep its share of the items (largest remainders), the items
    going where they are cheapest relative to the cell's other reps: items are
    taken in order of their regret (second cheapest minus cheapest), each by
    its cheapest rep with room left.
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
    order = np.argsort(cell, kind="stable")
    bounds = np.searchsorted(cell[order], np.arange(n_cells + 1))
    arc_bounds = np.searchsorted(arc_cell, np.arange(n_cells + 1))  # arcs sorted by item
    for c in split:
        items = order[bounds[c] : bounds[c + 1]].astype(np.int32)
        reps = arc_rep[arc_bounds[c] : arc_bounds[c + 1]]
        parts = share[arc_bounds[c] : arc_bounds[c + 1]]
        quota = _largest_remainders(parts / parts.sum() * len(items))
        cost = inst.cost_rows(items)[:, reps]
        ranked = np.sort(cost, axis=1)
        regret = ranked[:, 1] - ranked[:, 0] if len(reps) > 1 else np.zeros(len(items))
        for i in np.argsort(-regret, kind="stable"):
            open_ = np.flatnonzero(quota > 0)
            pick = open_[np.argmin(cost[i, open_])]
            rep[items[i]] = reps[pick]
            quota[pick] -= 1
    return rep


#: LP values above this count as a share of a cell.
SHARE_TOL = 1e-6


def _largest_remainders(target: np.ndarray) -> np.ndarray:
    """Whole numbers summing to round(sum(target)), each within 1 of its target."""
    base = np.floor(target).astype(np.int64)
    short = int(round(float(target.sum()))) - int(base.sum())
    if short > 0:
        base[np.argsort(-(target - base), kind="stable")[:short]] += 1
    return base
