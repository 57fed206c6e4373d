r"""Elastic diagnosis: the smallest widening per constraint family that makes a plan exist.

Notes
-----
When the solver proves that no plan exists, the same assignment model is solved
with one elastic variable per family: w_l ≥ 0 widens every rep's limits of load
l by w_l × (the rep's target, or its limit when there is no target), and
s_g ≥ 0 lifts budget g:

.. math::
    \\min \\sum_l w_l + \\sum_g s_g / \\max(B_g, 1) \\quad \\text{s.t.} \\quad
    \\sum_a x_a = 1 \\; \\forall i,\\;
    lo_{rl} - w_l t_{rl} \\le \\sum_{a \\in r} q_{al} x_a \\le hi_{rl} + w_l t_{rl},\\;
    \\sum_a b_{ag} x_a \\le B_g + s_g,\\; x \\in \\{0, 1\\}.

The optimal w says, for instance, "the workload band must widen from ±5 % to
±7.3 %". Widening only the families with w_l > 0 by that much makes the request
feasible.

When accounts are locked, a second model keeps every limit and lets locked
accounts leave their rep at a cost of one per account: its optimum is the
fewest locked accounts to release ("or release 2 locked accounts: A17, A40").
"""

from __future__ import annotations

import dataclasses
from typing import Any

import highspy
import numpy as np
from scipy.sparse import bmat, csc_matrix, csr_matrix

from territory_opt.alignment.backends.base import SolveOptions
from territory_opt.alignment.backends.highs import (
    build_lp,
    constraint_matrix,
    highs_session,
    row_map,
)
from territory_opt.alignment.instance import ArcModel, Instance
from territory_opt.alignment.pipeline import candidate_arcs
from territory_opt.alignment.precheck import fmt_quantity

#: Time given to the elastic model, as a share of the solve's time limit.
ELASTIC_TIME_SHARE = 0.5
#: Time given to the lock-release model, as a share of the solve's time limit.
RELEASE_TIME_SHARE = 0.25
#: Released accounts named in the message (the finding lists them all).
SHOWN_ACCOUNTS = 10


def _scales(model: ArcModel, target: np.ndarray) -> np.ndarray:
    scale = np.where(np.isfinite(target) & (target > 0), target, np.nan)
    fallback = np.fmax(
        np.where(np.isfinite(model.hi), np.abs(model.hi), np.nan),
        np.where(np.isfinite(model.lo), np.abs(model.lo), np.nan),
    )
    return np.where(np.isnan(scale), np.nan_to_num(fallback, nan=1.0), scale).clip(min=1e-9)


def elastic_model(model: ArcModel, target: np.ndarray) -> tuple[highspy.HighsLp, int, int]:
    """Build the elastic MIP; return the model, the first w column and the first s column."""
    rows = row_map(model)
    a = constraint_matrix(model, rows).tocsr()
    n_l, n_g = model.load.shape[1], len(model.budget_hi)
    scale = _scales(model, target)
    up = np.isfinite(model.hi) & (rows.band_row >= 0)
    dn = np.isfinite(model.lo) & (rows.band_row >= 0)
    up_rows, dn_rows = rows.band_row[up], rows.band_row[dn]
    up_l, dn_l = np.nonzero(up)[1], np.nonzero(dn)[1]
    blocks = [a[: model.n_items], a[up_rows], a[dn_rows], a[rows.budget_row]]
    w_up = csr_matrix((-scale[up], (np.arange(len(up_rows)), up_l)), shape=(len(up_rows), n_l))
    w_dn = csr_matrix((scale[dn], (np.arange(len(dn_rows)), dn_l)), shape=(len(dn_rows), n_l))
    s_b = csr_matrix((-np.ones(n_g), (np.arange(n_g), np.arange(n_g))), shape=(n_g, n_g))
    full = csc_matrix(
        bmat(
            [
                [blocks[0], None, None],
                [blocks[1], w_up, None],
                [blocks[2], w_dn, None],
                [blocks[3], None, s_b],
            ],
            format="csc",
        )
    )
    inf = highspy.kHighsInf
    lo = np.concatenate(
        [np.ones(model.n_items), np.full(len(up_rows), -inf), model.lo[dn], np.full(n_g, -inf)]
    )
    hi = np.concatenate(
        [np.ones(model.n_items), model.hi[up], np.full(len(dn_rows), inf), model.budget_hi]
    )
    n_col = model.n_arcs + n_l + n_g
    cost = np.concatenate(
        [np.zeros(model.n_arcs), np.ones(n_l), 1.0 / np.maximum(model.budget_hi, 1.0)]
    )
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_col, full.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n_col)
    lp.col_upper_ = np.concatenate([np.ones(model.n_arcs), np.full(n_l + n_g, inf)])
    lp.row_lower_, lp.row_upper_ = lo, hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = full.indptr.astype(np.int32)
    lp.a_matrix_.index_ = full.indices.astype(np.int32)
    lp.a_matrix_.value_ = full.data.astype(np.float64)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_col, full.shape[0]
    lp.integrality_ = [highspy.HighsVarType.kInteger] * model.n_arcs + [
        highspy.HighsVarType.kContinuous
    ] * (n_l + n_g)
    return lp, model.n_arcs, model.n_arcs + n_l


