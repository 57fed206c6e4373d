"""Large-neighbourhood search: re-solve the items of a few neighbouring reps exactly.

Each step frees every item of a rep and its nearest reps (same band pool),
allows them any rep in a wider ring of neighbours, and solves that small MIP
with HiGHS while every other rep keeps its items. Loads of reps outside the ring
do not change, so every accepted step keeps the plan feasible.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np
from scipy.spatial import cKDTree

from territory_opt.alignment.backends.base import SolveOptions
from territory_opt.alignment.backends.highs import HighsMip
from territory_opt.alignment.instance import ArcModel, Instance, pools
from territory_opt.geo.distance import unit_vectors

#: Reps re-optimised together in one large-neighbourhood step.
LNS_REPS = 3
#: Time limit of one neighbourhood MIP [s].
LNS_STEP_SECONDS = 0.5
#: Relative gap asked of one neighbourhood MIP.
LNS_GAP = 1e-4


class Clock(Protocol):
    """Anything that says how much time is left [s]."""

    def left(self) -> float:
        """Seconds left."""
        ...


def _group_model(
    model: ArcModel, choice: np.ndarray, group: np.ndarray, reach: np.ndarray | None = None
) -> tuple[ArcModel, np.ndarray, np.ndarray]:
    """Sub-model freeing every item of the ``group`` reps.

    Freed items may go to any rep in ``reach`` (default: the group). Reps in
    ``reach`` but not in the group keep their other items; their limits are
    shifted by that fixed load, so load can flow out of the group.
    """
    reach = group if reach is None else (reach | group)
    chosen_rep = model.arc_rep[choice]
    free_item = np.zeros(model.n_items, dtype=bool)
    free_item[model.arc_item[choice][group[chosen_rep]]] = True
    idx = np.flatnonzero(free_item[model.arc_item] & reach[model.arc_rep])
    items = np.flatnonzero(free_item)
    remap = np.full(model.n_items, -1, dtype=np.int64)
    remap[items] = np.arange(len(items))
    fixed = choice[~free_item[model.arc_item[choice]]]
    fixed_load = np.zeros(model.lo.shape)
    np.add.at(fixed_load, model.arc_rep[fixed], model.load[fixed])
    sub = ArcModel(
        n_items=len(items),
        n_reps=model.n_reps,
        arc_item=remap[model.arc_item[idx]].astype(np.int32),
        arc_rep=model.arc_rep[idx],
        cost=model.cost[idx],
        load=model.load[idx],
        lo=np.where(reach[:, None], model.lo - fixed_load, -np.inf),
        hi=np.where(reach[:, None], model.hi - fixed_load, np.inf),
        budget=model.budget[idx],
        budget_hi=model.budget_hi - model.budget[fixed].sum(axis=0),
        load_names=model.load_names,
        budget_names=model.budget_names,
    )
    current = choice[free_item[model.arc_item[choice]]]
    return sub, idx, np.searchsorted(idx, current)


def _group_step(
    model: ArcModel,
    choice: np.ndarray,
    group: np.ndarray,
    options: SolveOptions,
    time_limit: float,
    reach: np.ndarray | None = None,
) -> np.ndarray | None:
    """Re-solve one group of reps; return the improved plan or None."""
    sub, idx, start = _group_model(model, choice, group, reach)
    if sub.n_items == 0:
        return None
    res = HighsMip().solve(
        sub,
        dataclasses.replace(options, time_limit=time_limit, gap=LNS_GAP, warm_start=start),
    )
    if res.choice is None:
        return None
    before, after = sub.objective(start), sub.objective(res.choice)
    if after >= before - 1e-9 * max(1.0, abs(before)):
        return None
    new_choice = choice.copy()
    new_arcs = idx[res.choice]
    new_choice[model.arc_item[new_arcs]] = new_arcs
    return new_choice


def _rep_neighbours(inst: Instance, k: int) -> np.ndarray:
    """``(m, k)`` each rep and its nearest reps of the same band pool (segment).

    Items only move between reps of one pool, so a neighbourhood mixing pools
    could not rebalance anything. Rows are padded with the rep itself when its
    pool has fewer than ``k`` reps.
    """
    m = inst.n_reps
    out = np.repeat(np.arange(m)[:, None], k, axis=1)
    _, rep_pool = pools(inst.problem, inst.spec)
    located = inst.centers is not None and inst.problem.coord_system is not None
    for pool in np.unique(rep_pool):
        members = np.flatnonzero(rep_pool == pool)
        kk = min(k, len(members))
        if located:
            assert inst.centers is not None and inst.problem.coord_system is not None
            pts = unit_vectors(inst.centers[members], inst.problem.coord_system)
            _, near = cKDTree(pts).query(pts, k=kk)
            near = np.asarray(near).reshape(len(members), kk)
        else:
            near = (np.arange(len(members))[:, None] + np.arange(kk)[None, :]) % len(members)
        out[members, :kk] = members[near]
    return out


def large_neighbourhood_search(
    inst: Instance,
    model: ArcModel,
    choice: np.ndarray,
    options: SolveOptions,
    clock: Clock,
    *,
    target: float = -np.inf,
) -> tuple[np.ndarray, int]:
    """Improve a plan by re-solving a few neighbouring reps at a time exactly.

    Each step frees every item of a rep and its nearest reps, keeps only arcs
    among them, and solves that small MIP with the other reps fixed. Loads of
    other reps do not change, so every accepted step keeps the plan feasible.
    Stops when a full pass over the reps brings no improvement, at ``target``,
    or when time runs out.
    """
    rng = np.random.default_rng(options.seed)
    neighbours = _rep_neighbours(inst, LNS_REPS)
    wider = _rep_neighbours(inst, 2 * LNS_REPS)
    m = inst.n_reps
    improved_steps = 0
    stale = 0
    order = rng.permutation(m)
    pos = 0
    while clock.left() > 0.05 and stale < m and model.objective(choice) > target:
        seed = order[pos % m]
        group = np.zeros(m, dtype=bool)
        group[neighbours[seed]] = True
        reach = np.zeros(m, dtype=bool)
        reach[wider[seed]] = True
        pos += 1
        better = _group_step(
            model, choice, group, options, min(LNS_STEP_SECONDS, clock.left()), reach
        )
        if better is None:
            stale += 1
        else:
            choice = better
            improved_steps += 1
            stale = 0
    return choice, improved_steps
