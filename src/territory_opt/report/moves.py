"""Moved accounts between two plans (or the current book and a plan), with reasons.

A *comparison* lists every account whose rep differs between a "before" side
(the current owners of the book, or an earlier plan) and an "after" plan. Each
row carries the account's metric values, the change in its distance to the rep
and a short reason, read from the data in this order:

1. hard rules: the account is locked to its new rep, its old rep is excluded
   for it, its segment is not served by the old rep, or the old rep is not in
   the new plan's team;
2. it goes back to its current rep (when comparing two plans), and it moves
   with its family (accounts sharing a parent stay together);
3. the new rep had no accounts before (a new hire or an open seat);
4. balance: before the move the old rep was further above target than the new
   rep on a balance metric (the metric with the largest difference is named);
5. travel: the new rep is closer (or, when nothing else applies, how much
   farther the account now is: a trade-off made for the plan as a whole).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from territory_opt.metrics import account_metric_values
from territory_opt.plan import Plan
from territory_opt.report.kpis import account_distances, distance_unit
from territory_opt.report.plans import ReportPlan

#: Balance differences below this [-] (half a percentage point of target) are
#: too small to name as the reason for a move.
MIN_BALANCE_REASON = 0.005

#: Label of the "before" side when comparing a plan with the current book.
CURRENT_OWNERS = "current owners"


@dataclass(frozen=True, eq=False)
class Comparison:
    """Moved accounts from one side to a plan.

    Attributes
    ----------
    before, after
        Names of the two sides (``current owners`` or a plan name).
    table
        One row per moved account, see :func:`moved_accounts`.
    unit
        Distance unit of ``distance_change`` (``km`` or ``units``).
    sorted_by
        The metric the table is sorted by (largest first), or None.
    """

    before: str
    after: str
    table: pd.DataFrame
    unit: str
    sorted_by: str | None

    @property
    def label(self) -> str:
        """``before → after``."""
        return f"{self.before} → {self.after}"


def _before_reps(after: Plan, before: Plan | None) -> np.ndarray:
    """Rep id (string, ``""`` for none) of every account of ``after`` on the before side."""
    p = after.problem
    rep_ids = p.rep_ids.astype(object)
    if before is None:
        cur = p.current_rep
        return np.where(cur >= 0, rep_ids[np.maximum(cur, 0)], "").astype(object)
    assert before.assignment is not None
    pos = pd.Index(before.problem.account_ids.astype(object)).get_indexer(
        pd.Index(p.account_ids.astype(object))
    )
    before_ids = before.problem.rep_ids.astype(object)[before.assignment]
    out = np.full(p.n_accounts, "", dtype=object)
    found = pos >= 0
    out[found] = before_ids[pos[found]]
    return out


def moved_accounts(after: Plan, before: Plan | None = None) -> pd.DataFrame:
    """List the accounts of ``after`` whose rep differs from the before side.

    Parameters
    ----------
    after
        A plan with an assignment.
    before
        An earlier plan matched by account and rep ids, or None for the book's
        current owners.

    Returns
    -------
    pandas.DataFrame
        ``account_id``, ``name``, ``from_rep``, ``to_rep``, ``reason``,
        ``distance_change`` (new minus old distance to the rep's travel origin
        [km or file units]; NaN without locations or when the old rep is not in
        the team) and one column per metric, sorted by the first balance
        metric (largest first), then by account order.
    """
    p = after.problem
    x = after.assignment
    assert x is not None
    rep_ids = p.rep_ids.astype(object)
    prev_id = _before_reps(after, before)
    to_id = rep_ids[x]
    moved = (prev_id != "") & (prev_id != to_id)
    prev = pd.Index(rep_ids).get_indexer(pd.Index(prev_id))
    idx = np.flatnonzero(moved)

    # Totals and deviations on the before side, against the after plan's targets.
    territories = after.territories_frame()
    metrics = [m for m in balance_metrics_of(after) if m in p.metric_names]
    sort_metric = _sort_metric(after)
    has_prev = prev >= 0
    values = account_metric_values(p, np.where(has_prev, prev, 0))
    cols = [p.metric_names.index(m) for m in metrics]
    dev_before = np.full((p.n_reps, len(metrics)), np.nan)
    for k, j in enumerate(cols):
        total = np.bincount(prev[has_prev], weights=values[has_prev, j], minlength=p.n_reps)
        target = territories[f"{metrics[k]}_target"].to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev_before[:, k] = np.where(target > 0, total / target - 1.0, np.nan)
    count_before = np.bincount(prev[has_prev], minlength=p.n_reps)

    dist_after = account_distances(after)
    dist_before = account_distances(after, np.where(has_prev, prev, 0))
    change = np.full(p.n_accounts, np.nan)
    if dist_after is not None and dist_before is not None:
        change = np.where(has_prev, dist_after - dist_before, np.nan)
    unit = distance_unit(after)

    excluded = set((p.excluded[:, 0].astype(np.int64) * p.n_reps + p.excluded[:, 1]).tolist())
    family_size = np.bincount(p.family[p.family >= 0]) if (p.family >= 0).any() else np.zeros(0)
    family_head = _family_heads(p.family, p.account_ids)
    seg_names = p.segment_names
    reasons = []
    for i in idx:
        f, t = int(prev[i]), int(x[i])
        parts = []
        if p.locked_rep[i] == t:
            parts.append(f"locked to {to_id[i]}")
        if f >= 0 and int(i) * p.n_reps + f in excluded:
            parts.append(f"{prev_id[i]} is excluded for this account")
        seg = p.account_segment[i]
        if f >= 0 and seg >= 0 and p.rep_segment[f] >= 0 and p.rep_segment[f] != seg:
            parts.append(f"segment {seg_names[seg]} is not served by {prev_id[i]}")
        if f < 0:
            parts.append(f"{prev_id[i]} is not in this plan's team")
        if before is not None and p.current_rep[i] == t:
            parts.append(f"back with its current rep {to_id[i]}")
        fam = p.family[i]
        if fam >= 0 and family_size[fam] > 1:
            parts.append(f"moves with its family ({family_head[fam]})")
        if count_before[t] == 0:
            parts.append(f"{to_id[i]} had no accounts")
        elif f >= 0 and metrics:
            gain = dev_before[f] - dev_before[t]
            if np.isfinite(gain).any():
                k = int(np.nanargmax(gain))
                if gain[k] > MIN_BALANCE_REASON:
                    parts.append(
                        f"balance: {prev_id[i]} was {100 * dev_before[f, k]:+.1f} % on "
                        f"{metrics[k]}, {to_id[i]} {100 * dev_before[t, k]:+.1f} %"
                    )
        d = change[i]
        if math.isfinite(d) and d < 0:
            parts.append(f"{-d:,.1f} {unit} closer")
        elif math.isfinite(d) and not parts:
            parts.append(f"{d:,.1f} {unit} farther: a trade-off for the plan as a whole")
        reasons.append("; ".join(parts) or "a trade-off for the plan as a whole")

    name = p.account_attrs.get("name")
    frame = pd.DataFrame(
        {
            "account_id": p.account_ids.astype(object)[idx],
            "name": (np.asarray(name, dtype=object)[idx] if name is not None else ""),
            "from_rep": prev_id[idx],
            "to_rep": to_id[idx],
            "reason": np.asarray(reasons, dtype=object),
            "distance_change": change[idx],
        }
    )
    raw = np.nan_to_num(p.metrics, nan=0.0)
    for j, metric in enumerate(p.metric_names):
        frame[metric] = raw[idx, j]
    if sort_metric is not None:
        order = np.argsort(-frame[sort_metric].to_numpy(dtype=np.float64), kind="stable")
        frame = frame.iloc[order].reset_index(drop=True)
    return frame.astype(
        dict.fromkeys(("account_id", "name", "from_rep", "to_rep", "reason"), object)
    )


def balance_metrics_of(plan: Plan) -> list[str]:
    """Band metrics of the plan's request, else every metric."""
    return [b.metric for b in plan.spec.bands] or list(plan.problem.metric_names)


