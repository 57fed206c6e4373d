"""Location-allocation with balanced LP allocation and contiguity-preserving local search.

1. Centers: the fixed ones, a given start's centers, or k-means++ on the units
   (seeded, weighted by the distance weight).
2. Allocation: an LP assigns units to centers at least weighted distance with
   every band (elastic, so it always solves); each unit goes to its largest share.
3. Contiguity: a district keeps the piece that holds its center; cut-off pieces
   join the neighbouring district they touch at least cost.
4. Local search: boundary units move to a neighbouring district when that
   reduces the band violation, or keeps every band and lowers the objective,
   and the district they leave stays connected.
5. Centers move to their district's medoid and steps 2-4 repeat until they settle.

The search only accepts improving moves, so it also improves any start it is
given (:func:`improve`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import csc_matrix

from territory_opt.districting.contiguity import is_contiguous, pieces
from territory_opt.districting.spec import DistrictObjective

#: Relative weight of one unit of band violation against the objective in the
#: allocation LP (the LP is elastic so it always has a solution).
ELASTIC_PENALTY = 1e4
#: Location-allocation rounds at most.
MAX_ROUNDS = 12


@dataclass(frozen=True)
class Design:
    """A design: district index per unit and the center unit of each district."""

    labels: np.ndarray
    centers: np.ndarray


@dataclass(frozen=True)
class Context:
    """Everything the heuristic needs, as arrays.

    Attributes
    ----------
    dist
        ``(n, n)`` unit-to-unit distance.
    weight
        Distance weight per unit.
    values, lo, hi
        Banded metric values ``(n, b)`` and per-district limits.
    nbrs, edges, edge_cost
        Unit graph and the cost of cutting each edge.
    k, objective, contiguous
        The request.
    fixed_centers
        Center units that may not move, or None.
    extra
        ``(n, k)`` cost of unit i in district j on top of the objective
        (disruption), or None.
    locked
        District index each unit is locked to (-1: free), or None.
    home
        In a labelled design, the district each unit may be a center of (-1:
        none), or None.
    """

    dist: np.ndarray
    weight: np.ndarray
    values: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    nbrs: Sequence[np.ndarray]
    edges: np.ndarray
    edge_cost: np.ndarray
    k: int
    objective: DistrictObjective
    contiguous: bool
    fixed_centers: np.ndarray | None
    extra: np.ndarray | None = None
    locked: np.ndarray | None = None
    home: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.weight)

    def scale(self) -> np.ndarray:
        """Band widths used to normalise violations."""
        return np.maximum(self.hi, 1e-12)

    def violation(self, totals: np.ndarray) -> float:
        """Total band violation of ``(k, b)`` district totals, relative to the limits."""
        over = np.maximum(totals - self.hi, 0) + np.maximum(self.lo - totals, 0)
        return float((over / self.scale()).sum())

    def objective_of(self, design: Design) -> float:
        """Return the requested objective of a design (plus disruption)."""
        lab, cen = design.labels, design.centers
        extra = 0.0 if self.extra is None else float(self.extra[np.arange(self.n), lab].sum())
        if self.objective == DistrictObjective.CUT_EDGES:
            cut = lab[self.edges[:, 0]] != lab[self.edges[:, 1]]
            return float(self.edge_cost[cut].sum()) + extra
        d = self.dist[np.arange(self.n), cen[lab]]
        if self.objective == DistrictObjective.MAX_DISTANCE:
            return float(d.max()) + extra
        return float((self.weight * d).sum()) + extra

    def valid(self, design: Design) -> bool:
        """Whether every band, lock, center rule and (when asked) contiguity holds."""
        if self.violation(totals_of(self, design.labels)) > 1e-9:
            return False
        if self.locked is not None:
            free = self.locked < 0
            if not (free | (design.labels == self.locked)).all():
                return False
        if self.home is not None and (self.home[design.centers] != np.arange(self.k)).any():
            return False
        return not self.contiguous or is_contiguous(design.labels, self.edges, self.k)


def totals_of(ctx: Context, labels: np.ndarray) -> np.ndarray:
    """``(k, b)`` banded metric totals per district."""
    return (
        np.stack(
            [
                np.bincount(labels, weights=ctx.values[:, q], minlength=ctx.k)
                for q in range(ctx.values.shape[1])
            ],
            axis=1,
        )
        if ctx.values.shape[1]
        else np.zeros((ctx.k, 0))
    )


def seed_centers(ctx: Context, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding on the distance matrix, weighted by the distance weight."""
    if ctx.fixed_centers is not None:
        return np.array(ctx.fixed_centers, dtype=np.int64)
    if ctx.home is not None:
        # One center per territory: its members' medoid.
        return medoids(ctx, ctx.home.copy(), np.zeros(ctx.k, dtype=np.int64))
    w = np.maximum(ctx.weight, 1e-12)
    first = int(rng.choice(ctx.n, p=w / w.sum()))
    centers = [first]
    near = ctx.dist[:, first].copy()
    for _ in range(1, ctx.k):
        p = w * near**2
        if p.sum() <= 0:
            free = np.setdiff1d(np.arange(ctx.n), centers)
            c = int(rng.choice(free))
        else:
            c = int(rng.choice(ctx.n, p=p / p.sum()))
        centers.append(c)
        near = np.minimum(near, ctx.dist[:, c])
    return np.array(centers, dtype=np.int64)


