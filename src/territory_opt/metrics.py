"""KPIs of an assignment, shared by the solver, the plan folder, reports and tests."""

from __future__ import annotations

import numpy as np

from territory_opt.data.problem import NO_INDEX, Problem


def rep_totals(problem: Problem, assignment: np.ndarray) -> np.ndarray:
    """``(m, k)`` metric totals per rep (account values; pair-only metrics use pair values)."""
    m, k = problem.n_reps, len(problem.metric_names)
    out = np.zeros((m, k))
    values = account_metric_values(problem, assignment)
    ok = assignment >= 0
    for j in range(k):
        out[:, j] = np.bincount(assignment[ok], weights=values[ok, j], minlength=m)
    return out


def account_metric_values(problem: Problem, assignment: np.ndarray) -> np.ndarray:
    """Metric value of each account under its assigned rep (pair overrides applied)."""
    values = np.nan_to_num(problem.metrics.copy(), nan=0.0)
    pairs = problem.pairs
    if pairs is None:
        return values
    keys = pairs.account.astype(np.int64) * problem.n_reps + pairs.rep
    own = np.arange(problem.n_accounts, dtype=np.int64) * problem.n_reps + assignment
    pos = np.searchsorted(keys, own).clip(0, max(len(keys) - 1, 0))
    found = (keys[pos] == own) & (assignment >= 0) if len(keys) else np.zeros(len(own), bool)
    for j in range(values.shape[1]):
        override = pairs.metrics[pos, j]
        use = found & ~np.isnan(override)
        values[use, j] = override[use]
    return values


def moved_mask(problem: Problem, assignment: np.ndarray) -> np.ndarray:
    """Flag accounts that have a current rep and are assigned to another one."""
    cur = problem.current_rep
    return (cur != NO_INDEX) & (cur != assignment)