def _sort_metric(plan: Plan) -> str | None:
    names = [m for m in balance_metrics_of(plan) if m in plan.problem.metric_names]
    return names[0] if names else None


def _family_heads(family: np.ndarray, account_ids: np.ndarray) -> list[str]:
    """Id of the first account of each family, to name the family."""
    if not (family >= 0).any():
        return []
    n_fam = int(family.max()) + 1
    members = np.flatnonzero(family >= 0)
    first = np.full(n_fam, -1, dtype=np.int64)
    # Reversed assignment leaves the smallest index of each family in place.
    first[family[members[::-1]]] = members[::-1]
    return [str(account_ids[k]) if k >= 0 else "" for k in first]


def comparisons(plans: Sequence[ReportPlan]) -> list[Comparison]:
    """All comparisons of a report.

    Every plan against the current owners (when the book has any), then, with
    several plans, the first plan against each later one.
    """
    with_plan = [rp for rp in plans if rp.plan.assignment is not None]
    out = []
    for rp in with_plan:
        if (rp.plan.problem.current_rep >= 0).any():
            out.append(
                Comparison(
                    CURRENT_OWNERS,
                    rp.name,
                    moved_accounts(rp.plan),
                    distance_unit(rp.plan),
                    _sort_metric(rp.plan),
                )
            )
    if len(with_plan) > 1:
        first = with_plan[0]
        for rp in with_plan[1:]:
            out.append(
                Comparison(
                    first.name,
                    rp.name,
                    moved_accounts(rp.plan, first.plan),
                    distance_unit(rp.plan),
                    _sort_metric(rp.plan),
                )
            )
    return out


__all__ = ["CURRENT_OWNERS", "Comparison", "comparisons", "moved_accounts"]
