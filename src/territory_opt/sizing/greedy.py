r"""Greedy placement for large books: who leaves, where the next hire sits.

Notes
-----
Moves are ranked with a *proxy* of the alignment objective and the best few
are planned by the alignment engine itself. The proxy cost of account *i* at
team member *u* is the alignment's own cost
:math:`c_{iu} = \alpha w_i d(i, u) + \gamma v_i [\mathrm{current}_i \ne u]`
(∞ where *u* is not eligible: segment, lock, exclusion, ``max_distance``).
Where an account *is* comes from the engine's plan of the previous team size,
so the proxy sees how far balanced territories have to reach (without a plan:
its cheapest eligible member).

**Removal** (sizes below the current team). Removing rep *r* costs
:math:`\Delta_r = \sum_{i \in r} (\min_{u \ne r} c_{iu} - c_{ir})`. Reps on the
keep list, reps with locked accounts and reps whose departure would leave
their segment (or the team) short of capacity are never removed.

**Addition** (sizes above the current team). A hire at slot *s* takes the
accounts it saves most on, :math:`\mathrm{here}_i - c_{is}`, largest first,
until it holds its balanced share of the capacity metric (the pool's total ÷
(its FTE + 1), at most the capacity), also when the last ones cost more than
where they are (its band makes it carry a full share). While a segment lacks
capacity, only its slots are ranked.

**Screening.** The ``screen`` best moves by the proxy are each planned by the
engine; the plan with the lowest objective wins (ties: proxy order). The path
is nested: the team of N + 1 reps is the team of N plus one hire (or minus one
rep going down), and every size between the current team and N is planned on
the way (sizes the counting bound rules out by the proxy alone). The
engine's bound is the bound *for that team*. Optional interchange
(``swaps``): for each hire in turn, the best other slot of its pool by the
proxy is planned and kept when the objective improves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np

from territory_opt._progress import step, track
from territory_opt.data.problem import NO_INDEX
from territory_opt.data.schema import CoordSystem
from territory_opt.geo.distance import haversine_km
from territory_opt.plan import Plan
from territory_opt.sizing.bounds import account_segment_keys
from territory_opt.sizing.context import SizingContext
from territory_opt.sizing.request import NEW_HIRE_FTE
from territory_opt.sizing.team import Team

#: Cost columns cached at most (accounts × members) before recomputing on demand.
CACHE_ENTRIES = 20_000_000
#: Stand-in cost of an account no member may take (large, finite for sums).
_UNCOVERED = 1e30


def _never(n: int) -> bool:  # noqa: ARG001 - the default of GreedyPath's skip
    return False


class GreedyPath:
    """Nested teams for every size, from the current team down (removal) and up (hires)."""

    def __init__(
        self,
        ctx: SizingContext,
        solve: Callable[[Team], Plan],
        skip: Callable[[int], bool] | None = None,
    ) -> None:
        self.ctx = ctx
        self.solve = solve
        #: Sizes proven impossible without solving: their team is chosen by the proxy alone.
        self.skip = skip or _never
        base, spec = ctx.base, ctx.spec
        n = base.n_accounts
        self.travel_w = np.zeros(n)
        if spec.travel_weight and ctx.centers is not None:
            w = base.metric(spec.travel_metric) if spec.travel_metric else np.ones(n)
            self.travel_w = spec.travel_weight * w
        basis = base.metric(spec.disruption_metric) if spec.disruption_metric else np.ones(n)
        self.disruption = spec.disruption_weight * basis
        self.segments = account_segment_keys(ctx)
        self.rep_segments = np.array([*base.segment_names, ""], dtype=object)[base.rep_segment]
        metric = next(iter(ctx.request.capacity))
        self.metric, self.per_fte = metric, float(ctx.request.capacity[metric])
        self.load = base.metric(metric)
        self._cache: dict[int, np.ndarray] = {}
        self._budget = max(1, CACHE_ENTRIES // max(n, 1))
        self.teams: dict[int, tuple[Team, Plan | None] | None] = {}
        #: Wall time spent planning each size [s].
        self.seconds: dict[int, float] = {}
        excluded = base.excluded
        self._excluded = {
            int(r): excluded[excluded[:, 1] == r, 0] for r in np.unique(excluded[:, 1])
        }

    # ------------------------------------------------------------ costs
    def _coords(self, member: int) -> np.ndarray:
        ctx = self.ctx
        if member < ctx.m0:
            assert ctx.centers is not None
            return ctx.centers[member]
        return ctx.sites.coords[ctx.slots.site[member - ctx.m0]]

    def cost(self, member: int) -> np.ndarray:
        """Proxy cost of every account at a member (rep index, or m0 + slot); inf if ineligible."""
        cached = self._cache.get(member)
        if cached is not None:
            return cached
        ctx, base = self.ctx, self.ctx.base
        coords = base.account_coords
        assert coords is not None
        home = self._coords(member)
        if base.coord_system == CoordSystem.LATLON:
            dist = haversine_km(coords[:, 0], coords[:, 1], home[0], home[1])
        else:
            dist = np.hypot(coords[:, 0] - home[0], coords[:, 1] - home[1])
        existing = member < ctx.m0
        segment = self.rep_segments[member] if existing else ctx.slots.segment[member - ctx.m0]
        moved = (base.current_rep != NO_INDEX) & (base.current_rep != (member if existing else -2))
        out = self.travel_w * dist + self.disruption * moved
        ok = np.ones(base.n_accounts, dtype=bool)
        if ctx.spec.segment_match and segment:
            ok &= (self.segments == "") | (self.segments == segment)
        locked = base.locked_rep
        ok &= (locked == NO_INDEX) | (locked == (member if existing else -2))
        if existing and member in self._excluded:
            ok[self._excluded[member]] = False
        if ctx.spec.max_distance is not None:
            ok &= dist <= ctx.spec.max_distance
        out = np.where(ok, out, np.inf)
        if len(self._cache) < self._budget:
            self._cache[member] = out
        return out

    def members(self, team: Team) -> list[int]:
        """Member codes of a team: rep indices, then m0 + slot of each hire."""
        return [*team.kept, *(self.ctx.m0 + s for s in team.hires)]

    def _matrix(self, team: Team) -> np.ndarray:
        return np.column_stack([self.cost(u) for u in self.members(team)])

    # ------------------------------------------------------------ capacity
    def _pool_of(self, member: int) -> str:
        ctx = self.ctx
        return str(ctx.rep_pool[member] if member < ctx.m0 else ctx.slot_pool[member - ctx.m0])

    def _fte(self, member: int) -> float:
        ctx = self.ctx
        return float(ctx.base.rep_capacity[member]) if member < ctx.m0 else NEW_HIRE_FTE

    def _pool_need(self, pool: str) -> float:
        """Capacity metric the pool's reps must carry (the whole book without segment pools)."""
        if not self.ctx.pools_on or not pool:
            return float(self.load.sum()) if not self.ctx.pools_on else 0.0
        return float(self.load[self.segments == pool].sum())

    def _short(self, team: Team) -> set[str]:
        """Pools (segments) whose reps lack capacity for their accounts."""
        fte: dict[str, float] = {}
        for u in self.members(team):
            fte[self._pool_of(u)] = fte.get(self._pool_of(u), 0.0) + self._fte(u)
        pools = set(fte) | {str(p) for p in self.ctx.slot_pool}
        return {
            p for p in pools if self._pool_need(p) > self.per_fte * fte.get(p, 0.0) * (1 + 1e-9)
        }

    # ------------------------------------------------------------ baselines
    def baseline(self, team: Team, plan: Plan | None) -> np.ndarray:
        """Cost of every account where it is: at its rep in the engine's plan.

        Without a plan, at its cheapest eligible member (bands ignored).
        """
        c = self._matrix(team)
        if plan is not None and plan.assignment is not None:
            return c[np.arange(len(c)), plan.assignment]
        return c.min(axis=1)

    def _fte_by_pool(self, members: list[int]) -> dict[str, float]:
        fte: dict[str, float] = {}
        for u in members:
            fte[self._pool_of(u)] = fte.get(self._pool_of(u), 0.0) + self._fte(u)
        return fte

    # ------------------------------------------------------------ moves
    def removal_candidates(self, team: Team, plan: Plan | None, k: int) -> list[Team]:
        """Return the ``k`` cheapest removals from ``team``, cheapest first."""
        members = self.members(team)
        if len(members) < 2:
            return []
        c = self._matrix(team)
        rows = np.arange(len(c))
        where = (
            plan.assignment
            if plan is not None and plan.assignment is not None
            else np.argmin(c, axis=1)
        )
        here = c[rows, where]
        others = c.copy()
        others[rows, where] = np.inf
        second = others.min(axis=1)
        gain = np.where(np.isfinite(second), second - here, np.inf)
        gain = np.where(np.isfinite(here), gain, 0.0)
        delta = np.bincount(
            where, weights=np.nan_to_num(gain, posinf=1e300), minlength=len(members)
        )
        delta[np.bincount(where[~np.isfinite(gain)], minlength=len(members)) > 0] = np.inf
        fte = self._fte_by_pool(members)
        total_fte, need_total = sum(fte.values()), float(self.load.sum())
        options: list[tuple[float, int]] = []
        for pos, u in enumerate(members):
            if u >= self.ctx.m0 or u in self.ctx.keep or not np.isfinite(delta[pos]):
                continue
            pool = self._pool_of(u)
            left = fte[pool] - self._fte(u)
            if self.ctx.pools_on and self._pool_need(pool) > self.per_fte * left * (1 + 1e-9):
                continue
            if need_total > self.per_fte * (total_fte - self._fte(u)) * (1 + 1e-9):
                continue
            options.append((float(delta[pos]), u))
        options.sort()
        return [Team(tuple(r for r in team.kept if r != u), team.hires) for _, u in options[:k]]

    def add_scores(self, team: Team, plan: Plan | None, allowed: list[int]) -> np.ndarray:
        """Proxy saving of hiring each allowed slot next to ``team`` (planned as ``plan``)."""
        ctx = self.ctx
        if team.size:
            best = np.minimum(self.baseline(team, plan), _UNCOVERED)
        else:
            best = np.full(ctx.base.n_accounts, _UNCOVERED)
        fte = self._fte_by_pool(self.members(team))
        scores = np.zeros(len(allowed))
        for k, slot in enumerate(allowed):
            pool = str(ctx.slot_pool[slot])
            share = min(
                self.per_fte * NEW_HIRE_FTE,
                self._pool_need(pool) / (fte.get(pool, 0.0) + NEW_HIRE_FTE),
            )
            saving = best - self.cost(ctx.m0 + slot)
            take = np.flatnonzero(np.isfinite(saving))
            if len(take) == 0:
                scores[k] = -np.inf
                continue
            # The hire must carry its share (its band), so it also takes accounts
            # that cost more with it than where they are: a remote site pays for
            # the far accounts it has to reach.
            take = take[np.argsort(-saving[take], kind="stable")]
            carried = np.cumsum(self.load[take])
            keep = min(len(take), int(np.searchsorted(carried, share, side="left")) + 1)
            scores[k] = float(saving[take[:keep]].sum())
        return scores

    def _ranked(self, team: Team, plan: Plan | None, allowed: list[int], k: int) -> list[int]:
        if not allowed:
            return []
        scores = self.add_scores(team, plan, allowed)
        order = np.argsort(-scores, kind="stable")  # equal scores: lowest slot first
        return [allowed[i] for i in order[:k]]

    def addition_candidates(self, team: Team, plan: Plan | None, k: int) -> list[Team]:
        """Return the ``k`` best hires to add to ``team`` by the proxy, best first."""
        ctx = self.ctx
        allowed = [s for s in range(len(ctx.slots)) if ctx.can_add(team.hires, s)]
        short = self._short(team)
        if short:
            allowed = [s for s in allowed if str(ctx.slot_pool[s]) in short] or allowed
        return [Team(team.kept, (*team.hires, s)) for s in self._ranked(team, plan, allowed, k)]

    def _next(
        self, team: Team, plan: Plan | None, down: bool, *, solve: bool
    ) -> tuple[Team, Plan | None] | None:
        screen = max(1, self.ctx.request.screen) if solve else 1
        options = (
            self.removal_candidates(team, plan, screen)
            if down
            else self.addition_candidates(team, plan, screen)
        )
        if not solve:
            return (options[0], None) if options else None
        best: tuple[Team, Plan] | None = None
        for option in options:
            found = self.solve(option)
            if best is None or (
                found.assignment is not None
                and (best[1].assignment is None or found.objective < best[1].objective)
            ):
                best = (option, found)
        return best

    def get(self, n: int) -> tuple[Team, Plan | None] | None:
        """Return the team of ``n`` reps on the nested path and its plan (None: stopped).

        Every size between the current team and ``n`` is planned on the way.
        """
        if n in self.teams:
            return self.teams[n]
        m0 = self.ctx.m0
        down = n < m0
        sizes = list(range(m0, n - 1, -1) if down else range(m0, n + 1))
        todo = [k for k in sizes if k not in self.teams]
        if len(todo) == 1:  # one size: a step, not a bar of its own
            with step(f"Planning a team of {todo[0]} reps"):
                self._plan_sizes(todo, down)
        else:
            label = f"Planning teams of {todo[0]} to {todo[-1]} reps"
            self._plan_sizes(track(todo, label, total=len(todo)), down)
        return self.teams[n]

    def _plan_sizes(self, sizes: Iterable[int], down: bool) -> None:
        m0 = self.ctx.m0
        for k in sizes:
            start = time.perf_counter()
            solve = not self.skip(k)
            if k == m0:
                current = self.ctx.current
                self.teams[k] = (current, self.solve(current) if solve else None)
            else:
                previous = self.teams[k + 1 if down else k - 1]
                self.teams[k] = (
                    None if previous is None else self._next(*previous, down, solve=solve)
                )
            self.seconds[k] = time.perf_counter() - start

    def alternative(self, team: Team, position: int) -> Team | None:
        """Return the team with hire ``position`` moved to the best other slot of its pool."""
        ctx = self.ctx
        slot = team.hires[position]
        rest = team.hires[:position] + team.hires[position + 1 :]
        others = Team(team.kept, rest)
        allowed = [
            s
            for s in range(len(ctx.slots))
            if s != slot
            and ctx.slot_pool[s] == ctx.slot_pool[slot]
            and ctx.slots.site[s] != ctx.slots.site[slot]
            and ctx.can_add(rest, s)
        ]
        # Accounts of the moved hire are scored where they would go without it.
        ranked = self._ranked(others, None, allowed, 1)
        if not ranked:
            return None
        hires = list(team.hires)
        hires[position] = ranked[0]
        return Team(team.kept, tuple(hires))
