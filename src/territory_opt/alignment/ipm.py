r"""Interior-point LP solver for the assignment LP, using its block structure.

Notes
-----
The LP of an :class:`~territory_opt.alignment.instance.ArcModel` (with the
elastic slack of :func:`~territory_opt.alignment.backends.highs.build_lp`) is

.. math::
    \min\; c^\top x + \rho^\top (e^+ + e^-) \quad\text{s.t.}\quad
    E x = 1,\;\; F x - w + e^+ - e^- = \ell,\;\; 0 \le w \le u,\;\; x, e^\pm \ge 0,

where :math:`E` (items × arcs) has one 1 per arc, :math:`F` holds the arcs'
loads in the limit and budget rows (each scaled by its size), :math:`w` is the
shifted row activity with :math:`u = hi - lo`, and :math:`e^\pm` is the elastic
violation priced at :math:`\rho`. Mehrotra's predictor-corrector method solves
it. Each step needs the normal equations :math:`A \Theta A^\top \Delta y = r`;
the item block :math:`E \Theta E^\top = D` is diagonal, so they reduce to the
Schur complement on the few limit rows,

.. math::
    S = \sum_j \Big(\sum_{a \in j} \theta_a f_a f_a^\top
        - \tfrac{1}{D_j} \big(\textstyle\sum_{a \in j} \theta_a f_a\big)
                        \big(\textstyle\sum_{a \in j} \theta_a f_a\big)^\top\Big)
        + \operatorname{diag}(\theta_w + \theta_{e^+} + \theta_{e^-}),

a dense matrix of (limit rows)² entries factored by Cholesky. Each item's term
is a weighted covariance and is formed around the item's dominant arc
(:math:`f_a - f_{a^*}`), which avoids the cancellation that makes the plain
formula useless near the optimum, where one arc of each item carries almost all
the weight. A step costs a few sparse products over the arcs, so the LP of a
book with a million arcs solves in seconds where a general LP code spends
minutes on the same rows.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.sparse import csc_matrix, csr_matrix, diags

from territory_opt._interrupt import requested as interrupt_requested
from territory_opt.alignment.backends.highs import RowMap, constraint_matrix, row_map
from territory_opt.alignment.instance import ArcModel

_log = logging.getLogger(__name__)

#: Relative primal/dual infeasibility and duality gap at which the LP is optimal.
TOLERANCE = 1e-8
#: Safety cap on interior-point iterations (Mehrotra's method needs 20-60 here).
MAX_ITERATIONS = 150
#: Fraction of the step to the boundary that is taken.
STEP_FRACTION = 0.995
#: Relative regularisation added to the Schur complement's diagonal.
REGULARISATION = 1e-13
#: Refinement steps of each normal-equations solve (against the exact operator).
REFINEMENT_STEPS = 1
#: Schur complement entries below this share of its largest diagonal are zeroed.
NOISE = 1e-30
#: Items whose arcs other than the dominant one hold less than this share of their
#: weight skip their (negligible) correction in the Schur complement.
SETTLED = 1e-9
#: Arcs per block of items when the Schur complement is formed.
SCHUR_BLOCK_ARCS = 800_000
#: Gondzio's centrality correctors per iteration, the step gain they aim for, the
#: share of it they must deliver to be kept, and the target box of σμ.
CORRECTORS = 2
STEP_GAIN = 0.2
ACCEPT_GAIN = 0.1
BETA_MIN = 0.1
BETA_MAX = 10.0


@dataclass(frozen=True)
class IpmResult:
    """LP values and duals in the units of the model (rows as :class:`RowMap`).

    Attributes
    ----------
    status
        ``"optimal"``, ``"time_limit"`` or ``"not_converged"``.
    objective
        Primal objective (arcs and elastic slack) [cost].
    dual_objective
        Dual objective [cost]; a lower bound on the LP when the duals are feasible.
    values
        ``(arcs,)`` LP value of every arc.
    row_dual
        Duals of the item rows, then the limit rows, then the budget rows.
    slack
        Summed relative violation of the limits (elastic slack).
    iterations
        Interior-point iterations.
    kept
        Indices of the arcs still in the LP at the end (all of them unless it
        shrank); the others are at 0 in ``values``.
    """

    status: str
    objective: float
    dual_objective: float
    values: np.ndarray
    row_dual: np.ndarray
    slack: float
    iterations: int
    kept: np.ndarray


class _Structure:
    """Scaled data and the operators of the structured LP."""

    n: int
    b: np.ndarray
    cost_scale: float

    def __init__(
        self,
        model: ArcModel,
        rows: RowMap,
        elastic: float | None,
        like: _Structure | None = None,
    ) -> None:
        n, a = model.n_items, model.n_arcs
        full = constraint_matrix(model, rows)
        coupling = csr_matrix(full[n:, :])
        p = coupling.shape[0]
        finite = rows.band_row >= 0
        scale_rows = np.concatenate(
            [model.row_scale()[finite], np.maximum(model.budget_hi, 1.0)]
        ).astype(np.float64)
        lo = np.concatenate([model.lo[finite], np.full(len(model.budget_hi), -np.inf)])
        hi = np.concatenate([model.hi[finite], model.budget_hi])
        cost = model.cost.astype(np.float64)
        # A structure ``like`` another (the same LP with fewer arcs) keeps its scales.
        self.cost_scale = (
            like.cost_scale
            if like is not None
            else max(float(np.abs(cost).mean()) if a else 1.0, 1e-12)
        )
        self.row_scale = scale_rows
        self.f = csc_matrix(diags(1.0 / scale_rows) @ coupling)
        # A missing lower limit is replaced by one no plan can reach (loads are
        # non-negative), so every row has a finite shift.
        negative = np.asarray(self.f.minimum(0.0).sum(axis=1)).ravel()
        low = np.where(np.isfinite(lo), lo / scale_rows, negative - 1.0)
        if like is not None:
            low = like.b[like.n :]
        high = hi / scale_rows
        self.n, self.a, self.p = n, a, p
        self.item = model.arc_item.astype(np.int64)
        self.b = np.concatenate([np.ones(n), low])
        # Only the row activities have upper bounds (their range): the iterate
        # keeps upper slacks and their duals for these p rows alone.
        width = np.maximum(high - low, 0.0)
        self.box = slice(a, a + p)
        self.boxed = np.isfinite(width)
        self.cap = np.where(self.boxed, width, 0.0)
        price = np.inf if elastic is None else elastic / self.cost_scale
        self.elastic = elastic is not None
        rho = np.full(p, price if elastic is not None else 0.0)
        self.c = np.concatenate([cost / self.cost_scale, np.zeros(p), rho, rho])
        self.n_var = a + (3 if self.elastic else 1) * p
        self.c = self.c[: self.n_var]
        starts = np.searchsorted(self.item, np.arange(n + 1))
        self.starts = starts
        self.degree = np.diff(starts)
        if (self.degree == 0).any():
            msg = "every item needs at least one arc"
            raise ValueError(msg)
        self.ft = csr_matrix(self.f.T)

    # Operators -------------------------------------------------------------------

    def mul(self, v: np.ndarray) -> np.ndarray:
        """Return A v."""
        x = v[: self.a]
        top = np.bincount(self.item, weights=x, minlength=self.n)
        p, a = self.p, self.a
        bottom = self.f @ x - v[a : a + p]
        if self.elastic:
            bottom = bottom + v[a + p : a + 2 * p] - v[a + 2 * p : a + 3 * p]
        return np.concatenate([top, bottom])

    def tmul(self, y: np.ndarray) -> np.ndarray:
        """Return Aᵀ y."""
        y1, y2 = y[: self.n], y[self.n :]
        parts = [y1[self.item] + self.ft @ y2, -y2]
        if self.elastic:
            parts += [y2, -y2]
        return np.concatenate(parts)

    def normal_mul(self, theta: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return A Θ Aᵀ y (the exact operator, used for refinement)."""
        return self.mul(theta * self.tmul(y))

    # Normal equations --------------------------------------------------------------

    def _schur_block(
        self, theta: np.ndarray, d_all: np.ndarray, first: int, last: int
    ) -> np.ndarray:
        """Return the part of S of items ``first:last`` (without the row slacks' diagonal)."""
        lo, hi = int(self.starts[first]), int(self.starts[last])
        tx = theta[lo:hi]
        item = self.item[lo:hi] - first
        starts = self.starts[first : last + 1] - lo
        d = d_all[first:last]
        n, a = last - first, hi - lo
        f = self.f[:, lo:hi]
        # Dominant arc of each item (largest θ), first one on ties.
        peak = np.maximum.reduceat(tx, starts[:-1])
        is_peak = tx >= peak[item]
        first_peak = np.full(n, a, dtype=np.int64)
        np.minimum.at(first_peak, item[is_peak], np.flatnonzero(is_peak))
        others = np.ones(a, dtype=bool)
        others[first_peak] = False
        rest = np.flatnonzero(others)
        h = f[:, rest] - f[:, first_peak[item[rest]]]
        t_rest = tx[rest]
        ht = h @ diags(np.sqrt(t_rest))
        s = (ht @ ht.T).toarray()
        # An item's correction (1/D) g gᵀ is at most (D − θ*)/D of its first term, so
        # items nearly settled on one arc skip it: S grows by at most that share.
        spread = (d - peak) > SETTLED * d
        mixed = np.flatnonzero(spread[item[rest]])
        if len(mixed):
            incidence = csc_matrix(
                (t_rest[mixed], (np.arange(len(mixed)), item[rest[mixed]])),
                shape=(len(mixed), n),
            )
            g = (h[:, mixed] @ incidence) @ diags(1.0 / np.sqrt(d))
            s -= (g @ g.T).toarray()
        return s

    def factor(self, theta: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, bool], np.ndarray]:
        """Item diagonal D, Cholesky of the Schur complement S, and θ of the arcs."""
        a, p = self.a, self.p
        tx = theta[:a]
        d = np.bincount(self.item, weights=tx, minlength=self.n)
        s = np.zeros((p, p))
        # Items in blocks of about SCHUR_BLOCK_ARCS arcs: the sparse products then
        # work in cache (at 6M arcs one pass over all of them takes 2.5× longer).
        first = 0
        while first < self.n:
            last = int(np.searchsorted(self.starts, self.starts[first] + SCHUR_BLOCK_ARCS, "right"))
            last = min(max(last - 1, first + 1), self.n)
            s += self._schur_block(tx, d, first, last)
            first = last
        extra = theta[a : a + p].copy()
        if self.elastic:
            extra += theta[a + p : a + 2 * p] + theta[a + 2 * p : a + 3 * p]
        s[np.diag_indices(p)] += extra
        s = 0.5 * (s + s.T)
        # Entries far below the diagonal's scale are rounding noise; left in, they
        # can be subnormal numbers, which slow the factorisation a hundredfold.
        s[np.abs(s) < NOISE * max(float(np.abs(np.diag(s)).max()) if p else 1.0, 1e-300)] = 0.0
        reg = REGULARISATION * max(float(np.abs(np.diag(s)).max()) if p else 1.0, 1e-30)
        for _ in range(6):
            try:
                chol = scipy.linalg.cho_factor(s + reg * np.eye(p), lower=True, check_finite=False)
                break
            except np.linalg.LinAlgError:
                reg *= 100.0
        else:
            chol = scipy.linalg.cho_factor(
                s + (reg + 1e-8) * np.eye(p), lower=True, check_finite=False
            )
        return d, chol, tx

    def solve_normal(
        self,
        theta: np.ndarray,
        fac: tuple[np.ndarray, tuple[np.ndarray, bool], np.ndarray],
        r: np.ndarray,
    ) -> np.ndarray:
        """Solve A Θ Aᵀ y = r with the factorisation and a few refinement steps."""
        y = self._block_solve(fac, r)
        for _ in range(REFINEMENT_STEPS):
            resid = r - self.normal_mul(theta, y)
            y = y + self._block_solve(fac, resid)
        return y

    def _block_solve(
        self, fac: tuple[np.ndarray, tuple[np.ndarray, bool], np.ndarray], r: np.ndarray
    ) -> np.ndarray:
        d, chol, tx = fac
        r1, r2 = r[: self.n], r[self.n :]
        w = r1 / d
        rhs = r2 - self.f @ (tx * w[self.item])
        y2 = scipy.linalg.cho_solve(chol, rhs, check_finite=False) if self.p else rhs
        back = np.bincount(self.item, weights=tx * (self.ft @ y2), minlength=self.n)
        y1 = (r1 - back) / d
        return np.concatenate([y1, y2])


