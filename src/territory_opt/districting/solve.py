"""Design districts: heuristic first, then an exact MIP where it fits, with a bound and gap."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from territory_opt._errors import InfeasibleError, InputError
from territory_opt._progress import step
from territory_opt.alignment.backends.base import SolveOptions, Status
from territory_opt.alignment.backends.highs import version as highs_version
from territory_opt.districting import bounds, heuristic
from territory_opt.districting.exact import (
    MipResult,
    canonical_labels,
    solve_center_model,
    solve_labeling_model,
)
from territory_opt.districting.spec import DistrictObjective, DistrictSpec
from territory_opt.districting.units import UnitLayer

#: Largest layer solved with the exact center model (n^2 columns).
EXACT_CENTER_UNITS = 200
#: Largest layer solved with the exact labeling model (n k columns).
EXACT_LABELING_UNITS = 400
#: Largest layer whose full distance matrix is built (8 bytes per pair).
MAX_DENSE_UNITS = 12_000
#: Share of the time limit given to the heuristic when an exact model follows.
HEURISTIC_SHARE = 0.2
#: Share of the time limit kept for a Lagrangian bound when an exact sum-distance
#: MIP may not finish.
BOUND_RESERVE = 0.1
#: Share of the time limit given to the heuristic when a Lagrangian bound follows.
HEURISTIC_SHARE_LARGE = 0.6


@dataclass(frozen=True, eq=False)
class DistrictPlan:
    """A district design with its proof of quality.

    Attributes
    ----------
    units, spec
        The layer and the request.
    status
        ``optimal`` (gap within tolerance), ``feasible``, ``time_limit`` or ``infeasible``.
    labels
        District index per unit (districts numbered in the order of their first unit).
    centers
        Center unit index per district.
    objective, lower_bound
        Objective recomputed from the design, and a proven lower bound.
    options, seconds
        Solve options and wall time [s].
    solver
        What proved the bound (``highs-mip`` or ``heuristic``).
    stats
        Rounds, cuts, heuristic objective, ...
    log
        Solver log.
    diagnosis
        When infeasible: what blocks a design and what to relax.
    """

    units: UnitLayer
    spec: DistrictSpec
    status: Status
    labels: np.ndarray | None
    centers: np.ndarray | None
    objective: float
    lower_bound: float
    options: SolveOptions
    seconds: float
    solver: str
    stats: dict[str, float] = field(default_factory=dict)
    log: str = ""
    diagnosis: dict[str, Any] | None = None

    @property
    def gap(self) -> float:
        """Relative gap between objective and lower bound."""
        if self.labels is None or not np.isfinite(self.lower_bound):
            return np.inf
        return max(0.0, self.objective - self.lower_bound) / max(abs(self.objective), 1e-9)

    @property
    def territory_ids(self) -> list[str]:
        """Name of each district.

        A labelled design (locks or disruption) names district j after the j-th
        territory label. Otherwise districts take the current territory they
        overlap most (one each, by an assignment on shared units) when units
        carry ``current_rep``, and ``D01``, ``D02``... for the rest.
        """
        k = self.spec.k
        width = max(2, len(str(k)))
        names = [f"D{j + 1:0{width}d}" for j in range(k)]
        labelled = self.spec.territory_labels(self.units)
        if labelled is not None:
            return list(labelled)
        current = self.units.current
        if self.labels is None or not (current != "").any():
            return names
        known = sorted(set(current.tolist()) - {""})
        code = {c: t for t, c in enumerate(known)}
        overlap = np.zeros((k, len(known)))
        for j, c in zip(self.labels.tolist(), current.tolist(), strict=True):
            if c:
                overlap[j, code[c]] += 1
        rows, cols = linear_sum_assignment(-overlap)
        for j, t in zip(rows.tolist(), cols.tolist(), strict=True):
            if overlap[j, t] > 0:
                names[j] = known[t]
        return names


def _context(units: UnitLayer, spec: DistrictSpec, dist: np.ndarray) -> heuristic.Context:
    names, values, lo, hi = spec.limits(units)
    del names
    weight = units.metric(spec.weight) if spec.weight else np.ones(units.n)
    edge_cost = units.edge_length if spec.cut_length else np.ones(len(units.edges))
    fixed = None
    if spec.centers:
        index = {u: i for i, u in enumerate(units.ids.tolist())}
        fixed = np.array([index[c] for c in spec.centers], dtype=np.int64)
    extra = locked = home = None
    names_of = spec.territory_labels(units)
    if names_of is not None:
        code = {name: j for j, name in enumerate(names_of)}
        current = np.array([code.get(c, -1) for c in units.current.tolist()], dtype=np.int64)
        locked = np.array([code.get(c, -1) for c in units.locked.tolist()], dtype=np.int64)
        home = np.where(locked >= 0, locked, current)
        basis = units.metric(spec.disruption_metric) if spec.disruption_metric else np.ones(units.n)
        moved = (current[:, None] >= 0) & (current[:, None] != np.arange(spec.k)[None, :])
        extra = spec.disruption_weight * basis[:, None] * moved
    return heuristic.Context(
        dist=dist,
        weight=np.asarray(weight, dtype=np.float64),
        values=values,
        lo=lo,
        hi=hi,
        nbrs=units.neighbours(),
        edges=np.asarray(units.edges, dtype=np.int64),
        edge_cost=np.asarray(edge_cost, dtype=np.float64),
        k=spec.k,
        objective=spec.objective,
        contiguous=spec.contiguous,
        fixed_centers=fixed,
        extra=extra,
        locked=locked,
        home=home,
    )


def precheck(units: UnitLayer, spec: DistrictSpec) -> None:
    """Raise InfeasibleError naming units too large for a band, before any solve."""
    names, values, _, hi = spec.limits(units)
    findings = []
    for q, name in enumerate(names):
        for i in np.flatnonzero(values[:, q] > hi[q] * (1 + 1e-12)):
            findings.append(
                {
                    "family": "band",
                    "metric": name,
                    "unit": str(units.ids[i]),
                    "message": f"unit '{units.ids[i]}' has more {name} ({values[i, q]:g}) than "
                    f"the upper band of a district ({hi[q]:g}); widen the {name} band or "
                    "split the unit",
                }
            )
    if findings:
        summary = findings[0]["message"] + (
            f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        )
        raise InfeasibleError(summary, diagnosis={"summary": summary, "findings": findings})


def design_districts(
    units: UnitLayer,
    spec: DistrictSpec,
    *,
    time_limit: float = 60.0,
    gap: float = 1e-4,
    seed: int = 0,
    threads: int = 0,
    diagnose: bool = True,
) -> DistrictPlan:
    """Design k balanced (and contiguous) districts from geographic units.

    Parameters
    ----------
    units
        The unit layer (:func:`~territory_opt.districting.load_units`).
    spec
        The request.
    time_limit
        Wall-clock limit [s].
    gap
        Relative gap at which the design counts as optimal.
    seed
        Seed of the heuristic and the solver.
    threads
        Solver threads (0: the solver chooses).
    diagnose
        When the request proves infeasible, find which requirement blocks it
        (contiguity, or which band) with further solves in the time left.

    Returns
    -------
    DistrictPlan

    Raises
    ------
    InputError
        When the request does not fit the units.

    A request with no design (proven) returns a plan with status
    ``infeasible`` and a ``diagnosis`` saying what blocks it.
    """
    start = time.monotonic()
    deadline = start + time_limit
    spec.validate(units)
    if units.n > MAX_DENSE_UNITS:
        raise InputError.single(
            units.file,
            f"{units.n} units is more than this version designs at once ({MAX_DENSE_UNITS}); "
            "aggregate units (e.g. ZIP to 3-digit ZIP) or split the map",
        )
    options = SolveOptions(time_limit=time_limit, gap=gap, threads=threads, seed=seed)
    try:
        precheck(units, spec)
    except InfeasibleError as exc:
        return _infeasible(units, spec, options, start, exc.diagnosis, "precheck")
    ctx = _context(units, spec, units.distances())
    exact = _exact_applies(units, spec)
    h_deadline = start + (HEURISTIC_SHARE if exact else HEURISTIC_SHARE_LARGE) * time_limit
    with step("Location-allocation heuristic"):
        best, restarts = _heuristic(units, spec, ctx, seed, h_deadline, 0.05 * time_limit, exact)
    balanced = ctx.valid(best)
    stats: dict[str, float] = {
        "heuristic_objective": ctx.objective_of(best) if balanced else np.inf,
        "heuristic_seconds": time.monotonic() - start,
        "heuristic_starts": float(restarts),
        "units": float(units.n),
        "edges": float(len(units.edges)),
    }
    incumbent = best if balanced else None
    if exact:
        # Keep a little time for a Lagrangian bound in case the MIP does not finish.
        reserve = (
            BOUND_RESERVE * time_limit if spec.objective == DistrictObjective.SUM_DISTANCE else 0
        )
        with step("Exact MIP with contiguity cuts"):
            result = _solve_exact(ctx, spec, options, deadline - reserve, incumbent)
        stats.update({"mip_rounds": float(result.rounds), "contiguity_cuts": float(result.cuts)})
        if result.status == "infeasible":
            diagnosis = (
                _diagnosis(units, spec, deadline, seed) if diagnose else _diagnosis_text(spec)
            )
            return _infeasible(units, spec, options, start, diagnosis, "highs-mip")
        if result.labels is not None:
            centers = (
                result.centers
                if result.centers is not None
                else heuristic.medoids(ctx, result.labels, np.zeros(spec.k, dtype=np.int64))
            )
            candidate = heuristic.Design(result.labels, centers)
            if incumbent is None or ctx.objective_of(candidate) <= ctx.objective_of(incumbent):
                incumbent = candidate
        bound, solver, log = result.bound, "highs-mip", result.log
        if reserve and result.status != "optimal" and incumbent is not None:
            with step("Lower bound"):
                lagrange = _large_bound(ctx, ctx.objective_of(incumbent), deadline)
            if lagrange > bound:
                bound, solver = lagrange, "highs-mip + lagrangian bound"
    else:
        upper = ctx.objective_of(incumbent) if incumbent is not None else np.inf
        with step("Lower bound"):
            bound = _large_bound(ctx, upper, start + 0.95 * time_limit)
        solver, log = "heuristic + lagrangian bound", ""
    seconds = time.monotonic() - start
    if incumbent is None:
        return DistrictPlan(
            units,
            spec,
            Status.TIME_LIMIT,
            None,
            None,
            np.inf,
            bound,
            options,
            seconds,
            solver,
            stats,
            log,
        )
    if ctx.home is None:
        incumbent = _canonical(ctx, incumbent)
    objective = ctx.objective_of(incumbent)
    bound = min(bound, objective)
    rel = max(0.0, objective - bound) / max(abs(objective), 1e-9)
    status = (
        Status.OPTIMAL
        if rel <= gap + 1e-12
        else (Status.TIME_LIMIT if time.monotonic() >= deadline else Status.FEASIBLE)
    )
    return DistrictPlan(
        units,
        spec,
        status,
        incumbent.labels,
        incumbent.centers,
        objective,
        bound,
        options,
        seconds,
        f"{solver} (HiGHS {highs_version()})",
        stats,
        log,
    )


def _heuristic(
    units: UnitLayer,
    spec: DistrictSpec,
    ctx: heuristic.Context,
    seed: int,
    deadline: float,
    margin: float,
    exact: bool,
) -> tuple[heuristic.Design, int]:
    """Best heuristic design: from k-means++, from today's map, and (no exact model) restarts."""
    best = heuristic.design(ctx, seed=seed, deadline=deadline)
    current = _current_design(units, spec, ctx)
    if current is not None:
        # Improve today's map as well; keep whichever is better.
        improved = heuristic.design(ctx, seed=seed, deadline=deadline, start=current)
        if heuristic.rank(ctx, improved) < heuristic.rank(ctx, best):
            best = improved
    restarts = 1
    while not exact and time.monotonic() < deadline - margin:
        other = heuristic.design(ctx, seed=seed + restarts, deadline=deadline)
        restarts += 1
        if heuristic.rank(ctx, other) < heuristic.rank(ctx, best):
            best = other
    return best, restarts


