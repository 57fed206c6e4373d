"""Alignment engine: every plan is checked by the independent checker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from territory_opt import generate_demo, load_problem
from territory_opt.alignment import AlignmentSpec, Status, align
from territory_opt.data.problem import Problem
from territory_opt.plan import write_plan
from territory_opt.testing import check_plan


@pytest.fixture(scope="module")
def book() -> Problem:
    accounts, reps = generate_demo(400, 8, seed=2)
    return load_problem(accounts, reps)


@pytest.fixture(scope="module")
def tiny() -> Problem:
    accounts, reps = generate_demo(100, 4, seed=5)
    return load_problem(accounts.head(40), reps)


def test_default_pipeline_balances_and_proves_a_gap(book: Problem) -> None:
    spec = AlignmentSpec.from_preset("balanced-travel")
    plan = align(book, spec, time_limit=30, gap=0.005)
    assert plan.status in (Status.OPTIMAL, Status.FEASIBLE)
    report = check_plan(plan)
    assert report.max_band_deviation["potential"] <= 0.05 + 1e-6
    assert report.max_band_deviation["workload"] <= 0.10 + 1e-6
    assert plan.lower_bound <= plan.objective
    assert plan.gap < 0.02
    # The open seat gets its capacity-scaled share of the book.
    open_seat = list(book.rep_ids).index("OPEN-01")
    assert (plan.assignment == open_seat).sum() > 0


def test_current_book_is_far_more_unbalanced_than_the_plan(book: Problem) -> None:
    plan = align(book, AlignmentSpec.from_preset("balanced-travel"), time_limit=30)
    from territory_opt.metrics import rep_totals

    before = rep_totals(book, book.current_rep)[:, book.metric_names.index("potential")]
    after = plan.rep_totals()[:, book.metric_names.index("potential")]
    active = book.rep_capacity > 0
    assert np.std(after[active] / book.rep_capacity[active]) < 0.5 * np.std(
        before[active] / book.rep_capacity[active]
    )


@pytest.mark.parametrize("backend", ["highs", "highs-mip", "cpsat", "pulp"])
def test_backends_agree_on_a_small_book(tiny: Problem, backend: str) -> None:
    spec = AlignmentSpec.from_preset("balanced-travel").with_(
        bands={"potential": 0.25, "workload": 0.25}, segment_match=False
    )
    reference = align(tiny, spec, backend="highs-mip", time_limit=60, gap=1e-9)
    assert reference.status == Status.OPTIMAL
    plan = align(tiny, spec, backend=backend, time_limit=60, gap=1e-9)
    check_plan(plan)
    if backend == "cpsat":
        # CP-SAT proves optimality of the integer-scaled model; its bound in original
        # units carries the documented rounding margin.
        assert plan.status in (Status.OPTIMAL, Status.FEASIBLE)
        assert plan.gap < 1e-4
    else:
        assert plan.status == Status.OPTIMAL
    assert plan.objective == pytest.approx(reference.objective, rel=1e-5)


def test_budgets_locks_distance_and_counts_hold(book: Problem) -> None:
    spec = AlignmentSpec.from_preset("balanced-travel").with_(
        bands={"potential": 0.15, "workload": 0.2},
        disruption_weight=0.001,
        disruption_metric="potential",
        max_moved_accounts=150,
        max_moved_share=0.5,
        max_accounts=80,
    )
    plan = align(book, spec, time_limit=30)
    report = check_plan(plan)
    assert report.ok
    assert plan.moved.sum() <= 150
    assert plan.objective_terms["disruption"] > 0
    locked = book.locked_rep >= 0
    assert (plan.assignment[locked] == book.locked_rep[locked]).all()


def test_tight_disruption_budget_changes_the_plan(book: Problem) -> None:
    loose = align(
        book,
        AlignmentSpec.from_preset("balanced-travel").with_(bands={"potential": 0.3}),
        time_limit=20,
    )
    tight_spec = AlignmentSpec.from_preset("balanced-travel").with_(
        bands={"potential": 0.3}, max_moved_accounts=int(loose.moved.sum() // 3)
    )
    tight = align(book, tight_spec, time_limit=20)
    check_plan(tight)
    assert tight.moved.sum() <= loose.moved.sum() // 3
    assert tight.objective >= loose.lower_bound


def test_same_seed_gives_identical_plan_files(book: Problem, tmp_path: Path) -> None:
    spec = AlignmentSpec.from_preset("balanced-travel")
    files = []
    for run in ("a", "b"):
        plan = align(book, spec, time_limit=30, seed=3)
        folder = write_plan(plan, tmp_path / run)
        meta = json.loads((folder / "plan.json").read_text())
        meta.pop("wall_times")
        meta.pop("stats")
        files.append(
            (
                (folder / "assignments.csv").read_bytes(),
                (folder / "territories.csv").read_bytes(),
                meta,
            )
        )
    assert files[0] == files[1]


def test_plan_folder_contents(book: Problem, tmp_path: Path) -> None:
    plan = align(book, AlignmentSpec.from_preset("balanced-travel"), time_limit=20)
    folder = write_plan(plan, tmp_path / "plan")
    meta = json.loads((folder / "plan.json").read_text())
    for key in (
        "status",
        "objective",
        "lower_bound",
        "gap",
        "solver",
        "solver_version",
        "seed",
        "time_limit",
        "inputs_sha256",
        "tool_version",
        "wall_times",
    ):
        assert key in meta
    assignments = pd.read_csv(folder / "assignments.csv", dtype={"account_id": str})
    assert list(assignments.columns[:5]) == [
        "account_id",
        "rep_id",
        "territory_id",
        "previous_rep_id",
        "moved",
    ]
    assert len(assignments) == book.n_accounts
    territories = pd.read_csv(folder / "territories.csv")
    assert territories["potential"].sum() == pytest.approx(book.metric("potential").sum())
    assert territories["potential_deviation"].abs().max() <= 0.05 + 1e-6
    with pytest.raises(Exception, match="pass --force"):
        write_plan(plan, folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


def test_missing_metric_in_spec_is_a_clear_error(book: Problem) -> None:
    from territory_opt import InputError

    with pytest.raises(InputError, match="band names metric 'revenue', which the accounts do not"):
        align(book, AlignmentSpec().with_(bands={"revenue": 0.05}))


def test_unknown_preset_lists_valid_names() -> None:
    with pytest.raises(KeyError, match="presets are: balanced-travel"):
        AlignmentSpec.from_preset("nope")
