"""HiGHS through highspy, with the model built straight from numpy arrays.

The constraint matrix is assembled column-wise (one column per arc) as CSC
arrays and passed in one call; no per-variable Python objects are created.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import highspy
import numpy as np
from scipy.sparse import csc_matrix, hstack

from territory_opt._interrupt import watch_highs
from territory_opt.alignment.backends.base import (
    BackendResult,
    SolveOptions,
    Status,
    choice_from_values,
    relative_gap,
)
from territory_opt.alignment.instance import ArcModel

#: Loads smaller than this are left out of the matrix (they only add fill-in).
_ZERO = 1e-12
#: Arcs (and slacks) above this value at the interior point's optimum start basic.
BASIS_VALUE = 1e-3
#: A limit row within this relative distance of its limit starts nonbasic at it.
BASIS_TIGHT = 1e-6
#: Above this many arcs, :meth:`LpSession.solve` with ``ipm`` uses the structured
#: interior point (:mod:`territory_opt.alignment.ipm`) and hands its point to
#: simplex as a starting basis (HiGHS's own interior point is slower on these LPs).
STRUCTURED_START_ARCS = 50_000


@dataclass(frozen=True)
class RowMap:
    """Where each constraint family sits among the model's rows."""

    n_items: int
    band_row: np.ndarray  # (m, L) row index or -1
    budget_row: np.ndarray  # (G,) row index

    @property
    def n_rows(self) -> int:
        """Total number of rows."""
        return self.n_items + int((self.band_row >= 0).sum()) + len(self.budget_row)


def row_map(model: ArcModel) -> RowMap:
    """Return the row numbering: items, then finite bands (rep-major), then budgets."""
    finite = np.isfinite(model.lo) | np.isfinite(model.hi)
    band_row = np.full(model.lo.shape, -1, dtype=np.int64)
    band_row[finite] = model.n_items + np.arange(int(finite.sum()))
    start = model.n_items + int(finite.sum())
    return RowMap(model.n_items, band_row, start + np.arange(len(model.budget_hi)))


def constraint_matrix(model: ArcModel, rows: RowMap) -> csc_matrix:
    """Return the ``(rows, arcs)`` constraint matrix in CSC form."""
    a = model.n_arcs
    cols = [np.arange(a)]
    row_idx = [model.arc_item.astype(np.int64)]
    vals = [np.ones(a)]
    for col in range(model.load.shape[1]):
        r = rows.band_row[model.arc_rep, col]
        keep = (r >= 0) & (np.abs(model.load[:, col]) > _ZERO)
        cols.append(np.flatnonzero(keep))
        row_idx.append(r[keep])
        vals.append(model.load[keep, col])
    for g, r in enumerate(rows.budget_row):
        keep = np.abs(model.budget[:, g]) > _ZERO
        cols.append(np.flatnonzero(keep))
        row_idx.append(np.full(int(keep.sum()), r))
        vals.append(model.budget[keep, g])
    return csc_matrix(
        (np.concatenate(vals), (np.concatenate(row_idx), np.concatenate(cols))),
        shape=(rows.n_rows, a),
    )


def build_lp(
    model: ArcModel, *, integer: bool, elastic: float | None = None
) -> tuple[highspy.HighsLp, RowMap]:
    """Build the HiGHS model of an ArcModel (binary arcs, or their LP relaxation).

    With ``elastic`` (LP only), every limit and budget gets a slack column that
    costs ``elastic`` per unit of violation relative to the limit's scale, so the
    LP is always feasible and its duals can price arcs that restore feasibility.
    Slack columns come after the arc columns.
    """
    rows = row_map(model)
    matrix = constraint_matrix(model, rows)
    slack_cost = np.zeros(0)
    if elastic is not None and not integer:
        slack, slack_cost = _slack_columns(model, rows, elastic)
        matrix = hstack([matrix, slack], format="csc")
    inf = highspy.kHighsInf
    row_lo = np.empty(rows.n_rows)
    row_hi = np.empty(rows.n_rows)
    row_lo[: model.n_items] = 1.0
    row_hi[: model.n_items] = 1.0
    finite = rows.band_row >= 0
    row_lo[rows.band_row[finite]] = np.where(np.isfinite(model.lo[finite]), model.lo[finite], -inf)
    row_hi[rows.band_row[finite]] = np.where(np.isfinite(model.hi[finite]), model.hi[finite], inf)
    row_lo[rows.budget_row] = -inf
    row_hi[rows.budget_row] = model.budget_hi
    cost = np.concatenate([model.cost.astype(np.float64), slack_cost])
    n_col = len(cost)
    lp = highspy.HighsLp()
    lp.num_col_ = n_col
    lp.num_row_ = rows.n_rows
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n_col)
    # In the LP, x <= 1 is implied by the item rows; leaving it out keeps every
    # reduced cost >= 0 at the optimum, which pricing and rc-fixing rely on.
    lp.col_upper_ = np.ones(n_col) if integer else np.full(n_col, inf)
    lp.row_lower_ = row_lo
    lp.row_upper_ = row_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(np.float64)
    lp.a_matrix_.num_col_ = n_col
    lp.a_matrix_.num_row_ = rows.n_rows
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * model.n_arcs
    return lp, rows


