"""Entry point of the alignment engine: :func:`align` turns a Problem into a Plan."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from territory_opt._errors import InputError, Issue
from territory_opt._interrupt import requested as interrupt_requested
from territory_opt._progress import step
from territory_opt.alignment.backends.base import BackendResult, SolveOptions, Status
from territory_opt.alignment.instance import ArcModel, Instance
from territory_opt.alignment.precheck import precheck
from territory_opt.alignment.resources import check_resources
from territory_opt.alignment.spec import AlignmentSpec
from territory_opt.data.problem import NO_INDEX, Problem

if TYPE_CHECKING:
    from territory_opt.plan import Plan

#: Backends and what they run. ``highs`` is the default priced-LP pipeline.
BACKENDS = ("highs", "highs-mip", "cpsat", "pulp")
#: Exact backends build every arc; beyond this many they are refused with advice.
EXACT_ARC_LIMIT = 2_000_000


def align(
    problem: Problem,
    spec: AlignmentSpec | None = None,
    *,
    backend: str = "highs",
    time_limit: float = 60.0,
    gap: float = 1e-3,
    threads: int = 0,
    seed: int = 0,
    warm_start: bool = True,
    solver: str | None = None,
    diagnose: bool = True,
    memory_limit: float | None = None,
) -> Plan:
    """Assign every account to one rep, with hard balance bands and budgets.

    Parameters
    ----------
    problem
        The validated accounts and reps.
    spec
        Objective weights, bands and budgets; default: the ``balanced-travel`` preset.
    backend
        ``highs`` (default: priced LP, LP-guided MIP, reduced-cost fixing),
        ``highs-mip`` (one MIP on every arc), ``cpsat`` (OR-Tools CP-SAT) or
        ``pulp`` (CBC or another PuLP solver named by ``solver``).
    time_limit
        Wall-clock limit [s].
    gap
        Relative gap at which the plan is declared optimal.
    threads
        Solver threads (0: solver default).
    seed
        Random seed handed to the solver.
    warm_start
        Start the exact backends from last year's owners when that is possible.
    solver
        PuLP solver name for the ``pulp`` backend.
    diagnose
        On proven infeasibility, run the elastic model that finds the smallest
        widening of each constraint family.
    memory_limit
        Refuse (InputError) an instance whose estimated peak memory is above
        this many gigabytes, before any model is built; see
        :mod:`territory_opt.alignment.resources`.

    Returns
    -------
    Plan
        Always a Plan; check ``plan.status`` or call ``plan.raise_if_not_ok()``.
    """
    if backend not in BACKENDS:
        raise InputError.single(
            "alignment settings",
            f"unknown backend '{backend}'; choose one of {', '.join(BACKENDS)}",
            column="backend",
        )
    _check_options(time_limit=time_limit, gap=gap, threads=threads)
    spec = spec or AlignmentSpec.from_preset("balanced-travel")
    check_resources(problem, spec, backend, memory_limit=memory_limit)
    options = SolveOptions(
        time_limit=time_limit, gap=gap, threads=threads, seed=seed, solver=solver
    )
    start = time.perf_counter()
    with step("Preparing the model"):
        inst = Instance.build(problem, spec)
    with step("Checking feasibility"):
        findings = precheck(inst)
    diagnosis: dict[str, Any] | None = None
    if findings:
        diagnosis = {
            "summary": findings[0].message
            + (f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""),
            "source": "pre-check",
            "findings": [f.as_dict() for f in findings],
        }
        if diagnose and any(f.family in WIDENABLE for f in findings):
            diagnosis = _with_widening(inst, options, diagnosis)
        return _plan(
            inst,
            BackendResult(Status.INFEASIBLE, None, np.inf, np.inf, "pre-check", "", ""),
            None,
            backend,
            options,
            start,
            diagnosis,
        )
    result, model = _run_backend(inst, backend, options, warm_start)
    interrupted = interrupt_requested()
    if interrupted:
        result = _interrupted(result)
    if result.status == Status.INFEASIBLE and interrupted:
        diagnosis = {
            "summary": "the request is infeasible; the diagnosis was skipped (interrupted)",
            "source": "interrupted",
            "findings": [],
        }
    elif result.status == Status.INFEASIBLE and diagnose:
        from territory_opt.alignment.diagnosis import elastic_diagnosis

        with step("Diagnosing infeasibility"):
            diagnosis = elastic_diagnosis(inst, options)
    plan = _plan(inst, result, model, backend, options, start, diagnosis)
    # Also when Ctrl-C came during the diagnosis: it may then be incomplete.
    return dataclasses.replace(plan, interrupted=True) if interrupt_requested() else plan


#: Pre-check families that a wider band or budget can fix (the elastic model says how much).
WIDENABLE = frozenset({"band", "lock", "total", "budget"})


def _with_widening(
    inst: Instance, options: SolveOptions, diagnosis: dict[str, Any]
) -> dict[str, Any]:
    """Add the elastic model's smallest widening to a pre-check diagnosis.

    The pre-check names the accounts and reps that block; the elastic model
    adds by how much each band or budget must widen for a plan to exist, so
    that every infeasible request comes with a relaxation that can be applied.
    """
    from territory_opt.alignment.diagnosis import elastic_diagnosis

    with step("Diagnosing infeasibility"):
        elastic = elastic_diagnosis(inst, options)
    extra = [{**f, "source": "elastic"} for f in elastic["findings"] if f["family"] != "lock"]
    if not extra:
        return diagnosis
    widening = "; ".join(str(f["message"]) for f in extra)
    return {
        **diagnosis,
        "summary": f"{diagnosis['summary']}; smallest widening: {widening}",
        "findings": [*diagnosis["findings"], *extra],
    }


#: Added to the solver log of a plan whose solve was stopped by Ctrl-C.
INTERRUPTED_LOG = "interrupted by the user (Ctrl-C): the best plan found so far is kept"


def _interrupted(result: BackendResult) -> BackendResult:
    """Mark a result stopped by Ctrl-C: status as at the time limit (optimal stays optimal)."""
    status = result.status
    if status in (Status.FEASIBLE, Status.ERROR) or (
        status == Status.OPTIMAL and result.choice is None
    ):
        status = Status.TIME_LIMIT
    log = (result.log + "\n" if result.log else "") + INTERRUPTED_LOG
    return dataclasses.replace(result, status=status, log=log)


def _check_options(*, time_limit: float, gap: float, threads: int) -> None:
    """Reject a time limit, gap or thread count that no solver can honour."""
    problems = []
    if not (math.isfinite(time_limit) and time_limit > 0):
        problems.append(("time_limit", f"time limit must be > 0 seconds, got {time_limit}"))
    if not (math.isfinite(gap) and gap >= 0):
        problems.append(("gap", f"gap must be a number >= 0 (0.001 = 0.1 %), got {gap}"))
    if threads < 0:
        problems.append(("threads", f"threads must be >= 0 (0 = solver default), got {threads}"))
    if problems:
        raise InputError([Issue("alignment settings", None, col, text) for col, text in problems])


def _run_backend(
    inst: Instance, backend: str, options: SolveOptions, warm_start: bool
) -> tuple[BackendResult, ArcModel | None]:
    if backend == "highs":
        from territory_opt.alignment.pipeline import solve_pipeline

        return solve_pipeline(inst, options)
    if inst.n_all_arcs > EXACT_ARC_LIMIT:
        raise InputError.single(
            "alignment settings",
            f"the {backend} backend builds every (account, rep) pair: {inst.n_all_arcs:,} here, "
            f"above its limit of {EXACT_ARC_LIMIT:,}; use the default 'highs' backend",
            column="backend",
        )
    with step(f"Building all {inst.n_all_arcs:,} arcs"):
        model = inst.arc_model(*inst.all_arcs())
    if warm_start:
        options = dataclasses.replace(options, warm_start=_current_choice(inst, model))
    solver: Any
    if backend == "highs-mip":
        from territory_opt.alignment.backends.highs import HighsMip

        solver = HighsMip()
    elif backend == "cpsat":
        from territory_opt.alignment.backends.cpsat import CpSat

        solver = CpSat()
    else:
        from territory_opt.alignment.backends.pulp_backend import Pulp

        solver = Pulp()
    with step(f"Solving with {backend}"):
        return solver.solve(model, options), model


def _current_choice(inst: Instance, model: ArcModel) -> np.ndarray | None:
    """Arc index per item of last year's owner, when every item has an allowed one."""
    cur = inst.problem.current_rep[inst.item_members[inst.item_ptr[:-1]]]
    if (cur == NO_INDEX).any():
        return None
    pos = model.arc_index(np.arange(inst.n_items), cur)
    return None if (pos < 0).any() else pos


