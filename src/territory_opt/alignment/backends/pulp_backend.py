"""The arc model through PuLP, so any MIP solver PuLP can drive becomes a backend.

PuLP is a modelling layer: it builds one Python object per variable and writes
the model to the solver (a file for ``*_CMD`` solvers, the API for ``HiGHS``).
It is slower to build than :mod:`territory_opt.alignment.backends.highs` and
has no portable MIP dual bound; see :class:`Pulp` for how the bound is derived.
"""

from __future__ import annotations

import inspect
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pulp

from territory_opt._errors import InputError
from territory_opt.alignment.backends.base import (
    BackendResult,
    SolveOptions,
    Status,
    choice_from_values,
)
from territory_opt.alignment.instance import ArcModel

#: PuLP solver used when ``options.solver`` is not set (the CBC binary bundled with PuLP).
DEFAULT_SOLVER = "PULP_CBC_CMD"
#: Loads smaller than this are left out of the rows (as in the HiGHS backend).
_ZERO = 1e-12
#: PuLP 3.x warns that PULP_CBC_CMD will be removed in PuLP 4.0; that is PuLP's
#: concern, not the user's, so the warning is silenced where the solver is built.
_CBC_DEPRECATION = "PULP_CBC_CMD is deprecated"


class Pulp:
    """Exact MIP on the given arcs through PuLP (CBC by default).

    Formulation: binary ``x_a`` per arc, ``Σ_{a ∈ i} x_a = 1`` per item,
    ``lo ≤ Σ_{a ∈ r} load_a x_a ≤ hi`` per finite band and ``budget · x ≤
    budget_hi`` per budget; minimise ``cost · x``.

    ``options.solver`` names the PuLP solver (``pulp.listSolvers()``), default
    :data:`DEFAULT_SOLVER`. It is built with ``msg=False``, ``timeLimit`` and
    ``gapRel = options.gap``; ``threads``, ``logPath`` and ``warmStart`` are
    passed only when the solver's constructor declares them. Warm start
    therefore works with CBC and ``HiGHS_CMD`` but is ignored by the ``HiGHS``
    API solver. ``options.seed`` is not passed (PuLP has no common option).

    Bound rule: PuLP does not expose the MIP dual bound portably, so

    * solved to optimality (PuLP status optimal and solution status optimal, i.e.
      the solver stopped on ``gapRel``, not on a limit): status ``optimal`` and
      lower bound ``objective − gap · |objective|``, which the relative gap
      criterion guarantees; with the ``HiGHS`` API solver the solver's own MIP
      dual bound is used instead when it is larger;
    * a plan found but the search stopped by the time limit: status
      ``time_limit`` with the plan, lower bound ``−inf`` (or HiGHS's bound);
    * no plan and not proven infeasible: ``time_limit``, no choice, ``−inf``;
    * proven infeasible: ``infeasible``.

    Solver files go to a private temporary directory, never to the working
    directory.
    """

    name = "pulp"

    def solve(self, model: ArcModel, options: SolveOptions) -> BackendResult:
        """Build the model in PuLP and solve it with the chosen solver.

        Parameters
        ----------
        model
            The arc model.
        options
            ``solver`` picks the PuLP solver; ``time_limit`` [s], ``gap``,
            ``threads`` and ``warm_start`` are passed on where supported.

        Returns
        -------
        BackendResult
            The plan, objective and the bound described in the class docstring.

        Raises
        ------
        InputError
            When ``options.solver`` is not a PuLP solver available here.
        """
        solver_name = options.solver or DEFAULT_SOLVER
        label = f"pulp:{solver_name}"
        version = str(pulp.__version__)
        start = _warm_start(model, options.warm_start)
        with tempfile.TemporaryDirectory(prefix="territory-opt-pulp-") as tmp:
            log_path = Path(tmp) / "solver.log"
            solver = make_solver(
                solver_name, options, log_path=log_path, warm_start=start is not None
            )
            if hasattr(solver, "tmpDir"):
                solver.tmpDir = tmp
            prob, x = _build(model)
            if prob is None:  # an item without arcs or a row no arc can meet
                return BackendResult(Status.INFEASIBLE, None, np.inf, np.inf, label, version)
            if start is not None:
                for var, value in zip(x, start.tolist(), strict=True):
                    var.setInitialValue(value)
            try:
                prob.solve(solver)
            except pulp.PulpSolverError as exc:
                log = _read(log_path) + f"\n{exc}"
                return BackendResult(Status.ERROR, None, np.inf, -np.inf, label, version, log)
            log = _read(log_path)
            dual_bound = _highs_dual_bound(prob)

        status, sol_status = prob.status, prob.sol_status
        if status == pulp.LpStatusInfeasible:
            return BackendResult(Status.INFEASIBLE, None, np.inf, np.inf, label, version, log)
        values = np.array([np.nan if v.varValue is None else v.varValue for v in x])
        choice = None
        if status == pulp.LpStatusOptimal and sol_status in (
            pulp.LpSolutionOptimal,
            pulp.LpSolutionIntegerFeasible,
        ):
            choice = choice_from_values(model, np.nan_to_num(values, nan=0.0))
        if choice is None:
            st = Status.TIME_LIMIT if status == pulp.LpStatusNotSolved else Status.ERROR
            return BackendResult(st, None, np.inf, dual_bound, label, version, log)
        objective = model.objective(choice)
        if sol_status == pulp.LpSolutionOptimal:
            st = Status.OPTIMAL
            bound = max(objective - options.gap * abs(objective), dual_bound)
        else:
            st = Status.TIME_LIMIT
            bound = dual_bound
        stats = {"arcs": float(model.n_arcs), "violation": model.violation(choice)}
        return BackendResult(
            st, choice, objective, min(bound, objective), label, version, log, stats=stats
        )


