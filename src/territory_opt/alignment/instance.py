"""An alignment instance: assignable items, per-arc coefficients and rep limits.

Accounts that must travel together (a parent family) become one *item*. An
*arc* is an allowed (item, rep) pair. :class:`Instance` evaluates cost, loads
and disruption of any array of arcs from the Problem's arrays, so the full set
of n × m arcs never has to be materialised: solvers work on candidate arcs and
price the rest in chunks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from territory_opt._errors import InputError
from territory_opt.alignment.spec import AlignmentSpec
from territory_opt.data.problem import NO_INDEX, Problem
from territory_opt.geo.distance import distance_rows, pair_distance

#: Name of the load that counts accounts (for ``max_accounts``).
ACCOUNTS_LOAD = "accounts"
#: Names of the budget rows.
MOVED_ACCOUNTS = "moved_accounts"
MOVED_SHARE = "moved_share"


def find_keys(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``keys`` in ``sorted_keys`` and whether each was found."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=np.int64), np.zeros(len(keys), dtype=bool)
    pos = np.searchsorted(sorted_keys, keys).clip(0, len(sorted_keys) - 1)
    return pos, sorted_keys[pos] == keys


@dataclass(frozen=True)
class ArcModel:
    """The assignment model on a given set of arcs, as numpy arrays.

    Minimise Σ_a cost_a x_a subject to Σ_{a ∈ item i} x_a = 1 for every item,
    lo[r, l] ≤ Σ_{a ∈ rep r} load[a, l] x_a ≤ hi[r, l], budget[:, g] · x ≤
    budget_hi[g], x binary. Arcs are sorted by item, then rep.
    """

    n_items: int
    n_reps: int
    arc_item: np.ndarray
    arc_rep: np.ndarray
    cost: np.ndarray
    load: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    budget: np.ndarray
    budget_hi: np.ndarray
    load_names: tuple[str, ...]
    budget_names: tuple[str, ...]

    @property
    def n_arcs(self) -> int:
        """Number of arcs (variables)."""
        return len(self.arc_item)

    def take(self, arcs: np.ndarray, items: np.ndarray | None = None) -> ArcModel:
        """Return the model on ``arcs`` (in order); with ``items``, only those items.

        ``items`` (sorted) renumbers the items 0.. in that order; every arc must
        belong to one of them.
        """
        arc_item = self.arc_item[arcs]
        n_items = self.n_items
        if items is not None:
            arc_item = np.searchsorted(items, arc_item).astype(np.int32)
            n_items = len(items)
        return dataclasses.replace(
            self,
            n_items=n_items,
            arc_item=arc_item,
            arc_rep=self.arc_rep[arcs],
            cost=self.cost[arcs],
            load=self.load[arcs],
            budget=self.budget[arcs],
        )

    @cached_property
    def arc_keys(self) -> np.ndarray:
        """Sorted key item × n_reps + rep of every arc (built once: repair looks arcs up often)."""
        return self.arc_item.astype(np.int64) * self.n_reps + self.arc_rep

    @cached_property
    def item_arcs(self) -> np.ndarray:
        """``(n_items + 1,)`` start of each item's arcs (arcs are sorted by item)."""
        return np.searchsorted(self.arc_item, np.arange(self.n_items + 1))

    @cached_property
    def rep_arcs(self) -> tuple[np.ndarray, np.ndarray]:
        """Arcs ordered by rep and the ``(n_reps + 1,)`` start of each rep's."""
        order = np.argsort(self.arc_rep, kind="stable")
        return order, np.searchsorted(self.arc_rep[order], np.arange(self.n_reps + 1))

    def arc_index(self, items: np.ndarray, reps: np.ndarray) -> np.ndarray:
        """Arc index of each (item, rep), -1 where the model has no such arc."""
        keys = self.arc_keys
        pos, found = find_keys(keys, np.asarray(items, dtype=np.int64) * self.n_reps + reps)
        return np.where(found, pos, -1)

    def objective(self, choice: np.ndarray) -> float:
        """Objective of a choice of one arc index per item."""
        return float(self.cost[choice].sum())

    def rep_loads(self, choice: np.ndarray) -> np.ndarray:
        """``(m, L)`` loads per rep for a choice of arcs."""
        out = np.zeros((self.n_reps, self.load.shape[1]))
        np.add.at(out, self.arc_rep[choice], self.load[choice])
        return out

    def row_scale(self) -> np.ndarray:
        """``(m, L)`` scale of each limit: the larger finite bound, at least 1."""
        hi = np.where(np.isfinite(self.hi), np.abs(self.hi), 0.0)
        lo = np.where(np.isfinite(self.lo), np.abs(self.lo), 0.0)
        return np.maximum(np.maximum(hi, lo), 1.0)

    def rep_violation(self, choice: np.ndarray) -> np.ndarray:
        """``(m,)`` scaled violation of each rep's limits."""
        loads = self.rep_loads(choice)
        over = np.maximum(loads - self.hi, 0.0) + np.maximum(self.lo - loads, 0.0)
        return np.asarray((over / self.row_scale()).sum(axis=1))

    def budget_violation(self, choice: np.ndarray) -> float:
        """Scaled violation of the budgets."""
        used = self.budget[choice].sum(axis=0)
        over = np.maximum(used - self.budget_hi, 0.0) / np.maximum(self.budget_hi, 1.0)
        return float(over.sum())

    def violation(self, choice: np.ndarray) -> float:
        """Total scaled violation of limits and budgets (0 when feasible)."""
        return float(self.rep_violation(choice).sum()) + self.budget_violation(choice)