def _current_design(
    units: UnitLayer, spec: DistrictSpec, ctx: heuristic.Context
) -> heuristic.Design | None:
    """Today's territories as a start, when every unit has one and there are k of them."""
    if (units.current == "").any():
        return None
    names = spec.territory_labels(units) or tuple(sorted(set(units.current.tolist())))
    if len(names) != spec.k or not set(units.current.tolist()) <= set(names):
        return None
    code = {name: j for j, name in enumerate(names)}
    labels = np.array([code[c] for c in units.current.tolist()], dtype=np.int64)
    centers = heuristic.medoids(ctx, labels, np.zeros(spec.k, dtype=np.int64))
    return heuristic.Design(labels, centers)


def _canonical(ctx: heuristic.Context, d: heuristic.Design) -> heuristic.Design:
    """Renumber districts in the order of their first unit (stable ids)."""
    labels = canonical_labels(d.labels)
    centers = np.empty(ctx.k, dtype=np.int64)
    for j in range(ctx.k):
        centers[labels[np.flatnonzero(d.labels == j)[0]]] = d.centers[j]
    return heuristic.Design(labels, centers)


def _exact_applies(units: UnitLayer, spec: DistrictSpec) -> bool:
    if spec.objective == DistrictObjective.CUT_EDGES:
        return units.n <= EXACT_LABELING_UNITS
    return units.n <= EXACT_CENTER_UNITS


