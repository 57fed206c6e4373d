"""The quota result, its tables and ``quotas.csv``.

``quotas.csv`` has one row per rep: ``rep_id``, ``segment``, ``manager_id``,
``quota``, ``proposal``, the method terms (``term_top_down``, ``term_history``,
``term_capacity``, each as its method computes it), ``potential``,
``effective_potential``, ``revenue_ly``, ``growth``, ``ramp``, ``capacity`` (FTE),
``workload``, ``quota_min``/``quota_max`` (the caps, empty when uncapped),
``quota_per_potential``, ``expected_attainment``, ``p_attain`` and, with a
seasonality, ``q1``..``q4`` or ``m01``..``m12``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from territory_opt._atomic import write_file_atomic
from territory_opt._errors import InputError
from territory_opt.quota.attainment import Attainment
from territory_opt.quota.calendar import Calendar
from territory_opt.quota.fairness import FairnessStats
from territory_opt.quota.settings import QuotaSettings

if TYPE_CHECKING:  # plan imports the alignment package, which imports plan
    from territory_opt.plan import Plan

#: Name of the quota file in a plan folder.
QUOTAS_FILE = "quotas.csv"


@dataclass(frozen=True, eq=False)
class QuotaResult:
    """Quotas of every rep with their terms, caps, fairness and attainment.

    All per-rep arrays are ``(m,)`` in the order of ``rep_ids``.

    Attributes
    ----------
    plan, settings
        What the quotas were set from.
    rep_ids
        Rep ids.
    quota
        Final quota [currency], a multiple of ``settings.rounding``.
    proposal
        The method's proposal scaled to the quota total [currency].
    terms
        Each method term as computed [currency]: ``top_down``, ``history``,
        ``capacity`` (those whose inputs exist).
    weights
        Weight of each term in the proposal [-].
    potential, effective_potential
        Territory potential and ramp (x FTE) adjusted potential [currency].
    revenue_ly
        Territory revenue last year [currency], or None.
    workload
        Territory workload [workload units], or None.
    capacity
        FTE [-].
    ramp
        Annual ramp factor [-].
    growth
        ``quota / (ramp x f x revenue_ly) - 1``, the growth the caps bound [-];
        NaN without last-year revenue.
    lower, upper
        Caps [currency]; ``upper`` is inf where uncapped.
    ratio
        ``quota / effective_potential`` [-]; NaN without potential.
    fairness
        Spread statistics of ``ratio``.
    attainment
        Monte Carlo attainment.
    calendar
        Quarterly or monthly split, or None without a seasonality.
    target
        Company target before buffer [currency] (the proposal's total when no
        target was given).
    total
        Sum of quotas [currency]: the buffered target rounded to the unit.
    """

    plan: Plan
    settings: QuotaSettings
    rep_ids: np.ndarray
    quota: np.ndarray
    proposal: np.ndarray
    terms: Mapping[str, np.ndarray]
    weights: Mapping[str, float]
    potential: np.ndarray
    effective_potential: np.ndarray
    revenue_ly: np.ndarray | None
    workload: np.ndarray | None
    capacity: np.ndarray
    ramp: np.ndarray
    growth: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    ratio: np.ndarray
    fairness: FairnessStats
    attainment: Attainment
    calendar: Calendar | None
    target: float
    total: float


def _rep_attr(result: QuotaResult, name: str) -> np.ndarray:
    attrs = result.plan.problem.rep_attrs
    if name in attrs:
        return np.asarray(attrs[name], dtype=object)
    return np.full(len(result.rep_ids), "", dtype=object)


def quota_table(result: QuotaResult) -> pd.DataFrame:
    """Return the content of ``quotas.csv``: one row per rep (see the module docstring)."""
    r = result
    nan = np.full(len(r.rep_ids), np.nan)
    columns: dict[str, np.ndarray] = {
        "rep_id": np.asarray(r.rep_ids, dtype=object),
        "segment": _rep_attr(r, "segment"),
        "manager_id": _rep_attr(r, "manager_id"),
        "quota": r.quota,
        "proposal": r.proposal,
    }
    for name in ("top_down", "history", "capacity"):
        if name in r.terms:
            columns[f"term_{name}"] = r.terms[name]
    columns |= {
        "potential": r.potential,
        "effective_potential": r.effective_potential,
        "revenue_ly": nan if r.revenue_ly is None else r.revenue_ly,
        "growth": r.growth,
        "ramp": r.ramp,
        "capacity": r.capacity,
        "workload": nan if r.workload is None else r.workload,
        "quota_min": r.lower,
        "quota_max": np.where(np.isfinite(r.upper), r.upper, np.nan),
        "quota_per_potential": r.ratio,
        "expected_attainment": r.attainment.expected,
        "p_attain": r.attainment.p_attain,
    }
    if r.calendar is not None:
        for j, name in enumerate(r.calendar.periods):
            columns[name] = r.calendar.quota[:, j]
    return pd.DataFrame(columns)


def rollups(result: QuotaResult) -> pd.DataFrame:
    """Sum quotas by manager, by team (segment) and for the whole company.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``level`` (``manager``, ``segment``, ``total``),
        ``group`` (the manager id or segment; ``(none)`` for reps without one),
        ``reps``, the sums of ``quota``, ``proposal``, ``potential``,
        ``effective_potential``, ``revenue_ly`` and the calendar columns,
        ``quota_per_potential`` (quota / effective potential of the group),
        ``expected_attainment`` (expected revenue / quota of the group) and
        ``share_attaining`` (expected share of its reps reaching quota).
    """
    table = quota_table(result)
    periods = list(result.calendar.periods) if result.calendar is not None else []
    sums = ["quota", "proposal", "potential", "effective_potential", "revenue_ly", *periods]
    work = table[sums].copy()
    work["reps"] = 1
    work["expected_revenue"] = np.nan_to_num(table["expected_attainment"].to_numpy() * result.quota)
    work["p_attain"] = table["p_attain"]
    frames = []
    for level, keys in (
        ("manager", table["manager_id"].to_numpy(dtype=object)),
        ("segment", table["segment"].to_numpy(dtype=object)),
        ("total", np.full(len(table), "all", dtype=object)),
    ):
        groups = pd.Series(np.where(keys == "", "(none)", keys), dtype=object, name="group")
        agg = work.groupby(groups, sort=True).agg(
            {**dict.fromkeys([*sums, "reps", "expected_revenue"], "sum"), "p_attain": "mean"}
        )
        agg.insert(0, "level", level)
        frames.append(agg.reset_index())
    out = pd.concat(frames, ignore_index=True)
    quota = out["quota"].to_numpy(dtype=np.float64)
    eff = out["effective_potential"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["quota_per_potential"] = np.where(eff > 0, quota / eff, np.nan)
        out["expected_attainment"] = np.where(
            quota > 0, out["expected_revenue"].to_numpy(dtype=np.float64) / quota, np.nan
        )
    out = out.rename(columns={"p_attain": "share_attaining"}).drop(columns="expected_revenue")
    first = ["level", "group", "reps"]
    return out[first + [c for c in out.columns if c not in first]]


def quotas_csv_bytes(result: QuotaResult) -> bytes:
    """``quotas.csv`` as bytes: UTF-8, LF line ends, no index, floats as ``%.10g``."""
    text = quota_table(result).to_csv(index=False, lineterminator="\n", float_format="%.10g")
    return text.encode("utf-8")


def write_quotas(result: QuotaResult, plan_dir: str | Path) -> Path:
    """Write ``quotas.csv`` atomically into an existing plan folder.

    The file is written to a temp file in the same folder, flushed to disk and
    renamed over ``quotas.csv`` (``os.replace``), so readers see the old file or
    the complete new one.

    Parameters
    ----------
    result
        The quotas.
    plan_dir
        An existing plan folder.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    InputError
        When ``plan_dir`` is not an existing folder.
    """
    folder = Path(plan_dir)
    if not folder.is_dir():
        raise InputError.single(str(folder), "is not an existing plan folder; write the plan first")
    data = quotas_csv_bytes(result)
    target = write_file_atomic(folder / QUOTAS_FILE, data)
    return target
