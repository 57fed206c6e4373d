"""Ramp of new hires: the share of a full quota a rep carries, month by month.

A ramp schedule is data: steps ``(first_month, factor)`` counted in whole months
since the rep's ``start_date``. The default, :data:`DEFAULT_RAMP`, is

====================  ======
months since start    factor
====================  ======
0-2                   0.25
3-5                   0.50
6-8                   0.75
9 and later           1.00
====================  ======

The plan year has 12 months starting at ``plan_start``. In plan month ``k`` the
rep has been employed for ``e = months(plan_start + k months - start_date)``
whole months; the factor of that month is 0 when ``e < 0`` (not yet started),
the factor of the last step with ``first_month <= e`` otherwise. A rep without
a start date is fully ramped. The annual ramp factor is the mean of the 12
monthly factors, which is exact for a flat seasonality; the calendar split
(:mod:`territory_opt.quota.calendar`) uses the monthly factors themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

#: Months in a plan year.
MONTHS_PER_YEAR = 12

#: Default ramp: a quarter of a full quota in the first three months, then +25 %
#: per quarter (the schedule given as the example in the quota-setting issue).
DEFAULT_RAMP: tuple[tuple[int, float], ...] = ((0, 0.25), (3, 0.5), (6, 0.75), (9, 1.0))


def add_months(day: dt.date, months: int) -> dt.date:
    """Return ``day`` moved by whole months, the day clipped to the month's length.

    Examples
    --------
    >>> add_months(dt.date(2027, 1, 31), 1)
    datetime.date(2027, 2, 28)
    """
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    first_next = dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    last_day = (first_next - dt.timedelta(days=1)).day
    return dt.date(year, month + 1, min(day.day, last_day))


def months_employed(start: np.ndarray, at: dt.date) -> np.ndarray:
    """Whole months from each start date to ``at`` (negative before the start).

    Parameters
    ----------
    start
        ``datetime64[D]`` start dates; NaT gives a very large number (fully ramped).
    at
        The date of evaluation.

    Returns
    -------
    numpy.ndarray
        int64 months [months].
    """
    start = np.asarray(start, dtype="datetime64[D]")
    known = ~np.isnat(start)
    safe = np.where(known, start, np.datetime64("1970-01-01"))
    month_start = safe.astype("datetime64[M]")
    total_months = month_start.astype(np.int64)  # months since 1970-01
    day = (safe - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    at_months = (at.year - 1970) * 12 + at.month - 1
    elapsed = at_months - total_months - (at.day < day).astype(np.int64)
    return np.where(known, elapsed, np.iinfo(np.int32).max).astype(np.int64)


def monthly_ramp(
    start: np.ndarray,
    plan_start: dt.date | None,
    schedule: Sequence[tuple[int, float]],
) -> np.ndarray:
    """Ramp factor of every rep in each month of the plan year.

    Parameters
    ----------
    start
        ``(m,)`` ``datetime64[D]`` start dates (NaT: unknown, fully ramped).
    plan_start
        First day of the plan year; None disables the ramp (all factors 1).
    schedule
        Steps ``(first_month, factor)``, first months strictly increasing from 0.
        An empty schedule disables the ramp.

    Returns
    -------
    numpy.ndarray
        ``(m, 12)`` factors in [0, 1].

    Examples
    --------
    >>> f = monthly_ramp(np.array(["2027-02-01"], dtype="datetime64[D]"),
    ...                  dt.date(2027, 1, 1), DEFAULT_RAMP)
    >>> f[0].tolist()
    [0.0, 0.25, 0.25, 0.25, 0.5, 0.5, 0.5, 0.75, 0.75, 0.75, 1.0, 1.0]
    """
    m = len(start)
    if plan_start is None or not schedule:
        return np.ones((m, MONTHS_PER_YEAR))
    firsts = np.array([s[0] for s in schedule], dtype=np.int64)
    factors = np.array([s[1] for s in schedule], dtype=np.float64)
    out = np.empty((m, MONTHS_PER_YEAR))
    for k in range(MONTHS_PER_YEAR):
        elapsed = months_employed(start, add_months(plan_start, k))
        step = np.searchsorted(firsts, elapsed, side="right") - 1
        out[:, k] = np.where(elapsed < 0, 0.0, factors[np.clip(step, 0, len(factors) - 1)])
    return out