def _solve_exact(
    ctx: heuristic.Context,
    spec: DistrictSpec,
    options: SolveOptions,
    deadline: float,
    incumbent: heuristic.Design | None,
) -> MipResult:
    nbrs = ctx.nbrs if spec.contiguous else None
    if spec.objective == DistrictObjective.CUT_EDGES:
        fixed = ctx.locked
        if ctx.fixed_centers is not None:
            fixed = np.full(ctx.n, -1, dtype=np.int64)
            fixed[ctx.fixed_centers] = np.arange(ctx.k)
        start = None
        if incumbent is not None:
            start = incumbent.labels
            if fixed is not None:  # labels must match the fixed centers' districts
                remap = np.empty(ctx.k, dtype=np.int64)
                remap[incumbent.labels[ctx.fixed_centers]] = np.arange(ctx.k)
                start = remap[incumbent.labels]
        return solve_labeling_model(
            n=ctx.n,
            k=ctx.k,
            values=ctx.values,
            lo=ctx.lo,
            hi=ctx.hi,
            edges=ctx.edges,
            edge_cost=ctx.edge_cost,
            nbrs=nbrs,
            options=options,
            deadline=deadline,
            start=start,
            fixed=fixed,
            unit_cost=ctx.extra,
        )
    allowed = np.ones((ctx.n, ctx.n), dtype=bool)
    if ctx.fixed_centers is not None:
        allowed[:] = False
        allowed[:, ctx.fixed_centers] = True
    cost = ctx.weight[:, None] * ctx.dist
    if ctx.home is not None:
        # A district is the territory of its center: centers come from a territory,
        # locked units go to a center of their territory, moving costs disruption.
        allowed &= (ctx.home >= 0)[None, :]
        assert ctx.locked is not None and ctx.extra is not None
        pinned = ctx.locked >= 0
        allowed[pinned] &= ctx.home[None, :] == ctx.locked[pinned, None]
        np.fill_diagonal(allowed, ctx.home >= 0)
        cost = cost + ctx.extra[:, np.maximum(ctx.home, 0)]
    start = incumbent.centers[incumbent.labels] if incumbent is not None else None
    if spec.objective == DistrictObjective.SUM_DISTANCE:
        result = solve_center_model(
            allowed=allowed,
            cost=cost,
            start=start,
            **_center_args(ctx, nbrs, options, deadline),
        )
    else:
        result = _bisect_radius(ctx, allowed, options, deadline, incumbent, nbrs)
    if ctx.home is not None and result.labels is not None and result.centers is not None:
        # Number districts by territory: district j is centered in territory j.
        centers = np.empty(ctx.k, dtype=np.int64)
        centers[ctx.home[result.centers]] = result.centers
        labels = ctx.home[result.centers][result.labels]
        result = dataclasses.replace(result, labels=labels, centers=centers)
    return result


