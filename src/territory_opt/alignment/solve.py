"""Entry point of the alignment engine: :func:`align` turns a Problem into a Plan."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from territory_opt._errors import InputError
from territory_opt._progress import step
from territory_opt.alignment.backends.base import BackendResult, SolveOptions, Status
from territory_opt.alignment.instance import ArcModel, Instance
from territory_opt.alignment.precheck import precheck
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
    spec = spec or AlignmentSpec.from_preset("balanced-travel")
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
    if result.status == Status.INFEASIBLE and diagnose:
        from territory_opt.alignment.diagnosis import elastic_diagnosis

        with step("Diagnosing infeasibility"):
            diagnosis = elastic_diagnosis(inst, options)
    return _plan(inst, result, model, backend, options, start, diagnosis)


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
