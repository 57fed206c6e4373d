"""OR-Tools CP-SAT on the arc model, with every coefficient scaled to integers.

CP-SAT only accepts integer coefficients, so each array (costs, each load
column, each budget column) gets its own scale from :func:`integer_scale`: 1
when the values are already integral, otherwise a power of ten that maps the
largest absolute value to at most :data:`MAX_SCALED`. Scaled values are rounded
to the nearest integer.

Rounding of the right-hand sides is conservative: after scaling, lower band
bounds are rounded up (``ceil``) and upper band bounds and budget limits down
(``floor``). With integral loads and budgets the integer model is therefore
*exactly* the original model. With fractional loads a plan that is feasible
for the integer model meets the original bands up to the rounding of the loads
(at most ``0.5 / scale`` per arc, i.e. a relative 5e-10 of the largest load),
and a plan that meets a band only within that margin may be cut off; in
particular the lower bound (and an ``infeasible`` verdict) is proven for the
integer model, not for the original one.

The lower bound is reported in the original units and is never above the true
optimum of the integer model: CP-SAT's bound on the scaled objective is
corrected by the worst rounding error of each item's cost (see
:func:`original_bound`).
"""

from __future__ import annotations

import math

import numpy as np
import ortools
from ortools.sat.python import cp_model

from territory_opt.alignment.backends.base import (
    BackendResult,
    SolveOptions,
    Status,
    choice_from_values,
    relative_gap,
)
from territory_opt.alignment.instance import ArcModel

#: Largest absolute value a non-integral array is scaled to. 1e9 keeps nine
#: significant digits and leaves int64 (up to 9.2e18) room for sums of ~9e9 terms.
MAX_SCALED = 1e9
#: Values within this distance of an integer count as integral.
INTEGRAL_TOL = 1e-9
#: Relative slack when snapping a scaled bound to an integer (float products of a
#: value and a power of ten are off by ~1e-16 relative; 1e-12 is well clear of that).
SNAP_REL = 1e-12
#: CP-SAT workers when the options leave the choice to the solver (the project's
#: machines have 2 cores, see DESIGN.md section 8).
DEFAULT_WORKERS = 2