def _center_args(
    ctx: heuristic.Context, nbrs: Any, options: SolveOptions, deadline: float
) -> dict[str, Any]:
    """Arguments of :func:`solve_center_model` that every center-model solve shares."""
    return {
        "k": ctx.k,
        "values": ctx.values,
        "lo": ctx.lo,
        "hi": ctx.hi,
        "edges": ctx.edges,
        "nbrs": nbrs,
        "options": options,
        "deadline": deadline,
        "fixed_centers": ctx.fixed_centers,
        "center_groups": ctx.home,
    }


def _bisect_radius(
    ctx: heuristic.Context,
    allowed: np.ndarray,
    options: SolveOptions,
    deadline: float,
    incumbent: heuristic.Design | None,
    nbrs: Any,
) -> MipResult:
    """Smallest feasible radius by bisection over the distinct distances."""
    radii = np.unique(ctx.dist[allowed])
    best: MipResult | None = None
    hi_idx = len(radii) - 1
    if incumbent is not None:
        hi_idx = int(np.searchsorted(radii, ctx.objective_of(incumbent) - 1e-9))
    lo_idx = 0  # radii[lo_idx - 1] is proven infeasible (none yet)
    rounds = cuts = 0
    log = []
    while lo_idx < hi_idx and time.monotonic() < deadline:
        mid = (lo_idx + hi_idx) // 2
        mask = allowed & (ctx.dist <= radii[mid] + 1e-9)
        np.fill_diagonal(mask, np.diag(allowed))
        result = solve_center_model(
            allowed=mask,
            cost=ctx.dist,
            feasibility=True,
            **_center_args(ctx, nbrs, options, deadline),
        )
        rounds += result.rounds
        cuts += result.cuts
        log.append(result.log)
        if result.status == "infeasible":
            lo_idx = mid + 1
        elif result.labels is not None:
            hi_idx = mid
            best = result
        else:
            break
    bound = float(radii[lo_idx]) if lo_idx < len(radii) else np.inf
    text = "\n".join(log)
    if best is not None and best.labels is not None and best.centers is not None:
        d = ctx.dist[np.arange(ctx.n), best.centers[best.labels]].max()
        status = "optimal" if lo_idx >= hi_idx else "feasible"
        return MipResult(status, best.labels, best.centers, float(d), bound, rounds, cuts, text)
    # No better radius was found: the incumbent's radius is optimal once the bisection closed.
    status = "optimal" if lo_idx >= hi_idx and incumbent is not None else "time_limit"
    return MipResult(status, None, None, np.inf, bound, rounds, cuts, text)


