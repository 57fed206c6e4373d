"""The Lagrangian path for large books: a valid bound and a checked plan."""

from __future__ import annotations

import time

import pytest

from territory_opt import generate_demo, load_problem
from territory_opt.alignment import AlignmentSpec, Status, align
from territory_opt.alignment import pipeline as pipeline_module
from territory_opt.alignment.backends.base import SolveOptions
from territory_opt.alignment.instance import Instance
from territory_opt.alignment.lagrangian import smoothed_dual
from territory_opt.testing import check_plan


@pytest.fixture(scope="module")
def instance() -> Instance:
    accounts, reps = generate_demo(600, 12, seed=4)
    problem = load_problem(accounts, reps)
    spec = AlignmentSpec.from_preset("balanced-travel").with_(bands={"potential": 0.1})
    return Instance.build(problem, spec)


def test_large_book_path_gives_a_checked_plan(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline_module, "LP_ARC_LIMIT", 0)
    monkeypatch.setattr(pipeline_module, "GUIDED_ARC_LIMIT", 0)
    plan = align(instance.problem, instance.spec, time_limit=15)
    assert plan.status in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT)
    assert plan.assignment is not None
    check_plan(plan)
    assert plan.lower_bound <= plan.objective
    assert "lagrangian_bound" in plan.stats


def test_smoothed_dual_bound_is_valid_and_close_to_the_lp(instance: Instance) -> None:
    clock = pipeline_module._Clock(time.perf_counter() + 60)
    priced = pipeline_module.priced_lp(instance, SolveOptions(time_limit=60), clock)
    assert priced is not None and priced.converged
    result = smoothed_dual(instance, deadline=time.perf_counter() + 20)
    assert result.bound <= priced.bound * (1 + 1e-9)
    assert result.bound >= 0.99 * priced.bound  # far tighter than subgradient steps
    # Continuing from its multipliers never loses the bound reached.
    more = smoothed_dual(instance, deadline=time.perf_counter() + 5, start=result.multipliers)
    assert priced.bound * (1 + 1e-9) >= more.bound >= result.bound - 1e-6 * abs(result.bound)