@dataclass(frozen=True, eq=False)
class Instance:
    """Items, limits and arc evaluation for one Problem and AlignmentSpec.

    Build with :meth:`Instance.build`; it validates that the spec's metric
    names exist and turns families into items.
    """

    problem: Problem
    spec: AlignmentSpec
    item_ptr: np.ndarray
    item_members: np.ndarray
    account_item: np.ndarray
    centers: np.ndarray | None
    load_names: tuple[str, ...]
    load_metric: tuple[int | None, ...]
    target: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    budget_names: tuple[str, ...]
    budget_hi: np.ndarray
    travel_w: np.ndarray | None
    disruption_basis: np.ndarray
    share_basis: np.ndarray | None

    @property
    def n_items(self) -> int:
        """Number of items (singleton accounts and families)."""
        return len(self.item_ptr) - 1

    @property
    def n_reps(self) -> int:
        """Number of reps."""
        return self.problem.n_reps

    def narrowed(self, share: float, most: np.ndarray | None = None) -> Instance:
        """Return this instance with two-sided limits moved inward by ``share`` of their half-width.

        ``most`` (one value per load) caps the move. An LP over narrowed limits
        leaves room inside the true ones for the rounding of its split items.
        Bounds must still be computed on the true limits (e.g. the Lagrangian
        bound at that LP's duals).
        """
        half = (self.hi - self.lo) / 2
        two = np.isfinite(half)
        shift = share * np.where(two, half, 0.0)
        if most is not None:
            shift = np.minimum(shift, np.maximum(most, 0.0))
        return dataclasses.replace(self, lo=self.lo + shift, hi=self.hi - shift)

    @cached_property
    def item_size(self) -> np.ndarray:
        """Accounts per item."""
        return np.diff(self.item_ptr)

    @cached_property
    def _pair_keys(self) -> np.ndarray | None:
        pairs = self.problem.pairs
        if pairs is None:
            return None
        return pairs.account.astype(np.int64) * self.n_reps + pairs.rep

    @cached_property
    def _excluded_keys(self) -> np.ndarray:
        ex = self.problem.excluded
        return np.sort(ex[:, 0].astype(np.int64) * self.n_reps + ex[:, 1])

    @classmethod
    def build(cls, problem: Problem, spec: AlignmentSpec) -> Instance:
        """Check the spec against the problem and prepare items and limits.

        Raises
        ------
        InputError
            When the spec names a metric the problem does not have, or asks for
            travel without locations.
        """
        _check_spec(problem, spec)
        item_ptr, members, account_item = _items(problem, spec.keep_families)
        centers = rep_centers(problem) if problem.account_coords is not None else None
        names, metric_idx = _load_columns(problem, spec)
        target, lo, hi = _limits(problem, spec, names, metric_idx)
        budget_names, budget_hi, share_basis = _budgets(problem, spec)
        travel_w = None
        if spec.travel_weight and centers is not None:
            travel_w = (
                problem.metric(spec.travel_metric)
                if spec.travel_metric
                else np.ones(problem.n_accounts)
            )
        basis = (
            problem.metric(spec.disruption_metric)
            if spec.disruption_metric
            else np.ones(problem.n_accounts)
        )
        return cls(
            problem=problem,
            spec=spec,
            item_ptr=item_ptr,
            item_members=members,
            account_item=account_item,
            centers=centers,
            load_names=names,
            load_metric=metric_idx,
            target=target,
            lo=lo,
            hi=hi,
            budget_names=budget_names,
            budget_hi=budget_hi,
            travel_w=travel_w,
            disruption_basis=basis,
            share_basis=share_basis,
        )

    # ----------------------------------------------------------------- arcs
    def _expand(
        self, items: np.ndarray, reps: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Account-level (acc, rep) arrays for arcs, plus each arc's start offset."""
        sizes = self.item_size[items]
        if (sizes == 1).all():
            return self.item_members[self.item_ptr[items]], reps, np.arange(len(items))
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        offsets = np.arange(int(sizes.sum())) - np.repeat(starts, sizes)
        acc = self.item_members[np.repeat(self.item_ptr[items], sizes) + offsets]
        return acc, np.repeat(reps, sizes), starts

    def _pairs_of(self, acc: np.ndarray, rep: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Position in the pair table of each (account, rep) and whether it is listed."""
        if self._pair_keys is None:
            return None
        return find_keys(self._pair_keys, acc.astype(np.int64) * self.n_reps + rep)

    def account_allowed(
        self,
        acc: np.ndarray,
        rep: np.ndarray,
        dist: np.ndarray | None,
        pairs: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Whether account ``acc[i]`` may go to ``rep[i]`` (``pairs``: see :meth:`_pairs_of`)."""
        p = self.problem
        ok = np.ones(len(acc), dtype=bool)
        if self.spec.segment_match and len(p.segment_names):
            a_seg, r_seg = p.account_segment[acc], p.rep_segment[rep]
            ok &= (a_seg == NO_INDEX) | (r_seg == NO_INDEX) | (a_seg == r_seg)
        locked = p.locked_rep[acc]
        ok &= (locked == NO_INDEX) | (locked == rep)
        if len(self._excluded_keys):
            ok &= ~find_keys(self._excluded_keys, acc.astype(np.int64) * self.n_reps + rep)[1]
        listed = pairs or self._pairs_of(acc, rep)
        if listed is not None:
            ok &= listed[1]
        if self.spec.max_distance is not None and dist is not None:
            ok &= dist <= self.spec.max_distance
        return ok

    def account_terms(
        self,
        acc: np.ndarray,
        rep: np.ndarray,
        pairs: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """Per account-arc: distance, travel, pair cost, disruption, moved flags."""
        p, spec = self.problem, self.spec
        pairs = pairs or self._pairs_of(acc, rep)
        out: dict[str, np.ndarray] = {}
        dist = None
        if self.centers is not None and p.coord_system is not None:
            dist = pair_distance(p.account_coords, self.centers, acc, rep, p.coord_system)  # type: ignore[arg-type]
            out["distance"] = dist
        travel = np.zeros(len(acc))
        if self.travel_w is not None and dist is not None:
            travel = spec.travel_weight * self.travel_w[acc] * dist
        out["travel"] = travel
        pair_cost = np.zeros(len(acc))
        if p.pairs is not None and pairs is not None and spec.pair_cost_weight:
            pos, found = pairs
            pair_cost = np.where(found, p.pairs.cost[pos], 0.0) * spec.pair_cost_weight
        out["pair_cost"] = pair_cost
        current = p.current_rep[acc]
        moved = (current != NO_INDEX) & (current != rep)
        out["moved"] = moved.astype(np.float64)
        out["disruption"] = spec.disruption_weight * self.disruption_basis[acc] * moved
        out["allowed"] = self.account_allowed(acc, rep, dist, pairs).astype(np.float64)
        return out

    def account_loads(
        self,
        acc: np.ndarray,
        rep: np.ndarray,
        pairs: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """``(len, L)`` loads of account-arcs, with pair-table overrides applied."""
        p = self.problem
        load = np.empty((len(acc), len(self.load_names)))
        pairs = pairs or self._pairs_of(acc, rep)
        for col, j in enumerate(self.load_metric):
            if j is None:
                load[:, col] = 1.0
                continue
            values = p.metrics[acc, j]
            if pairs is not None and p.pairs is not None:
                pos, found = pairs
                override = np.where(found, p.pairs.metrics[pos, j], np.nan)
                values = np.where(np.isnan(override), values, override)
            load[:, col] = np.nan_to_num(values, nan=0.0)
        return load

    def evaluate(self, items: np.ndarray, reps: np.ndarray) -> dict[str, np.ndarray]:
        """Item-level arc terms: cost, load ``(A, L)``, budget ``(A, G)``, allowed."""
        acc, rep, starts = self._expand(items, reps)
        pairs = self._pairs_of(acc, rep)  # looked up once for cost, loads and eligibility
        terms = self.account_terms(acc, rep, pairs)
        load = self.account_loads(acc, rep, pairs)
        budget = np.zeros((len(acc), len(self.budget_names)))
        for g, name in enumerate(self.budget_names):
            if name == MOVED_ACCOUNTS:
                budget[:, g] = terms["moved"]
            else:
                assert self.share_basis is not None
                budget[:, g] = terms["moved"] * self.share_basis[acc]
        cost = terms["travel"] + terms["pair_cost"] + terms["disruption"]
        if len(starts) == len(acc):  # all singletons
            return {"cost": cost, "load": load, "budget": budget, "allowed": terms["allowed"] > 0}
        return {
            "cost": np.add.reduceat(cost, starts),
            "load": np.add.reduceat(load, starts, axis=0),
            "budget": np.add.reduceat(budget, starts, axis=0),
            "allowed": np.minimum.reduceat(terms["allowed"], starts) > 0,
        }

    @cached_property
    def item_loads(self) -> np.ndarray:
        """``(items, L)`` loads of each item without pair-table overrides.

        These are the loads of every arc when the book has no pair table.
        """
        acc, _, starts = self._expand(
            np.arange(self.n_items, dtype=np.int32), np.zeros(self.n_items, dtype=np.int32)
        )
        load = np.empty((len(acc), len(self.load_names)))
        for col, j in enumerate(self.load_metric):
            load[:, col] = 1.0 if j is None else np.nan_to_num(self.problem.metrics[acc, j])
        return load if len(starts) == len(acc) else np.add.reduceat(load, starts, axis=0)

    @property
    def dense_costs(self) -> bool:
        """Whether :meth:`cost_rows` takes the block path (no pair table)."""
        return self.problem.pairs is None

    def cost_rows(self, items: np.ndarray) -> np.ndarray:
        """``(len(items), m)`` cost of each item with every rep, +inf where not allowed.

        The values of :meth:`evaluate` over all reps, computed as blocks
        (distances by :func:`~territory_opt.geo.distance.distance_rows`, masks by
        broadcasting) instead of arc by arc: a pass over the 1e9 pairs of a
        1M × 1,000 book takes seconds instead of minutes. Books with a pair
        table go arc by arc.
        """
        m = self.n_reps
        if not self.dense_costs:
            ev = self.evaluate(
                np.repeat(items, m), np.tile(np.arange(m, dtype=np.int32), len(items))
            )
            return np.where(ev["allowed"], ev["cost"], np.inf).reshape(len(items), m)
        p, spec = self.problem, self.spec
        acc, _, starts = self._expand(items, np.zeros(len(items), dtype=np.int32))
        cost = np.zeros((len(acc), m))
        dist = None
        if self.centers is not None and p.coord_system is not None:
            assert p.account_coords is not None
            dist = distance_rows(p.account_coords[acc], self.centers, p.coord_system)
            if self.travel_w is not None:
                cost += dist * (spec.travel_weight * self.travel_w[acc])[:, None]
        rows = np.arange(len(acc))
        current = p.current_rep[acc]
        has = current != NO_INDEX
        if spec.disruption_weight:
            charge = spec.disruption_weight * self.disruption_basis[acc] * has
            cost += charge[:, None]
            cost[rows[has], current[has]] -= charge[has]
        if self.spec.segment_match and len(p.segment_names):
            a_seg = p.account_segment[acc]
            r_seg = p.rep_segment
            bad = (a_seg[:, None] != r_seg[None, :]) & (a_seg != NO_INDEX)[:, None]
            cost[bad & (r_seg != NO_INDEX)[None, :]] = np.inf
        locked = p.locked_rep[acc]
        fixed = np.flatnonzero(locked != NO_INDEX)
        if len(fixed):
            keep = cost[fixed, locked[fixed]]
            cost[fixed] = np.inf
            cost[fixed, locked[fixed]] = keep
        if len(p.excluded):
            order = np.argsort(acc, kind="stable")
            pos = np.searchsorted(acc[order], p.excluded[:, 0])
            pos = np.minimum(pos, len(acc) - 1)
            hit = acc[order][pos] == p.excluded[:, 0]
            # an account appears once per call (items do not share accounts)
            cost[order[pos[hit]], p.excluded[hit, 1]] = np.inf
        if spec.max_distance is not None and dist is not None:
            cost[dist > spec.max_distance] = np.inf
        if len(starts) == len(acc):
            return cost
        return np.add.reduceat(cost, starts, axis=0)

    def arc_model(self, items: np.ndarray, reps: np.ndarray) -> ArcModel:
        """Build the model restricted to the given arcs (disallowed arcs are dropped)."""
        order = np.lexsort((reps, items))
        items, reps = items[order], reps[order]
        ev = self.evaluate(items, reps)
        keep = ev["allowed"]
        return ArcModel(
            n_items=self.n_items,
            n_reps=self.n_reps,
            arc_item=np.ascontiguousarray(items[keep], dtype=np.int32),
            arc_rep=np.ascontiguousarray(reps[keep], dtype=np.int32),
            cost=ev["cost"][keep],
            load=ev["load"][keep],
            lo=self.lo,
            hi=self.hi,
            budget=ev["budget"][keep],
            budget_hi=self.budget_hi,
            load_names=self.load_names,
            budget_names=self.budget_names,
        )

    def all_arcs(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (item, rep) pair that could be allowed (before filtering).

        With a pair table only the listed pairs; otherwise all items × reps.
        """
        if self.problem.pairs is not None:
            pairs = self.problem.pairs
            items = self.account_item[pairs.account]
            keys = np.unique(items.astype(np.int64) * self.n_reps + pairs.rep)
            return (keys // self.n_reps).astype(np.int32), (keys % self.n_reps).astype(np.int32)
        items = np.repeat(np.arange(self.n_items, dtype=np.int32), self.n_reps)
        reps = np.tile(np.arange(self.n_reps, dtype=np.int32), self.n_items)
        return items, reps

    @property
    def n_all_arcs(self) -> int:
        """Number of arcs :meth:`all_arcs` would return."""
        if self.problem.pairs is not None:
            return len(self.problem.pairs.account)
        return self.n_items * self.n_reps

    def assignment_from_choice(self, model: ArcModel, choice: np.ndarray) -> np.ndarray:
        """Rep index per account from one chosen arc per item."""
        rep_of_item = np.full(self.n_items, NO_INDEX, dtype=np.int32)
        rep_of_item[model.arc_item[choice]] = model.arc_rep[choice]
        return rep_of_item[self.account_item]


def rep_centers(problem: Problem) -> np.ndarray:
    """Travel origin per rep: home; else the centroid of the rep's current book.

    A rep with neither (an open seat without a home) is placed at the centroid
    of all accounts; give open seats a home to plan where the hire will sit.
    """
    coords = problem.account_coords
    assert coords is not None
    m = problem.n_reps
    centers = np.full((m, 2), np.nan) if problem.rep_home is None else problem.rep_home.copy()
    missing = np.flatnonzero(~np.isfinite(centers).all(axis=1))
    if len(missing):
        cur = problem.current_rep
        has = cur >= 0
        counts = np.bincount(cur[has], minlength=m)
        sums = np.column_stack(
            [np.bincount(cur[has], weights=coords[has, d], minlength=m) for d in range(2)]
        )
        overall = coords.mean(axis=0)
        for r in missing:
            centers[r] = sums[r] / counts[r] if counts[r] else overall
    return centers


def _check_spec(problem: Problem, spec: AlignmentSpec) -> None:
    names = set(problem.metric_names)
    for label, metric in (
        ("travel_metric", spec.travel_metric),
        ("disruption_metric", spec.disruption_metric),
        ("moved_share_metric", spec.moved_share_metric),
        *(("band", b.metric) for b in spec.bands),
    ):
        if metric is not None and metric not in names:
            valid = ", ".join(problem.metric_names) or "(none)"
            raise InputError.single(
                "alignment settings",
                f"{label} names metric '{metric}', which the accounts "
                f"do not have; metrics are: {valid}",
                column=label,
            )
    if spec.travel_weight > 0 and problem.account_coords is None and problem.pairs is None:
        raise InputError.single(
            "alignment settings",
            "travel is in the objective but the accounts have no "
            "location (lat/lon, x/y or geometry); add locations or set travel_weight 0",
        )
    if spec.max_distance is not None and problem.account_coords is None:
        raise InputError.single(
            "alignment settings", "max_distance needs account locations", column="max_distance"
        )


def _items(problem: Problem, keep_families: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group accounts into items: each family is one item, every other account its own."""
    n = problem.n_accounts
    fam = problem.family if keep_families else np.full(n, NO_INDEX, dtype=np.int32)
    n_fam = int(fam.max()) + 1 if n and fam.max() >= 0 else 0
    # Item key: family f -> f; singleton account i -> n_fam + rank among singletons.
    key = np.where(fam >= 0, fam, 0).astype(np.int64)
    single = fam < 0
    key[single] = n_fam + np.arange(int(single.sum()))
    # Items ordered by their first account, so item order follows the input order.
    first = np.full(n_fam + int(single.sum()), n, dtype=np.int64)
    np.minimum.at(first, key, np.arange(n))
    rank = np.empty_like(first)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    account_item = rank[key].astype(np.int32)
    members = np.argsort(account_item, kind="stable").astype(np.int32)
    ptr = np.concatenate([[0], np.cumsum(np.bincount(account_item, minlength=len(first)))])
    return ptr.astype(np.int64), members, account_item


def _load_columns(
    problem: Problem, spec: AlignmentSpec
) -> tuple[tuple[str, ...], tuple[int | None, ...]]:
    names: list[str] = []
    for band in spec.bands:
        if band.metric not in names:
            names.append(band.metric)
    bounded = np.isfinite(problem.rep_min).any(axis=0) | np.isfinite(problem.rep_max).any(axis=0)
    for j in np.flatnonzero(bounded):
        if problem.metric_names[j] not in names:
            names.append(problem.metric_names[j])
    idx: list[int | None] = [problem.metric_names.index(n) for n in names]
    if spec.max_accounts is not None:
        names.append(ACCOUNTS_LOAD)
        idx.append(None)
    return tuple(names), tuple(idx)


def pools(problem: Problem, spec: AlignmentSpec) -> tuple[np.ndarray, np.ndarray]:
    """Band pool of every account and every rep.

    Without segments (or with ``segment_match`` off) there is one pool. With
    segments, each segment that has reps is a pool; reps without a segment and
    accounts of segments without reps form the general pool (-1).
    """
    if not spec.segment_match or not len(problem.segment_names):
        return np.zeros(problem.n_accounts, dtype=np.int32), np.zeros(
            problem.n_reps, dtype=np.int32
        )
    rep_pool = problem.rep_segment.astype(np.int32)
    staffed = np.unique(rep_pool[rep_pool >= 0])
    acc_pool = np.where(
        np.isin(problem.account_segment, staffed), problem.account_segment, NO_INDEX
    )
    return acc_pool.astype(np.int32), rep_pool


def _limits(
    problem: Problem, spec: AlignmentSpec, names: tuple[str, ...], idx: tuple[int | None, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m, n_loads = problem.n_reps, len(names)
    target = np.full((m, n_loads), np.nan)
    lo, hi = np.full((m, n_loads), -np.inf), np.full((m, n_loads), np.inf)
    acc_pool, rep_pool = pools(problem, spec)
    tolerance = {b.metric: b.tolerance for b in spec.bands}
    cap = problem.rep_capacity
    for col, (name, j) in enumerate(zip(names, idx, strict=True)):
        if j is None:
            hi[:, col] = float(spec.max_accounts or np.inf)
            continue
        values = problem.metrics[:, j]
        if not np.isnan(values).all():
            for pool in np.unique(rep_pool):
                reps = rep_pool == pool
                total = float(np.nansum(values[acc_pool == pool]))
                target[reps, col] = total * cap[reps] / cap[reps].sum()
        if name in tolerance:
            if np.isnan(values).any():
                raise InputError.single(
                    "alignment settings",
                    f"a relative band on '{name}' needs the metric on "
                    "every account; it exists only in the pair table, so use min_/max_ "
                    "columns on reps instead",
                    column=name,
                )
            t = tolerance[name]
            lo[:, col] = (1.0 - t) * target[:, col]
            hi[:, col] = (1.0 + t) * target[:, col]
        lo[:, col] = np.fmax(lo[:, col], problem.rep_min[:, j])
        hi[:, col] = np.fmin(hi[:, col], problem.rep_max[:, j])
    return target, lo, hi


def _budgets(
    problem: Problem, spec: AlignmentSpec
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray | None]:
    names: list[str] = []
    limits: list[float] = []
    basis = None
    if spec.max_moved_accounts is not None:
        names.append(MOVED_ACCOUNTS)
        limits.append(float(spec.max_moved_accounts))
    if spec.max_moved_share is not None:
        metric = spec.moved_share_metric or spec.disruption_metric
        if metric is None:
            metric = "potential" if "potential" in problem.metric_names else None
        if metric is None:
            raise InputError.single(
                "alignment settings",
                "max_moved_share needs moved_share_metric (e.g. "
                "revenue_ly); the accounts have no 'potential' column",
                column="max_moved_share",
            )
        basis = problem.metric(metric)
        held = float(basis[problem.current_rep >= 0].sum())
        names.append(MOVED_SHARE)
        limits.append(spec.max_moved_share * held)
    return tuple(names), np.array(limits, dtype=np.float64), basis
