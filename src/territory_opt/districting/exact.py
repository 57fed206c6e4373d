r"""Exact district design as MIPs on HiGHS, contiguity by separator cuts.

Two formulations (documented with their symbols in ``models/README.md``):

*Center model* (Hess et al. 1965), for the distance objectives. ``x_{ic} = 1``
when unit ``i`` belongs to the district centered at unit ``c``; ``x_{cc}``
opens center ``c``.

.. math::
    \min \sum_{i,c} w_i d_{ic} x_{ic} \quad \text{s.t.} \quad
    \sum_c x_{ic} = 1,\; x_{ic} \le x_{cc},\; \sum_c x_{cc} = k,\;
    L_q x_{cc} \le \sum_i v_{iq} x_{ic} \le U_q x_{cc}

plus, for contiguity, ``x_{ic} \le \sum_{j \in N(i)} x_{jc}`` for ``i`` not
adjacent to ``c`` and the separator cuts of :mod:`.contiguity`. The largest
distance is minimised exactly by bisection over the distinct distances: a
radius ``R`` is feasible when the model restricted to pairs with
``d_{ic} \le R`` has a solution.

*Labeling model*, for cut edges. ``x_{ij} = 1`` when unit ``i`` is in
district ``j`` (``j < k``), ``y_e = 1`` when edge ``e = (u, v)`` is cut:

.. math::
    \min \sum_e c_e y_e \quad \text{s.t.} \quad \sum_j x_{ij} = 1,\;
    L_q \le \sum_i v_{iq} x_{ij} \le U_q,\; y_e \ge x_{uj} - x_{vj},\;
    y_e \ge x_{vj} - x_{uj}

with symmetry broken by numbering districts in the order of their first unit
(``x_{ij} = 0`` for ``j > i`` and ``x_{ij} \le \sum_{i' < i} x_{i', j-1}``), and
separator cuts ``x_{aj} + x_{bj} - \sum_S x_{sj} \le 1`` for contiguity.

Cuts are added when a solution breaks contiguity and the MIP is solved again;
every cut is valid for connected districts, so the MIP bound stays a bound of
the contiguous problem at every round.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import highspy
import numpy as np
from scipy.sparse import csr_matrix

from territory_opt._interrupt import requested
from territory_opt.alignment.backends.base import SolveOptions
from territory_opt.alignment.backends.highs import highs_session
from territory_opt.districting.contiguity import separators

INF = highspy.kHighsInf


@dataclass
class Rows:
    """Rows of a sparse model, appended in blocks."""

    row: list[np.ndarray] = field(default_factory=list)
    col: list[np.ndarray] = field(default_factory=list)
    val: list[np.ndarray] = field(default_factory=list)
    lo: list[np.ndarray] = field(default_factory=list)
    hi: list[np.ndarray] = field(default_factory=list)
    count: int = 0

    def add(
        self,
        row: np.ndarray,
        col: np.ndarray,
        val: np.ndarray | float,
        lo: np.ndarray | float,
        hi: np.ndarray | float,
        n_rows: int,
    ) -> None:
        """Append ``n_rows`` rows; ``row`` holds local row numbers 0..n_rows-1."""
        row = np.asarray(row, dtype=np.int64)
        self.row.append(row + self.count)
        self.col.append(np.asarray(col, dtype=np.int64))
        self.val.append(np.broadcast_to(np.asarray(val, dtype=np.float64), row.shape).copy())
        self.lo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (n_rows,)).copy())
        self.hi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (n_rows,)).copy())
        self.count += n_rows

    def matrix(self, n_cols: int) -> tuple[csr_matrix, np.ndarray, np.ndarray]:
        """Return the rows as CSR with their lower and upper limits."""
        cat = np.concatenate
        if not self.row:
            return csr_matrix((0, n_cols)), np.zeros(0), np.zeros(0)
        a = csr_matrix((cat(self.val), (cat(self.row), cat(self.col))), shape=(self.count, n_cols))
        a.sum_duplicates()
        return a, cat(self.lo), cat(self.hi)


@dataclass(frozen=True)
class MipResult:
    """Outcome of an exact solve.

    ``status`` is ``optimal`` (gap within tolerance), ``feasible``,
    ``infeasible`` (proven) or ``time_limit`` (``labels`` may be None).
    """

    status: str
    labels: np.ndarray | None
    centers: np.ndarray | None
    objective: float
    bound: float
    rounds: int
    cuts: int
    log: str


def _new_model(
    h: highspy.Highs, cost: np.ndarray, rows: Rows, upper: np.ndarray | None = None
) -> None:
    n = len(cost)
    a, lo, hi = rows.matrix(n)
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = a.shape[0]
    lp.col_cost_ = cost.astype(np.float64)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.ones(n) if upper is None else upper.astype(np.float64)
    lp.row_lower_ = np.where(np.isfinite(lo), lo, -INF)
    lp.row_upper_ = np.where(np.isfinite(hi), hi, INF)
    csc = a.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(np.float64)
    lp.a_matrix_.num_col_ = n
    lp.a_matrix_.num_row_ = a.shape[0]
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h.passModel(lp)


def _add_rows(h: highspy.Highs, rows: Rows, n_cols: int) -> None:
    a, lo, hi = rows.matrix(n_cols)
    h.addRows(
        a.shape[0],
        np.where(np.isfinite(lo), lo, -INF),
        np.where(np.isfinite(hi), hi, INF),
        a.nnz,
        a.indptr[:-1].astype(np.int32),
        a.indices.astype(np.int32),
        a.data.astype(np.float64),
    )


def _warm(h: highspy.Highs, values: np.ndarray) -> None:
    sol = highspy.HighsSolution()
    sol.col_value = values.astype(np.float64).tolist()
    sol.value_valid = True
    h.setSolution(sol)


@dataclass
class _Search:
    """State shared with the HiGHS callbacks during one cut loop."""

    separate: Callable[[np.ndarray], Rows]
    deadline: float
    pending: list[Rows] = field(default_factory=list)
    best: np.ndarray | None = None
    best_objective: float = np.inf

    def on_solution(self, e: Any) -> None:
        """Collect cuts from every disconnected incumbent; keep the best contiguous one."""
        # A copy: the callback's array is HiGHS's buffer and changes later.
        values = np.array(e.data_out.mip_solution, dtype=np.float64, copy=True)
        cuts = self.separate(values)
        if cuts.count:
            self.pending.append(cuts)
        elif e.data_out.objective_function_value < self.best_objective:
            self.best, self.best_objective = values, float(e.data_out.objective_function_value)

    def on_interrupt(self, e: Any) -> None:
        """Stop HiGHS at the deadline (its own limit is checked too rarely) or on Ctrl-C."""
        # HiGHS keeps the flag between runs: set it either way.
        e.interrupt(time.monotonic() >= self.deadline or requested())


def _solve_with_cuts(
    h: highspy.Highs,
    log: Path,
    n_cols: int,
    separate: Callable[[np.ndarray], Rows],
    deadline: float,
    start: np.ndarray | None,
) -> tuple[str, np.ndarray | None, float, int, int, str]:
    """Solve, adding separator cuts until the best solution is contiguous.

    Every incumbent HiGHS finds is checked; the cuts of the disconnected ones
    are added after the run and the MIP is solved again, warm-started from the
    best contiguous incumbent seen. (Interrupting at the first disconnected
    incumbent made many cheap runs but was slower overall: 93 runs and no proof
    in 300 s on West Virginia's counties against 5 runs and 167 s.) Every cut
    is valid for contiguous designs, so each run's dual bound is a bound of the
    contiguous problem.

    Returns
    -------
    (status, values, bound, rounds, cuts, log)
        ``status`` is ``optimal``, ``feasible``, ``infeasible`` or ``time_limit``.
    """
    search = _Search(separate, deadline)
    h.cbMipImprovingSolution += search.on_solution
    h.cbMipInterrupt += search.on_interrupt
    bound, rounds, cuts = -np.inf, 0, 0
    if start is not None:
        _warm(h, start)
    while True:
        rounds += 1
        h.setOptionValue("time_limit", max(deadline - time.monotonic(), 0.01))
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        if np.isfinite(info.mip_dual_bound):
            bound = max(bound, float(info.mip_dual_bound))
        text = log.read_text(errors="replace") if log.exists() else ""
        if status == highspy.HighsModelStatus.kInfeasible:
            return "infeasible", None, np.inf, rounds, cuts, text
        done = status == highspy.HighsModelStatus.kOptimal
        if done and info.primal_solution_status == 2:
            values = np.asarray(h.getSolution().col_value, dtype=np.float64)
            extra = separate(values)
            if extra.count == 0:
                return "optimal", values, bound, rounds, cuts, text
            search.pending.append(extra)
        if not search.pending or time.monotonic() >= deadline:
            st = "feasible" if search.best is not None else "time_limit"
            return st, search.best, bound, rounds, cuts, text
        for block in search.pending:
            _add_rows(h, block, n_cols)
            cuts += block.count
        search.pending.clear()
        if search.best is not None:
            _warm(h, search.best)


@dataclass(frozen=True)
class CenterModel:
    """Index of the center model's columns: one per allowed (unit, center) pair."""

    unit: np.ndarray
    center: np.ndarray
    open_col: np.ndarray  # column of x_cc per unit (-1 when the unit cannot be a center)

    @property
    def n_cols(self) -> int:
        """Number of columns."""
        return len(self.unit)


def center_columns(allowed: np.ndarray) -> CenterModel:
    """Columns for the ``(n, n)`` boolean mask of allowed (unit, center) pairs."""
    unit, center = np.nonzero(allowed)
    open_col = np.full(allowed.shape[0], -1, dtype=np.int64)
    diag = unit == center
    open_col[unit[diag]] = np.flatnonzero(diag)
    return CenterModel(unit.astype(np.int64), center.astype(np.int64), open_col)


def _center_rows(
    cm: CenterModel,
    n: int,
    k: int,
    values: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    nbrs: Sequence[np.ndarray] | None,
    fixed_centers: np.ndarray | None,
) -> Rows:
    rows = Rows()
    cols = np.arange(cm.n_cols)
    rows.add(cm.unit, cols, 1.0, 1.0, 1.0, n)
    off = cm.unit != cm.center
    link = np.flatnonzero(off)
    local = np.arange(len(link))
    rows.add(
        np.concatenate([local, local]),
        np.concatenate([link, cm.open_col[cm.center[link]]]),
        np.concatenate([np.ones(len(link)), -np.ones(len(link))]),
        -INF,
        0.0,
        len(link),
    )
    centers = np.flatnonzero(cm.open_col >= 0)
    rows.add(np.zeros(len(centers), dtype=np.int64), cm.open_col[centers], 1.0, k, k, 1)
    if fixed_centers is not None:
        fc = cm.open_col[fixed_centers]
        rows.add(np.arange(len(fc)), fc, 1.0, 1.0, 1.0, len(fc))
    pos = {int(c): t for t, c in enumerate(centers)}
    cidx = np.array([pos[int(c)] for c in cm.center], dtype=np.int64)
    nc = len(centers)
    for q in range(values.shape[1]):
        for bound, sign in ((lo[q], 1.0), (hi[q], -1.0)):
            # sign * (sum_i v_iq x_ic - bound x_cc) >= 0
            rows.add(
                np.concatenate([cidx, np.arange(nc)]),
                np.concatenate([cols, cm.open_col[centers]]),
                sign * np.concatenate([values[cm.unit, q], -np.full(nc, bound)]),
                0.0,
                INF,
                nc,
            )
    if nbrs is not None:
        _neighbour_rows(rows, cm, nbrs)
    return rows


def _neighbour_rows(rows: Rows, cm: CenterModel, nbrs: Sequence[np.ndarray]) -> None:
    """``x_ic <= sum_{j in N(i)} x_jc`` for i not adjacent to c (N(i) separates them)."""
    col_of = {(int(u), int(c)): t for t, (u, c) in enumerate(zip(cm.unit, cm.center, strict=True))}
    r_list, c_list, v_list = [], [], []
    count = 0
    for t in range(cm.n_cols):
        i, c = int(cm.unit[t]), int(cm.center[t])
        if i == c or c in set(nbrs[i].tolist()):
            continue
        members = [col_of[(int(j), c)] for j in nbrs[i] if (int(j), c) in col_of]
        r_list.append(np.full(len(members) + 1, count))
        c_list.append(np.array([t, *members], dtype=np.int64))
        v_list.append(np.array([1.0] + [-1.0] * len(members)))
        count += 1
    if count:
        rows.add(
            np.concatenate(r_list), np.concatenate(c_list), np.concatenate(v_list), -INF, 0.0, count
        )


def solve_center_model(
    *,
    allowed: np.ndarray,
    cost: np.ndarray,
    k: int,
    values: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    edges: np.ndarray,
    nbrs: Sequence[np.ndarray] | None,
    options: SolveOptions,
    deadline: float,
    start: np.ndarray | None = None,
    fixed_centers: np.ndarray | None = None,
    feasibility: bool = False,
    center_groups: np.ndarray | None = None,
) -> MipResult:
    """Solve the center model with lazy separator cuts.

    Parameters
    ----------
    allowed
        ``(n, n)`` mask of allowed (unit, center) pairs (the diagonal of every
        possible center must be set).
    cost
        ``(n, n)`` cost of unit i in the district of center c.
    k, values, lo, hi
        District count, banded metric values ``(n, b)`` and limits per district.
    edges, nbrs
        Unit graph; ``nbrs`` None switches contiguity off.
    options, deadline
        Solver options and the wall-clock deadline (``time.monotonic``).
    start
        Center unit per unit of a known feasible design (a warm start).
    fixed_centers
        Units that must be centers.
    feasibility
        Stop at the first design found (used by the max-distance bisection).
    center_groups
        Group per unit (-1: none); exactly one center opens in each group
        (labelled designs: one district per territory).
    """
    n = allowed.shape[0]
    cm = center_columns(allowed)
    rows = _center_rows(cm, n, k, values, lo, hi, nbrs, fixed_centers)
    if center_groups is not None:
        opened = np.flatnonzero(cm.open_col >= 0)
        group = center_groups[opened]
        keep = group >= 0
        rows.add(group[keep], cm.open_col[opened[keep]], 1.0, 1.0, 1.0, int(group.max()) + 1)
    col_cost = np.zeros(cm.n_cols) if feasibility else cost[cm.unit, cm.center]
    col_of = {(int(u), int(c)): t for t, (u, c) in enumerate(zip(cm.unit, cm.center, strict=True))}
    with highs_session(options, time_limit=max(deadline - time.monotonic(), 0.01)) as (h, log):
        if feasibility:
            h.setOptionValue("mip_max_improving_sols", 1)
        _new_model(h, col_cost, rows)

        def decode(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            on = x > 0.5
            center_of = np.empty(n, dtype=np.int64)
            center_of[cm.unit[on]] = cm.center[on]
            centers = np.unique(center_of)
            return center_of, centers, np.searchsorted(centers, center_of)

        def separate(x: np.ndarray) -> Rows:
            new = Rows()
            if nbrs is None:
                return new
            _, centers, labels = decode(x)
            for sep in separators(labels, edges, nbrs, len(centers), anchors=centers):
                c = int(centers[sep.district])
                members = [col_of[(int(s), c)] for s in sep.separator if (int(s), c) in col_of]
                for a in sep.piece:
                    new.add(
                        np.zeros(len(members) + 1, dtype=np.int64),
                        np.array([col_of[(int(a), c)], *members]),
                        np.array([1.0] + [-1.0] * len(members)),
                        -INF,
                        0.0,
                        1,
                    )
            return new

        x0 = None
        if start is not None and all((int(i), int(c)) in col_of for i, c in enumerate(start)):
            x0 = np.zeros(cm.n_cols)
            x0[[col_of[(i, int(c))] for i, c in enumerate(start)]] = 1.0
        status, x, bound, rounds, cuts, text = _solve_with_cuts(
            h, log, cm.n_cols, separate, deadline, x0
        )
    if x is None:
        return MipResult(status, None, None, np.inf, bound, rounds, cuts, text)
    center_of, centers, labels = decode(x)
    objective = 0.0 if feasibility else float(cost[np.arange(n), center_of].sum())
    if feasibility:
        status, bound = "optimal", 0.0
    return MipResult(status, labels, centers, objective, min(bound, objective), rounds, cuts, text)


def solve_labeling_model(
    *,
    n: int,
    k: int,
    values: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    edges: np.ndarray,
    edge_cost: np.ndarray,
    nbrs: Sequence[np.ndarray] | None,
    options: SolveOptions,
    deadline: float,
    start: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
    unit_cost: np.ndarray | None = None,
) -> MipResult:
    """Solve the labeling model (cut edges) with lazy separator cuts.

    Parameters
    ----------
    n, k
        Units and districts.
    values, lo, hi
        Banded metric values ``(n, b)`` and limits per district.
    edges, edge_cost
        Unit graph and the cost of cutting each edge.
    nbrs
        Neighbour lists; None switches contiguity off.
    options, deadline
        Solver options and wall-clock deadline (``time.monotonic``).
    start
        District index per unit of a known design (a warm start).
    fixed
        District index per unit that is fixed (-1 where free); labels then
        carry meaning and symmetry breaking is off.
    unit_cost
        ``(n, k)`` extra cost of unit i in district j (disruption).
    """
    e = len(edges)
    xcol = np.arange(n * k).reshape(n, k)
    ycol = n * k + np.arange(e)
    n_cols = n * k + e
    cost = np.concatenate(
        [np.zeros(n * k) if unit_cost is None else unit_cost.reshape(-1), edge_cost]
    )
    upper = np.ones(n_cols)
    labelled = fixed is not None or unit_cost is not None
    if fixed is not None:
        for i in np.flatnonzero(fixed >= 0):
            upper[xcol[i]] = 0.0
            upper[xcol[i, fixed[i]]] = 1.0
    rows = Rows()
    rows.add(np.repeat(np.arange(n), k), xcol.reshape(-1), 1.0, 1.0, 1.0, n)
    for q in range(values.shape[1]):
        rows.add(
            np.tile(np.arange(k), n), xcol.reshape(-1), np.repeat(values[:, q], k), lo[q], hi[q], k
        )
    if e:
        u, v = edges[:, 0], edges[:, 1]
        r = np.arange(e * k)
        eu = np.repeat(u, k) * k + np.tile(np.arange(k), e)
        ev = np.repeat(v, k) * k + np.tile(np.arange(k), e)
        ye = np.repeat(ycol, k)
        for a, b in ((eu, ev), (ev, eu)):
            rows.add(
                np.concatenate([r, r, r]),
                np.concatenate([a, b, ye]),
                np.concatenate([np.ones(e * k), -np.ones(e * k), -np.ones(e * k)]),
                -INF,
                0.0,
                e * k,
            )
    if nbrs is not None:
        _lonely_rows(rows, xcol, values, lo, nbrs)
    if not labelled:
        for j in range(1, k):
            upper[xcol[:j, j]] = 0.0
        r_list, c_list, v_list, count = [], [], [], 0
        for j in range(1, k):
            for unit in range(j, n):
                r_list.append(np.full(unit + 1, count))
                c_list.append(np.concatenate([[xcol[unit, j]], xcol[:unit, j - 1]]))
                v_list.append(np.concatenate([[1.0], -np.ones(unit)]))
                count += 1
        if count:
            rows.add(
                np.concatenate(r_list),
                np.concatenate(c_list),
                np.concatenate(v_list),
                -INF,
                0.0,
                count,
            )
    with highs_session(options, time_limit=max(deadline - time.monotonic(), 0.01)) as (h, log):
        _new_model(h, cost, rows, upper)

        def separate(x: np.ndarray) -> Rows:
            new = Rows()
            if nbrs is None:
                return new
            labels = np.argmax(x[: n * k].reshape(n, k), axis=1)
            for sep in separators(labels, edges, nbrs, k):
                j, b = sep.district, sep.anchor
                for a in sep.piece:
                    cols = np.concatenate([[xcol[a, j], xcol[b, j]], xcol[sep.separator, j]])
                    vals = np.concatenate([[1.0, 1.0], -np.ones(len(sep.separator))])
                    new.add(np.zeros(len(cols), dtype=np.int64), cols, vals, -INF, 1.0, 1)
            return new

        x0 = None
        if start is not None:
            lab = np.asarray(start) if labelled else canonical_labels(np.asarray(start))
            x0 = np.zeros(n_cols)
            x0[xcol[np.arange(n), lab]] = 1.0
            if e:
                x0[ycol] = (lab[edges[:, 0]] != lab[edges[:, 1]]).astype(float)
        status, x, bound, rounds, cuts, text = _solve_with_cuts(
            h, log, n_cols, separate, deadline, x0
        )
    if x is None:
        return MipResult(status, None, None, np.inf, bound, rounds, cuts, text)
    labels = np.argmax(x[: n * k].reshape(n, k), axis=1)
    objective = float(cost[xcol[np.arange(n), labels]].sum())
    if e:
        objective += float(edge_cost @ (labels[edges[:, 0]] != labels[edges[:, 1]]))
    return MipResult(status, labels, None, objective, min(bound, objective), rounds, cuts, text)


def _lonely_rows(
    rows: Rows, xcol: np.ndarray, values: np.ndarray, lo: np.ndarray, nbrs: Sequence[np.ndarray]
) -> None:
    """``x_aj <= sum_{s in N(a)} x_sj`` for units too small to be a district alone.

    A connected district holding ``a`` and any other unit holds a neighbour of
    ``a``; when ``a`` alone misses a lower band limit, the district has another unit.
    """
    n, k = xcol.shape
    small: list[int] = []
    if values.shape[1]:
        small = [int(a) for a in np.flatnonzero((values < lo[None, :]).any(axis=1))]
    r_list, c_list, v_list, count = [], [], [], 0
    for a in small:
        for j in range(k):
            r_list.append(np.full(len(nbrs[a]) + 1, count))
            c_list.append(np.concatenate([[xcol[a, j]], xcol[nbrs[a], j]]))
            v_list.append(np.concatenate([[1.0], -np.ones(len(nbrs[a]))]))
            count += 1
    if count:
        rows.add(
            np.concatenate(r_list), np.concatenate(c_list), np.concatenate(v_list), -INF, 0.0, count
        )


def canonical_labels(labels: np.ndarray) -> np.ndarray:
    """Renumber districts in the order of their first unit (the symmetry-breaking order)."""
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first)
    remap = np.empty(labels.max() + 1, dtype=np.int64)
    remap[np.unique(labels)[order]] = np.arange(len(order))
    return remap[labels]
