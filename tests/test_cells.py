"""Books of a billion pairs: the LP over cells of neighbouring accounts."""

from __future__ import annotations

import time

import numpy as np
import pytest

from territory_opt import generate_demo, load_problem
from territory_opt.alignment import AlignmentSpec, align, cells
from territory_opt.alignment import pipeline as pipeline_module
from territory_opt.alignment.backends.base import SolveOptions
from territory_opt.alignment.instance import Instance
from territory_opt.testing import check_plan


@pytest.fixture(scope="module")
def book() -> Instance:
    accounts, reps = generate_demo(3000, 30, seed=7)
    accounts = accounts.assign(locked_rep="", excluded_reps="")
    spec = AlignmentSpec.from_preset("balanced-travel").with_(
        bands={"potential": 0.05, "workload": 0.05},
        max_accounts=130,
        segment_match=False,
        keep_families=True,
    )
    return Instance.build(load_problem(accounts, reps), spec)


def test_cell_book_sums_loads_and_weights(book: Instance) -> None:
    assert cells.applicable(book)
    cell = cells.cell_of_item(book, 8)
    assert np.bincount(cell).max() <= 8
    coarse = cells.cell_instance(book, cell)
    assert coarse.n_items == int(cell.max()) + 1 and coarse.n_reps == book.n_reps
    acc_cell = cell[book.account_item]
    want = np.column_stack(
        [np.bincount(cell, weights=book.item_loads[:, k]) for k in range(len(book.load_names))]
    )
    assert coarse.item_loads == pytest.approx(want)
    assert "accounts" in book.load_names
    assert coarse.item_loads[:, book.load_names.index("accounts")].sum() == book.problem.n_accounts
    assert book.travel_w is not None and coarse.travel_w is not None
    assert coarse.travel_w == pytest.approx(np.bincount(acc_cell, weights=book.travel_w))
    # A cell's cost with a rep: its travel weight times the distance from its centre,
    # which lies within the span of its accounts.
    p = book.problem
    assert p.account_coords is not None and coarse.problem.account_coords is not None
    for c in range(0, coarse.n_items, 97):
        pts = p.account_coords[acc_cell == c]
        centre = coarse.problem.account_coords[c]
        assert (pts.min(axis=0) - 1e-9 <= centre).all() and (centre <= pts.max(axis=0) + 1e-9).all()
    assert np.isfinite(coarse.cost_rows(np.arange(coarse.n_items, dtype=np.int32))).all()


def test_cells_do_not_apply_where_a_cell_would_break_a_rule() -> None:
    accounts, reps = generate_demo(300, 6, seed=1)
    problem = load_problem(accounts, reps)  # the demo book locks and excludes
    spec = AlignmentSpec.from_preset("balanced-travel")
    assert not cells.applicable(Instance.build(problem, spec))


