"""Quota settings: one frozen dataclass, checked against the plan it is applied to."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NoReturn

from territory_opt._errors import InputError
from territory_opt.data.problem import Problem
from territory_opt.quota.ramp import DEFAULT_RAMP

#: ``file`` of every InputError about the settings.
SETTINGS_FILE = "quota settings"

#: Method names and the terms they weigh.
METHODS = ("top_down", "history", "blend", "capacity")
#: Terms that can be combined through a ``{term: weight}`` method mapping.
TERMS = ("top_down", "history", "capacity")

#: Default rounding unit of quotas [currency]: quotas are communicated in thousands.
DEFAULT_ROUNDING = 1000.0

#: Default widening of the quota/potential spread beyond the fairest possible one,
#: as a fraction of the mean quota/potential. With 0 every method collapses to the
#: top-down split whenever no cap binds (the fairest quotas are proportional to
#: potential), so the method would only break ties; 0.25 lets the method's proposal
#: move each rep within about +-12.5 % of the mean ratio. Set 0 for pure fairness
#: and ``math.inf`` for the proposal fitted to the caps only.
DEFAULT_FAIRNESS_TOLERANCE = 0.25

#: Default number of Monte Carlo draws: the standard error of a probability
#: estimate is at most 0.5 / sqrt(2000) ~ 1.1 percentage points.
DEFAULT_SIMULATIONS = 2000

GrowthBounds = tuple[float | None, float | None]


@dataclass(frozen=True, kw_only=True)
class QuotaSettings:
    """How quotas are set from a plan.

    Attributes
    ----------
    target
        Company target [currency]. None: the sum of the method's proposal (only
        for methods without the top-down term).
    method
        ``top_down`` (target split in proportion to effective potential),
        ``history`` (last year's revenue x (1 + growth)), ``blend``
        (``history_weight`` x history + (1 - history_weight) x top-down),
        ``capacity`` (workload capacity x productivity), or a mapping
        ``{term: weight}`` over ``top_down``, ``history`` and ``capacity``.
        Every term is normalised to the quota total before weighting.
    history_weight
        Weight of the history term in ``blend`` [-], in [0, 1].
    growth
        Growth applied to last year's revenue by the history term [-] (0.08 = 8 %).
    segment_growth
        Growth per segment name, overriding ``growth``.
    growth_min, growth_max
        Bounds on each rep's growth vs last year [-]: ``(1 + growth_min) x ramp x
        revenue_ly <= quota <= (1 + growth_max) x ramp x revenue_ly``. None: unbounded.
        Reps whose territory had no revenue last year are not bounded.
    segment_growth_bounds, rep_growth_bounds
        ``{segment: (min, max)}`` and ``{rep_id: (min, max)}`` overriding the global
        bounds (rep over segment over global); None inside a pair keeps the
        next level's bound.
    floor, ceiling
        Bounds on the quota of a full-time, fully ramped rep [currency]; they scale
        with FTE x ramp.
    buffer
        Over-assignment: quotas sum to ``target x (1 + buffer)`` [-].
    rounding
        Every quota is a multiple of this unit [currency]; the total is the buffered
        target rounded to the nearest unit (halves up).
    ramp
        Ramp schedule ``((first_month, factor), ...)`` in months since start_date,
        see :mod:`territory_opt.quota.ramp`; empty disables the ramp.
    plan_start
        First day of the plan year. None: no ramp, and calendar periods are
        just the first, second, ... period of the year.
    productivity
        Revenue per workload unit for the capacity term [currency/workload unit].
        None: last year's revenue per workload unit when the history metric
        exists, else the target per workload unit.
    workload_per_fte
        Workload one full-time rep can serve [workload units/FTE]. None: the
        plan's total workload divided by its total FTE.
    scale_by_fte
        Multiply effective potential and the history term by FTE. Leave False
        when the territories were sized by FTE (the alignment's bands scale with
        capacity, so a 0.5 FTE rep already holds about half the potential); set
        True for plans whose territories ignore FTE.
    potential_metric, history_metric, workload_metric
        Metric names in the plan.
    fairness_tolerance
        Allowed widening of the spread of quota / effective potential beyond its
        LP minimum, as a fraction of the mean ratio [-]; see
        :mod:`territory_opt.quota.fairness`.
    seasonality
        4 (quarters) or 12 (months) non-negative weights, or None for no calendar.
    sigma
        Lognormal sigma of account revenue for the attainment simulation [-];
        None: calibrated on the history metric, see
        :mod:`territory_opt.quota.attainment`.
    rep_sigma
        Lognormal sigma of a rep-level shock shared by a rep's accounts [-];
        0 (default) draws accounts independently.
    simulations
        Monte Carlo draws.
    seed
        Seed of the ``numpy.random.Generator`` of the simulation.
    """

    target: float | None = None
    method: str | Mapping[str, float] = "top_down"
    history_weight: float = 0.5
    growth: float = 0.0
    segment_growth: Mapping[str, float] = field(default_factory=dict)
    growth_min: float | None = None
    growth_max: float | None = None
    segment_growth_bounds: Mapping[str, GrowthBounds] = field(default_factory=dict)
    rep_growth_bounds: Mapping[str, GrowthBounds] = field(default_factory=dict)
    floor: float | None = None
    ceiling: float | None = None
    buffer: float = 0.0
    rounding: float = DEFAULT_ROUNDING
    ramp: tuple[tuple[int, float], ...] = DEFAULT_RAMP
    plan_start: dt.date | None = None
    productivity: float | None = None
    workload_per_fte: float | None = None
    scale_by_fte: bool = False
    potential_metric: str = "potential"
    history_metric: str = "revenue_ly"
    workload_metric: str = "workload"
    fairness_tolerance: float = DEFAULT_FAIRNESS_TOLERANCE
    seasonality: tuple[float, ...] | None = None
    sigma: float | None = None
    rep_sigma: float = 0.0
    simulations: int = DEFAULT_SIMULATIONS
    seed: int = 0

    def weights(self) -> dict[str, float]:
        """Return the term weights of ``method``, summing to 1.

        Raises
        ------
        InputError
            For an unknown method or term, or bad weights.

        Examples
        --------
        >>> QuotaSettings(method="blend", history_weight=0.3).weights()
        {'history': 0.3, 'top_down': 0.7}
        """
        if isinstance(self.method, str):
            if self.method == "blend":
                w = self.history_weight
                if not 0.0 <= w <= 1.0:
                    _fail("history_weight", f"must be in [0, 1], got {w}")
                return {k: v for k, v in (("history", w), ("top_down", 1.0 - w)) if v > 0}
            if self.method not in METHODS:
                _fail("method", f"unknown method '{self.method}'; use one of {', '.join(METHODS)}")
            return {self.method: 1.0}
        unknown = sorted(set(self.method) - set(TERMS))
        if unknown:
            _fail("method", f"unknown term '{unknown[0]}'; terms are {', '.join(TERMS)}")
        values = {k: float(v) for k, v in self.method.items() if float(v) != 0.0}
        if any(v < 0 or not math.isfinite(v) for v in values.values()) or not values:
            _fail("method", "term weights must be finite, non-negative and not all zero")
        total = sum(values.values())
        return {k: values[k] / total for k in TERMS if k in values}


def _fail(setting: str, problem: str) -> NoReturn:
    raise InputError.single(SETTINGS_FILE, f"{setting}: {problem}", column=setting)


def _check_metric(problem: Problem, setting: str, name: str) -> None:
    if name not in problem.metric_names:
        valid = ", ".join(problem.metric_names) or "(none)"
        _fail(setting, f"'{name}' is not a metric of the plan; metrics are: {valid}")


def needs_history(settings: QuotaSettings, weights: Mapping[str, float]) -> bool:
    """Whether the settings use last year's revenue (history term or growth bounds)."""
    return (
        "history" in weights
        or settings.growth_min is not None
        or settings.growth_max is not None
        or bool(settings.segment_growth_bounds)
        or bool(settings.rep_growth_bounds)
    )


def validate(settings: QuotaSettings, problem: Problem) -> dict[str, float]:
    """Check the settings against the plan's problem; return the term weights.

    Raises
    ------
    InputError
        Naming the setting and what is wrong: unknown metrics (listing the
        metrics), segments or reps, and values out of range.
    """
    s = settings
    weights = s.weights()
    _check_metric(problem, "potential_metric", s.potential_metric)
    if needs_history(s, weights):
        _check_metric(problem, "history_metric", s.history_metric)
    if "capacity" in weights:
        _check_metric(problem, "workload_metric", s.workload_metric)
    if s.target is None and "top_down" in weights:
        _fail("target", "the top_down term splits a target; give target")
    if s.target is not None and not (math.isfinite(s.target) and s.target >= 0):
        _fail("target", f"must be a finite number >= 0, got {s.target}")
    if not (math.isfinite(s.rounding) and s.rounding > 0):
        _fail("rounding", f"must be a positive number, got {s.rounding}")
    if not (math.isfinite(s.buffer) and s.buffer > -1):
        _fail("buffer", f"must be > -1, got {s.buffer}")
    _check_pair(s.growth_min, s.growth_max, "growth_min", "growth_max", minimum=-1.0)
    _check_pair(s.floor, s.ceiling, "floor", "ceiling", minimum=0.0)
    segments = set(problem.segment_names)
    for setting, keys, known, what in (
        ("segment_growth", s.segment_growth, segments, "segment"),
        ("segment_growth_bounds", s.segment_growth_bounds, segments, "segment"),
        ("rep_growth_bounds", s.rep_growth_bounds, set(problem.rep_index), "rep"),
    ):
        for key in keys:
            if key not in known:
                shown = ", ".join(sorted(known)[:20]) or "(none)"
                _fail(setting, f"unknown {what} '{key}'; {what}s are: {shown}")
    for key, (lo, hi) in {**s.segment_growth_bounds, **s.rep_growth_bounds}.items():
        _check_pair(lo, hi, f"growth_min of '{key}'", f"growth_max of '{key}'", minimum=-1.0)
    _check_ramp(s.ramp)
    if s.seasonality is not None:
        w = s.seasonality
        if len(w) not in (4, 12) or any(not (math.isfinite(x) and x >= 0) for x in w):
            _fail("seasonality", "give 4 (quarters) or 12 (months) non-negative weights")
        if sum(w) <= 0:
            _fail("seasonality", "weights must not all be zero")
    for name, value in (("productivity", s.productivity), ("workload_per_fte", s.workload_per_fte)):
        if value is not None and not (math.isfinite(value) and value > 0):
            _fail(name, f"must be a positive number, got {value}")
    for name, value in (("sigma", s.sigma), ("rep_sigma", s.rep_sigma)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            _fail(name, f"must be a number >= 0, got {value}")
    if not s.fairness_tolerance >= 0:
        _fail("fairness_tolerance", f"must be >= 0, got {s.fairness_tolerance}")
    if s.simulations < 1:
        _fail("simulations", f"must be at least 1, got {s.simulations}")
    return weights


def _check_pair(
    lo: float | None, hi: float | None, lo_name: str, hi_name: str, *, minimum: float
) -> None:
    for name, value in ((lo_name, lo), (hi_name, hi)):
        if value is not None and not (math.isfinite(value) and value >= minimum):
            _fail(name, f"must be a finite number >= {minimum:g}, got {value}")
    if lo is not None and hi is not None and lo > hi:
        _fail(hi_name, f"{hi_name} ({hi}) is below {lo_name} ({lo})")


def _check_ramp(schedule: tuple[tuple[int, float], ...]) -> None:
    if not schedule:
        return
    firsts = [int(s[0]) for s in schedule]
    if firsts[0] != 0 or any(b <= a for a, b in zip(firsts, firsts[1:], strict=False)):
        _fail("ramp", "steps (first_month, factor) must start at month 0 and increase")
    if any(not 0.0 <= float(s[1]) <= 1.0 for s in schedule):
        _fail("ramp", "ramp factors must be in [0, 1]")