def _plan(
    inst: Instance,
    result: BackendResult,
    model: ArcModel | None,
    backend: str,
    options: SolveOptions,
    start: float,
    diagnosis: dict[str, Any] | None,
) -> Plan:
    from territory_opt.plan import Plan

    assignment = None
    terms = {"travel": 0.0, "pair_cost": 0.0, "disruption": 0.0}
    objective = result.objective
    if result.choice is not None and model is not None:
        assignment = inst.assignment_from_choice(model, result.choice)
        acc = np.arange(inst.problem.n_accounts)
        parts = inst.account_terms(acc, assignment)
        terms = {k: float(parts[k].sum()) for k in terms}
        objective = sum(terms.values())
    return Plan(
        problem=inst.problem,
        spec=inst.spec,
        status=result.status,
        assignment=assignment,
        objective=objective,
        lower_bound=min(result.lower_bound, objective)
        if assignment is not None
        else result.lower_bound,
        objective_terms=terms,
        load_names=inst.load_names,
        target=inst.target,
        lo=inst.lo,
        hi=inst.hi,
        solver=result.solver,
        solver_version=result.solver_version,
        backend=backend,
        options=options,
        seconds=time.perf_counter() - start,
        stats=dict(result.stats or {}),
        diagnosis=diagnosis,
        log=result.log,
    )
