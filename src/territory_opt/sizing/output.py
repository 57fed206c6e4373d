"""The sizing folder: ``sizing.csv``, ``sizing.json``, ``sites.csv`` and one plan folder per size.

::

    DIR/
      sizing.csv     one row per team size (see docs/sizing.md)
      sizing.json    the request, the counting bound, the minimum and its proof,
                     the knee, and the diagnosis when no size can work
      sites.csv      the candidate sites
      n027/ ...      a plan folder per size planned (plan.json, assignments.csv,
                     territories.csv or diagnosis.json) with inputs/reps.csv
                     (and inputs/accounts.csv when reps leave)

The folder is written atomically (temp folder, then one rename). Everything but
the wall times in ``sizing.json`` and the plans' ``plan.json`` is deterministic.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from territory_opt._atomic import atomic_folder
from territory_opt.alignment.backends.base import relative_gap
from territory_opt.alignment.instance import rep_centers
from territory_opt.geo.distance import pair_distance
from territory_opt.plan import Plan, write_plan
from territory_opt.sizing.engine import PROOFS, SizingPoint, SizingResult

#: Version of the sizing folder layout.
SIZING_FORMAT_VERSION = 1
#: Metric reported per rep in the curve when the accounts have it.
COVERAGE_METRIC = "potential"


def plan_folder_name(n: int) -> str:
    """Folder of the plan with ``n`` reps, e.g. ``n027``."""
    return f"n{n:03d}"


def _num(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.10g}")


def _deviation(plan: Plan, metric: str) -> float:
    if plan.assignment is None or metric not in plan.load_names:
        return math.nan
    col = plan.load_names.index(metric)
    totals = plan.rep_totals()[:, plan.problem.metric_names.index(metric)]
    target = plan.target[:, col]
    ok = np.isfinite(target) & (target > 0)
    if not ok.any():
        return math.nan
    return float(np.max(np.abs(totals[ok] / target[ok] - 1.0)))


def point_row(result: SizingResult, point: SizingPoint) -> dict[str, Any]:
    """One ``sizing.csv`` row."""
    ctx = result.context
    spec, base = ctx.spec, ctx.base
    team, plan = point.team, point.plan
    removed = ctx.builder.removed(team) if team is not None else []
    row: dict[str, Any] = {
        "n_reps": point.n_reps,
        "current_reps": len(team.kept) if team is not None else None,
        "new_hires": len(team.hires) if team is not None else None,
        "removed": len(removed) if team is not None else None,
        "feasible": point.feasible,
        "proof": point.proof,
        "method": point.method,
        "status": str(plan.status) if plan is not None else "",
        "objective": math.nan,
        "lower_bound": point.lower_bound,
        "bound_scope": point.bound_scope,
        "gap": math.nan,
        "travel": math.nan,
        "disruption": math.nan,
    }
    for band in spec.bands:
        row[f"deviation_{band.metric}"] = math.nan
    for metric in ctx.request.capacity:
        row[f"utilisation_{metric}"] = math.nan
    coverage = COVERAGE_METRIC in base.metric_names
    if coverage:
        row[f"{COVERAGE_METRIC}_per_rep"] = math.nan
    row["mean_distance"] = math.nan
    row["accounts_moved"] = None
    if plan is not None and plan.assignment is not None:
        row["objective"] = plan.objective
        row["gap"] = relative_gap(plan.objective, point.lower_bound)
        row["travel"] = plan.objective_terms.get("travel", 0.0)
        row["disruption"] = plan.objective_terms.get("disruption", 0.0)
        for band in spec.bands:
            row[f"deviation_{band.metric}"] = _deviation(plan, band.metric)
        problem = plan.problem
        totals = plan.rep_totals()
        for metric, per_fte in ctx.request.capacity.items():
            j = problem.metric_names.index(metric)
            row[f"utilisation_{metric}"] = float(
                np.max(totals[:, j] / (per_fte * problem.rep_capacity))
            )
        if coverage:
            j = problem.metric_names.index(COVERAGE_METRIC)
            row[f"{COVERAGE_METRIC}_per_rep"] = float(totals[:, j].sum()) / problem.n_reps
        if problem.account_coords is not None and problem.coord_system is not None:
            acc = np.arange(problem.n_accounts)
            dist = pair_distance(
                problem.account_coords,
                rep_centers(problem),
                acc,
                plan.assignment,
                problem.coord_system,
            )
            row["mean_distance"] = float(dist.mean())
        gone = [base.rep_index[r] for r in removed]
        orphaned = int(np.isin(base.current_rep, gone).sum()) if gone else 0
        row["accounts_moved"] = int(plan.moved.sum()) + orphaned
    row["minimum"] = point.n_reps == result.minimum
    row["knee"] = point.n_reps == result.knee
    hires = team.hires if team is not None else ()
    row["hire_sites"] = ";".join(str(ctx.sites.ids[ctx.slots.site[s]]) for s in hires)
    row["hire_segments"] = ";".join(str(ctx.slots.segment[s]) for s in hires)
    row["removed_reps"] = ";".join(removed)
    row["plan"] = plan_folder_name(point.n_reps) if plan is not None else ""
    row["reason"] = point.reason
    return row


def sizing_frame(result: SizingResult) -> pd.DataFrame:
    """Return the curve: one row per team size (``sizing.csv``)."""
    rows = [point_row(result, p) for p in result.points]
    if not rows:
        empty = SizingPoint(0, "", "", "", "")
        return pd.DataFrame(columns=list(point_row(result, empty)))
    return pd.DataFrame(rows)


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n", float_format="%.10g").encode("utf-8")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sizing_json(result: SizingResult, folder: Path | None = None) -> dict[str, Any]:
    """Everything ``sizing.json`` holds (wall times under ``wall_times``).

    Input paths are written relative to ``folder`` (the sizing folder) when given.
    """
    from territory_opt import __version__

    ctx, bound = result.context, result.bound
    inputs = {}
    for role, path in sorted(ctx.base.source_paths.items()):
        shown = path
        if folder is not None:
            with contextlib.suppress(ValueError):
                shown = os.path.relpath(path, folder)
        inputs[role] = Path(shown).as_posix()
    return {
        "format_version": SIZING_FORMAT_VERSION,
        "tool": "territory-opt",
        "tool_version": __version__,
        "status": result.status,
        "request": ctx.request.as_dict(),
        "spec": dataclasses.asdict(ctx.spec),
        "inputs": inputs,
        "inputs_sha256": dict(ctx.base.sources),
        "current_reps": ctx.m0,
        "candidates": {
            "source": ctx.sites.source,
            "sites": len(ctx.sites),
            "slots": len(ctx.slots),
        },
        "keep": sorted(str(ctx.base.rep_ids[r]) for r in ctx.keep),
        "counting_bound": {
            "n_reps": bound.n,
            "needs": bound.needs,
            "max_reps": bound.n_max,
        },
        "minimum": {
            "n_reps": result.minimum,
            "proven": result.minimum_proven,
            "reason": result.minimum_reason,
        },
        "knee": {
            "n_reps": result.knee,
            "rule": "farthest point below the chord of objective vs team size, both scaled "
            "to [0, 1] (Kneedle)",
        },
        "proofs": PROOFS,
        "diagnosis": result.diagnosis,
        "stats": {k: _num(v) for k, v in sorted(result.stats.items())},
        "wall_times": {
            "seconds": round(result.seconds, 3),
            "per_size": {str(p.n_reps): round(p.seconds, 3) for p in result.points},
        },
    }


def write_sizing(result: SizingResult, out: str | Path, *, force: bool = False) -> Path:
    """Write the sizing folder atomically.

    Parameters
    ----------
    result
        What :func:`~territory_opt.sizing.engine.size_team` returned.
    out
        Folder to create.
    force
        Replace an existing non-empty folder.

    Returns
    -------
    Path
        The written folder.
    """
    out = Path(out)
    final = out.resolve()
    ctx = result.context
    builder = ctx.builder
    with atomic_folder(out, force=force) as tmp:
        shared: tuple[str, str] | None = None
        if builder.accounts_path is None:  # accounts came as a DataFrame: keep one copy
            data = _csv_bytes(builder.base_accounts_frame())
            (tmp / "inputs").mkdir()
            (tmp / "inputs" / "accounts.csv").write_bytes(data)
            shared = (str(final / "inputs" / "accounts.csv"), _sha(data))
        for point in result.points:
            if point.plan is None or point.team is None:
                continue
            _write_point(result, point, tmp, final, shared)
        (tmp / "sites.csv").write_bytes(_csv_bytes(ctx.sites.frame(ctx.base.coord_system)))
        (tmp / "sizing.csv").write_bytes(_csv_bytes(sizing_frame(result)))
        meta = sizing_json(result, final)
        text = json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n"
        (tmp / "sizing.json").write_bytes(text.encode("utf-8"))
    return out


def _write_point(
    result: SizingResult,
    point: SizingPoint,
    tmp: Path,
    final: Path,
    shared: tuple[str, str] | None,
) -> None:
    builder = result.context.builder
    assert point.plan is not None and point.team is not None
    name = plan_folder_name(point.n_reps)
    inputs: dict[str, bytes] = {"reps.csv": _csv_bytes(builder.reps_frame(point.team))}
    changed = builder.accounts_frame(point.team)
    if changed is not None:
        inputs["accounts.csv"] = _csv_bytes(changed)
        accounts = (str(final / name / "inputs" / "accounts.csv"), _sha(inputs["accounts.csv"]))
    elif shared is not None:
        accounts = shared
    else:
        assert builder.accounts_path is not None
        accounts = (builder.accounts_path, str(builder.base.sources["accounts"]))
    problem = dataclasses.replace(
        point.plan.problem,
        sources=MappingProxyType({"accounts": accounts[1], "reps": _sha(inputs["reps.csv"])}),
        source_paths=MappingProxyType(
            {"accounts": accounts[0], "reps": str(final / name / "inputs" / "reps.csv")}
        ),
    )
    plan = dataclasses.replace(point.plan, problem=problem)
    folder = write_plan(plan, tmp / name, plan_dir=final / name)
    (folder / "inputs").mkdir()
    for file, data in inputs.items():
        (folder / "inputs" / file).write_bytes(data)
