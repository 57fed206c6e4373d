"""The KPI table of a report: one row per KPI, one column per plan.

Every number is computed from the plan itself (its Problem, assignment and
``territories_frame``) with the shared helpers of :mod:`territory_opt.metrics`,
so the report shows what the solver and the plan folder mean by the same name.

Balance KPIs use each rep's ratio ``total / target`` over reps with a positive
target, where the target is the one of ``territories.csv`` (the band's
capacity-scaled target within the rep's segment pool for band metrics, the
capacity share of the total otherwise):

- *spread*: ``max(ratio) - min(ratio)`` [-], shown in percentage points;
- *max ÷ min*: ``max(ratio) / min(ratio)`` [-];
- *coefficient of variation*: population standard deviation / mean of the ratio [-];
- *worst deviation*: ``max |ratio - 1|`` [-].

Disruption counts accounts whose rep differs from their current rep; the share
is of the accounts (or metric total) that have a current rep.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from territory_opt.data.schema import CoordSystem
from territory_opt.geo.distance import pair_distance
from territory_opt.plan import Plan
from territory_opt.quota.fairness import fairness_stats
from territory_opt.report.plans import ReportPlan


class Format(StrEnum):
    """How a KPI value is shown (HTML) and number-formatted (Excel)."""

    COUNT = "count"
    NUMBER = "number"
    PERCENT = "percent"
    RATIO = "ratio"
    DISTANCE = "distance"
    SECONDS = "seconds"
    TEXT = "text"


#: Excel number format of each KPI format.
EXCEL_FORMATS: dict[Format, str] = {
    Format.COUNT: "#,##0",
    Format.NUMBER: "#,##0.00",
    Format.PERCENT: "0.00%",
    Format.RATIO: "0.0000",
    Format.DISTANCE: "#,##0.0",
    Format.SECONDS: "0.00",
    Format.TEXT: "@",
}


def format_value(value: object, fmt: Format | str) -> str:
    """Format a KPI value for the page; missing values show as an en dash.

    Examples
    --------
    >>> format_value(12345, "count"), format_value(0.0512, "percent")
    ('12,345', '5.12 %')
    >>> format_value(2110481.739, "number"), format_value(float("nan"), "ratio")
    ('2,110,482', '–')
    """
    fmt = Format(fmt)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if fmt == Format.TEXT:
        return str(value)
    v = float(value)  # type: ignore[arg-type]
    if fmt == Format.COUNT:
        return f"{round(v):,}"
    if fmt == Format.PERCENT:
        return f"{100 * v:.2f} %"
    if fmt == Format.RATIO:
        return f"{v:.4f}"
    if fmt == Format.DISTANCE:
        return f"{v:,.1f}"
    if fmt == Format.SECONDS:
        return f"{v:.2f}"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


@dataclass(frozen=True)
class BalanceStats:
    """How evenly one metric is spread over reps, relative to each rep's target.

    Attributes
    ----------
    spread
        ``max - min`` of ``total / target`` [-].
    max_min
        ``max / min`` of ``total / target`` [-]; inf when a rep has none.
    cv
        Coefficient of variation of ``total / target`` [-].
    worst
        Largest ``|total / target - 1|`` [-].
    """

    spread: float
    max_min: float
    cv: float
    worst: float


def balance_stats(total: np.ndarray, target: np.ndarray) -> BalanceStats:
    """Summarise per-rep totals against their targets (reps with target > 0).

    Examples
    --------
    >>> s = balance_stats(np.array([95.0, 105.0, 50.0]), np.array([100.0, 100.0, 50.0]))
    >>> round(s.spread, 4), round(s.max_min, 4), round(s.worst, 4)
    (0.1, 1.1053, 0.05)
    """
    total = np.asarray(total, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    keep = target > 0
    if not keep.any():
        return BalanceStats(math.nan, math.nan, math.nan, math.nan)
    ratio = total[keep] / target[keep]
    lo, hi, mean = float(ratio.min()), float(ratio.max()), float(ratio.mean())
    return BalanceStats(
        spread=hi - lo,
        max_min=hi / lo if lo > 0 else math.inf,
        cv=float(ratio.std() / mean) if mean > 0 else math.nan,
        worst=float(np.abs(ratio - 1.0).max()),
    )


def balance_metrics(plans: Sequence[ReportPlan]) -> list[str]:
    """Metrics to report balance on: every band metric of any plan, else all metrics."""
    names: list[str] = []
    for rp in plans:
        for band in rp.plan.spec.bands:
            if band.metric not in names:
                names.append(band.metric)
    if names:
        return names
    for rp in plans:
        for name in rp.plan.problem.metric_names:
            if name not in names:
                names.append(name)
    return names


def disruption_metric(plans: Sequence[ReportPlan]) -> str | None:
    """Return the metric whose moved share the frontier plots.

    The first plan's ``moved_share_metric`` or ``disruption_metric``, else
    ``potential``, else the first metric; None without metrics.
    """
    if not plans:
        return None
    first = plans[0].plan
    metrics = first.problem.metric_names
    for name in (first.spec.moved_share_metric, first.spec.disruption_metric, "potential"):
        if name is not None and name in metrics:
            return name
    return metrics[0] if metrics else None


def distance_unit(plan: Plan) -> str:
    """``km`` for lat/lon books, ``units`` (the file's own) for x/y books."""
    return "km" if plan.problem.coord_system == CoordSystem.LATLON else "units"


def account_distances(plan: Plan, assignment: np.ndarray | None = None) -> np.ndarray | None:
    """Distance of each account to its rep's travel origin [km or file units].

    The origin is the one the solver's travel term uses (the rep's home, else
    the centroid of the rep's current book). None without locations.
    """
    from territory_opt.alignment.instance import rep_centers

    p = plan.problem
    x = plan.assignment if assignment is None else assignment
    if p.account_coords is None or p.coord_system is None or x is None:
        return None
    centers = rep_centers(p)
    return pair_distance(p.account_coords, centers, np.arange(p.n_accounts), x, p.coord_system)


def _row(rows: list[dict[str, object]], key: str, group: str, label: str, fmt: Format) -> dict:
    row: dict[str, object] = {"key": key, "group": group, "label": label, "format": str(fmt)}
    rows.append(row)
    return row


def moved_share(plan: Plan, metric: str) -> tuple[float, float]:
    """Total of ``metric`` on moved accounts and its share of the owned total."""
    p = plan.problem
    basis = np.nan_to_num(p.metric(metric), nan=0.0)
    owned = float(basis[p.current_rep >= 0].sum())
    moved = float(basis[plan.moved].sum())
    return moved, moved / owned if owned > 0 else math.nan


def kpi_table(plans: Sequence[ReportPlan]) -> pd.DataFrame:
    """Build the KPI table.

    Parameters
    ----------
    plans
        The plans of the report.

    Returns
    -------
    pandas.DataFrame
        Columns ``key`` (stable identifier, e.g. ``balance.potential.worst``),
        ``group``, ``label``, ``format`` (a :class:`Format` value), then one
        column per plan (named after the plan) holding the value: a float (NaN
        when it does not apply), an int or a string.
    """
    rows: list[dict[str, object]] = []
    names = [rp.name for rp in plans]

    def add(key: str, group: str, label: str, fmt: Format, values: list[object]) -> None:
        row = _row(rows, key, group, label, fmt)
        row.update(zip(names, values, strict=True))

    stats = [_plan_stats(rp) for rp in plans]
    add("plan.status", "Plan", "status", Format.TEXT, [str(rp.plan.status) for rp in plans])
    add(
        "plan.accounts",
        "Plan",
        "accounts",
        Format.COUNT,
        [rp.plan.problem.n_accounts for rp in plans],
    )
    add("plan.reps", "Plan", "reps (seats)", Format.COUNT, [rp.plan.problem.n_reps for rp in plans])
    add(
        "solver.objective",
        "Solver",
        "objective",
        Format.NUMBER,
        [rp.plan.objective for rp in plans],
    )
    add(
        "solver.lower_bound",
        "Solver",
        "lower bound",
        Format.NUMBER,
        [rp.plan.lower_bound for rp in plans],
    )
    add("solver.gap", "Solver", "gap to the bound", Format.PERCENT, [rp.plan.gap for rp in plans])
    add(
        "solver.solver",
        "Solver",
        "solver (backend)",
        Format.TEXT,
        [f"{rp.plan.solver} {rp.plan.solver_version} ({rp.plan.backend})" for rp in plans],
    )
    add(
        "solver.seconds",
        "Solver",
        "solve time [s]",
        Format.SECONDS,
        [rp.plan.seconds for rp in plans],
    )
    add(
        "solver.time_limit",
        "Solver",
        "time limit [s]",
        Format.SECONDS,
        [rp.plan.options.time_limit for rp in plans],
    )
    for metric in balance_metrics(plans):
        group = f"Balance: {metric}"
        add(
            f"balance.{metric}.band",
            group,
            "band (± of target)",
            Format.PERCENT,
            [_band(rp.plan, metric) for rp in plans],
        )
        for attr, label, fmt in (
            ("spread", "spread (max − min of total ÷ target)", Format.PERCENT),
            ("max_min", "max ÷ min of total ÷ target", Format.RATIO),
            ("cv", "coefficient of variation", Format.RATIO),
            ("worst", "worst deviation from target", Format.PERCENT),
        ):
            add(
                f"balance.{metric}.{attr}",
                group,
                label,
                fmt,
                [
                    getattr(s.balance[metric], attr) if metric in s.balance else math.nan
                    for s in stats
                ],
            )
    unit = distance_unit(plans[0].plan) if plans else "km"
    add(
        "travel.objective",
        "Travel",
        "travel (objective term)",
        Format.NUMBER,
        [
            rp.plan.objective_terms.get("travel", math.nan) if rp.has_assignment else math.nan
            for rp in plans
        ],
    )
    add(
        "travel.mean",
        "Travel",
        f"mean distance to rep [{unit}]",
        Format.DISTANCE,
        [s.mean_km for s in stats],
    )
    add(
        "travel.max",
        "Travel",
        f"longest distance to rep [{unit}]",
        Format.DISTANCE,
        [s.max_km for s in stats],
    )
    add("moved.accounts", "Disruption", "accounts moved", Format.COUNT, [s.moved for s in stats])
    add(
        "moved.accounts_share",
        "Disruption",
        "share of owned accounts moved",
        Format.PERCENT,
        [s.moved_share for s in stats],
    )
    metric_names: list[str] = []
    for rp in plans:
        metric_names += [m for m in rp.plan.problem.metric_names if m not in metric_names]
    for metric in metric_names:
        add(
            f"moved.{metric}",
            "Disruption",
            f"{metric} moved",
            Format.NUMBER,
            [s.moved_metric.get(metric, (math.nan, math.nan))[0] for s in stats],
        )
        add(
            f"moved.{metric}_share",
            "Disruption",
            f"share of owned {metric} moved",
            Format.PERCENT,
            [s.moved_metric.get(metric, (math.nan, math.nan))[1] for s in stats],
        )
    if any(rp.quotas is not None for rp in plans):
        quota = [_quota_stats(rp.quotas) for rp in plans]
        for key, label, fmt in (
            ("total", "quota total", Format.NUMBER),
            ("min", "quota ÷ potential: lowest", Format.RATIO),
            ("max", "quota ÷ potential: highest", Format.RATIO),
            ("spread", "quota ÷ potential: spread (max − min)", Format.RATIO),
            ("cv", "quota ÷ potential: coefficient of variation", Format.RATIO),
            ("gini", "quota ÷ potential: Gini", Format.RATIO),
            ("share_at_quota", "expected share of reps at quota", Format.PERCENT),
        ):
            add(f"quota.{key}", "Quota", label, fmt, [q.get(key, math.nan) for q in quota])
    frame = pd.DataFrame(rows, columns=["key", "group", "label", "format", *names])
    return frame.astype(object)


def _band(plan: Plan, metric: str) -> float:
    for band in plan.spec.bands:
        if band.metric == metric:
            return band.tolerance
    return math.nan


@dataclass(frozen=True)
class _PlanStats:
    balance: dict[str, BalanceStats]
    mean_km: float
    max_km: float
    moved: float
    moved_share: float
    moved_metric: dict[str, tuple[float, float]]


def _plan_stats(rp: ReportPlan) -> _PlanStats:
    plan = rp.plan
    if plan.assignment is None:
        return _PlanStats({}, math.nan, math.nan, math.nan, math.nan, {})
    territories = rp.territories()
    balance = {
        name: balance_stats(
            territories[name].to_numpy(dtype=np.float64),
            territories[f"{name}_target"].to_numpy(dtype=np.float64),
        )
        for name in plan.problem.metric_names
    }
    dist = account_distances(plan)
    owned = int((plan.problem.current_rep >= 0).sum())
    moved = int(plan.moved.sum())
    return _PlanStats(
        balance=balance,
        mean_km=float(dist.mean()) if dist is not None and len(dist) else math.nan,
        max_km=float(dist.max()) if dist is not None and len(dist) else math.nan,
        moved=moved,
        moved_share=moved / owned if owned else math.nan,
        moved_metric={name: moved_share(plan, name) for name in plan.problem.metric_names},
    )


def _quota_stats(quotas: pd.DataFrame | None) -> dict[str, float]:
    if quotas is None:
        return {}
    ratio = quotas["quota_per_potential"].to_numpy(dtype=np.float64)
    fair = fairness_stats(ratio, math.nan)
    has_quota = quotas["quota"].to_numpy(dtype=np.float64) > 0
    p_attain = quotas["p_attain"].to_numpy(dtype=np.float64)[has_quota]
    share = float(np.nanmean(p_attain)) if np.isfinite(p_attain).any() else math.nan
    return {
        "total": float(quotas["quota"].sum()),
        "min": fair.min,
        "max": fair.max,
        "spread": fair.spread,
        "cv": fair.cv,
        "gini": fair.gini,
        "share_at_quota": share,
    }


def frontier_table(plans: Sequence[ReportPlan]) -> pd.DataFrame:
    """Balance against disruption, one row per plan with an assignment.

    Returns
    -------
    pandas.DataFrame
        ``plan``, ``max_deviation`` (worst deviation from target over the
        balance metrics [-]), ``moved_accounts``, ``moved_share`` (share of the
        owned total of :func:`disruption_metric` moved [-]) and
        ``efficient``: True for plans that no other plan beats on both balance
        and accounts moved (the frontier).
    """
    metrics = balance_metrics(plans)
    basis = disruption_metric(plans)
    rows = []
    for rp in plans:
        if rp.plan.assignment is None:
            continue
        stats = _plan_stats(rp)
        worst = [stats.balance[m].worst for m in metrics if m in stats.balance]
        share = stats.moved_metric.get(basis, (math.nan, math.nan))[1] if basis else math.nan
        rows.append(
            {
                "plan": rp.name,
                "max_deviation": max(worst) if worst else math.nan,
                "moved_accounts": int(stats.moved),
                "moved_share": share,
            }
        )
    frame = pd.DataFrame(rows, columns=["plan", "max_deviation", "moved_accounts", "moved_share"])
    dev = frame["max_deviation"].to_numpy(dtype=np.float64)
    moved = frame["moved_accounts"].to_numpy(dtype=np.float64)
    dominated = np.zeros(len(frame), dtype=bool)
    for i in range(len(frame)):
        better = (dev <= dev[i]) & (moved <= moved[i]) & ((dev < dev[i]) | (moved < moved[i]))
        dominated[i] = bool(better.any())
    frame["efficient"] = ~dominated
    return frame
