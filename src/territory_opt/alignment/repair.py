r"""Greedy repair and improvement of plans by single-item moves.

Rounding the LP relaxation leaves a few limits broken by about one item's
load. :func:`repair` removes the violation with the cheapest moves first;
:func:`improve` then applies cost-reducing moves that keep every limit. Both
evaluate every candidate move at once with numpy (one pass over the arcs per
move), so they are fast enough to run before any MIP.

Notes
-----
The violation of a plan is

.. math:: V = \sum_{r,l} \frac{[q_{rl} - hi_{rl}]^+ + [lo_{rl} - q_{rl}]^+}{s_{rl}}
          + \sum_g \frac{[u_g - B_g]^+}{\max(B_g, 1)}

with loads q, limits lo/hi, row scales s (the larger finite limit) and budget
use u. A move of item j from rep a to rep b changes only rows a and b and the
budgets. :func:`repair` picks, among moves with ΔV < 0, the one with the least
Δcost per unit of violation removed (Δcost / −ΔV), i.e. the cheapest repair;
when no single move helps it tries exchanges of two items between two reps.
"""

from __future__ import annotations

import time

import numpy as np

from territory_opt.alignment.instance import ArcModel

#: Up to this many items, repair applies one move at a time (better plans); above
#: it, the best move of every disjoint pair of reps at once (far fewer rounds).
SEQUENTIAL_ITEMS = 5000
#: Relative tolerance under which a limit counts as met.
_TOL = 1e-9


