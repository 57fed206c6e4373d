r"""Exact sizing for small books: the location-allocation MIP and removal enumeration.

Notes
-----
**Hires (N above the current team).** For *k* = N − m₀ hires, the split of
hires over segment pools fixes every pool's FTE and hence every band target,
so each split (k_p per pool, Σ k_p = k, within the segment limits) is one
mixed-integer program over slots *s* (y_s ∈ {0, 1}) and arcs (x_jr ∈ {0, 1},
items *j*, current reps and slots *r*):

.. math::
    \min \sum_{jr} c_{jr} x_{jr} \quad \text{s.t.} \quad
    \sum_r x_{jr} = 1 \;\forall j, \qquad
    x_{js} \le y_s, \qquad
    \sum_{s \in p} y_s = k_p \;\forall p, \qquad
    \sum_{s \in g} y_s \le L_g \;\forall \text{limited segments and regions } g,

    lo_{rl} \le \sum_j q_{jrl} x_{jr} \le hi_{rl} \;\text{(current reps)}, \qquad
    lo_{pl}\, y_s \le \sum_j q_{jsl} x_{js} \le hi_{pl}\, y_s \;\text{(slots of pool } p),

plus the disruption budgets, with y for the second hire at a site no larger
than for the first. c, q, eligibility and the limits (bands relative to the
capacity-scaled mean, capacity × FTE as a hard maximum) are the alignment's
own (:class:`~territory_opt.alignment.instance.Instance`); a hire's limits
are those of a 1-FTE rep of its pool. The best split is the optimum; if every
split is proven infeasible, so is the team size. The chosen team is then
planned by the alignment engine's exact backend (``highs-mip``).

**Removals (N below the current team).** Every choice of m₀ − N removable reps
is planned exactly (``highs-mip``); the cheapest plan wins.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import coo_matrix

from territory_opt._errors import SolverError
from territory_opt.alignment.backends.base import SolveOptions, Status
from territory_opt.alignment.backends.highs import highs_session
from territory_opt.alignment.instance import Instance
from territory_opt.sizing.context import SizingContext
from territory_opt.sizing.request import NEW_HIRE_FTE, TOTAL
from territory_opt.sizing.team import Team

#: Exact placement is used when items × (reps + slots) stays below this.
EXACT_ARC_LIMIT = 5_000
#: ... and a team size has at most this many removal choices or hire splits.
EXACT_CONFIG_LIMIT = 64
#: Relative slack when comparing workload with capacity.
_EPS = 1e-9


@dataclass(frozen=True)
class MipOutcome:
    """Result of the location-allocation MIP for one split of hires."""

    status: Status
    hires: tuple[int, ...] | None
    objective: float
    bound: float


def removal_sets(ctx: SizingContext, n: int) -> list[tuple[int, ...]]:
    """Every choice of current reps to remove for a team of ``n`` (n below the current team)."""
    removable = [r for r in range(ctx.m0) if r not in ctx.keep]
    k = ctx.m0 - n
    if k > len(removable):
        return []
    return list(itertools.combinations(removable, k))


def hire_splits(ctx: SizingContext, k: int) -> list[dict[str, int]]:
    """Every split of ``k`` hires over the pools that have slots, within the limits."""
    pools = sorted({str(p) for p in ctx.slot_pool})
    caps = [ctx.pool_hire_cap(p) for p in pools]
    out: list[dict[str, int]] = []

    def rec(i: int, left: int, acc: list[int]) -> None:
        if i == len(pools):
            if left == 0:
                out.append(dict(zip(pools, acc, strict=True)))
            return
        for take in range(min(left, caps[i]), -1, -1):
            rec(i + 1, left - take, [*acc, take])

    rec(0, k, [])
    return out


def configurations(ctx: SizingContext, n: int) -> int:
    """Count the removal choices (or hire splits) exact sizing tries at size ``n``."""
    if n < ctx.m0:
        removable = ctx.m0 - len(ctx.keep)
        k = ctx.m0 - n
        return math.comb(removable, k) if 0 <= k <= removable else 0
    if n == ctx.m0:
        return 1
    return len(hire_splits(ctx, n - ctx.m0))


def exact_applicable(ctx: SizingContext, n: int) -> bool:
    """Whether the exact method is small enough at team size ``n``."""
    items = ctx.base.n_accounts
    arcs = items * (ctx.m0 + len(ctx.slots))
    return arcs <= EXACT_ARC_LIMIT and configurations(ctx, n) <= EXACT_CONFIG_LIMIT


def fte_short(ctx: SizingContext, team_fte: dict[str, float]) -> bool:
    """Whether some pool (or the whole team) lacks capacity: a proof without solving."""
    base = ctx.base
    segments = np.array([*base.segment_names, ""], dtype=object)[base.account_segment]
    total = sum(team_fte.values())
    for metric, per_fte in ctx.request.capacity.items():
        values = base.metric(metric)
        if float(values.sum()) > per_fte * total * (1 + _EPS):
            return True
        if ctx.pools_on and "" not in team_fte:
            for pool, fte in team_fte.items():
                if float(values[segments == pool].sum()) > per_fte * fte * (1 + _EPS):
                    return True
    return False


def split_short(ctx: SizingContext, split: dict[str, int]) -> bool:
    """Whether a split of hires leaves a pool short of capacity."""
    fte: dict[str, float] = {}
    for r in range(ctx.m0):
        key = str(ctx.rep_pool[r])
        fte[key] = fte.get(key, 0.0) + float(ctx.base.rep_capacity[r])
    for pool, k in split.items():
        fte[pool] = fte.get(pool, 0.0) + k * NEW_HIRE_FTE
    return fte_short(ctx, fte)


def removal_short(ctx: SizingContext, removed: tuple[int, ...]) -> bool:
    """Whether removing these reps leaves a pool short of capacity."""
    fte: dict[str, float] = {}
    for r in range(ctx.m0):
        if r not in removed:
            key = str(ctx.rep_pool[r])
            fte[key] = fte.get(key, 0.0) + float(ctx.base.rep_capacity[r])
    return fte_short(ctx, fte)


def placement_mip(ctx: SizingContext, split: dict[str, int], options: SolveOptions) -> MipOutcome:
    """Solve the location-allocation MIP for one split of hires (see the module notes)."""
    builder, spec, m0 = ctx.builder, ctx.spec, ctx.m0
    pools = [p for p, k in split.items() if k > 0]
    universe_slots = tuple(int(s) for s in np.flatnonzero(np.isin(ctx.slot_pool, pools)))
    placeholders: list[int] = []
    for pool in pools:
        placeholders += [s for s in universe_slots if ctx.slot_pool[s] == pool][: split[pool]]
    universe = Instance.build(builder.problem(Team(ctx.current.kept, universe_slots)), spec)
    config = Instance.build(builder.problem(Team(ctx.current.kept, tuple(placeholders))), spec)
    if universe.load_names != config.load_names:  # pragma: no cover - same spec, same columns
        msg = "internal: limited quantities differ between placements"
        raise SolverError(msg)
    lo, hi = universe.lo.copy(), universe.hi.copy()
    lo[:m0], hi[:m0] = config.lo[:m0], config.hi[:m0]
    row_of_pool = {str(ctx.slot_pool[s]): m0 + placeholders.index(s) for s in placeholders[::-1]}
    for j, slot in enumerate(universe_slots):
        row = row_of_pool[str(ctx.slot_pool[slot])]
        lo[m0 + j], hi[m0 + j] = config.lo[row], config.hi[row]
    model = universe.arc_model(*universe.all_arcs())
    n_arcs, n_slots = model.n_arcs, len(universe_slots)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    row_lo: list[float] = []
    row_hi: list[float] = []
    inf = highspy.kHighsInf

    def add(c: np.ndarray, v: np.ndarray, low: float, high: float) -> None:
        rows.append(np.full(len(c), len(row_lo)))
        cols.append(np.asarray(c, dtype=np.int64))
        vals.append(np.asarray(v, dtype=np.float64))
        row_lo.append(low)
        row_hi.append(high)

    arcs_of_item = np.split(np.arange(n_arcs), np.flatnonzero(np.diff(model.arc_item)) + 1)
    if len(np.unique(model.arc_item)) < model.n_items:
        return MipOutcome(Status.INFEASIBLE, None, math.inf, math.inf)
    for arcs in arcs_of_item:
        add(arcs, np.ones(len(arcs)), 1.0, 1.0)
    for u in range(m0 + n_slots):
        mine = np.flatnonzero(model.arc_rep == u)
        slot = u >= m0
        y = [n_arcs + u - m0] if slot else []
        for col in range(len(model.load_names)):
            q = model.load[mine, col]
            if np.isfinite(hi[u, col]):
                c = np.concatenate([mine, y]).astype(np.int64)
                v = np.concatenate([q, [-hi[u, col]] if slot else []])
                add(c, v, -inf, 0.0 if slot else float(hi[u, col]))
            if np.isfinite(lo[u, col]) and lo[u, col] > 0:
                c = np.concatenate([mine, y]).astype(np.int64)
                v = np.concatenate([q, [-lo[u, col]] if slot else []])
                add(c, v, 0.0 if slot else float(lo[u, col]), inf)
        if slot:
            for a in mine:
                add(np.array([a, n_arcs + u - m0]), np.array([1.0, -1.0]), -inf, 0.0)
    for pool in pools:
        members = [n_arcs + j for j, s in enumerate(universe_slots) if ctx.slot_pool[s] == pool]
        add(np.array(members), np.ones(len(members)), split[pool], split[pool])
    for key in sorted(k for k in ctx.request.max_new if k != TOTAL):
        members = [n_arcs + j for j, s in enumerate(universe_slots) if key in ctx.slot_keys(s)]
        if members:
            add(np.array(members), np.ones(len(members)), -inf, float(ctx.request.max_new[key]))
    position = {s: j for j, s in enumerate(universe_slots)}
    for j, slot in enumerate(universe_slots):
        if ctx.slots.copy[slot] == 0:
            continue
        earlier = [
            s
            for s in universe_slots
            if ctx.slots.site[s] == ctx.slots.site[slot]
            and ctx.slots.segment[s] == ctx.slots.segment[slot]
            and ctx.slots.copy[s] == ctx.slots.copy[slot] - 1
        ]
        for s in earlier:
            add(np.array([n_arcs + j, n_arcs + position[s]]), np.array([1.0, -1.0]), -inf, 0.0)
    for g in range(len(model.budget_hi)):
        used = np.flatnonzero(model.budget[:, g] != 0)
        add(used, model.budget[used, g], -inf, float(model.budget_hi[g]))
    n_col = n_arcs + n_slots
    matrix = coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(row_lo), n_col),
    ).tocsc()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_col, len(row_lo)
    lp.col_cost_ = np.concatenate([model.cost, np.zeros(n_slots)])
    lp.col_lower_ = np.zeros(n_col)
    lp.col_upper_ = np.ones(n_col)
    lp.row_lower_ = np.array(row_lo)
    lp.row_upper_ = np.array(row_hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(np.float64)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_col, len(row_lo)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_col
    with highs_session(options) as (h, _):
        h.passModel(lp)
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        has = info.primal_solution_status == 2
        values = np.asarray(h.getSolution().col_value) if has else None
        bound = float(info.mip_dual_bound)
    if status == highspy.HighsModelStatus.kInfeasible:
        return MipOutcome(Status.INFEASIBLE, None, math.inf, math.inf)
    if values is None:
        return MipOutcome(
            Status.TIME_LIMIT, None, math.inf, bound if math.isfinite(bound) else -math.inf
        )
    chosen = tuple(universe_slots[j] for j in np.flatnonzero(values[n_arcs:] > 0.5))
    objective = float(model.cost @ np.round(values[:n_arcs]))
    bound = min(bound, objective) if math.isfinite(bound) else -math.inf
    optimal = status == highspy.HighsModelStatus.kOptimal
    return MipOutcome(Status.OPTIMAL if optimal else Status.TIME_LIMIT, chosen, objective, bound)