def make_solver(
    name: str, options: SolveOptions, *, log_path: Path | None = None, warm_start: bool = False
) -> Any:
    """Build the PuLP solver ``name`` with the options it supports.

    Parameters
    ----------
    name
        A PuLP solver name, e.g. ``PULP_CBC_CMD`` or ``HiGHS``.
    options
        ``time_limit`` [s], ``gap`` and ``threads`` (when > 0) are passed on.
    log_path
        Where the solver should write its log, if its constructor takes ``logPath``.
    warm_start
        Ask for ``warmStart=True`` if the constructor takes it.

    Returns
    -------
    pulp.LpSolver
        The configured solver.

    Raises
    ------
    InputError
        When ``name`` is unknown to PuLP or the solver is not available here.
    """
    probe = _get_solver(name, msg=False)
    if probe is None or not probe.available():
        available = ", ".join(pulp.listSolvers(onlyAvailable=True)) or "(none)"
        msg = f"solver '{name}' is not available to PuLP; available solvers are: {available}"
        error = InputError.single("alignment settings", msg, column="solver")
        raise error
    declared = inspect.signature(type(probe).__init__).parameters
    kwargs: dict[str, Any] = {
        "msg": False,
        "timeLimit": float(options.time_limit),
        "gapRel": float(options.gap),
    }
    if options.threads and "threads" in declared:
        kwargs["threads"] = int(options.threads)
    if log_path is not None and "logPath" in declared:
        kwargs["logPath"] = str(log_path)
    if warm_start and "warmStart" in declared:
        kwargs["warmStart"] = True
    return _get_solver(name, **kwargs)


def _get_solver(name: str, **kwargs: Any) -> Any:
    """Call ``pulp.getSolver``; ``None`` for an unknown name."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_CBC_DEPRECATION, category=DeprecationWarning)
        try:
            return pulp.getSolver(name, **kwargs)
        except pulp.PulpSolverError:
            return None


def _warm_start(model: ArcModel, warm_start: np.ndarray | None) -> np.ndarray | None:
    """0/1 start values per arc from one arc index per item; ``None`` if unusable."""
    if warm_start is None or len(warm_start) != model.n_items:
        return None
    arcs = np.asarray(warm_start, dtype=np.int64)
    if len(arcs) and (arcs.min() < 0 or arcs.max() >= model.n_arcs):
        return None
    start = np.zeros(model.n_arcs)
    start[arcs] = 1.0
    return start


def _build(model: ArcModel) -> tuple[Any, list[Any]]:
    """Build the PuLP problem; ``(None, vars)`` when a row is trivially infeasible."""
    prob = pulp.LpProblem("arc_model", pulp.LpMinimize)
    x = _binaries(prob, model.n_arcs)
    rows: list[tuple[np.ndarray, np.ndarray, float, float]] = []
    by_item = np.argsort(model.arc_item, kind="stable")
    per_item = np.bincount(model.arc_item, minlength=model.n_items)
    for members in np.split(by_item, np.cumsum(per_item)[:-1]):
        rows.append((members, np.ones(len(members)), 1.0, 1.0))
    for col in range(model.load.shape[1]):
        for rep in range(model.n_reps):
            lo, hi = float(model.lo[rep, col]), float(model.hi[rep, col])
            if np.isfinite(lo) or np.isfinite(hi):
                keep = np.flatnonzero((model.arc_rep == rep) & (np.abs(model.load[:, col]) > _ZERO))
                rows.append((keep, model.load[keep, col], lo, hi))
    for g in range(len(model.budget_hi)):
        keep = np.flatnonzero(np.abs(model.budget[:, g]) > _ZERO)
        rows.append((keep, model.budget[keep, g], -np.inf, float(model.budget_hi[g])))

    for k, (idx, coef, lo, hi) in enumerate(rows):
        if len(idx) == 0:
            if lo > 0.0 or hi < 0.0:
                return None, x
            continue
        expr = pulp.LpAffineExpression(
            [(x[a], c) for a, c in zip(idx.tolist(), coef.tolist(), strict=True)]
        )
        if lo == hi:
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintEQ, f"r{k}", lo))
            continue
        if np.isfinite(lo):
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintGE, f"r{k}_lo", lo))
        if np.isfinite(hi):
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintLE, f"r{k}_hi", hi))
    cost = [(v, c) for v, c in zip(x, model.cost.tolist(), strict=True) if c != 0.0]
    prob.setObjective(pulp.LpAffineExpression(cost))
    return prob, x


def _binaries(prob: Any, n: int) -> list[Any]:
    """``n`` binary variables owned by ``prob`` (PuLP 3.x API, 2.x fallback)."""
    if hasattr(prob, "add_variable"):
        return [prob.add_variable(f"x{a}", 0, 1, cat=pulp.LpBinary) for a in range(n)]
    return [pulp.LpVariable(f"x{a}", 0, 1, cat=pulp.LpBinary) for a in range(n)]


def _highs_dual_bound(prob: Any) -> float:
    """HiGHS's MIP dual bound when the ``HiGHS`` API solver ran, else ``-inf``."""
    highs = getattr(prob, "solverModel", None)
    if highs is None or not hasattr(highs, "getInfo"):
        return -np.inf
    bound = float(highs.getInfo().mip_dual_bound)
    return bound if np.isfinite(bound) else -np.inf


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