class _State:
    """Loads, budget use and current arcs of a plan, updated move by move."""

    def __init__(self, model: ArcModel, choice: np.ndarray) -> None:
        self.model = model
        self.choice = choice.copy()
        self.rep_of_item = model.arc_rep[self.choice].copy()
        self.loads = model.rep_loads(self.choice)
        self.used = model.budget[self.choice].sum(axis=0)
        self.scale = model.row_scale()
        self.lo = np.where(np.isfinite(model.lo), model.lo, -np.inf)
        self.hi = np.where(np.isfinite(model.hi), model.hi, np.inf)
        self.budget_scale = np.maximum(model.budget_hi, 1.0)
        # Phase A repairs limits with budgets ignored (weight 0); phase B repairs
        # budgets with moves that may not break any limit (row_guard).
        self.budget_weight = 1.0
        self.row_guard = False

    def row_violation(self, loads: np.ndarray, reps: np.ndarray) -> np.ndarray:
        over = np.maximum(loads - self.hi[reps], 0.0) + np.maximum(self.lo[reps] - loads, 0.0)
        tol = _TOL * self.scale[reps]
        over = np.where(over > tol, over, 0.0)
        return np.asarray((over / self.scale[reps]).sum(axis=-1))

    def budget_violation(self, used: np.ndarray) -> np.ndarray:
        over = np.maximum(used - self.model.budget_hi, 0.0)
        return np.asarray((over / self.budget_scale).sum(axis=-1))

    def total_violation(self) -> float:
        reps = np.arange(self.model.n_reps)
        return float(self.row_violation(self.loads, reps).sum()) + self.budget_weight * float(
            self.budget_violation(self.used)
        )

    def moves(self, arcs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Change of cost and of violation for moving each arc's item onto that arc."""
        m = self.model
        item = m.arc_item[arcs]
        src_arc = self.choice[item]
        a, b = self.rep_of_item[item], m.arc_rep[arcs]
        src_load, dst_load = m.load[src_arc], m.load[arcs]
        before = self.row_violation(self.loads[a], a) + self.row_violation(self.loads[b], b)
        after = self.row_violation(self.loads[a] - src_load, a) + self.row_violation(
            self.loads[b] + dst_load, b
        )
        d_row = after - before
        d_viol = d_row
        if len(m.budget_hi) and self.budget_weight:
            new_used = self.used + m.budget[arcs] - m.budget[src_arc]
            d_budget = self.budget_violation(new_used) - self.budget_violation(self.used)
            d_viol = d_row + self.budget_weight * d_budget
        if self.row_guard:
            d_viol = np.where(d_row > _TOL, np.inf, d_viol)
        return m.cost[arcs] - m.cost[src_arc], d_viol

    def best_swap(self, a: int, *, improving: bool = False) -> tuple[int, int] | None:
        """Best exchange of an item of rep ``a`` with an item of another rep.

        Repair mode takes exchanges that reduce violation (ΔV < 0), scored by
        Δcost / −ΔV; ``improving`` mode takes exchanges that keep
        violation (ΔV ≤ 0) and reduce cost.
        """
        m = self.model
        on_a = np.flatnonzero(self.rep_of_item == a)
        if len(on_a) == 0:
            return None
        best: tuple[float, int, int] | None = None
        partners = np.unique(m.arc_rep[np.isin(m.arc_item, on_a)])
        for b in partners[partners != a]:
            on_b = np.flatnonzero(self.rep_of_item == b)
            if len(on_b) == 0:
                continue
            ia_to_b = m.arc_index(on_a, np.full(len(on_a), b))
            kb_to_a = m.arc_index(on_b, np.full(len(on_b), a))
            i_ok, k_ok = on_a[ia_to_b >= 0], on_b[kb_to_a >= 0]
            if len(i_ok) == 0 or len(k_ok) == 0:
                continue
            i_new, k_new = ia_to_b[ia_to_b >= 0], kb_to_a[kb_to_a >= 0]
            i_cur, k_cur = self.choice[i_ok], self.choice[k_ok]
            # Loads after exchanging i (a -> b) with k (b -> a), for every pair.
            load_a = (self.loads[a] - m.load[i_cur])[:, None, :] + m.load[k_new][None, :, :]
            load_b = (self.loads[b] - m.load[k_cur])[None, :, :] + m.load[i_new][:, None, :]
            va = self.row_violation(load_a, np.full(load_a.shape[:2], a))
            vb = self.row_violation(load_b, np.full(load_b.shape[:2], b))
            before = self.row_violation(self.loads[a], np.array(a)) + self.row_violation(
                self.loads[b], np.array(b)
            )
            d_viol = va + vb - before
            d_cost = (m.cost[i_new] - m.cost[i_cur])[:, None] + (m.cost[k_new] - m.cost[k_cur])[
                None, :
            ]
            d_row = d_viol
            if len(m.budget_hi) and self.budget_weight:
                delta = (m.budget[i_new] - m.budget[i_cur])[:, None, :] + (
                    m.budget[k_new] - m.budget[k_cur]
                )[None, :, :]
                d_viol = d_row + self.budget_weight * (
                    self.budget_violation(self.used + delta) - self.budget_violation(self.used)
                )
            if self.row_guard:
                d_viol = np.where(d_row > _TOL, np.inf, d_viol)
            if improving:
                score = np.where(
                    (d_viol <= _TOL) & (d_cost < -_TOL * (1 + abs(d_cost))), d_cost, np.inf
                )
            else:
                score = np.where(d_viol < -_TOL, d_cost / np.maximum(-d_viol, _TOL), np.inf)
            flat = int(np.argmin(score))
            value = float(score.flat[flat])
            if np.isfinite(value) and (best is None or value < best[0]):
                x, y = np.unravel_index(flat, score.shape)
                best = (value, int(i_new[x]), int(k_new[y]))
        return None if best is None else (best[1], best[2])

    def apply(self, arc: int) -> None:
        m = self.model
        item = m.arc_item[arc]
        src = self.choice[item]
        self.loads[m.arc_rep[src]] -= m.load[src]
        self.loads[m.arc_rep[arc]] += m.load[arc]
        self.used += m.budget[arc] - m.budget[src]
        self.choice[item] = arc
        self.rep_of_item[item] = m.arc_rep[arc]


def _apply_disjoint(state: _State, arcs: np.ndarray, score: np.ndarray) -> None:
    """Apply the best-scored moves whose source and destination reps are all distinct."""
    m = state.model
    used = np.zeros(m.n_reps, dtype=bool)
    for k in np.argsort(score, kind="stable"):
        arc = int(arcs[k])
        a, b = state.rep_of_item[m.arc_item[arc]], m.arc_rep[arc]
        if used[a] or used[b]:
            continue
        state.apply(arc)
        used[a] = used[b] = True


def repair(
    model: ArcModel, choice: np.ndarray, *, deadline: float, max_moves: int | None = None
) -> np.ndarray | None:
    """Move items until every limit and budget holds; None if stuck or out of time.

    Parameters
    ----------
    model
        The arc model.
    choice
        Starting arc per item (e.g. the LP rounded), possibly breaking limits.
    deadline
        ``time.perf_counter()`` value at which to give up.
    max_moves
        Limit on moves (default: twice the number of items).

    Returns
    -------
    numpy.ndarray or None
        A plan meeting every limit, or None.
    """
    state = _State(model, choice)
    limit = max_moves if max_moves is not None else 2 * model.n_items
    if len(model.budget_hi) and state.budget_violation(state.used) > 0:
        # Limits first with budgets ignored, then budgets without breaking limits.
        state.budget_weight = 0.0
        if not _repair_loop(state, deadline, limit):
            return None
        state.budget_weight, state.row_guard = 1.0, True
    return state.choice if _repair_loop(state, deadline, limit) else None


def _repair_loop(state: _State, deadline: float, limit: int) -> bool:
    """Apply repairing moves until the state's violation is zero; False if stuck."""
    model = state.model
    arcs_all = np.arange(model.n_arcs)
    for _ in range(limit):
        if state.total_violation() <= 0:
            return True
        if time.perf_counter() > deadline:
            return False
        # Only moves that touch a violated rep (or any move, when budgets are broken).
        reps = np.arange(model.n_reps)
        bad_rep = state.row_violation(state.loads, reps) > 0
        if state.budget_weight and state.budget_violation(state.used) > 0:
            arcs = arcs_all
        else:
            touch = bad_rep[model.arc_rep] | bad_rep[state.rep_of_item[model.arc_item]]
            arcs = arcs_all[touch]
        arcs = arcs[model.arc_rep[arcs] != state.rep_of_item[model.arc_item[arcs]]]
        if len(arcs) == 0:
            return False
        d_cost, d_viol = state.moves(arcs)
        ok = d_viol < -_TOL
        if ok.any():
            # Cheapest repair per unit of violation removed; moves between disjoint
            # pairs of reps do not interact, so apply the best of each at once
            # (one at a time when budgets couple all moves).
            ratio = np.where(ok, d_cost / np.maximum(-d_viol, _TOL), np.inf)
            if len(model.budget_hi) or model.n_items <= SEQUENTIAL_ITEMS:
                state.apply(int(arcs[np.argmin(ratio)]))
                continue
            _apply_disjoint(state, arcs[ok], ratio[ok])
            continue
        swapped = False
        # Exchanges around violated reps (every rep when only budgets are broken).
        seeds = bad_rep if bad_rep.any() else np.ones(model.n_reps, dtype=bool)
        for a in np.argsort(-state.row_violation(state.loads, reps), kind="stable"):
            if not seeds[a]:
                break
            pair = state.best_swap(int(a))
            if pair is not None:
                state.apply(pair[0])
                state.apply(pair[1])
                swapped = True
                break
        if not swapped:
            return False
    return state.total_violation() <= 0


def improve(
    model: ArcModel, choice: np.ndarray, *, deadline: float, max_moves: int | None = None
) -> np.ndarray:
    """Apply the best cost-reducing move that keeps every limit, until none is left.

    Parameters
    ----------
    model
        The arc model.
    choice
        A plan meeting every limit.
    deadline
        ``time.perf_counter()`` value at which to stop.
    max_moves
        Limit on moves (default: the number of items).

    Returns
    -------
    numpy.ndarray
        A plan at least as good, still meeting every limit.
    """
    state = _State(model, choice)
    limit = max_moves if max_moves is not None else model.n_items
    arcs = np.arange(model.n_arcs)
    stale_reps = 0
    rep_cycle = 0
    for _ in range(limit):
        if time.perf_counter() > deadline:
            break
        d_cost, d_viol = state.moves(arcs)
        moving = model.arc_rep != state.rep_of_item[model.arc_item]
        ok = moving & (d_viol <= _TOL) & (d_cost < -_TOL * (1.0 + np.abs(d_cost)))
        if ok.any():
            state.apply(int(arcs[np.argmin(np.where(ok, d_cost, np.inf))]))
            continue
        # No improving move: try exchanges, one rep at a time, round robin.
        pair = state.best_swap(rep_cycle % model.n_reps, improving=True)
        rep_cycle += 1
        if pair is None:
            stale_reps += 1
            if stale_reps >= model.n_reps:
                break
            continue
        stale_reps = 0
        state.apply(pair[0])
        state.apply(pair[1])
    return state.choice
