"""Calendar split: annual quotas into quarters or months that add up exactly.

A seasonality profile is data: 4 (quarters) or 12 (months) non-negative weights,
period 1 starting at the plan start. Rep ``r``'s weight for period ``p`` is the
seasonality weight times the rep's mean ramp factor over the months of the
period (:mod:`territory_opt.quota.ramp`), so a new hire's quota lands in the
months they work. The annual quota, a whole number of rounding units, is split
by the largest-remainder method, so every period is a multiple of the unit and
the periods sum to the annual quota exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from territory_opt.quota.ramp import MONTHS_PER_YEAR
from territory_opt.quota.rounding import split_units


@dataclass(frozen=True)
class Calendar:
    """Quota per rep and period.

    Attributes
    ----------
    periods
        Column names: ``q1``..``q4`` or ``m01``..``m12``.
    seasonality
        The profile, normalised to sum to 1 [-].
    quota
        ``(m, p)`` quota per rep and period [currency].
    """

    periods: tuple[str, ...]
    seasonality: np.ndarray
    quota: np.ndarray


def period_names(n_periods: int) -> tuple[str, ...]:
    """Return ``q1..q4`` for quarters and ``m01..m12`` for months.

    Examples
    --------
    >>> period_names(4)
    ('q1', 'q2', 'q3', 'q4')
    """
    if n_periods == 4:
        return tuple(f"q{i}" for i in range(1, 5))
    return tuple(f"m{i:02d}" for i in range(1, n_periods + 1))


def split_calendar(
    quota_units: np.ndarray,
    unit: float,
    seasonality: Sequence[float],
    monthly_ramp: np.ndarray,
) -> Calendar:
    """Split annual quotas over the periods of a seasonality profile.

    Parameters
    ----------
    quota_units
        ``(m,)`` annual quota in rounding units (integers) [-].
    unit
        Rounding unit [currency].
    seasonality
        4 or 12 non-negative weights.
    monthly_ramp
        ``(m, 12)`` ramp factor per plan month [-].

    Returns
    -------
    Calendar

    Examples
    --------
    >>> c = split_calendar(np.array([10]), 1000.0, (1, 1, 1, 2), np.ones((1, 12)))
    >>> c.quota.tolist()
    [[2000.0, 2000.0, 2000.0, 4000.0]]
    """
    season = np.asarray(seasonality, dtype=np.float64)
    p = len(season)
    months = MONTHS_PER_YEAR // p
    ramp = monthly_ramp.reshape(len(monthly_ramp), p, months).mean(axis=2)
    weights = season[None, :] * ramp
    # A rep with no working period (zero quota) falls back to the plain profile.
    empty = weights.sum(axis=1) <= 0
    weights[empty] = season
    units = split_units(np.asarray(quota_units, dtype=np.int64), weights)
    return Calendar(period_names(p), season / season.sum(), units * float(unit))
