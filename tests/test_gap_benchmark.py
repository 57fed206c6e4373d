"""Exact optimum on all 60 OR-Library GAP instances, read through the normal input path."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from territory_opt import load_problem
from territory_opt.alignment import AlignmentSpec, Status, align
from territory_opt.testing import check_plan
from tests.conftest import SHARED_BENCHMARKS, gap_instance_files

GAP_DIR = SHARED_BENCHMARKS / "gap"


def _instances() -> list[tuple[str, int]]:
    optima = GAP_DIR / "optima.csv"
    if not optima.exists():
        return []
    with optima.open(encoding="utf-8") as fh:
        return [(row["instance"], int(row["optimum_min"])) for row in csv.DictReader(fh)]


INSTANCES = _instances()


def test_all_sixty_instances_are_present(shared_benchmarks: Path) -> None:
    assert len(INSTANCES) == 60


@pytest.mark.benchmarks
@pytest.mark.parametrize(("name", "optimum"), INSTANCES, ids=[i for i, _ in INSTANCES])
def test_gap_instance_solved_to_proven_optimum(
    shared_benchmarks: Path, tmp_path: Path, name: str, optimum: int
) -> None:
    accounts, reps, pairs = gap_instance_files(GAP_DIR / "cattrysse1994" / name, tmp_path)
    problem = load_problem(accounts, reps, pairs=pairs)
    spec = AlignmentSpec.from_preset("pair-cost")
    plan = align(problem, spec, time_limit=60, gap=1e-9)
    assert plan.status == Status.OPTIMAL
    assert plan.objective == pytest.approx(optimum, abs=1e-6)
    assert plan.lower_bound == pytest.approx(optimum, abs=1e-6)
    check_plan(plan)
