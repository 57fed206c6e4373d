"""Every MIP backend agrees with brute force on small random ArcModels."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pulp
import pytest

from territory_opt._errors import InputError
from territory_opt.alignment.backends.base import Backend, BackendResult, SolveOptions, Status
from territory_opt.alignment.backends.cpsat import CpSat, integer_scale
from territory_opt.alignment.backends.highs import HighsMip
from territory_opt.alignment.backends.pulp_backend import Pulp
from territory_opt.alignment.instance import ArcModel

N_REPS = 3
#: Tight enough that every backend proves the exact optimum of these small models.
OPTIONS = SolveOptions(time_limit=20.0, gap=1e-7, threads=1, seed=0)
REL = 1e-6

BACKENDS: list[tuple[str, Backend, str | None]] = [
    ("highs-mip", HighsMip(), None),
    ("cpsat", CpSat(), None),
    ("pulp-cbc", Pulp(), None),
]
if "HiGHS" in pulp.listSolvers(onlyAvailable=True):
    BACKENDS.append(("pulp-highs", Pulp(), "HiGHS"))


def random_model(
    rng: np.random.Generator, n_items: int, n_loads: int, *, integral: bool = True
) -> ArcModel:
    """All item × rep arcs, bands ±20 % around a random plan, one 'moved' budget."""
    m = N_REPS
    arc_item = np.repeat(np.arange(n_items, dtype=np.int32), m)
    arc_rep = np.tile(np.arange(m, dtype=np.int32), n_items)
    if integral:
        cost = rng.integers(0, 20, size=n_items * m).astype(np.float64)
        item_load = rng.integers(1, 10, size=(n_items, n_loads)).astype(np.float64)
    else:
        cost = rng.uniform(0.0, 10.0, size=n_items * m)
        item_load = rng.uniform(0.5, 10.0, size=(n_items, n_loads))
    load = item_load[arc_item]
    current = rng.integers(0, m, size=n_items)
    budget = (arc_rep != current[arc_item]).astype(np.float64)[:, None]
    reference = rng.integers(0, m, size=n_items)
    ref_choice = reference + m * np.arange(n_items)
    ref_loads = np.zeros((m, n_loads))
    np.add.at(ref_loads, arc_rep[ref_choice], load[ref_choice])
    return ArcModel(
        n_items=n_items,
        n_reps=m,
        arc_item=arc_item,
        arc_rep=arc_rep,
        cost=cost,
        load=load,
        lo=0.8 * ref_loads,
        hi=1.2 * ref_loads,
        budget=budget,
        budget_hi=np.array([budget[ref_choice, 0].sum()]),
        load_names=tuple(f"load{k}" for k in range(n_loads)),
        budget_names=("moved_accounts",),
    )


def brute_force(model: ArcModel) -> float:
    """Optimum by enumerating every choice of one arc per item (inf if infeasible)."""
    per_item = [np.flatnonzero(model.arc_item == i) for i in range(model.n_items)]
    choices = np.array(list(itertools.product(*per_item)))
    assert len(choices) <= N_REPS**9
    loads = np.zeros((len(choices), model.n_reps, model.load.shape[1]))
    for k in range(model.n_items):
        arcs = choices[:, k]
        for r in range(model.n_reps):
            loads[:, r, :] += model.load[arcs] * (model.arc_rep[arcs] == r)[:, None]
    tol = 1e-9
    ok = ((loads >= model.lo - tol) & (loads <= model.hi + tol)).all(axis=(1, 2))
    used = model.budget[choices].sum(axis=1)
    ok &= (used <= model.budget_hi + tol).all(axis=1)
    if not ok.any():
        return float("inf")
    return float(model.cost[choices[ok]].sum(axis=1).min())


def run(
    backend: Backend, solver: str | None, model: ArcModel, warm_start: np.ndarray | None = None
) -> BackendResult:
    options = SolveOptions(
        time_limit=OPTIONS.time_limit,
        gap=OPTIONS.gap,
        threads=OPTIONS.threads,
        seed=OPTIONS.seed,
        solver=solver,
        warm_start=warm_start,
    )
    return backend.solve(model, options)


def check_plan(model: ArcModel, result: BackendResult) -> None:
    assert result.choice is not None
    assert result.choice.shape == (model.n_items,)
    assert (model.arc_item[result.choice] == np.arange(model.n_items)).all()
    assert model.violation(result.choice) <= 1e-9
    assert result.objective == pytest.approx(model.objective(result.choice), rel=1e-12)
    assert result.lower_bound <= result.objective + 1e-12


@pytest.mark.parametrize(("seed", "n_items", "n_loads"), [(1, 8, 1), (2, 9, 2), (3, 9, 1)])
def test_backends_agree_with_brute_force(seed: int, n_items: int, n_loads: int) -> None:
    model = random_model(np.random.default_rng(seed), n_items, n_loads)
    best = brute_force(model)
    assert np.isfinite(best)
    for label, backend, solver in BACKENDS:
        result = run(backend, solver, model)
        assert result.status == Status.OPTIMAL, (label, result.status, result.log[-2000:])
        check_plan(model, result)
        assert result.objective == pytest.approx(best, rel=REL, abs=1e-9), label
        assert result.lower_bound <= best + 1e-9, label


def test_backends_agree_on_larger_model() -> None:
    model = random_model(np.random.default_rng(11), 12, 2)
    objectives = {}
    for label, backend, solver in BACKENDS:
        result = run(backend, solver, model)
        assert result.status == Status.OPTIMAL, (label, result.status)
        check_plan(model, result)
        objectives[label] = result.objective
    first = next(iter(objectives.values()))
    for label, value in objectives.items():
        assert value == pytest.approx(first, rel=REL, abs=1e-9), label


def test_impossible_bands_are_infeasible_everywhere() -> None:
    model = random_model(np.random.default_rng(5), 8, 1)
    total = model.load[::N_REPS, 0].sum()
    lo = model.lo.copy()
    lo[:, 0] = 0.5 * total  # three reps cannot each carry half of everything
    bad = dataclasses.replace(model, lo=lo, hi=np.full_like(lo, np.inf))
    assert brute_force(bad) == np.inf
    for label, backend, solver in BACKENDS:
        result = run(backend, solver, bad)
        assert result.status == Status.INFEASIBLE, (label, result.status)
        assert result.choice is None


@pytest.mark.parametrize("seed", [21, 22])
def test_cpsat_fractional_costs_and_loads(seed: int) -> None:
    model = random_model(np.random.default_rng(seed), 9, 2, integral=False)
    assert integer_scale(model.cost) > 1.0
    assert integer_scale(model.load[:, 0]) > 1.0
    best = brute_force(model)
    result = CpSat().solve(model, OPTIONS)
    assert result.status == Status.OPTIMAL, result.log[-2000:]
    check_plan(model, result)
    assert result.objective == pytest.approx(best, rel=REL)
    assert result.lower_bound <= best
    assert result.stats is not None
    assert result.stats["cost_scale"] > 1.0


def test_integer_scale() -> None:
    assert integer_scale(np.array([1.0, 2.0, -30.0, np.inf])) == 1.0
    assert integer_scale(np.array([], dtype=np.float64)) == 1.0
    assert integer_scale(np.array([0.5, 12.25])) == 1e7
    assert integer_scale(np.array([0.5, 1e10])) == 0.1


@pytest.mark.parametrize(("label", "backend", "solver"), BACKENDS, ids=[b[0] for b in BACKENDS])
def test_warm_start_is_accepted(label: str, backend: Backend, solver: str | None) -> None:
    model = random_model(np.random.default_rng(7), 9, 1)
    best = brute_force(model)
    reference = np.arange(model.n_items) * N_REPS  # all on rep 0: a start that breaks bands
    assert model.violation(reference) > 0
    result = run(backend, solver, model, warm_start=reference)
    assert result.status == Status.OPTIMAL, label
    assert result.objective == pytest.approx(best, rel=REL, abs=1e-9)
    again = run(backend, solver, model, warm_start=result.choice)  # a feasible, optimal start
    assert again.status == Status.OPTIMAL, label
    assert again.objective == pytest.approx(best, rel=REL, abs=1e-9)


def test_pulp_solver_metadata_and_clean_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    model = random_model(np.random.default_rng(8), 8, 1)
    result = Pulp().solve(model, OPTIONS)
    assert result.solver == "pulp:PULP_CBC_CMD"
    assert result.solver_version == pulp.__version__
    assert result.log  # the CBC log is captured through logPath
    assert list(tmp_path.iterdir()) == []


def test_pulp_unknown_solver_is_an_input_error() -> None:
    model = random_model(np.random.default_rng(9), 8, 1)
    with pytest.raises(InputError, match="PULP_CBC_CMD"):
        Pulp().solve(model, SolveOptions(solver="NO_SUCH_SOLVER"))


def test_cpsat_metadata() -> None:
    model = random_model(np.random.default_rng(10), 8, 1)
    result = CpSat().solve(model, OPTIONS)
    assert result.solver == "cpsat"
    assert result.solver_version
    assert "CP-SAT" in result.log