def _slack_columns(model: ArcModel, rows: RowMap, cost: float) -> tuple[csc_matrix, np.ndarray]:
    """Under/over slack columns for every finite limit and budget."""
    finite = rows.band_row >= 0
    scale = model.row_scale()
    r_idx, vals, costs = [], [], []
    for bound, sign in ((model.lo, 1.0), (model.hi, -1.0)):
        mask = finite & np.isfinite(bound)
        r_idx.append(rows.band_row[mask])
        vals.append(np.full(int(mask.sum()), sign))
        costs.append(cost / scale[mask])
    r_idx.append(rows.budget_row)
    vals.append(-np.ones(len(rows.budget_row)))
    costs.append(cost / np.maximum(model.budget_hi, 1.0))
    r = np.concatenate(r_idx)
    matrix = csc_matrix((np.concatenate(vals), (r, np.arange(len(r)))), shape=(rows.n_rows, len(r)))
    return matrix, np.concatenate(costs)


@contextlib.contextmanager
def highs_session(
    options: SolveOptions, *, time_limit: float | None = None
) -> Iterator[tuple[highspy.Highs, Path]]:
    """Yield a silent Highs object whose log goes to a temp file."""
    with tempfile.TemporaryDirectory(prefix="territory-opt-highs-") as tmp:
        log = Path(tmp) / "highs.log"
        h = highspy.Highs()
        h.setOptionValue("output_flag", True)
        h.setOptionValue("log_to_console", False)
        h.setOptionValue("log_file", str(log))
        h.setOptionValue(
            "time_limit", float(time_limit if time_limit is not None else options.time_limit)
        )
        h.setOptionValue("random_seed", int(options.seed))
        h.setOptionValue("mip_rel_gap", float(options.gap))
        if options.threads:
            h.setOptionValue("threads", int(options.threads))
        watch_highs(h)
        yield h, log


