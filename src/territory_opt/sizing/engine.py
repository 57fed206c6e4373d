"""The sizing search: minimum headcount with its proof, placement per size, the curve.

:func:`size_team` answers the three planning questions on top of the
alignment engine (see ``docs/sizing.md`` and ``models/README.md``):

1. **Minimum headcount.** Start at the counting bound and plan upward until a
   team size has a plan. The size below it is proven impossible by the
   counting bound, the keep list, exact sizing (every removal choice or every
   placement), or the alignment engine on the only team of that size that
   matters (the current team, or, since placement cannot change feasibility
   without ``max_distance``, every split of the hires over segments).
   Otherwise the minimum is reported as *not proven*.
2. **Placement.** Which candidate sites the hires take (exact MIP for small
   books, nested greedy with optional interchange otherwise), with the plan.
3. **Curve.** Every size of the range with its objective, bound and gap,
   worst band deviation, travel, potential per rep and the knee.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from territory_opt._errors import InputError
from territory_opt._progress import advance, step, track
from territory_opt.alignment.backends.base import SolveOptions, Status, relative_gap
from territory_opt.alignment.solve import align
from territory_opt.alignment.spec import AlignmentSpec
from territory_opt.plan import Plan
from territory_opt.sizing.bounds import CountBound, count_bound, count_proof
from territory_opt.sizing.context import Candidates, SizingContext, prepare
from territory_opt.sizing.exact import (
    exact_applicable,
    hire_splits,
    placement_mip,
    removal_sets,
    removal_short,
    split_short,
)
from territory_opt.sizing.greedy import GreedyPath
from territory_opt.sizing.request import SizingRequest
from territory_opt.sizing.sites import ACCOUNT_SITES
from territory_opt.sizing.team import TableSource, Team

#: Without ``--range`` the curve runs from the minimum to at least this many reps more.
DEFAULT_CURVE_SPAN = 5
#: Without ``--range`` the minimum is searched this far above the bound (or the team).
DEFAULT_SEARCH_SPAN = 10
#: Splits of the hires checked to prove a size impossible in greedy mode.
MAX_PROOF_SPLITS = 12

#: ``feasible`` values of a point.
YES, NO, UNKNOWN = "yes", "no", "unknown"
#: Proof kinds (``sizing.csv`` column ``proof``).
PROOFS = {
    "plan": "a plan that meets every hard limit (checked by the engine)",
    "count": "the counting bound: the team's capacity cannot carry the workload",
    "limit": "the keep list or the hiring limits rule this size out",
    "account": "an account (or family) exceeds what any rep can carry",
    "exact": "every removal choice or placement was proven infeasible (exact MIP)",
    "solver": "the engine proved every team of this size infeasible",
    "team": "the engine proved this team infeasible; other teams of this size were not tried",
}


@dataclass(frozen=True, eq=False)
class SizingPoint:
    """One team size: its team, plan and evidence.

    Attributes
    ----------
    n_reps
        Team size.
    feasible
        ``yes`` (a plan exists), ``no`` (proven impossible for every team of
        this size) or ``unknown``.
    proof
        Kind of evidence, a key of :data:`PROOFS` (empty when none).
    reason
        The evidence in words.
    method
        ``exact``, ``greedy`` or ``bound`` (decided without solving).
    team
        The team planned, or None.
    plan
        Its plan (with a diagnosis when infeasible), or None.
    lower_bound
        Proven lower bound on the objective; for all teams of this size when
        ``bound_scope`` is ``size``, for the team's placement when ``team``.
    bound_scope
        ``size`` or ``team``.
    """

    n_reps: int
    feasible: str
    proof: str
    reason: str
    method: str
    team: Team | None = None
    plan: Plan | None = None
    lower_bound: float = math.nan
    bound_scope: str = ""
    seconds: float = 0.0


@dataclass(frozen=True, eq=False)
class SizingResult:
    """The answer to a sizing request.

    Attributes
    ----------
    context
        Inputs, sites and rules of the run.
    bound
        The counting bound and the hiring limit.
    points
        One per team size considered, ascending.
    minimum
        Smallest team size with a plan, or None.
    minimum_proven
        Whether the size below the minimum is proven impossible.
    minimum_reason
        The proof (or why there is none) in words.
    knee
        Team size at the knee of the objective curve, or None.
    diagnosis
        When no size can work: the findings (like an alignment diagnosis).
    seconds
        Wall time [s].
    """

    context: SizingContext
    bound: CountBound
    points: tuple[SizingPoint, ...]
    minimum: int | None
    minimum_proven: bool
    minimum_reason: str
    knee: int | None
    diagnosis: dict[str, Any] | None = None
    seconds: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``ok`` (a minimum was found), ``infeasible`` (proven for every size) or ``no_plan``."""
        if self.minimum is not None:
            return "ok"
        if self.diagnosis is not None or (
            self.points and all(p.feasible == NO for p in self.points)
        ):
            return "infeasible"
        return "no_plan"

    def point(self, n: int) -> SizingPoint | None:
        """Return the point of team size ``n``, if considered."""
        return next((p for p in self.points if p.n_reps == n), None)


