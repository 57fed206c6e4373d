r"""Fair quotas: the LP that evens out quota per unit of potential.

Notes
-----
Let :math:`A_r \ge 0` be the effective potential of rep :math:`r`
(:mod:`territory_opt.quota.methods`), :math:`R^+ = \{r : A_r > 0\}`,
:math:`[\ell_r, u_r]` the rep's caps (:mod:`territory_opt.quota.caps`),
:math:`Q` the quota total and :math:`p_r` the method's proposal. The ratio
:math:`t_r = q_r / A_r` is the quota per unit of (effective) potential.

**Stage 1 (fairness).** Minimise the spread of the ratio:

.. math::

    S^* = \min_{q, t^{lo}, t^{hi}} \; t^{hi} - t^{lo}
    \quad\text{s.t.}\quad
    \sum_r q_r = Q,\qquad
    t^{lo} A_r \le q_r \le t^{hi} A_r \;\; (r \in R^+),\qquad
    \ell_r \le q_r \le u_r,\qquad t^{lo} \ge 0.

At the optimum :math:`t^{lo} = \min_{r \in R^+} t_r` and
:math:`t^{hi} = \max_{r \in R^+} t_r`, so :math:`S^*` is the smallest possible
``max - min`` of quota / potential under the caps. Reps with :math:`A_r = 0`
(no potential, or not started) carry no ratio and only their caps.

**Stage 2 (method as tie-break / soft target).** Among quotas whose spread is
within the tolerance :math:`\tau` (a fraction of the mean ratio
:math:`\bar t = Q / \sum_r A_r`), stay closest to the proposal in total absolute
change:

.. math::

    \min_{q, t, d^+, d^-} \sum_r (d^+_r + d^-_r)
    \quad\text{s.t.}\quad
    \text{stage-1 constraints},\qquad
    q_r - d^+_r + d^-_r = p_r,\qquad
    t^{hi} - t^{lo} \le S^* + \tau \bar t,\qquad d^\pm \ge 0.

With :math:`\tau = 0` the proposal only breaks ties among the fairest quotas;
with :math:`\tau = \infty` the proposal is fitted to the caps and the total
with the least change. For numerical scaling the LP is solved in units of the
mean quota :math:`Q/m` with ratios relative to :math:`\bar t`. Both stages are
built as column-wise sparse arrays and solved with HiGHS (dual simplex).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import coo_matrix

from territory_opt._errors import SolverError

#: Slack added to the stage-1 optimum in stage 2 so that solver round-off
#: (HiGHS feasibility tolerance 1e-7) cannot make stage 2 infeasible.
_SPREAD_SLACK = 1e-7


@dataclass(frozen=True)
class FairLP:
    r"""Continuous fair quotas from the two-stage LP.

    Attributes
    ----------
    quota
        ``(m,)`` quotas before rounding [currency].
    min_spread
        Stage-1 optimum :math:`S^*` of ``max - min`` quota / effective potential [-].
    spread
        Spread of the returned quotas [-].
    mean_ratio
        :math:`\bar t = Q / \sum A` [-].
    """

    quota: np.ndarray
    min_spread: float
    spread: float
    mean_ratio: float


def fair_quotas(
    effective_potential: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    total: float,
    proposal: np.ndarray,
    *,
    tolerance: float = 0.0,
) -> FairLP:
    r"""Solve the two-stage fairness LP (see the module notes).

    Parameters
    ----------
    effective_potential
        ``(m,)`` :math:`A_r` [currency].
    lower, upper
        ``(m,)`` caps [currency]; ``upper`` may be inf.
    total
        Quota total :math:`Q` [currency], with ``sum(lower) <= Q <= sum(upper)``.
    proposal
        ``(m,)`` the method's proposal [currency].
    tolerance
        :math:`\tau`, allowed extra spread as a fraction of the mean ratio [-].

    Returns
    -------
    FairLP

    Raises
    ------
    SolverError
        When HiGHS does not prove an optimum (the caller checks reachability first).

    Examples
    --------
    >>> r = fair_quotas(np.array([1.0, 2.0, 1.0]), np.zeros(3), np.array([9.0, 9.0, 0.5]),
    ...                 4.0, np.full(3, 4 / 3))
    >>> np.round(r.quota, 6).tolist(), round(r.min_spread, 6)
    ([1.166667, 2.333333, 0.5], 0.666667)
    """
    a = np.asarray(effective_potential, dtype=np.float64)
    m = len(a)
    scale = total / m if total > 0 else 1.0
    a_sum = float(a.sum())
    mean_ratio = total / a_sum if a_sum > 0 else 0.0
    alpha = m * a / a_sum if a_sum > 0 else np.zeros(m)
    lo = np.asarray(lower, dtype=np.float64) / scale
    hi = np.asarray(upper, dtype=np.float64) / scale
    p = np.asarray(proposal, dtype=np.float64) / scale
    ratio_reps = np.flatnonzero(alpha > 0)
    if len(ratio_reps) == 0:
        # No potential anywhere: fairness is void, fit the proposal to the caps.
        x = _solve(alpha, lo, hi, total / scale, p, ratio_reps, spread_cap=math.inf)[0]
        return FairLP(x * scale, 0.0, 0.0, mean_ratio)
    _, stage1 = _solve(alpha, lo, hi, total / scale, None, ratio_reps, spread_cap=None)
    cap = stage1 + tolerance + _SPREAD_SLACK if math.isfinite(tolerance) else math.inf
    x, _ = _solve(alpha, lo, hi, total / scale, p, ratio_reps, spread_cap=cap)
    x = np.clip(x, lo, hi) * scale
    ratio = x[ratio_reps] / a[ratio_reps]
    spread = float(ratio.max() - ratio.min())
    return FairLP(x, stage1 * mean_ratio, spread, mean_ratio)


def _solve(
    alpha: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    total: float,
    proposal: np.ndarray | None,
    ratio_reps: np.ndarray,
    *,
    spread_cap: float | None,
) -> tuple[np.ndarray, float]:
    """Build and solve one stage; return (quotas in scaled units, spread t_hi - t_lo).

    Columns: ``x`` (m), ``t_lo``, ``t_hi`` and, with a proposal, ``d+`` (m),
    ``d-`` (m). Rows: total, lower ratio rows, upper ratio rows, then (with a
    proposal) deviation rows and the spread cap.
    """
    m = len(alpha)
    k = len(ratio_reps)
    inf = highspy.kHighsInf
    dev = proposal is not None
    n_col = m + 2 + (2 * m if dev else 0)
    t_lo, t_hi = m, m + 1
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    row_lo: list[np.ndarray] = []
    row_hi: list[np.ndarray] = []

    def block(r: np.ndarray, c: np.ndarray, v: np.ndarray) -> None:
        rows.append(r)
        cols.append(c)
        vals.append(v)

    # Row 0: sum x = Q.
    block(np.zeros(m, dtype=np.int64), np.arange(m), np.ones(m))
    row_lo.append(np.array([total]))
    row_hi.append(np.array([total]))
    # Rows 1..k: x_r - alpha_r t_lo >= 0;  rows k+1..2k: x_r - alpha_r t_hi <= 0.
    for offset, t_col, lo_v, hi_v in ((1, t_lo, 0.0, inf), (1 + k, t_hi, -inf, 0.0)):
        r = offset + np.arange(k)
        block(r, ratio_reps, np.ones(k))
        block(r, np.full(k, t_col), -alpha[ratio_reps])
        row_lo.append(np.full(k, lo_v))
        row_hi.append(np.full(k, hi_v))
    n_row = 1 + 2 * k
    cost = np.zeros(n_col)
    if not dev:
        cost[t_hi], cost[t_lo] = 1.0, -1.0
    else:
        assert proposal is not None
        # Rows: x_r - d+_r + d-_r = p_r.
        r = n_row + np.arange(m)
        block(r, np.arange(m), np.ones(m))
        block(r, m + 2 + np.arange(m), -np.ones(m))
        block(r, 2 * m + 2 + np.arange(m), np.ones(m))
        row_lo.append(proposal)
        row_hi.append(proposal)
        n_row += m
        cost[m + 2 :] = 1.0
        if spread_cap is not None and math.isfinite(spread_cap) and k:
            block(np.array([n_row, n_row]), np.array([t_hi, t_lo]), np.array([1.0, -1.0]))
            row_lo.append(np.array([-inf]))
            row_hi.append(np.array([spread_cap]))
            n_row += 1
    col_lo = np.zeros(n_col)
    col_hi = np.full(n_col, inf)
    col_lo[:m] = lo
    col_hi[:m] = np.where(np.isfinite(hi), hi, inf)
    matrix = coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_row, n_col),
    ).tocsc()
    lp = highspy.HighsLp()
    lp.num_col_ = n_col
    lp.num_row_ = n_row
    lp.col_cost_ = cost
    lp.col_lower_ = col_lo
    lp.col_upper_ = col_hi
    lp.row_lower_ = np.concatenate(row_lo)
    lp.row_upper_ = np.concatenate(row_hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(np.float64)
    lp.a_matrix_.num_col_ = n_col
    lp.a_matrix_.num_row_ = n_row
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        msg = f"the fairness LP ended with status '{h.modelStatusToString(status)}'"
        raise SolverError(msg)
    values = np.asarray(h.getSolution().col_value, dtype=np.float64)
    return values[:m], float(values[t_hi] - values[t_lo])


@dataclass(frozen=True)
class FairnessStats:
    """How even quota per unit of effective potential is across reps.

    Attributes
    ----------
    min, max, mean
        Of the ratio quota / effective potential over reps with potential [-].
    cv
        Coefficient of variation (population standard deviation / mean) [-].
    gini
        Gini coefficient of the ratios [-], 0 = all equal.
    spread
        ``max - min`` of the final (rounded) quotas [-].
    min_spread
        The LP's smallest achievable spread before rounding [-].
    """

    min: float
    max: float
    mean: float
    cv: float
    gini: float
    spread: float
    min_spread: float


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 when all are equal or empty).

    Examples
    --------
    >>> gini(np.array([1.0, 1.0, 1.0])), gini(np.array([0.0, 0.0, 3.0]))
    (0.0, 0.6666666666666666)
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    total = float(x.sum())
    if n == 0 or total <= 0:
        return 0.0
    # G = sum_i (2 i - n - 1) x_(i) / (n sum x), i = 1..n over sorted values.
    return float(np.sum((2 * np.arange(1, n + 1) - n - 1) * x) / (n * total))


def fairness_stats(ratio: np.ndarray, min_spread: float) -> FairnessStats:
    """Summarise per-rep ratios (NaN for reps without potential are ignored)."""
    r = ratio[np.isfinite(ratio)]
    if len(r) == 0:
        return FairnessStats(math.nan, math.nan, math.nan, math.nan, 0.0, 0.0, min_spread)
    mean = float(r.mean())
    cv = float(r.std() / mean) if mean > 0 else 0.0
    return FairnessStats(
        float(r.min()), float(r.max()), mean, cv, gini(r), float(r.max() - r.min()), min_spread
    )