def _read_log(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""


def version() -> str:
    """HiGHS version string."""
    h = highspy.Highs()
    return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"


class HighsMip:
    """Exact MIP on the given arcs with HiGHS branch-and-cut.

    Parameters
    ----------
    max_improving_solutions
        Stop after this many improving solutions (1 = the first plan found);
        None runs to the gap or the time limit.
    """

    name = "highs-mip"

    def __init__(self, max_improving_solutions: int | None = None) -> None:
        self.max_improving_solutions = max_improving_solutions

    def solve(self, model: ArcModel, options: SolveOptions) -> BackendResult:
        """Solve the binary model; the bound is HiGHS's dual bound."""
        lp, _ = build_lp(model, integer=True)
        with highs_session(options) as (h, log):
            if self.max_improving_solutions is not None:
                h.setOptionValue("mip_max_improving_sols", int(self.max_improving_solutions))
            h.passModel(lp)
            if options.warm_start is not None and len(options.warm_start) == model.n_items:
                sol = highspy.HighsSolution()
                start = np.zeros(lp.num_col_)
                start[options.warm_start] = 1.0
                sol.col_value = start.tolist()
                sol.value_valid = True
                h.setSolution(sol)
            h.run()
            status = h.getModelStatus()
            info = h.getInfo()
            values = (
                np.asarray(h.getSolution().col_value)[: model.n_arcs]
                if info.primal_solution_status == 2
                else None
            )
            text = _read_log(log)
            bound = float(info.mip_dual_bound)
        return _mip_result(model, status, values, bound, options, text)


def _mip_result(
    model: ArcModel,
    status: highspy.HighsModelStatus,
    values: np.ndarray | None,
    bound: float,
    options: SolveOptions,
    log: str,
) -> BackendResult:
    ms = highspy.HighsModelStatus
    if status == ms.kInfeasible:
        return BackendResult(Status.INFEASIBLE, None, np.inf, np.inf, "highs", version(), log)
    choice = choice_from_values(model, values) if values is not None else None
    objective = model.objective(choice) if choice is not None else np.inf
    if not np.isfinite(bound):
        bound = -np.inf
    bound = min(bound, objective)
    if choice is None:
        st = Status.TIME_LIMIT if status in (ms.kTimeLimit, ms.kInterrupt) else Status.ERROR
        return BackendResult(st, None, np.inf, bound, "highs", version(), log)
    gap = relative_gap(objective, bound)
    if gap <= options.gap + 1e-12:
        st = Status.OPTIMAL
    elif status in (ms.kTimeLimit, ms.kInterrupt):
        st = Status.TIME_LIMIT
    else:
        st = Status.FEASIBLE
    return BackendResult(
        st, choice, objective, bound, "highs", version(), log, stats={"arcs": float(model.n_arcs)}
    )


@dataclass(frozen=True)
class LpSolution:
    """An LP relaxation result with the duals needed for pricing."""

    status: str
    objective: float
    values: np.ndarray
    row_dual: np.ndarray
    rows: RowMap
    log: str
    slack: float = 0.0  # summed relative violation of the elastic LP


class LpSession:
    """A HiGHS LP kept alive across column-generation rounds.

    New arcs are appended as columns and the LP is re-solved by simplex from
    the previous basis, which is much faster than solving from scratch. A
    large first solve runs the structured interior point method and starts
    simplex from the basis its optimum suggests (arcs and slacks with clear
    values basic, limit rows at their limit nonbasic): HiGHS accepts such an
    "alien" basis and finishes in a few iterations, so the session has an
    optimal basis to warm-start from, e.g. for :meth:`fix` in a dive.

    Parameters
    ----------
    model
        The first set of arcs (defines rows and limits).
    options
        Seed and threads; time limits are given per :meth:`solve`.
    elastic
        Price of relative violation (see :func:`build_lp`).
    """

    def __init__(self, model: ArcModel, options: SolveOptions, *, elastic: float | None) -> None:
        self.rows = row_map(model)
        self.options = options
        self.elastic = elastic
        lp, _ = build_lp(model, integer=False, elastic=elastic)
        self.n_slack = lp.num_col_ - model.n_arcs
        self.arc_item = [model.arc_item]
        self.arc_rep = [model.arc_rep]
        self.arc_col = [np.arange(model.n_arcs)]
        self.n_col = lp.num_col_
        self.slack_cols = np.arange(model.n_arcs, lp.num_col_)
        self.slack_cost = np.asarray(lp.col_cost_)[model.n_arcs :]
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("random_seed", int(options.seed))
        if options.threads:
            self.h.setOptionValue("threads", int(options.threads))
        self.h.passModel(lp)
        watch_highs(self.h)
        self.first = True
        self.model = model
        slack_matrix = csc_matrix(
            (
                np.asarray(lp.a_matrix_.value_),
                np.asarray(lp.a_matrix_.index_),
                np.asarray(lp.a_matrix_.start_),
            ),
            shape=(lp.num_row_, lp.num_col_),
        )[:, model.n_arcs :]
        self.slack_row = slack_matrix.indices
        self.slack_sign = slack_matrix.data
        self.row_lo = np.asarray(lp.row_lower_)
        self.row_hi = np.asarray(lp.row_upper_)

    def scale_elastic(self, factor: float) -> None:
        """Multiply the price of violation by ``factor`` (after slack remained)."""
        if self.elastic is None or len(self.slack_cols) == 0:
            return
        self.elastic *= factor
        self.slack_cost = self.slack_cost * factor
        self.h.changeColsCost(
            len(self.slack_cols),
            self.slack_cols.astype(np.int32),
            self.slack_cost.astype(np.float64),
        )

    def add(self, model: ArcModel) -> None:
        """Append the arcs of ``model`` (same items, reps and limits) as new columns."""
        if model.n_arcs == 0:
            return
        matrix = constraint_matrix(model, self.rows)
        self.h.addCols(
            model.n_arcs,
            model.cost.astype(np.float64),
            np.zeros(model.n_arcs),
            np.full(model.n_arcs, highspy.kHighsInf),
            int(matrix.nnz),
            matrix.indptr[:-1].astype(np.int32),
            matrix.indices.astype(np.int32),
            matrix.data.astype(np.float64),
        )
        self.arc_item.append(model.arc_item)
        self.arc_rep.append(model.arc_rep)
        self.arc_col.append(self.n_col + np.arange(model.n_arcs))
        self.n_col += model.n_arcs

    def solve(
        self, time_limit: float, *, ipm: bool
    ) -> tuple[str, float, np.ndarray, np.ndarray, float]:
        """Solve; return status, objective, arc values (in add order), row duals, slack."""
        if ipm and self.first and self.model.n_arcs > STRUCTURED_START_ARCS:
            started = time.perf_counter()
            self._start_from_interior_point(time_limit)
            time_limit -= time.perf_counter() - started
            ipm = False
        # HiGHS counts its time limit against the object's total run time.
        self.h.setOptionValue("time_limit", float(self.h.getRunTime() + max(time_limit, 0.0)))
        self.h.setOptionValue("solver", "ipm" if ipm else "simplex")
        self.first = False
        self.h.run()
        status = self.h.getModelStatus()
        name = (
            "optimal"
            if status == highspy.HighsModelStatus.kOptimal
            else (
                "infeasible"
                if status == highspy.HighsModelStatus.kInfeasible
                else self.h.modelStatusToString(status)
            )
        )
        sol = self.h.getSolution()
        values = np.asarray(sol.col_value, dtype=np.float64)
        slack = (
            float(self.slack_cost @ values[self.slack_cols]) / self.elastic if self.elastic else 0.0
        )
        arc_values = values[np.concatenate(self.arc_col)]
        objective = float(self.h.getInfo().objective_function_value)
        return name, objective, arc_values, np.asarray(sol.row_dual, dtype=np.float64), slack

    def arcs(self) -> tuple[np.ndarray, np.ndarray]:
        """Item and rep of every arc column, in add order."""
        return np.concatenate(self.arc_item), np.concatenate(self.arc_rep)

    def fix(self, arcs: np.ndarray) -> None:
        """Fix the items of ``arcs`` (positions in add order) to those arcs.

        Every other arc column of those items gets upper bound 0; the next
        :meth:`solve` re-optimises from the current basis.
        """
        items = np.concatenate(self.arc_item)
        chosen = np.zeros(len(items), dtype=bool)
        chosen[arcs] = True
        fixed = np.zeros(self.rows.n_items, dtype=bool)
        fixed[items[arcs]] = True
        cols = np.concatenate(self.arc_col)[fixed[items] & ~chosen].astype(np.int32)
        zeros = np.zeros(len(cols))
        self.h.changeColsBounds(len(cols), cols, zeros, zeros)

    def _start_from_interior_point(self, time_limit: float) -> None:
        """Solve the first LP by the structured interior point; set the basis it suggests."""
        from territory_opt.alignment.ipm import solve_lp

        res = solve_lp(self.model, elastic=self.elastic, time_limit=time_limit)
        n_arcs = self.model.n_arcs
        x = np.zeros(self.n_col)
        x[:n_arcs] = res.values
        matrix = constraint_matrix(self.model, self.rows)
        activity = matrix @ res.values
        # Slack values implied by the arcs' activity: under (+1) or over (-1) the row's limit.
        slack = np.where(
            self.slack_sign > 0,
            self.row_lo[self.slack_row] - activity[self.slack_row],
            activity[self.slack_row] - self.row_hi[self.slack_row],
        )
        x[n_arcs:] = np.maximum(slack, 0.0)
        activity = activity + np.bincount(
            self.slack_row, self.slack_sign * x[n_arcs:], minlength=self.rows.n_rows
        )
        status = highspy.HighsBasisStatus
        col = np.where(x > BASIS_VALUE, 1, 0)
        scale = np.maximum(np.maximum(np.abs(self.row_lo), np.abs(self.row_hi)), 1.0)
        scale[~np.isfinite(scale)] = 1.0
        at_hi = np.abs(activity - self.row_hi) <= BASIS_TIGHT * scale
        at_lo = np.abs(activity - self.row_lo) <= BASIS_TIGHT * scale
        row = np.where(at_lo, 0, np.where(at_hi, 2, 1))
        row[: self.rows.n_items] = 0  # item rows are equalities: never basic
        names = {0: status.kLower, 1: status.kBasic, 2: status.kUpper}
        basis = highspy.HighsBasis()
        basis.col_status = [names[int(v)] for v in col]
        basis.row_status = [names[int(v)] for v in row]
        basis.valid = True
        basis.alien = True
        self.h.setBasis(basis)
