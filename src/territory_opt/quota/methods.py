"""Quota methods: the per-rep terms a quota proposal is made of.

With ``P_r`` the potential of rep ``r``'s territory, ``H_r`` its revenue last
year, ``W_r`` its workload, ``c_r`` the rep's FTE, ``rho_r`` the annual ramp
factor (:mod:`territory_opt.quota.ramp`) and ``f_r = c_r`` when
``scale_by_fte`` else 1, the *effective potential* is
``A_r = rho_r f_r P_r`` and, for a quota total ``Q``:

- top-down: ``Q A_r / sum(A)``;
- history: ``rho_r f_r H_r (1 + g_r)``, ``g_r`` the growth of the rep's segment
  (or the default growth);
- capacity: ``pi rho_r min(W_r, c_r omega)``: the workload the rep can serve
  (their territory's, at most FTE x ``omega`` workload units per FTE) times the
  productivity ``pi`` [currency per workload unit].

The proposal combines the terms with the method's weights ``w_k`` after
normalising each to the total: ``p_r = Q sum_k w_k x_kr / sum_s x_ks``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from territory_opt.quota.ramp import monthly_ramp
from territory_opt.quota.settings import QuotaSettings

if TYPE_CHECKING:  # plan imports the alignment package, which imports plan
    from territory_opt.plan import Plan


@dataclass(frozen=True)
class RepInputs:
    """Per-rep quantities the quota is computed from (all ``(m,)`` arrays).

    Attributes
    ----------
    potential
        Territory potential ``P`` [currency].
    history
        Territory revenue last year ``H`` [currency], or None without the metric.
    workload
        Territory workload ``W`` [workload units], or None without the metric.
    fte
        Rep capacity ``c`` [FTE].
    monthly_ramp
        ``(m, 12)`` ramp factor per plan month [-].
    ramp
        Annual ramp factor ``rho``, the mean of ``monthly_ramp`` [-].
    scale
        ``rho f``: the factor applied to potential and history [-].
    effective_potential
        ``A = rho f P`` [currency].
    segment
        Segment name per rep ("" for none).
    """

    potential: np.ndarray
    history: np.ndarray | None
    workload: np.ndarray | None
    fte: np.ndarray
    monthly_ramp: np.ndarray
    ramp: np.ndarray
    scale: np.ndarray
    effective_potential: np.ndarray
    segment: np.ndarray


def rep_inputs(plan: Plan, settings: QuotaSettings) -> RepInputs:
    """Gather territory totals, FTE and ramp of every rep from the plan."""
    p = plan.problem
    totals = plan.rep_totals()
    names = p.metric_names

    def column(name: str) -> np.ndarray:
        return np.nan_to_num(totals[:, names.index(name)], nan=0.0)

    potential = column(settings.potential_metric)
    # Validation guarantees the history metric exists when the settings need it.
    history = column(settings.history_metric) if settings.history_metric in names else None
    workload = column(settings.workload_metric) if settings.workload_metric in names else None
    fte = np.asarray(p.rep_capacity, dtype=np.float64)
    monthly = monthly_ramp(p.rep_start_date, settings.plan_start, settings.ramp)
    ramp = monthly.mean(axis=1)
    scale = ramp * (fte if settings.scale_by_fte else 1.0)
    segment = np.asarray(p.rep_attrs.get("segment", np.full(p.n_reps, "")), dtype=object)
    return RepInputs(
        potential=potential,
        history=history,
        workload=workload,
        fte=fte,
        monthly_ramp=monthly,
        ramp=ramp,
        scale=scale,
        effective_potential=scale * potential,
        segment=segment,
    )


def rep_growth(inputs: RepInputs, settings: QuotaSettings) -> np.ndarray:
    """Growth used by the history term for every rep [-] (segment over default)."""
    g = np.full(len(inputs.fte), float(settings.growth))
    for seg, value in settings.segment_growth.items():
        g[inputs.segment == seg] = float(value)
    return g


def productivity(inputs: RepInputs, settings: QuotaSettings) -> float:
    """Revenue per workload unit [currency/workload unit] of the capacity term."""
    if settings.productivity is not None:
        return float(settings.productivity)
    work = 0.0 if inputs.workload is None else float(inputs.workload.sum())
    if inputs.history is not None and inputs.history.sum() > 0 and work > 0:
        return float(inputs.history.sum()) / work
    if settings.target is not None and work > 0:
        return float(settings.target) / work
    return 1.0


def method_terms(
    inputs: RepInputs,
    settings: QuotaSettings,
    *,
    total: float | None,
) -> dict[str, np.ndarray]:
    """Return every term that can be computed, keyed by term name.

    Parameters
    ----------
    inputs
        Per-rep quantities.
    settings
        Growth, productivity and workload per FTE.
    total
        Quota total ``Q`` [currency]; None leaves out the top-down term.

    Returns
    -------
    dict
        ``(m,)`` arrays [currency]: ``top_down``, ``history``, ``capacity``.
    """
    terms: dict[str, np.ndarray] = {}
    a = inputs.effective_potential
    if total is not None:
        a_sum = float(a.sum())
        share = a / a_sum if a_sum > 0 else inputs.ramp / max(float(inputs.ramp.sum()), 1e-300)
        terms["top_down"] = total * share
    if inputs.history is not None:
        terms["history"] = inputs.scale * inputs.history * (1.0 + rep_growth(inputs, settings))
    if inputs.workload is not None:
        per_fte = settings.workload_per_fte
        if per_fte is None:
            per_fte = float(inputs.workload.sum()) / max(float(inputs.fte.sum()), 1e-300)
        served = np.minimum(inputs.workload, inputs.fte * per_fte)
        terms["capacity"] = productivity(inputs, settings) * inputs.ramp * served
    return terms


def proposal(
    terms: Mapping[str, np.ndarray],
    weights: Mapping[str, float],
    total: float,
    *,
    fallback: np.ndarray,
) -> np.ndarray:
    """Combine the weighted terms, each normalised to ``total`` [currency].

    A term that sums to zero is replaced by ``fallback`` (e.g. the ramp factors),
    normalised the same way.
    """
    out = np.zeros(len(fallback))
    for name, w in weights.items():
        x = terms[name]
        if float(x.sum()) <= 0:
            x = fallback
        s = float(x.sum())
        share = x / s if s > 0 else np.full(len(x), 1.0 / len(x))
        out = out + w * total * share
    return out


def raw_total(terms: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> float:
    """Weighted sum of the terms' own totals: the total when no target is given."""
    return float(sum(w * float(terms[k].sum()) for k, w in weights.items()))
