r"""Proofs that need no solver: the counting bound and accounts no rep can carry.

Notes
-----
**Counting bound.** With capacity :math:`\kappa_c` per FTE for metric *c* and
workload :math:`W_c`, a team carries at most :math:`\kappa_c` times its FTE.
A team smaller than the current one (m₀ reps) only removes reps: it holds the
reps that may not leave (set *K*) and at most the largest FTEs of the others,
so with :math:`F(n)` the FTE of *K* plus the :math:`n - |K|` largest other
FTEs, :math:`\kappa_c F(n) < W_c` proves that no team of *n* ≤ m₀ reps works.
A larger team keeps every current rep and adds 1-FTE hires, so it needs at
least :math:`\lceil W_c / \kappa_c - F_0 \rceil` hires (:math:`F_0`: the current
team's FTE). When every rep and every possible hire belongs to a segment pool,
the same holds per segment (the accounts of segment *s* go only to reps of *s*)
and the per-segment counts add up. These proofs hold whatever the placement.

**Accounts too big for any rep.** An account (or a family that stays
together) whose workload exceeds :math:`\kappa_c` × the largest FTE among the
reps and hires it may go to fits no team of any size: that is reported by
account id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from territory_opt.alignment.instance import Instance
from territory_opt.data.problem import NO_INDEX
from territory_opt.sizing.context import SizingContext
from territory_opt.sizing.request import NEW_HIRE_FTE

#: Relative slack when comparing workload with capacity (rounding in the input).
_EPS = 1e-9
#: Account ids listed in one message.
_SHOWN = 10


@dataclass(frozen=True)
class CountBound:
    """The smallest team sizes that the capacity and the keep list allow.

    Attributes
    ----------
    n
        Lower bound on the team size: no smaller team can carry the book.
    n_keep
        Reps that may not leave (a team is never smaller).
    n_max
        Largest team the hiring limits and candidate sites allow.
    needs
        Per capacity metric and pool (``""``: the whole team; segments only
        when every rep and hire belongs to a segment pool): the fewest current
        reps that carry it (``reps``, None when all of them cannot) and the
        fewest hires it needs on top of the whole current team (``hires``).
    findings
        Reasons that no team of any size can carry the book (diagnosis findings).
    """

    n: int
    n_keep: int
    n_max: int
    needs: dict[str, dict[str, dict[str, int | None]]] = field(default_factory=dict)
    findings: tuple[dict[str, Any], ...] = ()


def _fmt(value: float) -> str:
    return f"{value:,.6g}"


def _min_count(need: float, forced: np.ndarray, optional: np.ndarray, per_fte: float) -> int | None:
    """Fewest reps that carry ``need``: every forced rep plus the largest optional ones.

    None when even all of them cannot.
    """
    extra = np.concatenate([[0.0], np.cumsum(np.sort(optional)[::-1])])
    carried = per_fte * (float(np.sum(forced)) + extra)
    enough = np.flatnonzero(carried >= need * (1 - _EPS))
    return len(forced) + int(enough[0]) if len(enough) else None


def _hires_needed(need: float, fte: float, per_fte: float) -> int:
    """Fewest 1-FTE hires that, added to ``fte``, carry ``need``."""
    missing = need * (1 - _EPS) / per_fte - fte
    return max(0, math.ceil(missing / NEW_HIRE_FTE - 1e-12))


def _carry(n: int, forced: np.ndarray, optional: np.ndarray) -> float:
    """Most FTE a team of ``n`` reps can have (every forced rep, then the largest others)."""
    best = np.sort(optional)[::-1][: max(0, n - len(forced))]
    return float(np.sum(forced) + np.sum(best))


def account_segment_keys(ctx: SizingContext) -> np.ndarray:
    """Segment text of every account (``""`` for none)."""
    names = np.array([*ctx.base.segment_names, ""], dtype=object)
    return names[ctx.base.account_segment]


def _pools(ctx: SizingContext) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Pools to count: ``""`` (the whole team) and, when they apply, the segments.

    Each maps to (current reps in the pool, accounts whose workload it carries).
    """
    out = {"": (np.ones(ctx.m0, dtype=bool), np.ones(ctx.base.n_accounts, dtype=bool))}
    if ctx.pools_on and "" not in set(ctx.rep_pool) | set(ctx.slot_pool):
        segments = account_segment_keys(ctx)
        for pool in sorted({str(p) for p in ctx.rep_pool} | {str(p) for p in ctx.slot_pool}):
            out[pool] = (ctx.rep_pool == pool, segments == pool)
    return out