@pytest.mark.parametrize("narrow", [0.0, pipeline_module.ACCOUNTS_LP_NARROW])
def test_cell_route_gives_a_checked_plan_and_the_bound_of_the_accounts_lp(
    book: Instance, monkeypatch: pytest.MonkeyPatch, narrow: float
) -> None:
    monkeypatch.setattr(pipeline_module, "ACCOUNTS_LP_NARROW", narrow)
    clock = pipeline_module._Clock(time.perf_counter() + 60)
    priced = pipeline_module.priced_lp(book, SolveOptions(time_limit=60), clock)
    assert priced is not None and priced.converged
    monkeypatch.setattr(pipeline_module, "GUIDED_ARC_LIMIT", 0)  # as if a 1e9-pair book
    monkeypatch.setattr(pipeline_module, "STRUCTURED_IPM_ARCS", 0)  # as its accounts' LP
    monkeypatch.setattr(cells, "CELL_PAIRS", 8_000)  # 256 cells of ~4 items
    plan = align(book.problem, book.spec, time_limit=30)
    assert plan.assignment is not None
    check_plan(plan)
    assert plan.stats["cells"] == 256
    # The Lagrangian bound at the cell LP's duals is below the LP of the accounts
    # (which bounds every plan); on this small book it is within 25 % of it.
    assert plan.stats["cell_duals_bound"] <= priced.bound * (1 + 1e-9)
    assert plan.stats["cell_duals_bound"] >= 0.75 * priced.bound
    # The accounts' LP, priced to convergence from the cell LP's arcs and the first
    # plan by the interior point method: without narrowing its duals give
    # HiGHS's LP of the book as the bound. Narrowed limits cost more, and the
    # Lagrangian bound at that LP's duals (on the true limits) stays valid, a
    # little below the LP of the book.
    assert plan.stats["lp_converged"] == 1.0
    if narrow == 0.0:
        assert plan.lower_bound == pytest.approx(priced.bound, rel=1e-6)
    else:
        assert plan.stats["narrowed_lp_value"] > priced.bound
        assert plan.lower_bound <= priced.bound * (1 + 1e-9)
        assert plan.lower_bound >= 0.97 * priced.bound
    assert plan.objective >= plan.lower_bound
    assert plan.objective <= plan.stats["split_plan_objective"] + 1e-6