@dataclass(frozen=True)
class _Direction:
    dv: np.ndarray
    dy: np.ndarray
    dz: np.ndarray
    ds: np.ndarray
    dw: np.ndarray

    def plus(self, other: _Direction) -> _Direction:
        return _Direction(
            self.dv + other.dv,
            self.dy + other.dy,
            self.dz + other.dz,
            self.ds + other.ds,
            self.dw + other.dw,
        )


def _step(v: np.ndarray, dv: np.ndarray) -> float:
    """Largest α in [0, 1] with v + α dv ≥ 0."""
    neg = dv < 0
    if not neg.any():
        return 1.0
    return float(min(1.0, (-v[neg] / dv[neg]).min()))


@dataclass
class _Point:
    """The iterate: primal v, duals y, dual slacks z (lower bounds of v).

    ``s`` and ``w`` are the upper slacks and their duals of the row activities
    (the only variables with upper bounds): 1 and 0 on rows without one.
    """

    st: _Structure
    v: np.ndarray
    s: np.ndarray
    y: np.ndarray
    z: np.ndarray
    w: np.ndarray

    def direction(
        self,
        theta: np.ndarray,
        fac: tuple[np.ndarray, tuple[np.ndarray, bool], np.ndarray],
        rxz: np.ndarray,
        rsw: np.ndarray,
        res: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> _Direction:
        """Newton direction for complementarity targets rxz, rsw and residuals (rp, ru, rd)."""
        st, bx, v, z, w = self.st, self.st.boxed, self.v, self.z, self.w
        rp, ru, rd = res
        q = rd - rxz / v
        q[st.box] += np.where(bx, (rsw - w * ru) / self.s, 0.0)
        dy = st.solve_normal(theta, fac, rp + st.mul(theta * q))
        dv = theta * (st.tmul(dy) - q)
        dz = (rxz - z * dv) / v
        ds = np.where(bx, ru - dv[st.box], 0.0)
        dw = np.where(bx, (rsw - w * ds) / self.s, 0.0)
        return _Direction(dv, dy, dz, ds, dw)

    def lengths(self, d: _Direction) -> tuple[float, float]:
        """Largest primal and dual steps along ``d`` that stay non-negative."""
        bx = self.st.boxed
        return (
            min(_step(self.v, d.dv), _step(self.s[bx], d.ds[bx])),
            min(_step(self.z, d.dz), _step(self.w[bx], d.dw[bx])),
        )

    def products(self, d: _Direction, ap: float, ad: float) -> tuple[np.ndarray, np.ndarray]:
        """Complementarity products after steps ``ap``, ``ad`` (bounded ones only in the second)."""
        bx = self.st.boxed
        prod_x = (self.v + ap * d.dv) * (self.z + ad * d.dz)
        prod_s = (self.s[bx] + ap * d.ds[bx]) * (self.w[bx] + ad * d.dw[bx])
        return prod_x, prod_s

    def subset(
        self, keep: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return the iterate without the dropped arcs (``keep`` flags the arcs kept).

        The dropped arcs' values move to the largest kept arc of their item, so the
        item rows stay met (left out, the lost share can make the iterate several
        steps less feasible than before).
        """
        st = self.st
        rest = np.concatenate([keep, np.ones(len(self.v) - len(keep), dtype=bool)])
        v = self.v[rest]
        item = st.item[keep]
        lost = np.bincount(st.item[~keep], weights=self.v[: st.a][~keep], minlength=st.n)
        x = v[: len(item)]
        starts = np.searchsorted(item, np.arange(st.n))
        peak = np.maximum.reduceat(x, starts)
        top = np.flatnonzero(x >= peak[item])
        first = np.full(st.n, len(item), dtype=np.int64)
        np.minimum.at(first, item[top], top)
        x[first] += lost
        return v, self.s, self.y, self.z[rest], self.w

    def move(self, d: _Direction, ap: float, ad: float) -> None:
        """Take the steps."""
        bx = self.st.boxed
        self.v = self.v + ap * d.dv
        self.s = np.where(bx, self.s + ap * d.ds, 1.0)
        self.y = self.y + ad * d.dy
        self.z = self.z + ad * d.dz
        self.w = np.where(bx, self.w + ad * d.dw, 0.0)


def _centred_step(pt: _Point, res: tuple[np.ndarray, np.ndarray, np.ndarray], mu: float) -> None:
    """One predictor-corrector step with Gondzio's centrality correctors."""
    bx = pt.st.boxed
    n_comp = len(pt.v) + int(bx.sum())
    ratio = pt.z / pt.v
    ratio[pt.st.box] += np.where(bx, pt.w / pt.s, 0.0)
    theta = 1.0 / ratio
    fac = pt.st.factor(theta)
    # Predictor (affine scaling).
    aff = pt.direction(theta, fac, -pt.v * pt.z, np.where(bx, -pt.s * pt.w, 0.0), res)
    ap, ad = pt.lengths(aff)
    prod_x, prod_s = pt.products(aff, ap, ad)
    mu_aff = (float(prod_x.sum()) + float(prod_s.sum())) / n_comp
    sigma = min(1.0, (mu_aff / mu) ** 3) if mu > 0 else 0.0
    target = sigma * mu
    # Mehrotra's corrector with centring.
    rxz = target - pt.v * pt.z - aff.dv * aff.dz
    rsw = np.where(bx, target - pt.s * pt.w - aff.ds * aff.dw, 0.0)
    d = pt.direction(theta, fac, rxz, rsw, res)
    ap, ad = pt.lengths(d)
    # Gondzio's correctors: push products outside [β_min, β_max]·σμ at a longer
    # trial step back into that box; keep each while it lengthens the step.
    zero = (np.zeros_like(res[0]), np.zeros_like(res[1]), np.zeros_like(res[2]))
    low, high = BETA_MIN * target, BETA_MAX * target
    for _ in range(CORRECTORS):
        trial_x, trial_s = pt.products(d, min(1.0, ap + STEP_GAIN), min(1.0, ad + STEP_GAIN))
        fix_x = np.maximum(np.clip(trial_x, low, high) - trial_x, -high)
        fix_s = np.zeros_like(pt.s)
        fix_s[bx] = np.maximum(np.clip(trial_s, low, high) - trial_s, -high)
        trial = d.plus(pt.direction(theta, fac, fix_x, fix_s, zero))
        tap, tad = pt.lengths(trial)
        if tap + tad < ap + ad + ACCEPT_GAIN * STEP_GAIN:
            break
        d, ap, ad = trial, tap, tad
    _log.debug("ipm steps %.3f %.3f sigma %.1e", ap, ad, sigma)
    pt.move(d, STEP_FRACTION * ap, STEP_FRACTION * ad)


def solve_lp(
    model: ArcModel,
    *,
    elastic: float | None,
    time_limit: float,
    tolerance: float = TOLERANCE,
    pause_gap: float = 0.0,
    shrink: bool = False,
) -> IpmResult:
    """Solve the LP relaxation of ``model`` by the structured interior-point method.

    Parameters
    ----------
    model
        Arcs, loads and limits; every item needs at least one arc.
    elastic
        Price of one unit of relative violation of a limit [cost] (as in
        :func:`~territory_opt.alignment.backends.highs.build_lp`), or None for
        hard limits.
    time_limit
        Seconds; the result then has status ``"time_limit"``.
    tolerance
        Relative primal and dual infeasibility and duality gap to stop at.
    pause_gap
        Stop early, with status ``"paused"``, once the relative duality gap is
        below this (the duals are then good enough to price arcs).
    shrink
        Drop the arcs that are clearly headed to 0 once the duality gap is small
        (see :data:`SHRINK_GAPS`); later steps are then cheaper.

    Returns
    -------
    IpmResult
        Values, duals and objectives in the model's units.
    """
    deadline = time.perf_counter() + time_limit
    rows = row_map(model)
    st = _Structure(model, rows, elastic)
    a, p = st.a, st.p
    pt = _Point(st, *_cold_start(st))
    n_comp = st.n_var + int(st.boxed.sum())
    b_norm = 1.0 + float(np.linalg.norm(st.b))
    c_norm = 1.0 + float(np.linalg.norm(st.c))
    status = "not_converged"
    kept = np.arange(model.n_arcs)
    gaps = list(SHRINK_GAPS) if shrink else []
    it = 0
    for it in range(1, MAX_ITERATIONS + 1):
        rp = st.b - st.mul(pt.v)
        ru = np.where(st.boxed, st.cap - pt.v[st.box] - pt.s, 0.0)
        rd = st.c - st.tmul(pt.y) - pt.z
        rd[st.box] += pt.w
        primal = float(st.c @ pt.v)
        dual = float(st.b @ pt.y - st.cap @ pt.w)
        mu = (float(pt.v @ pt.z) + float(pt.s[st.boxed] @ pt.w[st.boxed])) / n_comp
        p_inf = (float(np.linalg.norm(rp)) + float(np.linalg.norm(ru))) / b_norm
        d_inf = float(np.linalg.norm(rd)) / c_norm
        gap = abs(primal - dual) / (1.0 + abs(primal))
        _log.debug("ipm %d: primal inf %.1e dual inf %.1e gap %.1e", it, p_inf, d_inf, gap)
        if p_inf <= tolerance and d_inf <= tolerance and gap <= tolerance:
            status = "optimal"
            break
        if gap <= pause_gap and p_inf <= max(pause_gap, tolerance):
            status = "paused"
            break
        if time.perf_counter() >= deadline or interrupt_requested():
            status = "time_limit"
            break
        if gaps and gap <= gaps[0]:
            while gaps and gap <= gaps[0]:
                gaps.pop(0)
            keep = ~_headed_to_zero(st, pt)
            if not keep.all():
                kept = kept[keep]
                st = _Structure(model.take(kept), rows, elastic, like=st)
                pt = _Point(st, *pt.subset(keep))
                a = st.a
                n_comp = st.n_var + int(st.boxed.sum())
                c_norm = 1.0 + float(np.linalg.norm(st.c))
                _log.debug("ipm %d: %d arcs left", it, a)
                continue
        _centred_step(pt, (rp, ru, rd), mu)
    cs = st.cost_scale
    y1 = pt.y[: st.n] * cs
    y2 = pt.y[st.n :] * cs / st.row_scale
    slack = float(pt.v[a + p :].sum()) if st.elastic else 0.0
    values = np.zeros(model.n_arcs)
    values[kept] = np.clip(pt.v[:a], 0.0, None)
    return IpmResult(
        status,
        float(st.c @ pt.v) * cs,
        (float(st.b @ pt.y) - float(st.cap @ pt.w)) * cs,
        values,
        np.concatenate([y1, y2]),
        slack,
        it,
        kept,
    )


#: Relative duality gaps at which :func:`solve_lp` (with ``shrink``) drops the
#: arcs whose θ = x/z is below SHRINK_THETA of their item's largest. On a
#: 100k × 1,000 book none of the arcs dropped this way at 1e-3 (26 % of them) or
#: 1e-4 (61 %) was above 1e-6 at the optimum.
SHRINK_GAPS = (1e-3, 1e-4)
SHRINK_THETA = 1e-6


def _headed_to_zero(st: _Structure, pt: _Point) -> np.ndarray:
    """Flag the arcs whose θ is tiny next to their item's largest."""
    tx = pt.v[: st.a] / pt.z[: st.a]
    peak = np.maximum.reduceat(tx, st.starts[:-1])
    return np.asarray(tx < SHRINK_THETA * peak[st.item])


def _cold_start(
    st: _Structure,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each item spread evenly over its arcs, limit activities mid-range.

    Dual slacks start at the costs (so the dual is nearly feasible with y = 0)
    and the elastic slack so small that every complementarity product starts
    near the arcs' average.
    """
    nv, a, p, bx = st.n_var, st.a, st.p, st.boxed
    v = np.ones(nv)
    v[:a] = 1.0 / st.degree[st.item]
    z = np.maximum(st.c, 1.0)
    mu0 = float(np.mean(v[:a] * z[:a])) if a else 1.0
    v[a : a + p] = np.maximum(np.where(bx, 0.5 * st.cap, 1.0), 1e-2)
    z[a : a + p] = mu0 / v[a : a + p]
    if st.elastic:
        v[a + p :] = mu0 / z[a + p :]
    s = np.where(bx, np.maximum(st.cap - v[a : a + p], 1e-2), 1.0)
    w = np.where(bx, mu0 / s, 0.0)
    y = np.zeros(st.n + p)
    return v, s, y, z, w


#: Relative duality gap at which the first solve pauses to price arcs.
PAUSE_GAP = 0.1
#: At the pause, arcs whose reduced cost exceeds their item's best by more than
#: this many average arc costs are dropped.
PRUNE_REACH = 0.2


def reduced_costs(model: ArcModel, rows: RowMap, row_dual: np.ndarray) -> np.ndarray:
    """Reduced cost of every arc of ``model`` under row duals in :class:`RowMap` order."""
    pi = np.zeros(model.lo.shape)
    ok = rows.band_row >= 0
    pi[ok] = row_dual[rows.band_row[ok]]
    rc = model.cost - row_dual[model.arc_item] - (model.load * pi[model.arc_rep]).sum(axis=1)
    if len(rows.budget_row):
        rc = rc - model.budget @ row_dual[rows.budget_row]
    return np.asarray(rc)


def _merge(first: ArcModel, extra: ArcModel) -> tuple[ArcModel, np.ndarray]:
    """Both models' arcs, sorted by item then rep; and the sorting permutation."""
    item = np.concatenate([first.arc_item, extra.arc_item])
    rep = np.concatenate([first.arc_rep, extra.arc_rep])
    order = np.lexsort((rep, item))
    merged = dataclasses.replace(
        first,
        arc_item=item[order],
        arc_rep=rep[order],
        cost=np.concatenate([first.cost, extra.cost])[order],
        load=np.concatenate([first.load, extra.load])[order],
        budget=np.concatenate([first.budget, extra.budget])[order],
    )
    return merged, order


class IpmSession:
    """Column generation around :func:`solve_lp`, with the interface of ``LpSession``.

    An interior-point method gains little from a warm start, so every solve
    starts afresh. To need few of them, a session with a ``pricer`` pauses its
    first solve at the duality gap :data:`PAUSE_GAP`, where the duals already
    show which arcs the optimum needs: it drops arcs far above their item's best
    (:data:`PRUNE_REACH`), prices every arc with those duals and restarts with
    the priced ones added. Later rounds are driven by the caller (:meth:`add`).

    Parameters
    ----------
    model
        The first arcs (define rows and limits).
    elastic
        Price of relative violation (see :func:`solve_lp`).
    pricer
        Called with the row duals (items, limits, budgets); returns arcs whose
        reduced cost is negative (arcs already in the model are ignored).
    shrink
        Let each solve drop the arcs headed to 0 (see :func:`solve_lp`); they
        leave the session's arcs.
    """

    def __init__(
        self,
        model: ArcModel,
        *,
        elastic: float | None,
        pricer: Callable[[np.ndarray], ArcModel] | None = None,
        shrink: bool = False,
    ) -> None:
        self.rows = row_map(model)
        self.shrink = shrink
        self.elastic = elastic
        self.pricer = pricer
        self.model = model
        # Position in the sorted model of each arc, in the order arcs were added.
        self.position = np.arange(model.n_arcs)
        self.iterations = 0
        self.paused = False
        self.dropped = 0

    def scale_elastic(self, factor: float) -> None:
        """Multiply the price of violation by ``factor``."""
        if self.elastic is not None:
            self.elastic *= factor

    def add(self, model: ArcModel) -> int:
        """Append the arcs of ``model`` that are new; return how many were added."""
        have = self.model.arc_item.astype(np.int64) * self.model.n_reps + self.model.arc_rep
        keys = model.arc_item.astype(np.int64) * model.n_reps + model.arc_rep
        fresh = np.flatnonzero(~np.isin(keys, have))
        if len(fresh) == 0:
            return 0
        merged, order = _merge(self.model, model.take(fresh))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        self.position = np.concatenate([rank[self.position], rank[self.model.n_arcs :]])
        self.model = merged
        return len(fresh)

    def solve(
        self, time_limit: float, *, ipm: bool = True
    ) -> tuple[str, float, np.ndarray, np.ndarray, float]:
        """Solve; return status, objective, arc values (in add order), row duals, slack.

        The objective is the dual objective, a lower bound on the LP of these arcs.
        """
        del ipm  # always interior point
        deadline = time.perf_counter() + time_limit
        while True:
            pause = PAUSE_GAP if self.pricer is not None and not self.paused else 0.0
            result = solve_lp(
                self.model,
                elastic=self.elastic,
                time_limit=max(deadline - time.perf_counter(), 0.0),
                pause_gap=pause,
                shrink=self.shrink,
            )
            self.iterations += result.iterations
            if result.status != "paused" or self.pricer is None:
                break
            self.paused = True
            self._prune(result.row_dual)
            self.add(self.pricer(result.row_dual))
        values = result.values
        if len(result.kept) < self.model.n_arcs:
            # Arcs the solve dropped leave the session: pricing brings back any
            # that the LP of the whole book needs.
            values = values[result.kept]
            self._keep(result.kept)
        return (
            result.status,
            result.dual_objective,
            values[self.position],
            result.row_dual,
            result.slack,
        )

    def _prune(self, row_dual: np.ndarray) -> None:
        """Drop arcs whose reduced cost at the paused duals is far above their item's best.

        Most candidate arcs end at zero; without them each later step is several
        times cheaper. Pricing at convergence brings back any the LP needs.
        """
        model = self.model
        rc = reduced_costs(model, self.rows, row_dual)
        best = np.full(model.n_items, np.inf)
        np.minimum.at(best, model.arc_item, rc)
        typical = max(float(np.abs(model.cost).mean()), 1e-12)
        keep = rc - best[model.arc_item] <= PRUNE_REACH * typical
        self._keep(np.flatnonzero(keep))

    def _keep(self, kept: np.ndarray) -> None:
        """Keep only the arcs at sorted positions ``kept``."""
        if len(kept) == self.model.n_arcs:
            return
        rank = np.full(self.model.n_arcs, -1, dtype=np.int64)
        rank[kept] = np.arange(len(kept))
        self.dropped += self.model.n_arcs - len(kept)
        self.model = self.model.take(kept)
        position = rank[self.position]
        self.position = position[position >= 0]

    def arcs(self) -> tuple[np.ndarray, np.ndarray]:
        """Item and rep of every arc, in add order."""
        return self.model.arc_item[self.position], self.model.arc_rep[self.position]
