"""The structured interior-point LP solver against HiGHS on the same LPs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from territory_opt import generate_demo, load_problem
from territory_opt.alignment import AlignmentSpec, align
from territory_opt.alignment import ipm as ipm_module
from territory_opt.alignment import pipeline as pipeline_module
from territory_opt.alignment.backends.base import SolveOptions
from territory_opt.alignment.backends.highs import LpSession
from territory_opt.alignment.instance import ArcModel, Instance
from territory_opt.alignment.ipm import IpmSession, solve_lp
from territory_opt.testing import check_plan
from tests.test_backends_arcmodel import random_model

OPTIONS = SolveOptions(time_limit=60.0)


def highs_lp(model: ArcModel, elastic: float | None) -> tuple[float, np.ndarray, float]:
    """Objective, row duals and slack of the same LP solved by HiGHS."""
    status, objective, _, duals, slack = LpSession(model, OPTIONS, elastic=elastic).solve(
        60.0, ipm=False
    )
    assert status == "optimal"
    return objective, duals, slack


def reduced_costs(model: ArcModel, row_dual: np.ndarray) -> np.ndarray:
    """c − u_item − Σ π_rep,l load_l − β · budget, from duals in HiGHS's row order."""
    from territory_opt.alignment.backends.highs import row_map

    rows = row_map(model)
    pi = np.zeros(model.lo.shape)
    ok = rows.band_row >= 0
    pi[ok] = row_dual[rows.band_row[ok]]
    beta = row_dual[rows.budget_row]
    rc = model.cost - row_dual[model.arc_item] - (model.load * pi[model.arc_rep]).sum(axis=1)
    return np.asarray(rc - model.budget @ beta)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("elastic", [None, 1e4])