def integer_scale(values: np.ndarray) -> float:
    """Choose the factor that turns ``values`` into integers for CP-SAT.

    Parameters
    ----------
    values
        Any array; non-finite entries are ignored.

    Returns
    -------
    float
        1 when every finite value is within :data:`INTEGRAL_TOL` of an integer,
        otherwise ``10**k`` with the largest ``k`` such that
        ``max|values| * 10**k <= MAX_SCALED`` (``k`` may be negative).

    Examples
    --------
    >>> integer_scale(np.array([1.0, 2.0, 30.0]))
    1.0
    >>> integer_scale(np.array([0.5, 12.25]))
    10000000.0
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0 or bool(np.all(np.abs(finite - np.rint(finite)) <= INTEGRAL_TOL)):
        return 1.0
    peak = float(np.abs(finite).max())
    return float(10.0 ** math.floor(math.log10(MAX_SCALED / peak)))


def _scaled(values: np.ndarray, scale: float) -> np.ndarray:
    """Round ``values * scale`` to int64."""
    return np.rint(np.asarray(values, dtype=np.float64) * scale).astype(np.int64)


def _snap_tol(x: float) -> float:
    return max(INTEGRAL_TOL, SNAP_REL * abs(x))


def _int_range(lo: float, hi: float, scale: float, reach: int) -> tuple[int, int] | None:
    """Integer ``[lb, ub]`` for a row whose integer activity lies in ``[-reach, reach]``.

    ``lo`` is rounded up and ``hi`` down after scaling (both clipped to just
    outside the reachable range so they fit in int64). Returns ``None`` when the
    row cannot bind.
    """
    lb, ub = -reach, reach
    if np.isfinite(lo):
        x = min(max(lo * scale, -reach - 1.0), reach + 1.0)
        lb = math.ceil(x - _snap_tol(x))
    if np.isfinite(hi):
        x = min(max(hi * scale, -reach - 1.0), reach + 1.0)
        ub = math.floor(x + _snap_tol(x))
    if lb <= -reach and ub >= reach:
        return None
    return lb, ub


def original_bound(
    model: ArcModel, scaled_bound: float, cost_int: np.ndarray, scale: float
) -> float:
    """Turn CP-SAT's bound on the scaled objective into a bound in original units.

    For any plan, ``Σ cost = (Σ cost_int − Σ err) / scale`` with ``err = cost_int −
    cost · scale`` the rounding error of the chosen arcs, one per item. So
    ``(scaled_bound − Σ_i max_{a ∈ i} err_a) / scale`` is a valid bound; it is
    never weaker than the brief's ``n_items · 0.5 / scale`` margin. The result is
    also raised to the trivial bound ``Σ_i min_{a ∈ i} cost_a`` (bands ignored).

    Parameters
    ----------
    model
        The model that was solved.
    scaled_bound
        ``solver.best_objective_bound`` (scaled units).
    cost_int
        The integer costs handed to CP-SAT.
    scale
        The cost scale.

    Returns
    -------
    float
        A lower bound on the optimum in original units (``-inf`` if unknown).
    """
    if not np.isfinite(scaled_bound) or model.n_arcs == 0:
        return -np.inf
    err = cost_int.astype(np.float64) - model.cost * scale
    worst = np.full(model.n_items, -np.inf)
    np.maximum.at(worst, model.arc_item, err)
    cheapest = np.full(model.n_items, np.inf)
    np.minimum.at(cheapest, model.arc_item, model.cost)
    bound = (scaled_bound - float(worst.sum())) / scale
    return max(bound, float(cheapest.sum())) if np.isfinite(cheapest).all() else bound


class CpSat:
    """Exact model on the given arcs with OR-Tools CP-SAT.

    Formulation: one Boolean ``x_a`` per arc, ``AddExactlyOne`` per item, one
    linear constraint per finite band ``(rep, load)`` and per budget, and the
    objective ``min Σ_a round(cost_a · s) x_a``; see the module docstring for
    the integer scaling ``s`` and its effect on feasibility and bounds.

    Warm start: ``options.warm_start`` becomes a complete solution hint.
    """

    name = "cpsat"

    def solve(self, model: ArcModel, options: SolveOptions) -> BackendResult:
        """Solve the binary model within the options' time and gap limits.

        Parameters
        ----------
        model
            The arc model.
        options
            ``time_limit`` [s], ``gap``, ``threads`` (0 → :data:`DEFAULT_WORKERS`),
            ``seed`` and ``warm_start`` are used; ``solver`` is ignored.

        Returns
        -------
        BackendResult
            Objective and lower bound in the model's original units.
        """
        cp, x, cost_int, cost_scale = _build(model)
        if options.warm_start is not None and len(options.warm_start) == model.n_items:
            start = np.asarray(options.warm_start, dtype=np.int64)
            if len(start) == 0 or (start.min() >= 0 and start.max() < model.n_arcs):
                hint = np.zeros(model.n_arcs, dtype=bool)
                hint[start] = True
                for var, value in zip(x, hint.tolist(), strict=True):
                    cp.add_hint(var, value)

        solver = cp_model.CpSolver()
        params = solver.parameters
        params.max_time_in_seconds = float(options.time_limit)
        params.relative_gap_limit = float(options.gap)
        params.random_seed = int(options.seed)
        params.num_workers = int(options.threads) or DEFAULT_WORKERS
        params.log_search_progress = True
        params.log_to_stdout = False
        lines: list[str] = []
        solver.log_callback = lines.append
        status = solver.solve(cp)
        log = "\n".join(lines)

        version = str(ortools.__version__)  # type: ignore[attr-defined]  # no stub entry
        if status == cp_model.INFEASIBLE:
            return BackendResult(Status.INFEASIBLE, None, np.inf, np.inf, "cpsat", version, log)
        if status == cp_model.MODEL_INVALID:
            return BackendResult(Status.ERROR, None, np.inf, -np.inf, "cpsat", version, log)
        bound = original_bound(model, float(solver.best_objective_bound), cost_int, cost_scale)
        choice = None
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            solution = np.asarray(solver.response_proto.solution, dtype=np.float64)
            choice = choice_from_values(model, solution[[v.index for v in x]])
        if choice is None:
            st = Status.TIME_LIMIT if status == cp_model.UNKNOWN else Status.ERROR
            return BackendResult(st, None, np.inf, bound, "cpsat", version, log)
        objective = model.objective(choice)
        bound = min(bound, objective)
        if relative_gap(objective, bound) <= options.gap + 1e-12:
            st = Status.OPTIMAL
        elif status == cp_model.OPTIMAL:  # CP-SAT stopped at its gap (in scaled units)
            st = Status.FEASIBLE
        else:  # FEASIBLE: a limit (time) stopped the search
            st = Status.TIME_LIMIT
        stats = {
            "arcs": float(model.n_arcs),
            "cost_scale": cost_scale,
            "violation": model.violation(choice),
            "wall_time": float(solver.wall_time),
        }
        return BackendResult(st, choice, objective, bound, "cpsat", version, log, stats=stats)


def _build(model: ArcModel) -> tuple[cp_model.CpModel, list[cp_model.IntVar], np.ndarray, float]:
    """Build the CP-SAT model; return it, the arc variables, integer costs and cost scale."""
    cp = cp_model.CpModel()
    x = [cp.new_bool_var(f"x{a}") for a in range(model.n_arcs)]
    order = np.argsort(model.arc_item, kind="stable")
    starts = np.searchsorted(model.arc_item[order], np.arange(model.n_items + 1))
    for i in range(model.n_items):
        cp.add_exactly_one([x[a] for a in order[starts[i] : starts[i + 1]].tolist()])

    for col in range(model.load.shape[1]):
        scale = integer_scale(model.load[:, col])
        load_int = _scaled(model.load[:, col], scale)
        for rep in range(model.n_reps):
            lo, hi = float(model.lo[rep, col]), float(model.hi[rep, col])
            if not (np.isfinite(lo) or np.isfinite(hi)):
                continue
            arcs = np.flatnonzero((model.arc_rep == rep) & (load_int != 0))
            coef = load_int[arcs]
            limits = _int_range(lo, hi, scale, int(np.abs(coef).sum()))
            if limits is not None:
                expr = cp_model.LinearExpr.weighted_sum(
                    [x[a] for a in arcs.tolist()], coef.tolist()
                )
                cp.add_linear_constraint(expr, *limits)

    for g in range(len(model.budget_hi)):
        scale = integer_scale(model.budget[:, g])
        budget_int = _scaled(model.budget[:, g], scale)
        arcs = np.flatnonzero(budget_int != 0)
        coef = budget_int[arcs]
        limits = _int_range(-np.inf, float(model.budget_hi[g]), scale, int(np.abs(coef).sum()))
        if limits is not None:
            expr = cp_model.LinearExpr.weighted_sum([x[a] for a in arcs.tolist()], coef.tolist())
            cp.add_linear_constraint(expr, *limits)

    cost_scale = integer_scale(model.cost)
    cost_int = _scaled(model.cost, cost_scale)
    cp.minimize(cp_model.LinearExpr.weighted_sum(x, cost_int.tolist()))
    return cp, x, cost_int, cost_scale
