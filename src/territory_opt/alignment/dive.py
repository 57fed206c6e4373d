"""LP diving: fix the largest split items one batch at a time and re-solve the LP.

Rounding the LP relaxation puts every split item wholly on one rep. With
heavy-tailed loads (a few accounts worth a third of a rep's band) that breaks
limits by several items' worth, and repair then moves many items at a cost of
about 1 % on the 10k ladder book. A dive fixes the largest split items to the
rep holding most of them and lets the LP re-balance every other item around
them, re-solving by simplex from the previous basis (a tenth of a second per
round at 10k accounts). The LP value rises by about 0.1 % over the dive and the
final rounding breaks limits by a fraction of an item, which repair fixes
cheaply.

Fixed items keep only their chosen arc; pricing (when the LP is over a subset
of the arcs) brings back arcs that the other items need after a fixing. A
fixing the LP cannot absorb shows as elastic slack: the dive then stops and
returns its last LP without slack.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from territory_opt._interrupt import expired
from territory_opt.alignment.backends.highs import LpSession
from territory_opt.alignment.instance import ArcModel

#: Share of the split items fixed per round (the largest first).
DIVE_SHARE = 0.25
#: An item counts as split while its largest arc value is below 1 - this.
SPLIT_TOL = 1e-6
#: Elastic slack (summed relative violation) above which a fixing failed.
SLACK_TOL = 1e-7


@dataclass(frozen=True)
class Dive:
    """The last slack-free LP of a dive: arcs (add order), their values, its value."""

    items: np.ndarray
    reps: np.ndarray
    values: np.ndarray
    objective: float
    rounds: int
    fixed: int


def item_sizes(model: ArcModel) -> np.ndarray:
    """Each item's largest load relative to the width of its rep's limits (max over arcs)."""
    width = model.hi - model.lo
    width = np.where(np.isfinite(width) & (width > 0), width, np.inf)
    share = np.abs(model.load) / width[model.arc_rep]
    size = np.zeros(model.n_items)
    np.maximum.at(size, model.arc_item, share.max(axis=1) if share.shape[1] else 0.0)
    return size


def lp_dive(
    session: LpSession,
    size: np.ndarray,
    deadline: float,
    *,
    price: Callable[[np.ndarray], ArcModel] | None = None,
) -> Dive | None:
    """Dive from the session's optimal LP until no item is split or time runs out.

    Parameters
    ----------
    session
        A solved LP session (its basis is the warm start); it is modified.
    size
        Per item, the order of fixing (largest first), e.g. :func:`item_sizes`.
    deadline
        ``time.perf_counter()`` value at which to stop.
    price
        Called with row duals, returns arcs of negative reduced cost (None when
        the session holds every arc).

    Returns
    -------
    Dive or None
        The last LP without slack (None if even the first re-solve failed).
    """
    n = session.rows.n_items
    fixed = np.zeros(n, dtype=bool)
    last: Dive | None = None
    rounds = 0
    while not expired(deadline):
        status, objective, values, duals, slack = session.solve(
            deadline - time.perf_counter(), ipm=False
        )
        if status != "optimal":
            break
        items, reps = session.arcs()
        if price is not None:
            new = price(duals)
            m = session.model.n_reps
            have = items.astype(np.int64) * m + reps
            keys = new.arc_item.astype(np.int64) * m + new.arc_rep
            fresh = ~np.isin(keys, have) & ~fixed[new.arc_item]
            if fresh.any():
                session.add(new.take(np.flatnonzero(fresh)))
                continue
        if slack > SLACK_TOL:
            break
        last = Dive(items, reps, values, objective, rounds, int(fixed.sum()))
        order = np.lexsort((-values, items))
        first = np.ones(len(order), dtype=bool)
        first[1:] = items[order][1:] != items[order][:-1]
        top = order[first]  # each item's largest arc (items in order 0..n-1)
        split = np.flatnonzero(values[top] < 1.0 - SPLIT_TOL)
        if len(split) == 0:
            break
        k = max(1, int(DIVE_SHARE * len(split)))
        pick = split[np.argsort(-size[split], kind="stable")[:k]]
        session.fix(top[pick])
        fixed[pick] = True
        rounds += 1
    return last