@pytest.mark.parametrize("shrink", [False, True])
@pytest.mark.parametrize("block", [None, 37])
def test_lp_value_and_duals_match_highs(
    seed: int,
    elastic: float | None,
    shrink: bool,
    block: int | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Random models with two loads, a budget, and (for odd seeds) one-sided limits.

    Arcs dropped on the way (``shrink``) are checked with the others: their
    reduced cost at the final duals is ≥ 0, so the LP of the kept arcs is the LP.
    With ``block``, the Schur complement is formed over blocks of about that
    many arcs (as in large books) instead of all of them at once.
    """
    if block is not None:
        monkeypatch.setattr(ipm_module, "SCHUR_BLOCK_ARCS", block)
    rng = np.random.default_rng(seed)
    model = random_model(rng, 40, 2, integral=False)
    if seed % 2:
        model = dataclasses.replace(model, lo=np.full_like(model.lo, -np.inf))
    reference, _, _ = highs_lp(model, elastic)
    result = solve_lp(model, elastic=elastic, time_limit=30.0, shrink=shrink)
    assert shrink or len(result.kept) == model.n_arcs
    assert result.status == "optimal"
    assert result.dual_objective == pytest.approx(reference, rel=1e-6, abs=1e-6)
    assert result.objective == pytest.approx(reference, rel=1e-6, abs=1e-6)
    # The values are a feasible LP point, and the duals price every arc at ≥ 0
    # with complementary slackness (to the solver's tolerance).
    sums = np.bincount(model.arc_item, weights=result.values, minlength=model.n_items)
    np.testing.assert_allclose(sums, 1.0, atol=1e-6)
    rc = reduced_costs(model, result.row_dual)
    scale = max(float(np.abs(model.cost).mean()), 1.0)
    assert rc.min() >= -1e-5 * scale
    assert float(result.values @ np.abs(rc)) <= 1e-5 * scale * model.n_items


def test_infeasible_limits_are_met_with_elastic_slack_like_highs() -> None:
    """Limits no plan can meet: the elastic LP pays for the same violation."""
    rng = np.random.default_rng(3)
    model = random_model(rng, 30, 1, integral=False)
    total = float(model.load[:: model.n_reps, 0].sum())
    tight = np.full_like(model.lo, total / model.n_reps * 0.5)
    model = dataclasses.replace(model, lo=tight * 0.9, hi=tight)
    reference, _, slack = highs_lp(model, 1e3)
    result = solve_lp(model, elastic=1e3, time_limit=30.0)
    assert result.status == "optimal"
    assert slack > 0.1
    assert result.slack == pytest.approx(slack, rel=1e-5)
    assert result.dual_objective == pytest.approx(reference, rel=1e-6)


@pytest.fixture(scope="module")
def instance() -> Instance:
    accounts, reps = generate_demo(1500, 15, seed=2)
    problem = load_problem(accounts, reps)
    spec = AlignmentSpec.from_preset("balanced-travel").with_(bands={"potential": 0.05})
    return Instance.build(problem, spec)


def test_session_prices_its_way_to_the_lp_of_every_arc(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Starting from 2 nearest reps per item, pricing reaches the LP over all arcs."""
    monkeypatch.setattr(pipeline_module, "FULL_ARC_LIMIT", 0)
    monkeypatch.setattr(pipeline_module, "REVERSE_K", 1)
    monkeypatch.setattr(pipeline_module, "REVERSE_SHARE", 0.0)
    everything = instance.arc_model(*instance.all_arcs())
    elastic = pipeline_module._elastic_price(instance, everything)
    reference, _, _ = highs_lp(everything, elastic)
    items, reps = pipeline_module.candidate_arcs(instance, k=2)
    first = pipeline_module._cover_items(instance, instance.arc_model(items, reps))
    session = IpmSession(
        first, elastic=elastic, pricer=pipeline_module._pricer(instance), shrink=True
    )
    added = 0
    for _ in range(20):  # column generation: solve, price, until nothing prices out
        status, objective, values, duals, _ = session.solve(60.0)
        assert status == "optimal"
        fresh = session.add(pipeline_module._pricer(instance)(duals))
        if fresh == 0:
            break
        added += fresh
    assert added > 0 and session.dropped > 0  # pricing added arcs, the solves dropped some
    got_items, _ = session.arcs()
    assert len(values) == len(got_items)
    # Nothing prices out any more, so this is the LP of the whole problem.
    assert objective == pytest.approx(reference, rel=1e-6)


def test_shrinking_drops_most_arcs_and_keeps_the_lp(instance: Instance) -> None:
    everything = instance.arc_model(*instance.all_arcs())
    elastic = pipeline_module._elastic_price(instance, everything)
    reference, _, _ = highs_lp(everything, elastic)
    result = solve_lp(everything, elastic=elastic, time_limit=60.0, shrink=True)
    assert result.status == "optimal"
    assert result.dual_objective == pytest.approx(reference, rel=1e-6)
    assert len(result.kept) < everything.n_arcs / 2
    dropped = np.setdiff1d(np.arange(everything.n_arcs), result.kept)
    assert (result.values[dropped] == 0).all()
    rc = reduced_costs(everything, result.row_dual)
    assert rc[dropped].min() >= 0.0


def test_time_limit_is_reported(instance: Instance) -> None:
    everything = instance.arc_model(*instance.all_arcs())
    result = solve_lp(everything, elastic=1e6, time_limit=0.0)
    assert result.status == "time_limit"


def test_large_lp_path_gives_a_checked_plan(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline with the structured solver for its LP (as on books of 100k accounts)."""
    monkeypatch.setattr(pipeline_module, "STRUCTURED_IPM_ARCS", 0)
    monkeypatch.setattr(pipeline_module, "FULL_ARC_LIMIT", 0)
    plan = align(instance.problem, instance.spec, time_limit=20)
    assert plan.assignment is not None
    check_plan(plan)
    reference = align(instance.problem, instance.spec, time_limit=20)
    assert plan.stats["lp_bound"] == pytest.approx(reference.stats["lp_bound"], rel=1e-6)


def test_unfinished_interior_point_is_rounded_only_near_its_optimum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An accounts' LP cut by the clock is rounded only when its duality gap is small."""
    from territory_opt.alignment.backends.highs import LpSolution, row_map

    model = random_model(np.random.default_rng(3), 40, 2, integral=False)
    rows = row_map(model)
    seen = {}
    for steps in (3, 40):
        monkeypatch.setattr(ipm_module, "MAX_ITERATIONS", steps)
        r = solve_lp(model, elastic=1e4, time_limit=30.0)
        lp = LpSolution(r.status, r.dual_objective, r.values, r.row_dual, rows, "", r.slack)
        gap = (r.objective - r.dual_objective) / abs(r.objective)
        near = pipeline_module._nearly_solved(model, lp)
        assert near == (gap <= pipeline_module.ACCOUNTS_LP_ROUND_GAP and r.slack <= 1e-3)
        seen[steps] = near
    assert seen == {3: False, 40: True}
