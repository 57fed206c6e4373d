"""``set_quotas``: from a plan and settings to fair, rounded, capped quotas.

Steps (each in its own module):

1. check the settings against the plan (:mod:`~territory_opt.quota.settings`);
2. per-rep territory totals, FTE and ramp (:mod:`~territory_opt.quota.methods`,
   :mod:`~territory_opt.quota.ramp`);
3. the quota total ``Q = round_u(T (1 + buffer))`` and the method's proposal;
4. caps and the reachability check (:mod:`~territory_opt.quota.caps`);
5. the fairness LP (:mod:`~territory_opt.quota.fairness`);
6. largest-remainder rounding within the caps (:mod:`~territory_opt.quota.rounding`);
7. attainment simulation and calendar split.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from territory_opt.quota.attainment import Attainment, calibrate_sigma, simulate
from territory_opt.quota.calendar import split_calendar
from territory_opt.quota.caps import check_reachable, rep_caps
from territory_opt.quota.fairness import fair_quotas, fairness_stats
from territory_opt.quota.methods import method_terms, proposal, raw_total, rep_inputs
from territory_opt.quota.result import QuotaResult
from territory_opt.quota.rounding import largest_remainder, round_half_up
from territory_opt.quota.settings import QuotaSettings, validate

if TYPE_CHECKING:  # plan imports the alignment package, which imports plan
    from territory_opt.plan import Plan


def set_quotas(plan: Plan, settings: QuotaSettings) -> QuotaResult:
    """Set every rep's quota from a plan's territories.

    Parameters
    ----------
    plan
        A plan with an assignment.
    settings
        Target, method, caps, rounding, ramp, seasonality and simulation options.

    Returns
    -------
    QuotaResult
        Quotas summing exactly to the buffered, rounded target, each a multiple of
        the rounding unit and within its caps.

    Raises
    ------
    InputError
        For settings that name unknown metrics, segments or reps, or are out of range.
    InfeasibleError
        When the caps cannot reach the total; ``diagnosis`` holds the reachable
        interval and the binding reps. Nothing is scaled to fit silently.
    SolverError
        When the plan has no assignment or the LP fails.
    """
    plan.raise_if_not_ok()
    problem = plan.problem
    weights = validate(settings, problem)
    rep_ids = np.asarray(problem.rep_ids)
    inputs = rep_inputs(plan, settings)
    unit = float(settings.rounding)

    if settings.target is not None:
        target = float(settings.target)
    else:
        target = raw_total(method_terms(inputs, settings, total=None), weights)
    total_units = round_half_up(target * (1.0 + settings.buffer) / unit)
    total = total_units * unit
    terms = method_terms(inputs, settings, total=total if settings.target is not None else None)
    proposed = proposal(terms, weights, total, fallback=inputs.ramp)

    caps = rep_caps(inputs, settings, rep_ids)
    check_reachable(caps, total_units, unit, rep_ids)
    lp = fair_quotas(
        inputs.effective_potential,
        caps.lower_units * unit,
        np.where(np.isfinite(caps.upper), caps.upper_units * unit, np.inf),
        total,
        proposed,
        tolerance=settings.fairness_tolerance,
    )
    units = largest_remainder(
        lp.quota / unit, total_units, lower=caps.lower_units, upper=caps.upper_units
    )
    quota = units * unit

    a = inputs.effective_potential
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(a > 0, quota / a, np.nan)
        growth = (
            np.full(len(quota), np.nan)
            if inputs.history is None
            else np.where(
                inputs.history * inputs.scale > 0,
                quota / (inputs.history * inputs.scale) - 1.0,
                np.nan,
            )
        )
    fairness = fairness_stats(ratio, lp.min_spread)
    attainment = _attainment(plan, settings, inputs.scale, quota, target, float(a.sum()))
    calendar = (
        None
        if settings.seasonality is None
        else split_calendar(units, unit, settings.seasonality, inputs.monthly_ramp)
    )
    return QuotaResult(
        plan=plan,
        settings=settings,
        rep_ids=rep_ids,
        quota=quota,
        proposal=proposed,
        terms=terms,
        weights=weights,
        potential=inputs.potential,
        effective_potential=a,
        revenue_ly=inputs.history,
        workload=inputs.workload,
        capacity=inputs.fte,
        ramp=inputs.ramp,
        growth=growth,
        lower=caps.lower,
        upper=caps.upper,
        ratio=ratio,
        fairness=fairness,
        attainment=attainment,
        calendar=calendar,
        target=target,
        total=float(total),
    )


def _attainment(
    plan: Plan,
    settings: QuotaSettings,
    scale: np.ndarray,
    quota: np.ndarray,
    target: float,
    effective_total: float,
) -> Attainment:
    """Run the Monte Carlo of :mod:`territory_opt.quota.attainment`."""
    p = plan.problem
    assert plan.assignment is not None  # raise_if_not_ok() passed
    rep = np.asarray(plan.assignment, dtype=np.int64)
    potential = np.nan_to_num(p.metric(settings.potential_metric), nan=0.0)
    history = (
        np.asarray(p.metric(settings.history_metric))
        if settings.history_metric in p.metric_names
        else None
    )
    if settings.sigma is not None:
        sigma, source = float(settings.sigma), "setting"
    else:
        sigma, source = calibrate_sigma(potential, history)
    kappa = target / effective_total if effective_total > 0 else 0.0
    expected_revenue = kappa * np.where(rep >= 0, scale[np.maximum(rep, 0)], 0.0) * potential
    rng = np.random.default_rng(settings.seed)
    expected, p_attain, share = simulate(
        quota,
        rep,
        expected_revenue,
        sigma=sigma,
        rep_sigma=float(settings.rep_sigma),
        simulations=int(settings.simulations),
        rng=rng,
    )
    quota_sum = float(quota.sum())
    return Attainment(
        expected=expected,
        p_attain=p_attain,
        team_share=share,
        team_attainment=float(expected_revenue.sum()) / quota_sum if quota_sum > 0 else np.nan,
        sigma=sigma,
        rep_sigma=float(settings.rep_sigma),
        sigma_source=source,
        simulations=int(settings.simulations),
        seed=int(settings.seed),
    )
