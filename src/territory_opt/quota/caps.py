"""Caps on each rep's quota and the infeasibility diagnosis they can cause.

Per rep ``r`` (see :mod:`territory_opt.quota.methods` for the symbols)::

    lower_r = max(0, floor c_r rho_r, (1 + gmin_r) rho_r f_r H_r)
    upper_r = min(ceiling c_r rho_r, (1 + gmax_r) rho_r f_r H_r), and 0 when rho_r = 0

Growth bounds apply only where ``H_r > 0``. Quotas are multiples of the rounding
unit ``u``, so the caps are tightened to multiples: ``ceil(lower / u)`` and
``floor(upper / u)`` units. The quota total of ``N`` units is reachable exactly
when ``sum(lower units) <= N <= sum(upper units)``; otherwise
:class:`~territory_opt.InfeasibleError` is raised with the reachable interval and
the reps whose caps bind. Quotas are never scaled to fit silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from territory_opt._errors import InfeasibleError
from territory_opt.quota.methods import RepInputs
from territory_opt.quota.settings import QuotaSettings

#: Stand-in for "no upper cap" in integer units (far above any real quota).
UNBOUNDED_UNITS = 2**52

#: Tolerance when tightening caps to whole units: 1e-9 of a unit is round-off.
_EPS = 1e-9


@dataclass(frozen=True)
class Caps:
    """Quota bounds per rep.

    Attributes
    ----------
    lower, upper
        ``(m,)`` bounds [currency]; ``upper`` is inf where uncapped.
    lower_units, upper_units
        The bounds tightened to whole rounding units (int64); uncapped is
        :data:`UNBOUNDED_UNITS`.
    lower_source, upper_source
        Which cap sets each bound: ``floor``, ``growth_min``, ``ceiling``,
        ``growth_max``, ``not_started`` or ``none``.
    """

    lower: np.ndarray
    upper: np.ndarray
    lower_units: np.ndarray
    upper_units: np.ndarray
    lower_source: np.ndarray
    upper_source: np.ndarray


def growth_bounds(
    inputs: RepInputs, settings: QuotaSettings, rep_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Resolve growth bounds per rep (rep over segment over global); NaN = none."""
    m = len(rep_ids)
    gmin = np.full(m, np.nan if settings.growth_min is None else float(settings.growth_min))
    gmax = np.full(m, np.nan if settings.growth_max is None else float(settings.growth_max))
    for seg, (lo, hi) in settings.segment_growth_bounds.items():
        mask = inputs.segment == seg
        if lo is not None:
            gmin[mask] = float(lo)
        if hi is not None:
            gmax[mask] = float(hi)
    index = {str(r): i for i, r in enumerate(rep_ids)}
    for rep, (lo, hi) in settings.rep_growth_bounds.items():
        if lo is not None:
            gmin[index[rep]] = float(lo)
        if hi is not None:
            gmax[index[rep]] = float(hi)
    return gmin, gmax


def rep_caps(inputs: RepInputs, settings: QuotaSettings, rep_ids: np.ndarray) -> Caps:
    """Compute every rep's quota bounds and which cap sets them."""
    m = len(rep_ids)
    u = float(settings.rounding)
    lower = np.zeros(m)
    upper = np.full(m, np.inf)
    lo_src = np.full(m, "none", dtype=object)
    hi_src = np.full(m, "none", dtype=object)

    def raise_lower(value: np.ndarray, name: str) -> None:
        hit = np.isfinite(value) & (value > lower)
        lower[hit] = value[hit]
        lo_src[hit] = name

    def cut_upper(value: np.ndarray, name: str) -> None:
        hit = np.isfinite(value) & (value < upper)
        upper[hit] = value[hit]
        hi_src[hit] = name

    per_fte = inputs.fte * inputs.ramp
    if settings.floor is not None:
        raise_lower(settings.floor * per_fte, "floor")
    if settings.ceiling is not None:
        cut_upper(settings.ceiling * per_fte, "ceiling")
    if inputs.history is not None:
        gmin, gmax = growth_bounds(inputs, settings, rep_ids)
        basis = np.where(inputs.history > 0, inputs.scale * inputs.history, np.nan)
        raise_lower((1.0 + gmin) * basis, "growth_min")
        cut_upper((1.0 + gmax) * basis, "growth_max")
    cut_upper(np.where(inputs.ramp <= 0, 0.0, np.inf), "not_started")
    lower_units = np.ceil(lower / u - _EPS).astype(np.int64)
    upper_units = np.where(
        np.isfinite(upper), np.floor(np.where(np.isfinite(upper), upper, 0.0) / u + _EPS), -1
    ).astype(np.int64)
    upper_units[~np.isfinite(upper)] = UNBOUNDED_UNITS
    return Caps(lower, upper, lower_units, upper_units, lo_src, hi_src)