def count_bound(ctx: SizingContext) -> CountBound:
    """Compute the counting bound, the hiring limit and the accounts no team can carry."""
    base, request = ctx.base, ctx.request
    n_hires = ctx.max_hires()
    kept = np.isin(np.arange(ctx.m0), list(ctx.keep))
    fte = base.rep_capacity
    findings: list[dict[str, Any]] = list(oversized_items(ctx))
    findings += _unstaffed_segments(ctx)
    pools = _pools(ctx)
    needs: dict[str, dict[str, dict[str, int | None]]] = {}
    down_ok, down, up = True, 0, 0
    for metric, per_fte in request.capacity.items():
        values = base.metric(metric)
        needs[metric] = {}
        for pool, (reps, accounts) in pools.items():
            need = float(values[accounts].sum())
            reps_needed = _min_count(need, fte[reps & kept], fte[reps & ~kept], per_fte)
            hires = _hires_needed(need, float(fte[reps].sum()), per_fte)
            needs[metric][pool] = {"reps": reps_needed, "hires": hires}
            cap = n_hires if pool == "" else min(n_hires, ctx.pool_hire_cap(pool))
            if hires > cap:
                where = f"segment '{pool}'" if pool else "the team"
                findings.append(
                    {
                        "family": "capacity",
                        "message": f"{where} needs {hires} new hire(s) for its {metric} "
                        f"{_fmt(need)} at {_fmt(per_fte)} per FTE, but at most {cap} are "
                        "allowed (hiring limits and candidate sites)",
                        "relaxation": "raise --max-new, add candidate sites or raise the capacity",
                        "accounts": [],
                        "reps": [],
                    }
                )
            down_ok &= reps_needed is not None
        segments = [v for p, v in needs[metric].items() if p]
        down = max(
            down,
            needs[metric][""]["reps"] or 0,
            sum(int(v["reps"] or 0) for v in segments),
        )
        up = max(
            up, int(needs[metric][""]["hires"] or 0), sum(int(v["hires"] or 0) for v in segments)
        )
    lower = max(1, len(ctx.keep), down if down_ok else ctx.m0 + max(up, 1))
    return CountBound(lower, len(ctx.keep), ctx.m0 + n_hires, needs, tuple(findings))


def _unstaffed_segments(ctx: SizingContext) -> list[dict[str, Any]]:
    """Segments whose accounts no rep or hire may take (segment pools only)."""
    if not (ctx.pools_on and "" not in set(ctx.rep_pool) | set(ctx.slot_pool)):
        return []
    segments = account_segment_keys(ctx)
    staffable = {str(p) for p in ctx.rep_pool} | {str(p) for p in ctx.slot_pool}
    out = []
    for seg in sorted({str(s) for s in segments} - staffable - {""}):
        accounts = np.flatnonzero(segments == seg)
        out.append(
            {
                "family": "segment",
                "message": f"segment '{seg}' has {len(accounts)} account(s) but no rep and "
                "no candidate site that may hire for it",
                "relaxation": f"add a candidate site with segment '{seg}' or a rep of it",
                "accounts": [str(a) for a in ctx.base.account_ids[accounts[:_SHOWN]]],
                "reps": [],
            }
        )
    return out