def knee_point(sizes: list[int], objective: list[float]) -> int | None:
    """Team size at the knee of a decreasing objective curve.

    The rule (the distance-to-chord form of Kneedle, Satopää et al. 2011):
    scale sizes and objectives to [0, 1], draw the chord from the first to the
    last point and take the point farthest below it. Needs three points and a
    curve that bends (no point below the chord: no knee).

    Examples
    --------
    >>> knee_point([10, 11, 12, 13, 14], [100.0, 40.0, 30.0, 25.0, 22.0])
    11
    >>> knee_point([10, 11], [5.0, 4.0]) is None
    True
    """
    if len(sizes) < 3:
        return None
    x = np.asarray(sizes, dtype=np.float64)
    y = np.asarray(objective, dtype=np.float64)
    if np.ptp(y) <= 0:
        return None
    xs = (x - x[0]) / (x[-1] - x[0])
    ys = (y - y.min()) / np.ptp(y)
    chord = ys[0] + (ys[-1] - ys[0]) * xs
    below = chord - ys
    k = int(np.argmax(below))
    return int(sizes[k]) if below[k] > 1e-9 else None


class _Search:
    """Plans team sizes with the method that fits, one :class:`SizingPoint` each."""

    def __init__(self, ctx: SizingContext, bound: CountBound) -> None:
        self.ctx = ctx
        self.bound = bound
        self.request = ctx.request
        self.path = GreedyPath(
            ctx,
            lambda team: self._align(team, "highs", diagnose=False),
            lambda n: count_proof(ctx, bound, n) is not None,
        )
        self.options = SolveOptions(
            time_limit=self.request.time_limit,
            gap=self.request.gap,
            threads=self.request.threads,
            seed=self.request.seed,
        )
        self.points: dict[int, SizingPoint] = {}
        self.swap_seconds: dict[int, float] = {}
        self.solves = 0

    def _align(self, team: Team, backend: str, *, diagnose: bool = True) -> Plan:
        self.solves += 1
        problem = self.ctx.builder.problem(team)
        return align(
            problem,
            self.ctx.spec,
            backend=backend,
            time_limit=self.request.time_limit,
            gap=self.request.gap,
            threads=self.request.threads,
            seed=self.request.seed,
            warm_start=False,
            diagnose=diagnose,
        )

    def _exact_mode(self, n: int) -> bool:
        placement = self.request.placement
        return placement == "exact" or (placement == "auto" and exact_applicable(self.ctx, n))

    def point(self, n: int) -> SizingPoint:
        if n in self.points:
            return self.points[n]
        start = time.perf_counter()
        proof = count_proof(self.ctx, self.bound, n)
        if proof is not None:
            result = SizingPoint(n, NO, proof[0], proof[1], "bound")
        elif self._exact_mode(n):
            result = self._exact(n)
        else:
            result = self._greedy(n)
        elapsed = time.perf_counter() - start
        if result.method == "greedy":  # the path planned this size, maybe earlier
            elapsed = self.path.seconds.get(n, 0.0) + self.swap_seconds.get(n, 0.0)
        result = _with_seconds(result, elapsed)
        self.points[n] = result
        return result

    # -------------------------------------------------------------- greedy
    def _greedy(self, n: int) -> SizingPoint:
        found = self.path.get(n)
        if found is None:
            what = (
                "no rep can leave without breaking capacity, a lock or the keep list"
                if n < self.ctx.m0
                else "no candidate slot is left within the hiring limits"
            )
            return SizingPoint(n, UNKNOWN, "", f"greedy placement stopped: {what}", "greedy")
        team, plan = found
        if plan is None or (plan.status == Status.INFEASIBLE and plan.diagnosis is None):
            # Screening skips the elastic diagnosis; the team kept gets one.
            plan = self._align(team, "highs")
        if n > self.ctx.m0 and plan.assignment is not None and self.request.swaps:
            start = time.perf_counter()
            with step(f"Interchange at {n} reps"):
                team, plan = self._interchange(team, plan)
            self.swap_seconds[n] = time.perf_counter() - start
        return self._judge(n, team, plan, "greedy")

    def greedy_sizes(self) -> list[int]:
        """Sizes the greedy path planned on the way (they become points too)."""
        return [n for n, found in self.path.teams.items() if found is not None]

    def _interchange(self, team: Team, plan: Plan) -> tuple[Team, Plan]:
        tried: set[Team] = {team}
        for attempt in range(self.request.swaps):
            other = self.path.alternative(team, attempt % len(team.hires))
            if other is None or other in tried:
                continue
            tried.add(other)
            candidate = self._align(other, "highs", diagnose=False)
            if candidate.assignment is not None and candidate.objective < plan.objective * (
                1 - 1e-9
            ):
                team, plan = other, candidate
        return team, plan

    def _judge(self, n: int, team: Team, plan: Plan, method: str) -> SizingPoint:
        if plan.assignment is not None:
            return SizingPoint(
                n, YES, "plan", _plan_reason(plan), method, team, plan, plan.lower_bound, "team"
            )
        summary = str((plan.diagnosis or {}).get("summary", "no plan"))
        if plan.status == Status.INFEASIBLE and team == self.ctx.current:
            return SizingPoint(
                n, NO, "solver", f"the current team has no plan: {summary}", method, team, plan
            )
        if plan.status == Status.INFEASIBLE:
            return SizingPoint(
                n, UNKNOWN, "team", f"this team has no plan: {summary}", method, team, plan
            )
        return SizingPoint(
            n,
            UNKNOWN,
            "",
            f"no plan found within {self.request.time_limit:g} s",
            method,
            team,
            plan,
        )

    def prove_all_splits(self, n: int) -> SizingPoint | None:
        """Try to prove size ``n`` (above the current team) impossible for every split of hires.

        Without ``max_distance`` a hire's site cannot change feasibility, only
        the number of hires per segment pool can; so every split planned
        infeasible proves the size. Returns the updated point, or None.
        """
        ctx = self.ctx
        if n <= ctx.m0 or ctx.spec.max_distance is not None:
            return None
        splits = hire_splits(ctx, n - ctx.m0)
        if not splits or len(splits) > MAX_PROOF_SPLITS:
            return None
        for split in splits:
            if split_short(ctx, split):
                continue
            hires: list[int] = []
            for pool, k in split.items():
                hires += [int(s) for s in np.flatnonzero(ctx.slot_pool == pool)[:k]]
            plan = self._align(Team(ctx.current.kept, tuple(hires)), "highs", diagnose=False)
            if plan.status != Status.INFEASIBLE:
                return None
        old = self.points[n]
        reason = (
            f"every split of the {n - ctx.m0} hire(s) over segments was proven infeasible "
            f"({len(splits)} split(s)); a site cannot change feasibility"
        )
        point = SizingPoint(
            n, NO, "solver", reason, old.method, old.team, old.plan, seconds=old.seconds
        )
        self.points[n] = point
        return point

    # --------------------------------------------------------------- exact
    def _exact(self, n: int) -> SizingPoint:
        ctx = self.ctx
        if n == ctx.m0:
            return self._judge(n, ctx.current, self._align(ctx.current, "highs-mip"), "exact")
        if n < ctx.m0:
            return self._exact_removal(n)
        return self._exact_hires(n)

    def _exact_removal(self, n: int) -> SizingPoint:
        ctx = self.ctx
        sets = removal_sets(ctx, n)
        best: tuple[Team, Plan] | None = None
        bound, proven = math.inf, True
        for removed in sets:
            if removal_short(ctx, removed):
                continue
            team = Team(tuple(r for r in range(ctx.m0) if r not in removed))
            plan = self._align(team, "highs-mip", diagnose=False)
            if plan.status == Status.INFEASIBLE:
                continue
            proven = False if plan.assignment is None else proven
            bound = min(bound, plan.lower_bound)
            if plan.assignment is not None and (best is None or plan.objective < best[1].objective):
                best = (team, plan)
        if best is not None:
            team, plan = best
            return SizingPoint(
                n,
                YES,
                "plan",
                _plan_reason(plan),
                "exact",
                team,
                plan,
                min(bound, plan.objective),
                "size",
            )
        if proven:
            reason = f"every choice of {ctx.m0 - n} rep(s) to remove ({len(sets)}) is infeasible"
            return SizingPoint(n, NO, "exact", reason, "exact")
        return SizingPoint(
            n, UNKNOWN, "", "no plan found in time for some removal choices", "exact"
        )

    def _exact_hires(self, n: int) -> SizingPoint:
        ctx = self.ctx
        splits = hire_splits(ctx, n - ctx.m0)
        best: tuple[tuple[int, ...], float] | None = None
        bound, proven = math.inf, True
        for split in splits:
            if split_short(ctx, split):
                continue
            outcome = placement_mip(ctx, split, self.options)
            self.solves += 1
            if outcome.status == Status.INFEASIBLE:
                continue
            bound = min(bound, outcome.bound)
            if outcome.hires is None:
                proven = False
                continue
            if best is None or outcome.objective < best[1]:
                best = (outcome.hires, outcome.objective)
        if best is None:
            if proven:
                reason = (
                    f"the location-allocation MIP proved every placement of {n - ctx.m0} hire(s) "
                    f"infeasible ({len(splits)} split(s) over segments)"
                )
                return SizingPoint(n, NO, "exact", reason, "exact")
            return SizingPoint(n, UNKNOWN, "", "no placement found in time", "exact")
        team = Team(ctx.current.kept, tuple(sorted(best[0])))
        plan = self._align(team, "highs-mip")
        point = self._judge(n, team, plan, "exact")
        if plan.assignment is None:
            return point
        return SizingPoint(
            n, YES, "plan", point.reason, "exact", team, plan, min(bound, plan.objective), "size"
        )