def test_second_lp_bounds_a_book_whose_lp_was_not_priced_to_the_end(
    book: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second LP (first LP's arcs, the ones it prices in, true limits) bounds better."""
    options = SolveOptions(time_limit=60)
    clock = pipeline_module._Clock(time.perf_counter() + 60)
    full = pipeline_module.priced_lp(book, options, clock)
    assert full is not None and full.converged
    monkeypatch.setattr(pipeline_module, "STRUCTURED_IPM_ARCS", 0)
    # One round from each account's nearest rep and its arc in a plan, as when the
    # clock stops a large book's LP: arcs of negative reduced cost are left out.
    monkeypatch.setattr(pipeline_module, "MAX_PRICING_ROUNDS", 1)
    monkeypatch.setattr(pipeline_module, "FULL_ARC_LIMIT", 0)
    near_i, near_r = pipeline_module.candidate_arcs(book, k=1, reverse=False)
    own = np.arange(book.n_items, dtype=np.int32)
    plan = full.model.arc_rep[pipeline_module._round(full.model, full.lp.values)]
    start = np.concatenate([near_i, own]), np.concatenate([near_r, plan])
    clock = pipeline_module._Clock(time.perf_counter() + 60)
    first = pipeline_module.priced_lp(book, options, clock, start=start, pause=False)
    assert first is not None and not first.converged
    at_first = pipeline_module.exact_lagrangian_bound(
        book, *pipeline_module._duals(first.model, first.lp)[1:]
    )
    stats: dict[str, float] = {}
    bound = pipeline_module._second_lp_bound(book, options, clock, first, start, stats)
    assert bound == stats["second_lp_bound"]
    # Below the LP of the book (HiGHS, priced to the end), and half way from the
    # Lagrangian bound at the first LP's duals to it (one pricing round).
    assert at_first < bound <= full.bound * (1 + 1e-9)
    assert full.bound - bound < 0.6 * (full.bound - at_first)


def test_split_follows_the_cell_lp(book: Instance) -> None:
    """Whole cells keep their rep; split cells send each account to one of their LP reps."""
    cell = cells.cell_of_item(book, 12)
    coarse = cells.cell_instance(book, cell)
    assert (coarse.hi - coarse.lo <= (book.hi - book.lo) * (1 - cells.CELL_MARGIN) + 1e-6).all()
    clock = pipeline_module._Clock(time.perf_counter() + 60)
    priced = pipeline_module.priced_lp(coarse, SolveOptions(time_limit=60), clock)
    assert priced is not None and priced.converged
    values, model = priced.lp.values, priced.model
    rep = cells.split_cells(book, cell, model, values)
    support = {
        (int(c), int(r))
        for c, r, v in zip(model.arc_item, model.arc_rep, values, strict=True)
        if v > 1e-6
    }
    assert all((int(cell[i]), int(rep[i])) in support for i in range(book.n_items))
    split = np.bincount(np.array([c for c, _ in support]), minlength=coarse.n_items) > 1
    assert split.any() and not split.all()
    # The accounts' loads stay near the LP's: within the book's (wider) limits for most reps.
    loads = np.zeros(book.lo.shape)
    np.add.at(loads, rep, book.item_loads)
    inside = ((loads >= book.lo - 1e-6) & (loads <= book.hi + 1e-6)).all(axis=1)
    assert inside.mean() >= 0.8


def test_narrowed_limits_move_inward_and_leave_the_instance_alone(book: Instance) -> None:
    lo, hi = book.lo.copy(), book.hi.copy()
    narrow = book.narrowed(0.2)
    half = (hi - lo) / 2
    two = np.isfinite(half)
    assert two.any()
    np.testing.assert_allclose(narrow.lo[two], lo[two] + 0.2 * half[two])
    np.testing.assert_allclose(narrow.hi[two], hi[two] - 0.2 * half[two])
    assert np.array_equal(narrow.lo[~two], lo[~two]) and np.array_equal(narrow.hi[~two], hi[~two])
    assert np.array_equal(book.lo, lo) and np.array_equal(book.hi, hi)
    assert narrow.n_items == book.n_items and narrow.problem is book.problem


def test_narrowing_is_capped_per_load(book: Instance) -> None:
    """``most`` caps the move of each load's limits; smaller moves are kept."""
    half = (book.hi - book.lo) / 2
    two = np.isfinite(half)
    cap = np.full(book.lo.shape[1], 1e30)
    cap[0] = 0.0  # the first load's limits stay where they are
    assert two[:, 0].any() and two[:, 1].any()
    narrow = book.narrowed(0.2, cap)
    for col, most in enumerate(cap):
        rows = two[:, col]
        shift = np.minimum(0.2 * half[rows, col], most)
        np.testing.assert_allclose(narrow.lo[rows, col], book.lo[rows, col] + shift)
        np.testing.assert_allclose(narrow.hi[rows, col], book.hi[rows, col] - shift)


def test_bound_of_the_cell_route_on_the_10k_ladder_book_is_below_its_full_lp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The 1M route's bound (Lagrangian at LP duals) against the full LP of the 10k book.

    The ladder book of the benchmarks (10,000 accounts, 100 reps, ±5 % on
    potential and workload, workload × km) solved over cells as if it had a
    billion pairs: its bound is valid (below HiGHS's LP over every pair) and
    close to it.
    """
    accounts, reps = generate_demo(10_000, 100, seed=0)
    accounts = accounts.assign(locked_rep="", excluded_reps="")
    spec = AlignmentSpec.from_preset("balanced-travel").with_(
        segment_match=False,
        keep_families=False,
        bands={"potential": 0.05, "workload": 0.05},
        travel_metric="workload",
    )
    inst = Instance.build(load_problem(accounts, reps), spec)
    clock = pipeline_module._Clock(time.perf_counter() + 120)
    full = pipeline_module.priced_lp(inst, SolveOptions(time_limit=120), clock)
    assert full is not None and full.converged
    monkeypatch.setattr(pipeline_module, "GUIDED_ARC_LIMIT", 0)
    monkeypatch.setattr(cells, "CELL_PAIRS", 51_200)  # 512 cells of ~20 accounts
    plan = align(inst.problem, inst.spec, time_limit=40)
    assert plan.assignment is not None
    check_plan(plan)
    assert plan.stats["cells"] == 512
    assert plan.lower_bound <= full.bound * (1 + 1e-9)
    assert plan.lower_bound >= 0.99 * full.bound
    assert plan.objective >= full.bound