def allocate(ctx: Context, centers: np.ndarray) -> np.ndarray:
    """Balanced allocation LP to the given centers, rounded to each unit's largest share."""
    n, k = ctx.n, len(centers)
    b = ctx.values.shape[1]
    if ctx.objective == DistrictObjective.MAX_DISTANCE:
        cost = ctx.dist[:, centers] ** 2
    else:
        cost = ctx.weight[:, None] * ctx.dist[:, centers]
    if ctx.extra is not None:
        cost = cost + ctx.extra
    scale = max(float(cost.max()), 1e-9)
    cost = cost / scale
    if ctx.locked is not None:
        fixed = ctx.locked >= 0
        cost[fixed] = 1e6
        cost[fixed, ctx.locked[fixed]] = 0.0
    cols = np.arange(n * k)
    unit = np.repeat(np.arange(n), k)
    dist_j = np.tile(np.arange(k), n)
    # rows: n assignment rows, then k*b band rows; slack columns for each band row (two-sided)
    r = [unit]
    c = [cols]
    v = [np.ones(n * k)]
    for q in range(b):
        r.append(n + q * k + dist_j)
        c.append(cols)
        v.append(ctx.values[unit, q] / max(ctx.hi[q], 1e-12))
    n_band = k * b
    slack_rows = n + np.arange(n_band)
    r += [slack_rows, slack_rows]
    c += [n * k + np.arange(n_band), n * k + n_band + np.arange(n_band)]
    v += [np.ones(n_band), -np.ones(n_band)]
    n_cols = n * k + 2 * n_band
    a = csc_matrix(
        (np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(n + n_band, n_cols)
    )
    lo_rows = np.concatenate([np.ones(n), np.repeat(ctx.lo / np.maximum(ctx.hi, 1e-12), k)])
    hi_rows = np.concatenate([np.ones(n), np.ones(n_band)])
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = n + n_band
    lp.col_cost_ = np.concatenate([cost.reshape(-1), np.full(2 * n_band, ELASTIC_PENALTY)])
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.full(n_cols, highspy.kHighsInf)
    lp.row_lower_ = lo_rows
    lp.row_upper_ = hi_rows
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(np.float64)
    lp.a_matrix_.num_col_ = n_cols
    lp.a_matrix_.num_row_ = n + n_band
    h.passModel(lp)
    h.run()
    x = np.asarray(h.getSolution().col_value)[: n * k].reshape(n, k)
    return np.argmax(x, axis=1).astype(np.int64)


def make_contiguous(ctx: Context, design: Design) -> Design:
    """Give every cut-off piece to the neighbouring district it touches at least cost."""
    labels = design.labels.copy()
    orphan = np.zeros(ctx.n, dtype=bool)
    for j, groups in enumerate(pieces(labels, ctx.edges, ctx.k)):
        center = int(design.centers[j])
        for g in groups:
            if center not in set(g.tolist()):
                orphan[g] = True
    if not orphan.any():
        return design
    labels[orphan] = -1
    queue = deque(int(u) for u in np.flatnonzero(orphan))
    stalled = 0
    while queue and stalled <= len(queue):
        u = queue.popleft()
        options = {int(labels[v]) for v in ctx.nbrs[u] if labels[v] >= 0}
        if not options:
            queue.append(u)
            stalled += 1
            continue
        stalled = 0
        labels[u] = min(options, key=lambda j: (ctx.dist[u, design.centers[j]], j))
    for u in queue:  # units with no assigned neighbour (only without contiguity edges)
        labels[u] = int(np.argmin(ctx.dist[u, design.centers]))
    return Design(labels, design.centers)


def _connected_without(
    members: np.ndarray, removed: int, nbrs: Sequence[np.ndarray], mask: np.ndarray
) -> bool:
    """Whether ``members`` minus ``removed`` stays connected (``mask`` marks members)."""
    if len(members) <= 1:
        return False
    mask[removed] = False
    try:
        return _connected(mask, nbrs)
    finally:
        mask[removed] = True


def improve(ctx: Context, design: Design, deadline: float) -> Design:
    """Move boundary units while moves reduce violation or, when balanced, the objective.

    Parameters
    ----------
    ctx
        The request as arrays.
    design
        Any start (it need not be balanced or contiguous; contiguity is not
        repaired here, only kept).
    deadline
        ``time.monotonic`` deadline.
    """
    labels = design.labels.copy()
    centers = design.centers
    is_center = np.zeros(ctx.n, dtype=bool)
    is_center[centers] = True
    totals = totals_of(ctx, labels)
    scale = ctx.scale()
    cut_obj = ctx.objective == DistrictObjective.CUT_EDGES
    max_obj = ctx.objective == DistrictObjective.MAX_DISTANCE
    dist_c = ctx.dist[:, centers]
    incident: list[list[int]] = [[] for _ in range(ctx.n)]
    for t, (x, y) in enumerate(ctx.edges.tolist()):
        incident[x].append(t)
        incident[y].append(t)
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        cur_d = dist_c[np.arange(ctx.n), labels]
        cur_max = float(cur_d.max()) if max_obj else 0.0
        if ctx.contiguous:
            cut = labels[ctx.edges[:, 0]] != labels[ctx.edges[:, 1]]
            boundary = np.unique(ctx.edges[cut].reshape(-1))
        else:
            boundary = np.arange(ctx.n)
        for u in boundary:
            u = int(u)
            a = int(labels[u])
            if (is_center[u] and not cut_obj) or (ctx.locked is not None and ctx.locked[u] >= 0):
                continue
            if ctx.contiguous:
                targets = sorted({int(labels[v]) for v in ctx.nbrs[u]} - {a})
            else:
                targets = [j for j in range(ctx.k) if j != a]
            if not targets:
                continue
            before = totals[[a]]
            best: tuple[float, float, int] | None = None
            for b in targets:
                ta = totals[a] - ctx.values[u]
                tb = totals[b] + ctx.values[u]
                dv = (
                    _viol(ta, ctx.lo, ctx.hi, scale)
                    + _viol(tb, ctx.lo, ctx.hi, scale)
                    - _viol(before[0], ctx.lo, ctx.hi, scale)
                    - _viol(totals[b], ctx.lo, ctx.hi, scale)
                )
                if cut_obj:
                    # Edges to a become cut, edges to b stop being cut.
                    e = ctx.edges[incident[u]]
                    far = np.where(e[:, 0] == u, e[:, 1], e[:, 0])
                    cost_u = ctx.edge_cost[incident[u]]
                    dobj = float(cost_u[labels[far] == a].sum() - cost_u[labels[far] == b].sum())
                elif max_obj:
                    new_d = dist_c[u, b]
                    if new_d > cur_max + 1e-12:
                        continue
                    dobj = float(new_d**2 - cur_d[u] ** 2)
                else:
                    dobj = float(ctx.weight[u] * (dist_c[u, b] - cur_d[u]))
                if ctx.extra is not None:
                    dobj += float(ctx.extra[u, b] - ctx.extra[u, a])
                key = (dv, dobj, b)
                if (dv < -1e-12 or (abs(dv) <= 1e-12 and dobj < -1e-9)) and (
                    best is None or key < best
                ):
                    best = key
            if best is None:
                continue
            b = best[2]
            if ctx.contiguous:
                members = np.flatnonzero(labels == a)
                if not _connected_without(members, u, ctx.nbrs, labels == a):
                    continue
            elif (labels == a).sum() <= 1:
                continue
            labels[u] = b
            totals[a] -= ctx.values[u]
            totals[b] += ctx.values[u]
            cur_d[u] = dist_c[u, b]
            improved = True
            if time.monotonic() >= deadline:
                break
        if not improved and time.monotonic() < deadline:
            # No single move helps: try exchanging two units across a border.
            improved = _exchange(ctx, labels, totals, is_center, dist_c, deadline)
    return Design(labels, centers)


def _connected(mask: np.ndarray, nbrs: Sequence[np.ndarray]) -> bool:
    """Whether the units marked in ``mask`` form one connected piece."""
    members = np.flatnonzero(mask)
    if len(members) == 0:
        return True
    seen = {int(members[0])}
    stack = [int(members[0])]
    while stack:
        u = stack.pop()
        for v in nbrs[u]:
            vi = int(v)
            if mask[vi] and vi not in seen:
                seen.add(vi)
                stack.append(vi)
    return len(seen) == len(members)


#: Exchange partners tried per border unit (the nearest ones of the other district).
EXCHANGE_PARTNERS = 12


def _exchange(
    ctx: Context,
    labels: np.ndarray,
    totals: np.ndarray,
    is_center: np.ndarray,
    dist_c: np.ndarray,
    deadline: float,
) -> bool:
    """Apply the best improving exchange of a border unit with a unit of the district it borders.

    Moves ``u`` from district a to b and ``v`` from b to a, where both sit on the
    a-b border; both districts must stay connected (when asked). Returns whether
    an exchange was applied.
    """
    scale = ctx.scale()
    cut_obj = ctx.objective == DistrictObjective.CUT_EDGES
    max_obj = ctx.objective == DistrictObjective.MAX_DISTANCE
    n = ctx.n
    rows = np.arange(n)
    cur_d = dist_c[rows, labels]
    cur_max = float(cur_d.max()) if max_obj else 0.0
    movable = ~is_center if not cut_obj else np.ones(n, dtype=bool)
    if ctx.locked is not None:
        movable &= ctx.locked < 0
    if not len(ctx.edges):
        return False
    cross = labels[ctx.edges[:, 0]] != labels[ctx.edges[:, 1]]
    # border[(a, b)]: units of a that touch b
    border: dict[tuple[int, int], set[int]] = {}
    for x, y in ctx.edges[cross].tolist():
        border.setdefault((int(labels[x]), int(labels[y])), set()).add(x)
        border.setdefault((int(labels[y]), int(labels[x])), set()).add(y)
    incident: dict[int, list[int]] = {}

    def edges_of(u: int) -> list[int]:
        if u not in incident:
            incident[u] = np.flatnonzero((ctx.edges[:, 0] == u) | (ctx.edges[:, 1] == u)).tolist()
        return incident[u]

    def local_cut(units: tuple[int, int], lab: np.ndarray) -> float:
        ids = sorted(set(edges_of(units[0])) | set(edges_of(units[1])))
        e = ctx.edges[ids]
        return float(ctx.edge_cost[ids][lab[e[:, 0]] != lab[e[:, 1]]].sum())

    best: tuple[float, float, int, int] | None = None
    for (a, b), side in sorted(border.items()):
        if a > b:
            continue
        other = sorted(border.get((b, a), set()))
        if not other:
            continue
        for u in sorted(side):
            if not movable[u]:
                continue
            partners = [v for v in other if movable[v]]
            if len(partners) > EXCHANGE_PARTNERS:
                near = np.argsort(ctx.dist[u, partners], kind="stable")[:EXCHANGE_PARTNERS]
                partners = [partners[i] for i in near]
            for v in partners:
                ta = totals[a] - ctx.values[u] + ctx.values[v]
                tb = totals[b] + ctx.values[u] - ctx.values[v]
                dv = (
                    _viol(ta, ctx.lo, ctx.hi, scale)
                    + _viol(tb, ctx.lo, ctx.hi, scale)
                    - _viol(totals[a], ctx.lo, ctx.hi, scale)
                    - _viol(totals[b], ctx.lo, ctx.hi, scale)
                )
                if cut_obj:
                    before = local_cut((u, v), labels)
                    labels[u], labels[v] = b, a
                    dobj = local_cut((u, v), labels) - before
                    labels[u], labels[v] = a, b
                elif max_obj:
                    if max(dist_c[u, b], dist_c[v, a]) > cur_max + 1e-12:
                        continue
                    dobj = float(
                        dist_c[u, b] ** 2 + dist_c[v, a] ** 2 - cur_d[u] ** 2 - cur_d[v] ** 2
                    )
                else:
                    dobj = float(
                        ctx.weight[u] * (dist_c[u, b] - cur_d[u])
                        + ctx.weight[v] * (dist_c[v, a] - cur_d[v])
                    )
                if ctx.extra is not None:
                    dobj += float(
                        ctx.extra[u, b] - ctx.extra[u, a] + ctx.extra[v, a] - ctx.extra[v, b]
                    )
                key = (dv, dobj, u, v)
                good = dv < -1e-12 or (abs(dv) <= 1e-12 and dobj < -1e-9)
                if good and (best is None or key < best):
                    if ctx.contiguous:
                        labels[u], labels[v] = b, a
                        ok = _connected(labels == a, ctx.nbrs) and _connected(labels == b, ctx.nbrs)
                        labels[u], labels[v] = a, b
                        if not ok:
                            continue
                    best = key
        if time.monotonic() >= deadline:
            break
    if best is None:
        return False
    _, _, u, v = best
    a, b = int(labels[u]), int(labels[v])
    labels[u], labels[v] = b, a
    totals[a] += ctx.values[v] - ctx.values[u]
    totals[b] += ctx.values[u] - ctx.values[v]
    return True


def _viol(t: np.ndarray, lo: np.ndarray, hi: np.ndarray, scale: np.ndarray) -> float:
    return float(((np.maximum(t - hi, 0) + np.maximum(lo - t, 0)) / scale).sum())


def medoids(ctx: Context, labels: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Best center unit per district for the objective (fixed centers stay)."""
    if ctx.fixed_centers is not None:
        return centers
    out = centers.copy()
    for j in range(ctx.k):
        members = np.flatnonzero(labels == j)
        if len(members) == 0:
            continue
        allowed = members if ctx.home is None else members[ctx.home[members] == j]
        if len(allowed) == 0:
            continue
        sub = ctx.dist[np.ix_(members, allowed)]
        if ctx.objective == DistrictObjective.MAX_DISTANCE:
            score = sub.max(axis=0)
        else:
            score = ctx.weight[members] @ sub
        out[j] = allowed[int(np.argmin(score))]
    return out


def rank(ctx: Context, d: Design) -> tuple[float, float, float]:
    """Sort key of designs: valid first, then less band violation, then objective."""
    return (
        0.0 if ctx.valid(d) else 1.0,
        ctx.violation(totals_of(ctx, d.labels)),
        ctx.objective_of(d),
    )


def design(ctx: Context, *, seed: int, deadline: float, start: Design | None = None) -> Design:
    """Run location-allocation and local search from k-means++ centers or ``start``.

    Returns the best design found: balanced if any was found, else the least
    violating one; contiguous when ``ctx.contiguous``.
    """
    rng = np.random.default_rng(seed)
    centers = start.centers if start is not None else seed_centers(ctx, rng)
    best: Design | None = None
    best_key = (np.inf, np.inf, np.inf)
    labels = start.labels if start is not None else None
    for _ in range(MAX_ROUNDS):
        if labels is None:
            labels = allocate(ctx, centers)
        current = Design(labels, centers)
        if ctx.contiguous:
            current = make_contiguous(ctx, current)
        current = improve(ctx, current, deadline)
        # The best center of each district may have changed with its units.
        recentered = Design(current.labels, medoids(ctx, current.labels, current.centers))
        if ctx.objective_of(recentered) < ctx.objective_of(current):
            current = recentered
        key = rank(ctx, current)
        if key < best_key:
            best, best_key = current, key
        new_centers = medoids(ctx, current.labels, current.centers)
        if np.array_equal(np.sort(new_centers), np.sort(centers)) or time.monotonic() >= deadline:
            break
        centers = new_centers
        labels = None
    assert best is not None
    return best
