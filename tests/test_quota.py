"""Quota setting: totals, caps, ramp, calendar, fairness LP, attainment, output."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from territory_opt import InfeasibleError, InputError, generate_demo, load_problem
from territory_opt.alignment import AlignmentSpec, align
from territory_opt.plan import Plan
from territory_opt.quota import (
    QuotaSettings,
    fair_quotas,
    quota_table,
    rollups,
    set_quotas,
    write_quotas,
)
from territory_opt.quota.fairness import gini
from territory_opt.quota.rounding import largest_remainder, split_units

TARGET = 10_000_000.0
PLAN_START = dt.date(2027, 1, 1)


@pytest.fixture(scope="module")
def plan() -> Plan:
    accounts, reps = generate_demo(300, 8, seed=5)
    problem = load_problem(accounts, reps)
    spec = AlignmentSpec.from_preset("balanced-travel").with_(bands={"potential": 0.3})
    result = align(problem, spec, time_limit=10)
    assert result.assignment is not None
    return result


def rep(plan: Plan, rep_id: str) -> int:
    return plan.problem.rep_index[rep_id]


def history(plan: Plan) -> np.ndarray:
    return plan.rep_totals()[:, plan.problem.metric_names.index("revenue_ly")]


def potential(plan: Plan) -> np.ndarray:
    return plan.rep_totals()[:, plan.problem.metric_names.index("potential")]


def with_reps(plan: Plan, **changes: np.ndarray) -> Plan:
    """A plan whose problem has some rep arrays replaced (inputs stay untouched)."""
    return dataclasses.replace(plan, problem=dataclasses.replace(plan.problem, **changes))


# ---------------------------------------------------------------- totals


@pytest.mark.parametrize(
    "options",
    [
        {"method": "top_down"},
        {"method": "history", "growth": 0.08},
        {"method": "blend", "history_weight": 0.3},
        {"method": "capacity", "productivity": 900.0},
        {"method": {"top_down": 2, "history": 1, "capacity": 1}, "rounding": 25_000},
        {"method": "blend", "fairness_tolerance": 0.0, "rounding": 1},
    ],
)
def test_total_is_exact_and_quotas_are_multiples(plan: Plan, options: dict) -> None:
    s = QuotaSettings(target=TARGET, simulations=50, **options)
    result = set_quotas(plan, s)
    u = s.rounding
    assert result.quota.sum() == TARGET
    assert np.all(np.mod(result.quota, u) == 0)
    assert (result.quota >= 0).all()
    assert set(result.weights) <= set(result.terms)
    table = quota_table(result)
    assert table["quota"].sum() == TARGET


def test_buffer_over_assigns(plan: Plan) -> None:
    result = set_quotas(plan, QuotaSettings(target=TARGET, buffer=0.05, simulations=50))
    assert result.quota.sum() == 10_500_000
    assert result.target == TARGET
    # The target is the expected sale, so the team is expected to reach 1 / 1.05.
    assert result.attainment.team_attainment == pytest.approx(1 / 1.05)


def test_total_rounds_to_the_unit(plan: Plan) -> None:
    result = set_quotas(plan, QuotaSettings(target=10_001_499.0, simulations=10))
    assert result.quota.sum() == 10_001_000


def test_history_without_target_uses_growth(plan: Plan) -> None:
    s = QuotaSettings(method="history", growth=0.1, simulations=10)
    result = set_quotas(plan, s)
    expected = round(float((history(plan) * result.ramp).sum()) * 1.1 / 1000) * 1000
    assert result.quota.sum() == expected


def test_top_down_is_proportional_to_potential(plan: Plan) -> None:
    result = set_quotas(plan, QuotaSettings(target=TARGET, simulations=10))
    share = potential(plan) / potential(plan).sum()
    np.testing.assert_allclose(result.terms["top_down"], TARGET * share)
    np.testing.assert_allclose(result.quota, TARGET * share, atol=1000)


# ---------------------------------------------------------------- caps


def test_growth_bounds_hold(plan: Plan) -> None:
    s = QuotaSettings(target=TARGET, method="blend", growth_min=0.1, growth_max=1.2, simulations=10)
    result = set_quotas(plan, s)
    h = history(plan)
    assert result.quota.sum() == TARGET
    assert (result.quota >= 1.1 * h - 1e-6).all()
    assert (result.quota <= 2.2 * h + 1e-6).all()
    ok = np.isfinite(result.growth)
    assert (result.growth[ok] >= 0.1 - 1e-9).all()
    assert (result.growth[ok] <= 1.2 + 1e-9).all()


def test_segment_and_rep_growth_bounds_override(plan: Plan) -> None:
    s = QuotaSettings(
        target=TARGET,
        growth_min=0.0,
        growth_max=2.0,
        segment_growth_bounds={"enterprise": (0.05, 0.6)},
        rep_growth_bounds={"R003": (None, 0.3)},
        simulations=10,
    )
    result = set_quotas(plan, s)
    h = history(plan)
    seg = plan.problem.rep_attrs["segment"]
    ent = seg == "enterprise"
    assert (result.quota[ent] <= 1.6 * h[ent] + 1e-6).all()
    assert (result.quota[ent] >= 1.05 * h[ent] - 1e-6).all()
    r3 = rep(plan, "R003")
    assert result.quota[r3] <= 1.3 * h[r3] + 1e-6
    assert result.quota[r3] >= h[r3] - 1e-6
    assert result.quota.sum() == TARGET


def test_floor_and_ceiling_scale_with_fte(plan: Plan) -> None:
    s = QuotaSettings(target=TARGET, floor=1_000_000, ceiling=1_800_000, simulations=10)
    result = set_quotas(plan, s)
    fte = plan.problem.rep_capacity
    assert (result.quota >= 1_000_000 * fte).all()
    assert (result.quota <= 1_800_000 * fte).all()
    assert result.quota.sum() == TARGET
    # The caps bind here, so the spread is above zero but the LP's minimum is reached.
    assert result.fairness.min_spread > 0
    assert result.fairness.spread == pytest.approx(result.fairness.min_spread, abs=2e-3)


def test_infeasible_above_reachable_maximum(plan: Plan) -> None:
    s = QuotaSettings(target=TARGET, growth_max=0.2, simulations=10)
    with pytest.raises(InfeasibleError, match="reachable maximum") as info:
        set_quotas(plan, s)
    d = info.value.diagnosis
    h = history(plan)
    high = float(np.floor(1.2 * h / 1000 + 1e-9).sum() * 1000)
    assert d["reason"] == "target_above_reachable"
    assert d["reachable_total"] == [0.0, high]
    assert d["shortfall"] == TARGET - high
    binding = {b["rep_id"]: b for b in d["binding_reps"]}
    assert set(binding) == {str(r) for r in plan.problem.rep_ids[h > 0]}
    assert {b["cap"] for b in binding.values()} == {"growth_max"}


def test_infeasible_below_reachable_minimum(plan: Plan) -> None:
    s = QuotaSettings(target=TARGET, floor=2_000_000, simulations=10)
    with pytest.raises(InfeasibleError, match="reachable minimum") as info:
        set_quotas(plan, s)
    d = info.value.diagnosis
    fte = plan.problem.rep_capacity
    assert d["reachable_total"][0] == pytest.approx(2_000_000 * fte.sum())
    assert d["reachable_total"][1] is None
    assert len(d["binding_reps"]) == plan.problem.n_reps


def test_conflicting_rep_caps_name_the_reps(plan: Plan) -> None:
    s = QuotaSettings(target=TARGET, rep_growth_bounds={"R004": (0.5, None)}, ceiling=500_000)
    with pytest.raises(InfeasibleError) as info:
        set_quotas(plan, s)
    d = info.value.diagnosis
    assert d["reason"] == "rep_caps_conflict"
    assert [b["rep_id"] for b in d["binding_reps"]] == ["R004"]
    assert d["binding_reps"][0]["cap"] == "growth_min>ceiling"


# ---------------------------------------------------------------- ramp, FTE


def test_new_hire_ramps_from_schedule(plan: Plan) -> None:
    result = set_quotas(plan, QuotaSettings(target=TARGET, plan_start=PLAN_START))
    i = rep(plan, "OPEN-01")  # starts 2027-02-01: month 0 off, then 3 x .25, .5, .75, 2 x 1
    assert result.ramp[i] == pytest.approx((3 * 0.25 + 3 * 0.5 + 3 * 0.75 + 2 * 1.0) / 12)
    others = np.arange(plan.problem.n_reps) != i
    assert (result.ramp[others] == 1.0).all()  # all started before 2026
    # Fair top-down: same quota per ramp-adjusted potential as everybody else.
    p = potential(plan)
    share = result.ramp * p / (result.ramp * p).sum()
    np.testing.assert_allclose(result.quota, TARGET * share, atol=1000)
    assert result.quota.sum() == TARGET


def test_rep_starting_after_the_plan_year_gets_no_quota(plan: Plan) -> None:
    result = set_quotas(plan, QuotaSettings(target=TARGET, plan_start=dt.date(2026, 1, 1)))
    i = rep(plan, "OPEN-01")
    assert result.ramp[i] == 0.0
    assert result.quota[i] == 0.0
    assert np.isnan(result.attainment.p_attain[i])
    assert result.quota.sum() == TARGET


def test_ramp_schedule_is_data(plan: Plan) -> None:
    s = QuotaSettings(target=TARGET, plan_start=PLAN_START, ramp=((0, 0.5), (6, 1.0)))
    result = set_quotas(plan, s)
    assert result.ramp[rep(plan, "OPEN-01")] == pytest.approx((6 * 0.5 + 5 * 1.0) / 12)


def test_part_time_rep_gets_about_half(plan: Plan) -> None:
    result = set_quotas(plan, QuotaSettings(target=TARGET))
    part, full = rep(plan, "R002"), rep(plan, "R001")  # both enterprise; R002 is 0.5 FTE
    assert plan.problem.rep_capacity[part] == 0.5
    # The alignment sized R002's territory by FTE, and the quota follows it.
    assert 0.35 <= result.quota[part] / result.quota[full] <= 0.75


def test_scale_by_fte_halves_quota_per_potential(plan: Plan) -> None:
    full_time = with_reps(plan, rep_capacity=np.ones(plan.problem.n_reps))
    # Rounding to cents: rounding to thousands alone moves a small quota's ratio by ~1e-3.
    settings = QuotaSettings(target=TARGET, scale_by_fte=True, rounding=0.01)
    base = set_quotas(full_time, settings)
    part = set_quotas(plan, settings)
    i, j = rep(plan, "R002"), rep(plan, "R001")
    p = potential(plan)
    assert base.quota[i] / p[i] == pytest.approx(base.quota[j] / p[j], rel=1e-3)
    assert part.quota[i] / p[i] == pytest.approx(0.5 * part.quota[j] / p[j], rel=1e-3)
    assert plan.problem.rep_capacity[i] == 0.5  # the caller's plan is untouched


# ---------------------------------------------------------------- roll-ups, calendar


def test_rollups_equal_sums_of_reps(plan: Plan) -> None:
    result = set_quotas(
        plan, QuotaSettings(target=TARGET, seasonality=(1, 1, 1, 2), simulations=50)
    )
    table = quota_table(result)
    roll = rollups(result)
    for level, column in (("manager", "manager_id"), ("segment", "segment")):
        part = roll[roll["level"] == level].set_index("group")
        sums = table.groupby(column)[["quota", "q1", "q4", "revenue_ly"]].sum()
        for group, row in sums.iterrows():
            assert part.loc[group, "quota"] == row["quota"]
            assert part.loc[group, "q1"] == row["q1"]
            assert part.loc[group, "revenue_ly"] == row["revenue_ly"]
        assert part["reps"].sum() == plan.problem.n_reps
    total = roll[roll["level"] == "total"].iloc[0]
    assert total["quota"] == TARGET
    assert total["expected_attainment"] == pytest.approx(1.0, abs=0.05)  # 50 draws


@pytest.mark.parametrize("season", [(1.0, 1.2, 0.9, 1.7), tuple(np.linspace(1, 2, 12))])
def test_calendar_sums_exactly(plan: Plan, season: tuple[float, ...]) -> None:
    s = QuotaSettings(
        target=TARGET, rounding=5000, plan_start=PLAN_START, seasonality=season, simulations=10
    )
    result = set_quotas(plan, s)
    assert result.calendar is not None
    cal = result.calendar.quota
    assert cal.shape == (plan.problem.n_reps, len(season))
    np.testing.assert_array_equal(cal.sum(axis=1), result.quota)
    assert np.all(np.mod(cal, 5000) == 0)
    assert cal.sum() == TARGET
    table = quota_table(result)
    assert list(table.columns[-len(season) :]) == list(result.calendar.periods)
    # A full-time rep follows the profile; the new hire has less early in the year.
    full = rep(plan, "R001")
    w = np.asarray(season) / sum(season)
    np.testing.assert_allclose(cal[full], result.quota[full] * w, atol=5000)
    new = rep(plan, "OPEN-01")
    assert cal[new, 0] / result.quota[new] < w[0]


# ---------------------------------------------------------------- attainment


def test_monte_carlo_is_deterministic_for_a_seed(plan: Plan) -> None:
    s = QuotaSettings(target=TARGET, buffer=0.05, simulations=300, seed=11)
    a = set_quotas(plan, s).attainment
    b = set_quotas(plan, s).attainment
    c = set_quotas(plan, dataclasses.replace(s, seed=12)).attainment
    np.testing.assert_array_equal(a.expected, b.expected)
    np.testing.assert_array_equal(a.p_attain, b.p_attain)
    assert not np.array_equal(a.expected, c.expected)
    assert a.sigma_source == "history" and a.sigma > 0
    assert ((a.p_attain >= 0) & (a.p_attain <= 1)).all()
    assert a.team_share == pytest.approx(np.nanmean(a.p_attain))


def test_attainment_without_noise_matches_expectation(plan: Plan) -> None:
    s = QuotaSettings(target=TARGET, buffer=0.1, sigma=0.0, simulations=5, rounding=1)
    result = set_quotas(plan, s)
    # Revenue = target spread by effective potential; the quota is 1.1 x that.
    expected = TARGET * potential(plan) / potential(plan).sum() / result.quota
    np.testing.assert_allclose(result.attainment.expected, expected, rtol=1e-6)
    assert result.attainment.sigma_source == "setting"


def test_default_sigma_without_history(plan: Plan) -> None:
    s = QuotaSettings(target=TARGET, history_metric="workload", simulations=10)
    assert set_quotas(plan, s).attainment.sigma_source == "history"
    names = plan.problem.metric_names
    no_hist = with_reps(
        plan,
        metric_names=tuple("other" if n == "revenue_ly" else n for n in names),
    )
    result = set_quotas(no_hist, QuotaSettings(target=TARGET, simulations=10))
    assert result.attainment.sigma_source == "default"
    assert result.revenue_ly is None


# ---------------------------------------------------------------- input errors


def test_unknown_metric_lists_the_metrics(plan: Plan) -> None:
    with pytest.raises(InputError, match="potential_metric.*metrics are: potential, workload"):
        set_quotas(plan, QuotaSettings(target=TARGET, potential_metric="pipeline"))


def test_history_method_needs_the_history_metric(plan: Plan) -> None:
    with pytest.raises(InputError, match="history_metric") as info:
        set_quotas(plan, QuotaSettings(method="history", history_metric="bookings"))
    assert info.value.issues[0].column == "history_metric"


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"method": "guess"}, "method"),
        ({"method": "blend", "history_weight": 1.5}, "history_weight"),
        ({"rounding": 0}, "rounding"),
        ({"growth_min": 0.3, "growth_max": 0.1}, "growth_max"),
        ({"seasonality": (1, 2, 3)}, "seasonality"),
        ({"segment_growth_bounds": {"smb": (0, 1)}}, "segment_growth_bounds"),
        ({"rep_growth_bounds": {"R999": (0, 1)}}, "rep_growth_bounds"),
        ({"ramp": ((1, 0.5),)}, "ramp"),
    ],
)
def test_bad_settings_name_the_setting(plan: Plan, options: dict, setting: str) -> None:
    with pytest.raises(InputError) as info:
        set_quotas(plan, QuotaSettings(target=TARGET, **options))
    assert info.value.issues[0].column == setting


def test_top_down_needs_a_target(plan: Plan) -> None:
    with pytest.raises(InputError, match="target"):
        set_quotas(plan, QuotaSettings())


# ---------------------------------------------------------------- output


def test_write_quotas_is_atomic_and_deterministic(plan: Plan, tmp_path: Path) -> None:
    s = QuotaSettings(target=TARGET, seasonality=(1, 1, 1, 1), simulations=50)
    result = set_quotas(plan, s)
    path = write_quotas(result, tmp_path)
    first = path.read_bytes()
    assert path == tmp_path / "quotas.csv"
    assert b"\r\n" not in first and first.endswith(b"\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quotas.csv"]
    write_quotas(set_quotas(plan, s), tmp_path)
    assert path.read_bytes() == first
    frame = pd.read_csv(path)
    for column in (
        "rep_id",
        "quota",
        "term_top_down",
        "term_history",
        "term_capacity",
        "revenue_ly",
        "growth",
        "ramp",
        "capacity",
        "quota_per_potential",
        "expected_attainment",
        "p_attain",
        "q1",
        "q4",
    ):
        assert column in frame.columns
    assert frame["quota"].sum() == TARGET
    with pytest.raises(InputError, match="not an existing plan folder"):
        write_quotas(result, tmp_path / "missing")


def test_fairness_stats(plan: Plan) -> None:
    s = QuotaSettings(target=TARGET, floor=1_000_000, ceiling=1_800_000, simulations=10)
    result = set_quotas(plan, s)
    r = result.quota / potential(plan)
    f = result.fairness
    assert (f.min, f.max) == (pytest.approx(r.min()), pytest.approx(r.max()))
    assert f.cv == pytest.approx(r.std() / r.mean())
    pairs = np.abs(r[:, None] - r[None, :]).sum()
    assert f.gini == pytest.approx(pairs / (2 * len(r) ** 2 * r.mean()))
    np.testing.assert_allclose(quota_table(result)["quota_per_potential"], r)


# ---------------------------------------------------------------- fairness LP vs brute force


def grid_best_spread(
    a: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float, steps: int
) -> float:
    """Smallest max-min of q/a over a fine grid of the first m-1 quotas (the last closes Q)."""
    axes = [np.linspace(lo[i], hi[i], steps) for i in range(len(a) - 1)]
    grids = np.meshgrid(*axes, indexing="ij")
    q = [g.ravel() for g in grids]
    q.append(total - sum(q))
    q_all = np.stack(q)
    ok = (q_all[-1] >= lo[-1] - 1e-9) & (q_all[-1] <= hi[-1] + 1e-9)
    ratio = q_all[:, ok] / a[:, None]
    return float((ratio.max(axis=0) - ratio.min(axis=0)).min())


@pytest.mark.parametrize(("m", "seed"), [(3, s) for s in range(4)] + [(4, s) for s in range(2)])
def test_fairness_lp_matches_brute_force(m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.uniform(1.0, 5.0, m)
    total = float(a.sum())  # mean ratio 1
    # Caps that bind: some reps forced far from ratio 1.
    lo = a * rng.uniform(0.0, 1.1, m)
    hi = lo + a * rng.uniform(0.1, 0.8, m)
    if lo.sum() > total or hi.sum() < total:
        total = float(0.5 * (lo.sum() + hi.sum()))
    lp = fair_quotas(a, lo, hi, total, np.full(m, total / m), tolerance=0.0)
    assert lp.quota.sum() == pytest.approx(total)
    assert (lp.quota >= lo - 1e-7).all() and (lp.quota <= hi + 1e-7).all()
    ratio = lp.quota / a
    assert ratio.max() - ratio.min() == pytest.approx(lp.min_spread * 1.0, abs=1e-6)
    steps = 1201 if m == 3 else 161
    best = grid_best_spread(a, lo, hi, total, steps)
    # The LP is optimal: no grid point is better, and the grid gets within its resolution.
    resolution = 2 * max((hi - lo) / (steps - 1)) / a.min() * (m - 1)
    assert lp.min_spread > 0.05  # the caps bind: the fair answer is not q = a
    assert lp.min_spread <= best + 1e-7
    assert best <= lp.min_spread + resolution


def test_fairness_tolerance_trades_spread_for_the_proposal() -> None:
    a = np.array([1.0, 1.0, 2.0])
    proposal = np.array([2.0, 1.0, 1.0])
    caps = (np.zeros(3), np.full(3, np.inf))
    tight = fair_quotas(a, *caps, 4.0, proposal, tolerance=0.0)
    loose = fair_quotas(a, *caps, 4.0, proposal, tolerance=np.inf)
    np.testing.assert_allclose(tight.quota, [1.0, 1.0, 2.0], atol=1e-9)
    np.testing.assert_allclose(loose.quota, proposal, atol=1e-9)
    mid = fair_quotas(a, *caps, 4.0, proposal, tolerance=0.5)
    assert mid.spread == pytest.approx(0.5)


# ---------------------------------------------------------------- property tests


@settings(max_examples=30, deadline=None)
@given(
    target=st.integers(1_000_000, 40_000_000),
    unit=st.sampled_from([1.0, 100.0, 1000.0, 25_000.0]),
    buffer=st.sampled_from([0.0, 0.03, 0.1]),
    gmin=st.one_of(st.none(), st.floats(-0.5, 0.5)),
    gspan=st.one_of(st.none(), st.floats(0.0, 2.0)),
    floor=st.one_of(st.none(), st.floats(0.0, 1_500_000)),
    ceiling_span=st.one_of(st.none(), st.floats(0.0, 3_000_000)),
    method=st.sampled_from(["top_down", "blend", "capacity"]),
)
def test_property_totals_exact_and_caps_hold(
    plan: Plan,
    target: int,
    unit: float,
    buffer: float,
    gmin: float | None,
    gspan: float | None,
    floor: float | None,
    ceiling_span: float | None,
    method: str,
) -> None:
    gmax = None if gspan is None else (gmin or 0.0) + gspan
    ceiling = None if ceiling_span is None else (floor or 0.0) + ceiling_span
    s = QuotaSettings(
        target=float(target),
        method=method,
        rounding=unit,
        buffer=buffer,
        growth_min=gmin,
        growth_max=gmax,
        floor=floor,
        ceiling=ceiling,
        simulations=20,
    )
    h = history(plan)
    fte = plan.problem.rep_capacity
    lo = np.zeros(len(h))
    hi = np.full(len(h), np.inf)
    if floor is not None:
        lo = np.maximum(lo, floor * fte)
    if ceiling is not None:
        hi = np.minimum(hi, ceiling * fte)
    if gmin is not None:
        lo = np.maximum(lo, np.where(h > 0, (1 + gmin) * h, 0))
    if gmax is not None:
        hi = np.minimum(hi, np.where(h > 0, (1 + gmax) * h, np.inf))
    total = np.floor(target * (1 + buffer) / unit + 0.5 + 1e-9) * unit
    try:
        result = set_quotas(plan, s)
    except InfeasibleError as err:
        event(f"infeasible: {err.diagnosis['reason']}")
        lo_u, hi_u = np.ceil(lo / unit - 1e-9), np.floor(hi / unit + 1e-9)
        if (lo_u > hi_u).any():
            assert err.diagnosis["reason"] == "rep_caps_conflict"
        else:
            low, high = lo_u.sum() * unit, hi_u.sum() * unit
            assert total < low or total > high
            reach = err.diagnosis["reachable_total"]
            assert reach[0] == pytest.approx(low)
            assert reach[1] is None or reach[1] == pytest.approx(high)
        return
    event("feasible")
    q = result.quota
    assert q.sum() == pytest.approx(total, abs=1e-6 * unit)
    assert np.allclose(np.round(q / unit) * unit, q)
    assert (q >= lo - 1e-6).all() and (q <= hi + 1e-6).all()
    # Roll-ups: every manager/segment group and the company total sum their reps.
    table = rollups(result)
    managers = np.asarray(result.plan.problem.rep_attrs["manager_id"], dtype=object)
    managers = np.where(managers == "", "(none)", managers)
    for manager in np.unique(managers):
        row = table[(table["level"] == "manager") & (table["group"] == manager)]
        assert row["quota"].item() == pytest.approx(q[managers == manager].sum())
    assert table.loc[table["level"] == "total", "quota"].item() == pytest.approx(q.sum())


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(st.floats(0, 50), min_size=1, max_size=12),
    extra=st.integers(-3, 3),
    seed=st.integers(0, 1000),
)
def test_property_largest_remainder(values: list[float], extra: int, seed: int) -> None:
    x = np.array(values)
    rng = np.random.default_rng(seed)
    lo = np.floor(x * rng.uniform(0, 1, len(x))).astype(np.int64)
    hi = np.ceil(x * rng.uniform(1, 2, len(x))).astype(np.int64) + 1
    total = int(np.clip(round(x.sum()) + extra, lo.sum(), hi.sum()))
    counts = largest_remainder(x, total, lower=lo, upper=hi)
    assert counts.sum() == total
    assert (counts >= lo).all() and (counts <= hi).all()
    weights = rng.uniform(0, 1, (len(x), 4))
    split = split_units(counts, weights)
    np.testing.assert_array_equal(split.sum(axis=1), counts)
    assert (split >= 0).all()


def test_largest_remainder_with_many_uncapped_items() -> None:
    from territory_opt.quota.caps import UNBOUNDED_UNITS

    x = np.full(3000, 2.5)
    counts = largest_remainder(x, 7500, upper=np.full(3000, UNBOUNDED_UNITS))
    assert counts.sum() == 7500 and set(counts.tolist()) == {2, 3}


def test_gini_bounds() -> None:
    assert gini(np.ones(5)) == 0.0
    assert gini(np.array([0.0, 0.0, 0.0, 4.0])) == pytest.approx(0.75)