def count_proof(ctx: SizingContext, bound: CountBound, n: int) -> tuple[str, str] | None:
    """Say why no team of ``n`` reps can work, without solving: (proof, reason), or None.

    A team below the current size only removes reps; above it, it only hires.
    """
    if n < bound.n_keep:
        return "limit", (
            f"{bound.n_keep} reps may not leave (keep list and reps with locked accounts)"
        )
    if n > bound.n_max:
        return "limit", (
            f"at most {bound.n_max - ctx.m0} new hire(s) fit the hiring limits and candidate sites"
        )
    kept = np.isin(np.arange(ctx.m0), list(ctx.keep))
    fte = ctx.base.rep_capacity
    for metric, pools in bound.needs.items():
        per_fte = ctx.request.capacity[metric]
        need = float(ctx.base.metric(metric).sum())
        total, segments = pools[""], {p: v for p, v in pools.items() if p}
        if n <= ctx.m0:
            if total["reps"] is None or n < total["reps"]:
                most = per_fte * _carry(n, fte[kept], fte[~kept])
                return "count", (
                    f"total {metric} {_fmt(need)} needs more than {n} of the current reps at "
                    f"{_fmt(per_fte)} per FTE (they carry at most {_fmt(most)})"
                )
            short = [p for p, v in segments.items() if v["reps"] is None]
            if short:
                return "count", (
                    f"{metric} of segment {', '.join(short)} exceeds what its current reps "
                    f"carry at {_fmt(per_fte)} per FTE: hires are needed"
                )
            counts = {p: int(v["reps"] or 0) for p, v in segments.items()}
            if segments and n < sum(counts.values()):
                parts = ", ".join(f"{p} {k}" for p, k in counts.items())
                return "count", (
                    f"{metric} per segment needs at least {sum(counts.values())} current reps "
                    f"({parts}) at {_fmt(per_fte)} per FTE, counting the reps that stay"
                )
        else:
            hires = n - ctx.m0
            if hires < int(total["hires"] or 0):
                return "count", (
                    f"total {metric} {_fmt(need)} needs at least {total['hires']} hire(s) on "
                    f"top of the current team at {_fmt(per_fte)} per FTE"
                )
            counts = {p: int(v["hires"] or 0) for p, v in segments.items() if v["hires"]}
            if hires < sum(counts.values()):
                parts = ", ".join(f"{p} {k}" for p, k in counts.items())
                return "count", (
                    f"{metric} per segment needs at least {sum(counts.values())} hire(s) on "
                    f"top of the current team ({parts}) at {_fmt(per_fte)} per FTE"
                )
    return None


def oversized_items(ctx: SizingContext) -> list[dict[str, Any]]:
    """Accounts (or families) whose workload exceeds every rep they may go to."""
    base, spec = ctx.base, ctx.spec
    inst = Instance.build(base, spec)
    item = inst.account_item
    first = inst.item_members[inst.item_ptr[:-1]]
    segments = account_segment_keys(ctx)
    rep_segments = np.array([*base.segment_names, ""], dtype=object)[base.rep_segment]
    locked = np.full(inst.n_items, NO_INDEX)
    has_lock = base.locked_rep >= 0
    locked[item[has_lock]] = base.locked_rep[has_lock]
    item_segment = segments[first]
    hire_segments = {
        str(s)
        for p, s in zip(ctx.slot_pool, ctx.slots.segment, strict=True)
        if ctx.pool_hire_cap(str(p)) > 0
    }
    best = np.zeros(inst.n_items)
    for seg in np.unique(item_segment):
        mine = item_segment == seg
        if spec.segment_match and seg:
            reps = (rep_segments == seg) | (rep_segments == "")
            hires = bool({seg, ""} & hire_segments)
        else:
            reps = np.ones(base.n_reps, dtype=bool)
            hires = bool(hire_segments)
        fte = float(base.rep_capacity[reps].max()) if reps.any() else 0.0
        best[mine] = max(fte, NEW_HIRE_FTE if hires else 0.0)
    lock_items = locked >= 0
    best[lock_items] = base.rep_capacity[locked[lock_items]]
    out: list[dict[str, Any]] = []
    for metric, per_fte in ctx.request.capacity.items():
        load = np.bincount(item, weights=base.metric(metric), minlength=inst.n_items)
        too_big = np.flatnonzero(load > per_fte * best * (1 + _EPS))
        for it in too_big[:_SHOWN]:
            members = inst.item_members[inst.item_ptr[it] : inst.item_ptr[it + 1]]
            ids = [str(a) for a in base.account_ids[members]]
            what = (
                f"account {ids[0]}"
                if len(ids) == 1
                else (f"family of {len(ids)} accounts ({', '.join(ids[:_SHOWN])})")
            )
            where = "its locked rep" if lock_items[it] else "any rep it may go to"
            out.append(
                {
                    "family": "capacity",
                    "message": f"{what} has {metric} {_fmt(load[it])}, more than {where} can "
                    f"carry ({_fmt(per_fte)} per FTE × {best[it]:g} FTE)",
                    "relaxation": "split the account, raise the capacity per FTE, or release "
                    "its lock",
                    "accounts": ids,
                    "reps": [],
                }
            )
        if len(too_big) > _SHOWN:
            out.append(
                {
                    "family": "capacity",
                    "message": f"and {len(too_big) - _SHOWN} more account(s)/families above "
                    f"the capacity for {metric}",
                    "relaxation": "",
                    "accounts": [],
                    "reps": [],
                }
            )
    return out