def _with_seconds(point: SizingPoint, seconds: float) -> SizingPoint:
    return SizingPoint(
        point.n_reps,
        point.feasible,
        point.proof,
        point.reason,
        point.method,
        point.team,
        point.plan,
        point.lower_bound,
        point.bound_scope,
        seconds,
    )


def _plan_reason(plan: Plan) -> str:
    gap = relative_gap(plan.objective, plan.lower_bound)
    shown = "-" if not math.isfinite(gap) else f"{100 * gap:.2f} %"
    return f"plan {plan.status} (gap {shown})"


def _search_window(ctx: SizingContext, bound: CountBound) -> tuple[int, int]:
    request = ctx.request
    low = max(bound.n, 1)
    high = bound.n_max
    if request.n_range is not None:
        high = min(high, max(request.n_range[1], low))
    else:
        high = min(high, max(low, ctx.m0) + DEFAULT_SEARCH_SPAN)
    return low, high


def _curve_sizes(ctx: SizingContext, bound: CountBound, minimum: int | None) -> list[int]:
    request = ctx.request
    if request.n_range is not None:
        return list(range(request.n_range[0], request.n_range[1] + 1))
    if minimum is None:
        return []
    high = min(bound.n_max, max(minimum + DEFAULT_CURVE_SPAN, ctx.m0))
    return list(range(minimum, high + 1))