def _large_bound(ctx: heuristic.Context, upper: float, deadline: float) -> float:
    """Return a valid bound for when no exact model runs (see :mod:`.bounds`)."""
    if ctx.objective == DistrictObjective.CUT_EDGES:
        if not ctx.edge_cost.size:
            return 0.0
        return float(min(ctx.k - 1, ctx.edge_cost.size) * ctx.edge_cost.min())
    if ctx.objective == DistrictObjective.MAX_DISTANCE or ctx.n > bounds.MAX_LAGRANGE_UNITS:
        return 0.0
    has_band = ctx.values.shape[1] > 0
    return max(
        0.0,
        bounds.sum_distance_bound(
            ctx.weight[:, None] * ctx.dist,
            ctx.k,
            ctx.values[:, 0] if has_band else None,
            float(ctx.lo[0]) if has_band else 0.0,
            float(ctx.hi[0]) if has_band else np.inf,
            upper if np.isfinite(upper) else float(ctx.dist.max() * ctx.weight.sum()),
            deadline,
            ctx.fixed_centers,
        ),
    )


def _diagnosis_text(
    spec: DistrictSpec, findings: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    bands = ", ".join(f"{m} ±{t:.2%}" for m, t in sorted(spec.bands.items()))
    what = (
        f"no {'contiguous ' if spec.contiguous else ''}design of {spec.k} districts meets {bands}"
    )
    advice = "widen a band, change k" + (
        ", or allow non-contiguous districts" if spec.contiguous else ""
    )
    summary = f"{what}; {advice}"
    found = findings or [{"family": "district", "message": summary}]
    if findings:
        summary = f"{what}: " + "; ".join(f["message"] for f in findings)
    return {"summary": summary, "findings": found}


def _diagnosis(units: UnitLayer, spec: DistrictSpec, deadline: float, seed: int) -> dict[str, Any]:
    """Say which requirement blocks: contiguity, or bands that are infeasible alone."""
    findings: list[dict[str, Any]] = []

    def feasible(other: DistrictSpec) -> bool | None:
        left = deadline - time.monotonic()
        if left < 0.5:
            return None
        plan = design_districts(units, other, time_limit=left, seed=seed, diagnose=False)
        if plan.status == Status.INFEASIBLE:
            return False
        return True if plan.labels is not None else None

    if spec.contiguous and feasible(dataclasses.replace(spec, contiguous=False)):
        findings.append(
            {
                "family": "contiguity",
                "message": "the bands can be met only by districts in several pieces: "
                "allow non-contiguous districts, widen a band, or change k",
            }
        )
        return _diagnosis_text(spec, findings)
    if len(spec.bands) > 1:
        for metric, tol in sorted(spec.bands.items()):
            alone = dataclasses.replace(spec, bands={metric: tol}, contiguous=False)
            if feasible(alone) is False:
                findings.append(
                    {
                        "family": "band",
                        "metric": metric,
                        "message": f"the {metric} band ±{tol:.2%} cannot be met even on its "
                        "own and without contiguity: widen it",
                    }
                )
    if not findings and len(spec.bands) > 1:
        findings.append(
            {
                "family": "band",
                "message": "each band can be met on its own but not all together: widen one",
            }
        )
    return _diagnosis_text(spec, findings)


def _infeasible(
    units: UnitLayer,
    spec: DistrictSpec,
    options: SolveOptions,
    start: float,
    diagnosis: dict[str, Any],
    solver: str,
) -> DistrictPlan:
    return DistrictPlan(
        units,
        spec,
        Status.INFEASIBLE,
        None,
        None,
        np.inf,
        np.inf,
        options,
        time.monotonic() - start,
        solver,
        diagnosis=diagnosis,
    )
