"""Independent plan checker used by tests and benchmarks.

:func:`check_plan` recomputes every hard constraint and the objective from the
plan's assignment and the Problem alone, with code written separately from the
solver's model building, so that a modelling bug cannot hide itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from territory_opt.alignment.instance import rep_centers
from territory_opt.data.schema import CoordSystem
from territory_opt.geo.distance import haversine_km
from territory_opt.plan import Plan

if TYPE_CHECKING:
    from territory_opt.districting.solve import DistrictPlan

#: Relative tolerance on limits and on the recomputed objective.
RTOL = 1e-6


@dataclass(frozen=True)
class CheckReport:
    """What the checker recomputed."""

    objective: float
    terms: dict[str, float]
    violations: tuple[str, ...]
    max_band_deviation: dict[str, float]

    @property
    def ok(self) -> bool:
        """True when no hard constraint is violated."""
        return not self.violations


def _distance(plan: Plan, assignment: np.ndarray) -> np.ndarray:
    p = plan.problem
    assert p.account_coords is not None
    c = rep_centers(p)[assignment]
    a = p.account_coords
    if p.coord_system == CoordSystem.LATLON:
        return haversine_km(a[:, 0], a[:, 1], c[:, 0], c[:, 1])
    return np.sqrt(((a - c) ** 2).sum(axis=1))


def _pair_lookup(plan: Plan) -> dict[tuple[int, int], int]:
    pairs = plan.problem.pairs
    assert pairs is not None
    return {
        (int(a), int(r)): k for k, (a, r) in enumerate(zip(pairs.account, pairs.rep, strict=True))
    }


def check_plan(plan: Plan, *, raise_on_error: bool = True, rtol: float = RTOL) -> CheckReport:
    """Verify a plan against its Problem and AlignmentSpec.

    Parameters
    ----------
    plan
        A plan with an assignment.
    raise_on_error
        Raise AssertionError listing every violation (default) instead of only
        reporting them.
    rtol
        Relative tolerance for limits and the objective.

    Returns
    -------
    CheckReport
    """
    p, spec = plan.problem, plan.spec
    assert plan.assignment is not None, f"plan has no assignment (status {plan.status})"
    x = np.asarray(plan.assignment)
    n, m = p.n_accounts, p.n_reps
    bad: list[str] = []
    if x.shape != (n,) or (x < 0).any() or (x >= m).any():
        raise AssertionError("assignment must give every account a rep index in range")

    def ids(mask: np.ndarray) -> str:
        return ", ".join(str(a) for a in p.account_ids[mask][:5])

    # Eligibility.
    if spec.segment_match and len(p.segment_names):
        a_seg, r_seg = p.account_segment, p.rep_segment[x]
        wrong = (a_seg >= 0) & (r_seg >= 0) & (a_seg != r_seg)
        if wrong.any():
            bad.append(f"segment mismatch: {ids(wrong)}")
    locked = (p.locked_rep >= 0) & (p.locked_rep != x)
    if locked.any():
        bad.append(f"locked accounts moved: {ids(locked)}")
    for acc, rep in p.excluded:
        if x[acc] == rep:
            bad.append(f"account {p.account_ids[acc]} assigned to excluded rep {p.rep_ids[rep]}")
    pair_index = None
    if p.pairs is not None:
        pair_index = _pair_lookup(plan)
        missing = [i for i in range(n) if (i, int(x[i])) not in pair_index]
        if missing:
            bad.append(f"{len(missing)} account(s) on pairs not in the pair table")
    dist = _distance(plan, x) if p.account_coords is not None else None
    if spec.max_distance is not None and dist is not None:
        far = dist > spec.max_distance * (1 + rtol)
        if far.any():
            bad.append(f"max distance exceeded: {ids(far)}")
    if spec.keep_families:
        for fam in np.unique(p.family[p.family >= 0]):
            if len(np.unique(x[p.family == fam])) > 1:
                bad.append(f"family split: {ids(p.family == fam)}")

    # Per-rep totals with pair overrides, computed account by account.
    values = np.nan_to_num(p.metrics, nan=0.0).copy()
    if p.pairs is not None and pair_index is not None:
        for i in range(n):
            k = pair_index.get((i, int(x[i])))
            if k is not None:
                over = p.pairs.metrics[k]
                values[i] = np.where(np.isnan(over), values[i], over)
    totals = np.zeros((m, values.shape[1]))
    for i in range(n):
        totals[x[i]] += values[i]

    # Bands, recomputed: capacity-scaled mean within the rep's segment pool.
    seg_on = spec.segment_match and len(p.segment_names) > 0
    deviation: dict[str, float] = {}
    for band in spec.bands:
        j = p.metric_names.index(band.metric)
        worst = 0.0
        for r in range(m):
            if seg_on:
                pool_reps = p.rep_segment == p.rep_segment[r]
                staffed = set(p.rep_segment[p.rep_segment >= 0].tolist())
                if p.rep_segment[r] >= 0:
                    pool_acc = p.account_segment == p.rep_segment[r]
                else:
                    pool_acc = np.array([s not in staffed for s in p.account_segment])
            else:
                pool_reps = np.ones(m, dtype=bool)
                pool_acc = np.ones(n, dtype=bool)
            target = (
                p.metrics[pool_acc, j].sum() * p.rep_capacity[r] / p.rep_capacity[pool_reps].sum()
            )
            dev = abs(totals[r, j] / target - 1.0) if target > 0 else 0.0
            worst = max(worst, dev)
            if dev > band.tolerance + rtol * (1 + band.tolerance) and target > 0:
                bad.append(
                    f"rep {p.rep_ids[r]}: {band.metric} {totals[r, j]:.6g} is "
                    f"{100 * dev:.3f} % from target {target:.6g} (band ±{100 * band.tolerance:g} %)"
                )
        deviation[band.metric] = worst
    for j, name in enumerate(p.metric_names):
        for r in range(m):
            lo, hi = p.rep_min[r, j], p.rep_max[r, j]
            if np.isfinite(hi) and totals[r, j] > hi + rtol * (1 + abs(hi)):
                bad.append(f"rep {p.rep_ids[r]}: {name} {totals[r, j]:.6g} above max {hi:.6g}")
            if np.isfinite(lo) and totals[r, j] < lo - rtol * (1 + abs(lo)):
                bad.append(f"rep {p.rep_ids[r]}: {name} {totals[r, j]:.6g} below min {lo:.6g}")
    if spec.max_accounts is not None:
        counts = np.bincount(x, minlength=m)
        for rr in np.flatnonzero(counts > spec.max_accounts):
            bad.append(f"rep {p.rep_ids[rr]} has {counts[rr]} accounts > {spec.max_accounts}")

    # Disruption budgets.
    moved = (p.current_rep >= 0) & (p.current_rep != x)
    if spec.max_moved_accounts is not None and moved.sum() > spec.max_moved_accounts:
        bad.append(f"{int(moved.sum())} accounts moved > budget {spec.max_moved_accounts}")
    if spec.max_moved_share is not None:
        metric = spec.moved_share_metric or spec.disruption_metric or "potential"
        basis = p.metric(metric)
        share = basis[moved].sum() / basis[p.current_rep >= 0].sum()
        if share > spec.max_moved_share * (1 + rtol):
            bad.append(
                f"{100 * share:.3f} % of {metric} moved > budget {100 * spec.max_moved_share:g} %"
            )

    # Objective.
    terms = {"travel": 0.0, "pair_cost": 0.0, "disruption": 0.0}
    if dist is not None and spec.travel_weight:
        w = p.metric(spec.travel_metric) if spec.travel_metric else np.ones(n)
        terms["travel"] = float(spec.travel_weight * (w * dist).sum())
    if p.pairs is not None and pair_index is not None and spec.pair_cost_weight:
        terms["pair_cost"] = float(
            spec.pair_cost_weight
            * sum(
                p.pairs.cost[pair_index[(i, int(x[i]))]]
                for i in range(n)
                if (i, int(x[i])) in pair_index
            )
        )
    if spec.disruption_weight:
        basis = p.metric(spec.disruption_metric) if spec.disruption_metric else np.ones(n)
        terms["disruption"] = float(spec.disruption_weight * basis[moved].sum())
    objective = sum(terms.values())
    if abs(objective - plan.objective) > rtol * max(1.0, abs(objective)) * 10:
        bad.append(f"objective {plan.objective:.10g} does not match recomputed {objective:.10g}")
    if np.isfinite(plan.lower_bound) and plan.lower_bound > objective + rtol * max(
        1.0, abs(objective)
    ):
        bad.append(f"lower bound {plan.lower_bound:.10g} above objective {objective:.10g}")
    report = CheckReport(objective, terms, tuple(bad), deviation)
    if raise_on_error and bad:
        raise AssertionError("plan violates its constraints:\n  " + "\n  ".join(bad[:30]))
    return report


def check_districts(
    plan: DistrictPlan, *, raise_on_error: bool = True, rtol: float = RTOL
) -> CheckReport:
    """Verify a district design against its units and request.

    Recomputes from the labels alone: every district non-empty, each banded
    metric within ``(1 ± tol) total / k``, each district connected in the unit
    graph (when contiguity is asked; by its own breadth-first search), centers
    inside their districts (and the fixed ones used), the objective, and that
    the lower bound does not exceed it.

    Parameters
    ----------
    plan
        A design with labels.
    raise_on_error
        Raise AssertionError listing every violation instead of only reporting.
    rtol
        Relative tolerance for limits and the objective.
    """
    from territory_opt.districting.spec import DistrictObjective

    u, spec = plan.units, plan.spec
    assert plan.labels is not None and plan.centers is not None, f"no design ({plan.status})"
    lab = np.asarray(plan.labels)
    cen = np.asarray(plan.centers)
    k, n = spec.k, u.n
    bad: list[str] = []
    if lab.shape != (n,) or (lab < 0).any() or (lab >= k).any():
        raise AssertionError("labels must give every unit a district in 0..k-1")
    sizes = np.bincount(lab, minlength=k)
    for j in np.flatnonzero(sizes == 0).tolist():
        bad.append(f"district {j} is empty")
    deviation: dict[str, float] = {}
    for name, tol in sorted(spec.bands.items()):
        v = u.metric(name)
        mean = v.sum() / k
        totals = np.bincount(lab, weights=v, minlength=k)
        dev = totals / mean - 1 if mean > 0 else np.zeros(k)
        deviation[name] = float(np.abs(dev).max())
        for j in np.flatnonzero(np.abs(dev) > tol + rtol).tolist():
            bad.append(f"district {j}: {name} {totals[j]:.6g} is {dev[j]:+.3%} from the mean")
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for ea, eb in u.edges.tolist():
        nbrs[ea].append(eb)
        nbrs[eb].append(ea)
    if spec.contiguous:
        for j in range(k):
            members = np.flatnonzero(lab == j)
            if len(members) == 0:
                continue
            seen = {int(members[0])}
            todo = [int(members[0])]
            while todo:
                here = todo.pop()
                for there in nbrs[here]:
                    if lab[there] == j and there not in seen:
                        seen.add(there)
                        todo.append(there)
            if len(seen) != len(members):
                bad.append(f"district {j} is not connected ({len(seen)} of {len(members)} reached)")
    if cen.shape != (k,) or (lab[cen] != np.arange(k)).any():
        bad.append("a center unit lies outside its district")
    if spec.centers and sorted(u.ids[cen].tolist()) != sorted(spec.centers):
        bad.append("the fixed centers are not the districts' centers")
    names = np.array(plan.territory_ids, dtype=object)
    given = names[lab]
    for i in np.flatnonzero((u.locked != "") & (u.locked != given)).tolist():
        bad.append(f"unit {u.ids[i]} is locked to {u.locked[i]} but sits in {given[i]}")
    moved = (u.current != "") & (u.current != given)
    disruption = 0.0
    if spec.disruption_weight:
        basis = u.metric(spec.disruption_metric) if spec.disruption_metric else np.ones(n)
        disruption = float(spec.disruption_weight * basis[moved].sum())
    # Objective.
    a = u.coords
    c = u.coords[cen[lab]]
    if u.coord_system == CoordSystem.LATLON:
        dist = haversine_km(a[:, 0], a[:, 1], c[:, 0], c[:, 1])
    else:
        dist = np.sqrt(((a - c) ** 2).sum(axis=1))
    if spec.objective == DistrictObjective.CUT_EDGES:
        cost = u.edge_length if spec.cut_length else np.ones(len(u.edges))
        cut = lab[u.edges[:, 0]] != lab[u.edges[:, 1]] if len(u.edges) else np.zeros(0, bool)
        objective = float(np.asarray(cost)[cut].sum())
    elif spec.objective == DistrictObjective.MAX_DISTANCE:
        objective = float(dist.max())
    else:
        w = u.metric(spec.weight) if spec.weight else np.ones(n)
        objective = float((w * dist).sum())
    objective += disruption
    if abs(objective - plan.objective) > rtol * max(1.0, abs(objective)) * 10:
        bad.append(f"objective {plan.objective:.10g} does not match recomputed {objective:.10g}")
    if np.isfinite(plan.lower_bound) and plan.lower_bound > objective * (1 + rtol) + rtol:
        bad.append(f"lower bound {plan.lower_bound:.10g} above objective {objective:.10g}")
    report = CheckReport(objective, {str(spec.objective): objective}, tuple(bad), deviation)
    if raise_on_error and bad:
        raise AssertionError("design violates its constraints:\n  " + "\n  ".join(bad[:30]))
    return report