def size_team(
    accounts: TableSource,
    reps: TableSource,
    request: SizingRequest,
    *,
    candidates: Candidates = ACCOUNT_SITES,
    spec: AlignmentSpec | None = None,
    metrics: list[str] | None = None,
) -> SizingResult:
    """Find the minimum headcount, place the hires and trace the curve.

    Parameters
    ----------
    accounts, reps
        Paths or DataFrames, as for :func:`~territory_opt.data.problem.load_problem`.
    request
        Capacity per FTE, hiring limits, reps to keep, range and solver settings.
    candidates
        Candidate sites: a file or DataFrame (``lat``/``lon``, optional
        ``site_id``, ``name``, ``segment``, ``region``, ``max_hires``), or
        ``"accounts"`` for any account location (thinned, see
        :mod:`territory_opt.sizing.sites`).
    spec
        The alignment request every team is planned with; default: the
        ``balanced-travel`` preset.
    metrics
        Metric columns of the accounts (default: every numeric column).

    Returns
    -------
    SizingResult
        Check ``result.status``; ``write_sizing`` writes the folder.

    Raises
    ------
    InputError
        For bad inputs or options (naming file, row, column or option).

    Examples
    --------
    >>> from territory_opt import generate_demo
    >>> accounts, reps = generate_demo(120, 4, seed=1)
    >>> request = SizingRequest({"workload": 1200}, n_range=(3, 4), time_limit=5)
    >>> result = size_team(accounts, reps, request)
    >>> [(p.n_reps, p.feasible, p.proof) for p in result.points]
    [(2, 'no', 'count'), (3, 'yes', 'plan'), (4, 'yes', 'plan')]
    >>> result.minimum, result.minimum_proven
    (3, True)
    """
    start = time.perf_counter()
    spec = spec or AlignmentSpec.from_preset("balanced-travel")
    ctx = prepare(accounts, reps, request, candidates=candidates, spec=spec, metrics=metrics)
    with step("Counting bound"):
        bound = count_bound(ctx)
    if bound.findings:
        return _impossible(ctx, bound, start)
    low, high = _search_window(ctx, bound)
    removal_needed = low < ctx.m0 or (request.n_range is not None and request.n_range[0] < ctx.m0)
    if removal_needed and ctx.builder.spatial_accounts:
        raise InputError.single(
            ctx.builder.account_raw.file,
            "sizing below the current team rewrites the accounts' current_rep; give the "
            "accounts as CSV, XLSX or Parquet with lat/lon (or x/y) columns",
        )
    search = _Search(ctx, bound)
    minimum = None
    with step("Finding the minimum headcount", high - low + 1):
        for n in range(low, high + 1):
            found = search.point(n).feasible == YES
            advance(1)
            if found:
                minimum = n
                break
    proven, reason = _minimum_proof(search, minimum, low)
    curve = [n for n in _curve_sizes(ctx, bound, minimum) if n not in search.points]
    for n in track(curve, "Sizing curve", total=len(curve)):
        search.point(n)
    for n in search.greedy_sizes():  # sizes planned on the way along the greedy path
        search.point(n)
    points = tuple(search.points[n] for n in sorted(search.points))
    feasible = [p for p in points if p.feasible == YES and p.plan is not None]
    knee = knee_point(
        [p.n_reps for p in feasible], [p.plan.objective for p in feasible if p.plan is not None]
    )
    return SizingResult(
        context=ctx,
        bound=bound,
        points=points,
        minimum=minimum,
        minimum_proven=proven,
        minimum_reason=reason,
        knee=knee,
        seconds=time.perf_counter() - start,
        stats={"solves": float(search.solves)},
    )