def elastic_diagnosis(inst: Instance, options: SolveOptions) -> dict[str, Any]:
    """Solve the elastic model and describe the minimal widening per family."""
    model = inst.arc_model(*candidate_arcs(inst))
    lp, w0, s0 = elastic_model(model, inst.target)
    with highs_session(options, time_limit=max(1.0, ELASTIC_TIME_SHARE * options.time_limit)) as (
        h,
        _,
    ):
        h.passModel(lp)
        h.run()
        values = np.asarray(h.getSolution().col_value)
        ok = h.getInfo().primal_solution_status == 2
    findings: list[dict[str, Any]] = []
    if not ok:
        return {
            "summary": "no plan exists, and the elastic model found no widening in time "
            "(eligibility rules such as segments, locks or max distance may block)",
            "source": "elastic",
            "findings": findings,
        }
    tolerance = {b.metric: b.tolerance for b in inst.spec.bands}
    for col, name in enumerate(inst.load_names):
        w = float(values[w0 + col])
        if w <= 1e-7:
            continue
        if name in tolerance:
            new = tolerance[name] + w
            text = (
                f"{name} band must widen from ±{100 * tolerance[name]:.1f} % to ±{100 * new:.1f} %"
            )
            relax = {"band": name, "tolerance": round(new + 5e-4, 3)}
        else:
            text = f"{name} limits must widen by {100 * w:.1f} % of each rep's limit"
            relax = {"limit": name, "widen_share": round(w + 5e-4, 3)}
        findings.append({"family": "band", "message": text, "relaxation": text, **relax})
    for g, name in enumerate(inst.budget_names):
        s = float(values[s0 + g])
        if s <= 1e-7:
            continue
        need = float(inst.budget_hi[g] + s)
        text = (
            f"{name} budget must rise from {fmt_quantity(inst.budget_hi[g])} "
            f"to {fmt_quantity(need)}"
        )
        findings.append(
            {
                "family": "budget",
                "message": text,
                "relaxation": text,
                "budget": name,
                "needed": need,
            }
        )
    summary = "; ".join(f["message"] for f in findings) or (
        "the limits are consistent but no plan exists on the candidate pairs"
    )
    release = lock_release(inst, options)
    if release is not None:
        findings.append(release)
        summary += "; or keep the limits and " + release["message"]
    return {"summary": "infeasible: " + summary, "source": "elastic", "findings": findings}


def lock_release(inst: Instance, options: SolveOptions) -> dict[str, Any] | None:
    """Fewest locked accounts to release so that a plan exists with every limit kept.

    Returns a finding (family ``lock``, the accounts to release) or None when
    nothing is locked, releasing locks does not help, or no answer came in time.
    """
    p = inst.problem
    locked = np.flatnonzero(p.locked_rep >= 0)
    if len(locked) == 0:
        return None
    free = Instance.build(
        dataclasses.replace(p, locked_rep=np.full_like(p.locked_rep, -1)), inst.spec
    )
    items, reps = candidate_arcs(free)
    m = free.n_reps
    keys = np.unique(
        np.concatenate(
            [
                items.astype(np.int64) * m + reps,
                free.account_item[locked].astype(np.int64) * m + p.locked_rep[locked],
            ]
        )
    )
    model = free.arc_model((keys // m).astype(np.int32), (keys % m).astype(np.int32))
    # Released accounts of an arc: members of its item locked to another rep.
    lock_keys = free.account_item[locked].astype(np.int64) * m + p.locked_rep[locked]
    per_item = np.bincount(free.account_item[locked], minlength=free.n_items)
    arc_keys = model.arc_item.astype(np.int64) * m + model.arc_rep
    same, counts = np.unique(lock_keys, return_counts=True)
    pos = np.searchsorted(same, arc_keys).clip(max=len(same) - 1)
    kept = np.where(same[pos] == arc_keys, counts[pos], 0)
    penalty = (per_item[model.arc_item] - kept).astype(np.float64)
    lp, _ = build_lp(model, integer=True)
    lp.col_cost_ = penalty
    limit = max(1.0, RELEASE_TIME_SHARE * options.time_limit)
    with highs_session(options, time_limit=limit) as (h, _):
        h.passModel(lp)
        h.run()
        if h.getInfo().primal_solution_status != 2:
            return None
        values = np.asarray(h.getSolution().col_value)
    chosen = np.flatnonzero(values > 0.5)
    rep_of_item = np.full(free.n_items, -1)
    rep_of_item[model.arc_item[chosen]] = model.arc_rep[chosen]
    moved = locked[rep_of_item[free.account_item[locked]] != p.locked_rep[locked]]
    if len(moved) == 0:
        return None
    ids = [str(p.account_ids[a]) for a in moved]
    shown = ", ".join(ids[:SHOWN_ACCOUNTS]) + (" ..." if len(ids) > SHOWN_ACCOUNTS else "")
    text = f"release {len(ids)} locked account(s): {shown}"
    return {
        "family": "lock",
        "message": text,
        "relaxation": text,
        "release": len(ids),
        "accounts": ids,
    }
