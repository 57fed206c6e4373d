r"""Expected attainment: a seeded Monte Carlo of next year's revenue.

Notes
-----
**Noise model.** Account :math:`i` of rep :math:`r` realises revenue

.. math::

    R_i = \kappa \, s_r \, P_i \, \varepsilon_i \, \eta_r,\qquad
    \varepsilon_i \sim \mathrm{LogNormal}(-\sigma^2/2,\ \sigma),\qquad
    \eta_r \sim \mathrm{LogNormal}(-\sigma_{rep}^2/2,\ \sigma_{rep}),

all independent, each with mean 1. :math:`P_i` is the account's potential,
:math:`s_r = \rho_r f_r` the rep's ramp (and FTE) factor, so the rep's expected
revenue is :math:`\kappa A_r`, and :math:`\kappa = T / \sum_r A_r` makes the team's
expected revenue equal the company target :math:`T` before the buffer: the target
is read as the expected sale. The rep-level shock :math:`\eta_r` is off by default
(:math:`\sigma_{rep} = 0`).

**Calibration of** :math:`\sigma`. When the history metric exists, the account
ratios :math:`y_i = H_i / P_i` over accounts with potential give the coefficient of
variation :math:`CV = \mathrm{sd}(y) / \mathrm{mean}(y)`, and the lognormal with
the same CV has :math:`\sigma = \sqrt{\ln(1 + CV^2)}` (method of moments; zeros,
i.e. whitespace accounts, count). This is the cross-sectional dispersion of
revenue around potential, used as the spread of one account's realisation. With
fewer than :data:`MIN_CALIBRATION_ACCOUNTS` usable accounts or no history,
:data:`DEFAULT_SIGMA` is used.

Attainment of rep :math:`r` in draw :math:`k` is :math:`\sum_{i \in r} R_i / q_r`;
the result holds its mean over draws, the probability that it is at least 100 %,
and for the team the expected share of reps (with a quota) reaching quota.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

#: Sigma used without history: a per-account coefficient of variation of
#: sqrt(exp(0.5^2) - 1) ~ 53 %, a deliberately wide round value of the same order
#: as the revenue/potential dispersion measured on the demo books (sigma ~ 0.6).
DEFAULT_SIGMA = 0.5

#: Fewer accounts than this make the CV estimate too noisy (its standard error is
#: roughly CV / sqrt(2 n), i.e. ~ 13 % relative at n = 30); the default is used instead.
MIN_CALIBRATION_ACCOUNTS = 30

#: At most this many random values are held at once (16 MB of float64); larger
#: books run the draws in batches with identical results for the same seed.
_BATCH_VALUES = 2_000_000


@dataclass(frozen=True)
class Attainment:
    """Simulated attainment per rep and for the team.

    Attributes
    ----------
    expected
        ``(m,)`` mean attainment (revenue / quota) [-]; NaN for a zero quota.
    p_attain
        ``(m,)`` probability that attainment is at least 100 % [-]; NaN for a zero quota.
    team_share
        Expected share of reps with a quota who reach it [-].
    team_attainment
        Expected team revenue / total quota [-].
    sigma, rep_sigma
        The noise used [-].
    sigma_source
        ``setting``, ``history`` (calibrated) or ``default``.
    simulations, seed
        The Monte Carlo draws and their seed.
    """

    expected: np.ndarray
    p_attain: np.ndarray
    team_share: float
    team_attainment: float
    sigma: float
    rep_sigma: float
    sigma_source: str
    simulations: int
    seed: int


def calibrate_sigma(potential: np.ndarray, history: np.ndarray | None) -> tuple[float, str]:
    """Lognormal sigma from the dispersion of revenue_ly / potential across accounts.

    Parameters
    ----------
    potential
        ``(n,)`` account potential [currency].
    history
        ``(n,)`` account revenue last year [currency], or None.

    Returns
    -------
    sigma, source
        ``source`` is ``history`` or ``default``.

    Examples
    --------
    >>> calibrate_sigma(np.ones(50), np.tile([0.5, 1.5], 25))
    (0.47238072707743883, 'history')
    """
    if history is None:
        return DEFAULT_SIGMA, "default"
    ok = np.isfinite(potential) & np.isfinite(history) & (potential > 0)
    if ok.sum() < MIN_CALIBRATION_ACCOUNTS:
        return DEFAULT_SIGMA, "default"
    y = history[ok] / potential[ok]
    mean = float(y.mean())
    if mean <= 0:
        return DEFAULT_SIGMA, "default"
    cv = float(y.std()) / mean
    return math.sqrt(math.log1p(cv * cv)), "history"


def simulate(
    quota: np.ndarray,
    account_rep: np.ndarray,
    account_revenue: np.ndarray,
    *,
    sigma: float,
    rep_sigma: float = 0.0,
    simulations: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, float]:
    r"""Draw revenue and return per-rep mean attainment, P(attainment >= 1), team share.

    Parameters
    ----------
    quota
        ``(m,)`` quotas [currency].
    account_rep
        ``(n,)`` rep index per account (negative: unassigned, ignored).
    account_revenue
        ``(n,)`` expected revenue per account, :math:`\kappa s_r P_i` [currency].
    sigma, rep_sigma
        Lognormal sigmas [-].
    simulations
        Number of draws.
    rng
        The random generator (consumed).

    Returns
    -------
    expected, p_attain, team_share

    Examples
    --------
    >>> e, p, share = simulate(np.array([100.0]), np.zeros(4, dtype=int), np.full(4, 25.0),
    ...                        sigma=0.0, simulations=10, rng=np.random.default_rng(0))
    >>> e.tolist(), p.tolist(), share
    ([1.0], [1.0], 1.0)
    """
    m = len(quota)
    keep = account_rep >= 0
    acc = np.flatnonzero(keep)
    matrix = csr_matrix(
        (account_revenue[keep], (account_rep[keep], np.arange(len(acc)))), shape=(m, len(acc))
    )
    has_quota = quota > 0
    q = np.where(has_quota, quota, 1.0)
    att_sum = np.zeros(m)
    hits = np.zeros(m)
    batch = max(1, min(simulations, _BATCH_VALUES // max(len(acc), 1)))
    done = 0
    while done < simulations:
        b = min(batch, simulations - done)
        eps = np.exp(sigma * rng.standard_normal((len(acc), b)) - 0.5 * sigma * sigma)
        revenue = np.asarray(matrix @ eps)
        if rep_sigma > 0:
            revenue *= np.exp(rep_sigma * rng.standard_normal((m, b)) - 0.5 * rep_sigma**2)
        att = revenue / q[:, None]
        att_sum += att.sum(axis=1)
        # A tiny tolerance so that an exact 100 % (sigma = 0) counts as reached.
        hits += (att >= 1.0 - 1e-12).sum(axis=1)
        done += b
    expected = np.where(has_quota, att_sum / simulations, np.nan)
    p_attain = np.where(has_quota, hits / simulations, np.nan)
    share = float(np.nanmean(p_attain)) if has_quota.any() else math.nan
    return expected, p_attain, share