def _minimum_proof(search: _Search, minimum: int | None, low: int) -> tuple[bool, str]:
    if minimum is None:
        return False, "no team size in the search window has a plan"
    below = minimum - 1
    if below < low or below < 1:
        if below < 1:
            return True, "no smaller team exists"
        proof = count_proof(search.ctx, search.bound, below)
        if proof is not None:
            search.points[below] = SizingPoint(below, NO, proof[0], proof[1], "bound")
            return True, f"{below} reps: {proof[1]}"
        return False, f"{below} reps were not tried"  # pragma: no cover - low is the bound
    point = search.points[below]
    if point.feasible != NO and point.proof in ("team", "") and below > search.ctx.m0:
        with step(f"Proving {below} reps impossible"):
            point = search.prove_all_splits(below) or point
    if point.feasible == NO:
        return True, f"{below} reps: {point.reason}"
    return False, f"{below} reps not proven impossible: {point.reason}"


def _impossible(ctx: SizingContext, bound: CountBound, start: float) -> SizingResult:
    findings = list(bound.findings)
    summary = findings[0]["message"] + (
        f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    )
    diagnosis = {
        "summary": "no team of any size can carry the book: " + summary,
        "source": "sizing pre-check",
        "findings": findings,
    }
    family = "account" if any(f.get("accounts") for f in findings) else "count"
    sizes = _curve_sizes(ctx, bound, None)
    points = tuple(SizingPoint(n, NO, family, summary, "bound") for n in sizes)
    return SizingResult(
        context=ctx,
        bound=bound,
        points=points,
        minimum=None,
        minimum_proven=False,
        minimum_reason=diagnosis["summary"],
        knee=None,
        diagnosis=diagnosis,
        seconds=time.perf_counter() - start,
    )
