"""Property tests on random small instances (hypothesis; kept small and fast).

- ``align`` returns a plan that the independent checker accepts, or a proven
  infeasibility whose diagnosis, applied (bands widened as it says), gives a plan.
- The exact backends (HiGHS MIP, CP-SAT, PuLP/CBC) and the default pipeline
  agree on tiny instances.
- Exports of random plans round-trip: loading the full export of the baseline,
  then the diff, gives the new plan; the rollback gives the baseline back.

Quota totals are exact by the property tests of ``tests/test_quota.py``; repair
and improvement keep plans feasible by those of ``tests/test_repair.py``.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from territory_opt import load_problem
from territory_opt.alignment import AlignmentSpec, Status, align
from territory_opt.data.problem import Problem
from territory_opt.export import ExportOptions, export_plan
from territory_opt.plan import refresh_plan_hashes
from territory_opt.testing import check_plan
from tests.export_book import make_plan
from tests.test_export import apply


def _book(seed: int, n: int, m: int, *, current: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A random book: accounts in a 2°×2° box, integer metrics, reps of 1 or 0.5 FTE."""
    rng = np.random.default_rng(seed)
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(n)],
            "lat": rng.uniform(35, 37, n).round(4),
            "lon": rng.uniform(-98, -96, n).round(4),
            "potential": rng.integers(10, 200, n).astype(float),
            "workload": rng.integers(1, 30, n).astype(float),
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": [f"R{r}" for r in range(m)],
            "home_lat": rng.uniform(35, 37, m).round(4),
            "home_lon": rng.uniform(-98, -96, m).round(4),
            "capacity": rng.choice([1.0, 1.0, 0.5], m),
        }
    )
    if current:
        accounts["current_rep"] = [f"R{r}" for r in rng.integers(0, m, n)]
    return accounts, reps


def _no_account_above_every_band(problem: Problem, spec: AlignmentSpec) -> bool:
    """True unless one account alone exceeds every rep's upper limit (a pre-check finding)."""
    cap = problem.rep_capacity / problem.rep_capacity.sum()
    for band in spec.bands:
        values = problem.metric(band.metric)
        upper = values.sum() * cap.max() * (1 + band.tolerance)
        if values.max() > upper:
            return False
    return True


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 100_000),
    n=st.integers(6, 14),
    m=st.integers(2, 4),
    tol=st.sampled_from([0.01, 0.03, 0.1, 0.3]),
    current=st.booleans(),
    moved=st.one_of(st.none(), st.integers(0, 4)),
)
def test_align_plan_checks_or_diagnosis_makes_it_feasible(
    seed: int, n: int, m: int, tol: float, current: bool, moved: int | None
) -> None:
    problem = load_problem(*_book(seed, n, m, current=current))
    spec = AlignmentSpec.from_preset("balanced-travel").with_(
        bands={"potential": tol, "workload": 2 * tol},
        max_moved_accounts=moved if current else None,
    )
    assume(_no_account_above_every_band(problem, spec))
    plan = align(problem, spec, time_limit=10, gap=1e-6, seed=seed)
    if plan.assignment is not None:
        event("plan")
        check_plan(plan)
        assert plan.lower_bound <= plan.objective * (1 + 1e-9) + 1e-9
        return
    event("infeasible")
    assert plan.status == Status.INFEASIBLE, plan.status
    assert plan.diagnosis is not None and plan.diagnosis["findings"], plan.diagnosis
    bands = {b.metric: b.tolerance for b in spec.bands}
    budget = spec.max_moved_accounts
    for finding in plan.diagnosis["findings"]:
        if "band" in finding:
            bands[finding["band"]] = finding["tolerance"]
        if finding.get("budget") == "moved_accounts":
            budget = int(np.ceil(finding["needed"] - 1e-9))
    relaxed = spec.with_(bands=bands, max_moved_accounts=budget)
    assert relaxed != spec, plan.diagnosis
    fixed = align(problem, relaxed, time_limit=10, gap=1e-6, seed=seed)
    assert fixed.assignment is not None, (plan.diagnosis, fixed.status)
    check_plan(fixed)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), n=st.integers(5, 8), m=st.integers(2, 3))
def test_backends_agree_on_tiny_instances(seed: int, n: int, m: int) -> None:
    problem = load_problem(*_book(seed, n, m, current=False))
    spec = AlignmentSpec.from_preset("balanced-travel").with_(
        bands={"potential": 0.35, "workload": 0.5}
    )
    assume(_no_account_above_every_band(problem, spec))
    reference = align(problem, spec, backend="highs-mip", time_limit=20, gap=1e-9)
    for backend in ("highs", "cpsat", "pulp"):
        plan = align(problem, spec, backend=backend, time_limit=20, gap=1e-9)
        if reference.status == Status.INFEASIBLE:
            event("infeasible")
            assert plan.status == Status.INFEASIBLE, backend
            continue
        event("plan")
        assert reference.status == Status.OPTIMAL
        check_plan(plan)
        assert plan.objective == pytest.approx(reference.objective, rel=1e-5), backend


@pytest.fixture(scope="module")
def export_plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("roundtrip")
    return {t: make_plan(root / t, t, quotas=False) for t in ("generic", "hubspot", "dynamics")}


def _with_assignment(plan_dir: Path, folder: Path, reps: list[str]) -> Path:
    """A copy of the plan folder (inputs beside it) whose accounts go to ``reps``."""
    shutil.copytree(plan_dir.parent, folder)
    copy_dir = folder / plan_dir.name
    table = pd.read_csv(copy_dir / "assignments.csv", dtype=str, keep_default_na=False)
    table["rep_id"] = reps
    table["territory_id"] = ["T_" + r for r in reps]
    table["moved"] = table["rep_id"] != table["previous_rep_id"]
    table.to_csv(copy_dir / "assignments.csv", index=False, lineterminator="\n")
    refresh_plan_hashes(copy_dir)
    return copy_dir


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    target=st.sampled_from(["generic", "hubspot", "dynamics"]),
    picks=st.lists(st.integers(0, 3), min_size=18, max_size=18),
)
def test_exports_round_trip(export_plans: dict[str, Path], target: str, picks: list[int]) -> None:
    plan_dir = export_plans[target]
    accounts = pd.read_csv(plan_dir / "assignments.csv", dtype=str, keep_default_na=False)
    reps = sorted(set(pd.read_csv(plan_dir.parent / "reps.csv", dtype=str)["rep_id"]))
    n = len(accounts)
    before = [reps[k % len(reps)] for k in picks[:n]]
    after = [reps[k % len(reps)] for k in picks[n : 2 * n]]
    assume(before != after)
    options = ExportOptions(territory_property="territory")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        base = _with_assignment(plan_dir, tmp / "base", before)
        new = _with_assignment(plan_dir, tmp / "new", after)
        export_plan(base, tmp / "x-base", target=target, full=True, options=options)
        export_plan(new, tmp / "x-new", target=target, full=True, options=options)
        export_plan(new, tmp / "x-diff", target=target, baseline=base, options=options)
        baseline: dict[str, dict[str, object]] = {}
        apply(baseline, tmp / "x-base", "load")
        fresh: dict[str, dict[str, object]] = {}
        apply(fresh, tmp / "x-new", "load")
        state = copy.deepcopy(baseline)
        apply(state, tmp / "x-diff", "load")
        assert state == {k: v for k, v in fresh.items() if v}
        apply(state, tmp / "x-diff", "rollback")
        assert state == {k: v for k, v in baseline.items() if v}
