"""Greedy repair and improvement keep their promises on random models."""

from __future__ import annotations

import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from territory_opt.alignment.instance import ArcModel
from territory_opt.alignment.repair import improve, repair


def _model(seed: int, n: int, m: int, tol: float) -> tuple[ArcModel, np.ndarray]:
    rng = np.random.default_rng(seed)
    items = np.repeat(np.arange(n, dtype=np.int32), m)
    reps = np.tile(np.arange(m, dtype=np.int32), n)
    size = rng.lognormal(0.0, 0.5, n)
    load = np.column_stack([size[items], (size * rng.uniform(0.5, 1.5, n))[items]])
    target = load.reshape(n, m, 2)[:, 0, :].sum(axis=0) / m
    model = ArcModel(
        n_items=n,
        n_reps=m,
        arc_item=items,
        arc_rep=reps,
        cost=rng.uniform(0, 10, n * m),
        load=load,
        lo=np.tile((1 - tol) * target, (m, 1)),
        hi=np.tile((1 + tol) * target, (m, 1)),
        budget=np.zeros((n * m, 0)),
        budget_hi=np.zeros(0),
        load_names=("a", "b"),
        budget_names=(),
    )
    start = np.arange(n) * m + rng.integers(0, m, n)  # a random, usually unbalanced plan
    return model, start


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(12, 40), m=st.integers(2, 5))
def test_repair_returns_a_feasible_plan_or_none(seed: int, n: int, m: int) -> None:
    model, start = _model(seed, n, m, tol=0.3)
    fixed = repair(model, start, deadline=time.perf_counter() + 5)
    if fixed is not None:
        assert model.violation(fixed) == 0
        assert sorted(model.arc_item[fixed]) == list(range(n))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(12, 40), m=st.integers(2, 5))
def test_improve_never_worsens_and_stays_feasible(seed: int, n: int, m: int) -> None:
    model, start = _model(seed, n, m, tol=0.5)
    fixed = repair(model, start, deadline=time.perf_counter() + 5)
    if fixed is None:
        return
    better = improve(model, fixed, deadline=time.perf_counter() + 5)
    assert model.violation(better) == 0
    assert model.objective(better) <= model.objective(fixed) + 1e-9


def test_repair_fixes_a_rounded_plan_on_a_loose_model() -> None:
    model, start = _model(7, 60, 4, tol=0.25)
    assert model.violation(start) > 0
    fixed = repair(model, start, deadline=time.perf_counter() + 5)
    assert fixed is not None and model.violation(fixed) == 0


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(12, 40), m=st.integers(2, 5))
def test_repair_with_a_moved_budget(seed: int, n: int, m: int) -> None:
    import dataclasses

    model, start = _model(seed, n, m, tol=0.3)
    rng = np.random.default_rng(seed)
    home = rng.integers(0, m, n)
    moved = (model.arc_rep != home[model.arc_item]).astype(float)[:, None]
    budget_hi = np.array([float(max(1, n // 2))])
    model = dataclasses.replace(
        model, budget=moved, budget_hi=budget_hi, budget_names=("moved_accounts",)
    )
    fixed = repair(model, start, deadline=time.perf_counter() + 5)
    if fixed is not None:
        assert model.violation(fixed) == 0
        assert model.budget[fixed].sum() <= budget_hi[0]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(8, 20), m=st.integers(2, 4))
def test_improve_ends_where_no_move_or_exchange_helps(seed: int, n: int, m: int) -> None:
    """Brute force: no single move and no exchange of two items is feasible and cheaper."""
    model, start = _model(seed, n, m, tol=0.4)
    fixed = repair(model, start, deadline=time.perf_counter() + 5)
    if fixed is None:
        return
    plan = improve(model, fixed, deadline=time.perf_counter() + 30)
    best = model.objective(plan)
    tol = 1e-9 * (1.0 + abs(best))

    def arc(item: int, rep: int) -> int:
        return int(item * m + rep)  # the full model lists every rep of every item

    for i in range(n):
        for r in range(m):
            other = plan.copy()
            other[i] = arc(i, r)
            if model.violation(other) == 0:
                assert model.objective(other) >= best - tol
    rep_of = model.arc_rep[plan]
    for i in range(n):
        for k in range(i + 1, n):
            if rep_of[i] == rep_of[k]:
                continue
            other = plan.copy()
            other[i], other[k] = arc(i, int(rep_of[k])), arc(k, int(rep_of[i]))
            if model.violation(other) == 0:
                assert model.objective(other) >= best - tol