def check_reachable(caps: Caps, total_units: int, unit: float, rep_ids: np.ndarray) -> None:
    """Raise InfeasibleError when the caps cannot reach the total.

    Raises
    ------
    InfeasibleError
        With ``diagnosis`` holding ``reason``, ``target_total``,
        ``reachable_total`` (``[low, high]`` [currency], high None when
        unbounded), ``shortfall`` [currency] and ``binding_reps`` (rep id, the
        cap that binds and its value after rounding).
    """
    lo_u, hi_u = caps.lower_units, caps.upper_units
    empty = np.flatnonzero(lo_u > hi_u)
    target = total_units * unit
    if len(empty):
        reps = [_rep_entry(caps, int(r), rep_ids, unit, side="both") for r in empty]
        names = ", ".join(str(rep_ids[r]) for r in empty[:10])
        msg = (
            f"the caps of {len(empty)} rep(s) leave no quota that is a multiple of "
            f"{unit:g} ({names}): their lower cap is above their upper cap; "
            "relax floor/growth_min or ceiling/growth_max"
        )
        raise InfeasibleError(
            msg,
            diagnosis={
                "reason": "rep_caps_conflict",
                "target_total": target,
                "reachable_total": None,
                "binding_reps": reps,
            },
        )
    low = int(lo_u.sum())
    capped = hi_u < UNBOUNDED_UNITS
    high = int(hi_u.sum()) if capped.all() else None
    if total_units < low:
        side, binding, reason = "lower", np.flatnonzero(lo_u > 0), "target_below_reachable"
        shortfall = (low - total_units) * unit
        what = f"below the reachable minimum {low * unit:,.10g}"
        fix = "lower floor/growth_min or raise the target"
    elif high is not None and total_units > high:
        side, binding, reason = "upper", np.flatnonzero(capped), "target_above_reachable"
        shortfall = (total_units - high) * unit
        what = f"above the reachable maximum {high * unit:,.10g}"
        fix = "raise ceiling/growth_max or lower the target"
    else:
        return
    reps = [_rep_entry(caps, int(r), rep_ids, unit, side=side) for r in binding]
    by_cap: dict[str, int] = {}
    for entry in reps:
        by_cap[str(entry["cap"])] = by_cap.get(str(entry["cap"]), 0) + 1
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(by_cap.items()))
    msg = (
        f"the quota total {target:,.10g} is {what} by {shortfall:,.10g}; "
        f"the caps of {len(reps)} rep(s) bind ({counts}); {fix}"
    )
    raise InfeasibleError(
        msg,
        diagnosis={
            "reason": reason,
            "target_total": target,
            "reachable_total": [low * unit, None if high is None else high * unit],
            "shortfall": shortfall,
            "binding_reps": reps,
        },
    )


def _rep_entry(
    caps: Caps, r: int, rep_ids: np.ndarray, unit: float, *, side: str
) -> dict[str, object]:
    lower = {"cap": str(caps.lower_source[r]), "bound": float(caps.lower_units[r] * unit)}
    upper = {"cap": str(caps.upper_source[r]), "bound": float(caps.upper_units[r] * unit)}
    if side == "lower":
        return {"rep_id": str(rep_ids[r]), **lower}
    if side == "upper":
        return {"rep_id": str(rep_ids[r]), **upper}
    return {
        "rep_id": str(rep_ids[r]),
        "cap": f"{lower['cap']}>{upper['cap']}",
        "lower": lower["bound"],
        "upper": upper["bound"],
    }