def test_streamed_bound_equals_the_matrix_bound(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Books too large for the cost matrix keep K arcs per item; the bound is the same."""
    from territory_opt.alignment import lagrangian

    dense = smoothed_dual(instance, deadline=time.perf_counter() + 10, taus=(0.1, 0.01))
    monkeypatch.setattr(lagrangian, "MAX_CELLS", 0)
    monkeypatch.setattr(lagrangian, "STREAM_ARCS", 1000)  # many small chunks
    monkeypatch.setattr(lagrangian, "SMOOTH_K", 3)  # few kept arcs: many items rescanned
    near = lagrangian.near_arcs(instance)
    assert near.dense is None and near.rep.shape == (instance.n_items, 3)
    streamed = smoothed_dual(
        instance, deadline=time.perf_counter() + 10, taus=(0.1, 0.01), near_set=near
    )
    # Same multipliers would give the same exact value; check validity against the
    # dense evaluation at the streamed multipliers.
    again = smoothed_dual(
        instance, deadline=time.perf_counter(), start=streamed.multipliers, taus=()
    )
    monkeypatch.setattr(lagrangian, "MAX_CELLS", 200_000_000)
    exact_dense = smoothed_dual(
        instance, deadline=time.perf_counter(), start=streamed.multipliers, taus=()
    )
    assert again.bound == pytest.approx(exact_dense.bound, rel=1e-12)
    assert (again.rep_of_item == exact_dense.rep_of_item).mean() > 0.999
    assert streamed.bound <= dense.bound * 1.01 + 1e-9


@pytest.fixture(scope="module")
def unsegmented() -> Instance:
    accounts, reps = generate_demo(2000, 40, seed=2)
    accounts = accounts.assign(locked_rep="", excluded_reps="")
    problem = load_problem(accounts, reps)
    spec = AlignmentSpec.from_preset("balanced-travel").with_(
        bands={"potential": 0.05, "workload": 0.05}, segment_match=False, keep_families=False
    )
    return Instance.build(problem, spec)


def test_large_book_plan_by_regions_is_checked(
    unsegmented: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    from territory_opt.alignment import decompose

    monkeypatch.setattr(pipeline_module, "LP_ARC_LIMIT", 0)
    monkeypatch.setattr(pipeline_module, "GUIDED_ARC_LIMIT", 0)
    monkeypatch.setattr(decompose, "REGION_REPS", 12)
    monkeypatch.setattr(pipeline_module, "cells_applicable", lambda _: False)
    assert decompose.applicable(unsegmented)
    plan = align(unsegmented.problem, unsegmented.spec, time_limit=10)
    assert plan.assignment is not None
    assert plan.stats["plan_from_regions"] == 1.0
    check_plan(plan)
    assert plan.lower_bound <= plan.objective


def test_cells_reach_every_region_at_the_sum_of_their_items_costs(unsegmented: Instance) -> None:
    """The cell model prices each cell into nearby regions, and each region into enough cells."""
    import numpy as np

    from territory_opt.alignment import decompose
    from territory_opt.geo.distance import unit_vectors

    inst = unsegmented
    p = inst.problem
    assert p.account_coords is not None and p.coord_system is not None and inst.centers is not None
    lead = inst.item_members[inst.item_ptr[:-1]]
    pts = unit_vectors(p.account_coords[lead], p.coord_system)
    cell_of_item = decompose.regions(pts, 20)
    region_of_rep = decompose.regions(unit_vectors(inst.centers, p.coord_system), 8)
    cell, region, cost = decompose._cell_reach(inst, pts, cell_of_item, region_of_rep)
    n_cells, n_regions = int(cell_of_item.max()) + 1, int(region_of_rep.max()) + 1
    assert len(np.unique(cell.astype(np.int64) * n_regions + region)) == len(cell)
    # Every cell reaches its nearest regions, every region several times its share of cells.
    assert (np.bincount(cell, minlength=n_cells) >= min(decompose.CELL_REACH, n_regions)).all()
    assert (np.bincount(region, minlength=n_regions) >= n_cells / n_regions).all()
    # Cost: the sum over the cell's items of the cost with one rep of that region.
    rep_pts = unit_vectors(inst.centers, p.coord_system)
    rng = np.random.default_rng(0)
    for a in rng.choice(len(cell), size=25, replace=False):
        items = np.flatnonzero(cell_of_item == cell[a])
        members = np.flatnonzero(region_of_rep == region[a])
        centre = pts[items].sum(axis=0)
        rep = members[np.argmin(((rep_pts[members] - centre / np.linalg.norm(centre)) ** 2).sum(1))]
        ev = inst.evaluate(items.astype(np.int32), np.full(len(items), rep, dtype=np.int32))
        assert cost[a] == pytest.approx(float(ev["cost"].sum()), rel=1e-9)


def test_guided_arcs_hold_the_lp_of_every_arc(instance: Instance) -> None:
    """The arcs near each item's best at the dual's prices carry the LP optimum.

    Their LP value is the LP over every arc (up to the few arcs pricing adds),
    and each item keeps at least its best arc.
    """
    import numpy as np

    from territory_opt.alignment.lagrangian import guided_arcs, near_arcs

    clock = pipeline_module._Clock(time.perf_counter() + 60)
    full = pipeline_module.priced_lp(instance, SolveOptions(time_limit=60), clock)
    assert full is not None and full.converged
    near = near_arcs(instance)
    dual = smoothed_dual(instance, deadline=time.perf_counter() + 20, near_set=near)
    items, reps = guided_arcs(instance, dual, near)
    assert set(np.unique(items)) == set(range(instance.n_items))
    assert len(items) < 0.5 * instance.n_all_arcs
    guided = pipeline_module.priced_lp(
        instance, SolveOptions(time_limit=60), clock, start=(items, reps)
    )
    assert guided is not None and guided.converged
    assert guided.bound == pytest.approx(full.bound, rel=1e-6)
    assert guided.rounds <= 3


def test_large_book_lp_from_guided_arcs_gives_a_checked_plan(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large books below GUIDED_ARC_LIMIT: dual, guided arcs, structured LP, plan."""
    monkeypatch.setattr(pipeline_module, "LP_ARC_LIMIT", 0)
    monkeypatch.setattr(pipeline_module, "STRUCTURED_IPM_ARCS", 0)
    plan = align(instance.problem, instance.spec, time_limit=20)
    assert plan.assignment is not None
    check_plan(plan)
    assert plan.stats["lagrangian_bound"] <= plan.lower_bound <= plan.objective
    reference = align(instance.problem, instance.spec, time_limit=20)
    assert plan.stats["lp_bound"] == pytest.approx(reference.stats["lp_bound"], rel=1e-6)


def test_exact_lagrangian_bound_is_the_lp_at_its_duals_and_below_it_elsewhere(
    instance: Instance,
) -> None:
    """L(π) over every arc: equal to the LP at the LP's duals, never above it at others."""
    import numpy as np

    clock = pipeline_module._Clock(time.perf_counter() + 60)
    full = pipeline_module.priced_lp(instance, SolveOptions(time_limit=60), clock)
    assert full is not None and full.converged
    _, pi, beta = pipeline_module._duals(full.model, full.lp)
    at_lp = pipeline_module.exact_lagrangian_bound(instance, pi, beta)
    assert at_lp == pytest.approx(full.bound, rel=1e-6)
    rng = np.random.default_rng(0)
    spread = float(np.abs(pi).mean()) + 1e-9
    for _ in range(5):
        other = pi + rng.normal(scale=spread, size=pi.shape)
        assert pipeline_module.exact_lagrangian_bound(instance, other, beta) <= full.bound + 1e-6


def test_smoothed_dual_stays_bounded_when_its_arcs_cannot_meet_the_limits(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two arcs per item cannot fill every rep: the multipliers stay capped, arcs get priced in."""
    import numpy as np

    from territory_opt.alignment import lagrangian

    clock = pipeline_module._Clock(time.perf_counter() + 60)
    priced = pipeline_module.priced_lp(instance, SolveOptions(time_limit=60), clock)
    assert priced is not None
    monkeypatch.setattr(lagrangian, "MAX_CELLS", 0)
    monkeypatch.setattr(lagrangian, "REVERSE_MIN", 1)
    monkeypatch.setattr(lagrangian, "REVERSE_SHARE", 0.0)
    near = lagrangian.near_arcs(instance, k=2)
    assert len(near.extra_item) <= instance.n_reps
    result = smoothed_dual(instance, deadline=time.perf_counter() + 20, near_set=near)
    lam_hi, lam_lo = result.multipliers
    assert np.isfinite(lam_hi).all() and np.isfinite(lam_lo).all()
    assert result.bound <= priced.bound * (1 + 1e-9)
    assert result.bound >= 0.95 * priced.bound
