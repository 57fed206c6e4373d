"""The Plan result and the plan folder it is written to.

A plan folder holds plain files (see ``docs/plan-folder.md``): ``plan.json``,
``assignments.csv``, ``territories.csv`` and, when the request is infeasible,
``diagnosis.json``. Writes are atomic and deterministic: the same inputs and
seed give byte-identical files except the wall times in ``plan.json``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory_opt._atomic import atomic_folder, write_file_atomic
from territory_opt._errors import InfeasibleError, SolverError
from territory_opt.alignment.backends.base import SolveOptions, Status
from territory_opt.alignment.spec import AlignmentSpec
from territory_opt.data.problem import Problem
from territory_opt.metrics import account_metric_values, moved_mask, rep_totals

#: Version of the plan folder layout; readers refuse folders from newer versions.
PLAN_FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class Plan:
    """An alignment plan with its proof of quality.

    Attributes
    ----------
    problem
        The problem it solves.
    spec
        The request.
    status
        See :class:`~territory_opt.alignment.backends.base.Status`.
    assignment
        Rep index per account, or None when there is no plan.
    objective
        Objective value of the plan (recomputed from the assignment).
    lower_bound
        Proven lower bound on the optimum of the full problem.
    objective_terms
        The objective split into ``travel``, ``pair_cost`` and ``disruption``.
    target, lo, hi
        ``(m, L)`` per-rep targets and limits of the limited quantities ``load_names``.
    solver, solver_version, backend
        What produced the plan.
    options
        Time limit, gap, threads and seed used.
    seconds
        Wall time of the solve [s].
    stats
        Solver statistics (LP rounds, arcs, ...).
    diagnosis
        When infeasible: which constraint families block and what to relax.
    log
        The solver log.
    interrupted
        True when Ctrl-C stopped the solve: the plan is the best found by then
        (status ``time_limit`` unless proven optimal).
    """

    problem: Problem
    spec: AlignmentSpec
    status: Status
    assignment: np.ndarray | None
    objective: float
    lower_bound: float
    objective_terms: dict[str, float]
    load_names: tuple[str, ...]
    target: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    solver: str
    solver_version: str
    backend: str
    options: SolveOptions
    seconds: float
    stats: dict[str, float] = field(default_factory=dict)
    diagnosis: dict[str, Any] | None = None
    log: str = ""
    interrupted: bool = False

    @property
    def gap(self) -> float:
        """Relative gap between objective and lower bound."""
        if self.assignment is None or not math.isfinite(self.lower_bound):
            return math.inf
        return max(0.0, self.objective - self.lower_bound) / max(abs(self.objective), 1e-9)

    @property
    def moved(self) -> np.ndarray:
        """True for accounts that leave their current rep."""
        if self.assignment is None:
            return np.zeros(self.problem.n_accounts, dtype=bool)
        return moved_mask(self.problem, self.assignment)

    def rep_totals(self) -> np.ndarray:
        """``(m, k)`` metric totals per rep."""
        if self.assignment is None:
            return np.zeros((self.problem.n_reps, len(self.problem.metric_names)))
        return rep_totals(self.problem, self.assignment)

    def raise_if_not_ok(self) -> None:
        """Raise when there is no plan: InfeasibleError (with diagnosis) or SolverError."""
        if self.status == Status.INFEASIBLE:
            summary = (self.diagnosis or {}).get("summary", "the request has no solution")
            raise InfeasibleError(str(summary), diagnosis=self.diagnosis)
        if self.assignment is None:
            msg = f"no plan found: status {self.status} after {self.seconds:.1f} s"
            raise SolverError(msg)

    # ------------------------------------------------------------ tables
    def assignments_frame(self) -> pd.DataFrame:
        """One row per account: ids, rep, previous rep, moved, metric values."""
        p = self.problem
        rep_ids = p.rep_ids.astype(object)
        if self.assignment is None:
            msg = "no assignment in an infeasible or failed plan"
            raise SolverError(msg)
        cur = p.current_rep
        frame = pd.DataFrame(
            {
                "account_id": p.account_ids.astype(object),
                "rep_id": rep_ids[self.assignment],
                "territory_id": ["T_" + r for r in rep_ids[self.assignment]],
                "previous_rep_id": np.where(cur >= 0, rep_ids[np.maximum(cur, 0)], ""),
                "moved": self.moved,
            }
        )
        values = account_metric_values(p, self.assignment)
        for j, name in enumerate(p.metric_names):
            frame[name] = values[:, j]
        return frame

    def territories_frame(self) -> pd.DataFrame:
        """One row per rep: metric totals, deviation from target, center, counts."""
        p = self.problem
        totals = self.rep_totals()
        cap = p.rep_capacity
        frame = pd.DataFrame(
            {
                "territory_id": ["T_" + str(r) for r in p.rep_ids],
                "rep_id": p.rep_ids.astype(object),
                "capacity": cap,
                "accounts": np.bincount(self.assignment, minlength=p.n_reps)
                if self.assignment is not None
                else 0,
            }
        )
        for j, name in enumerate(p.metric_names):
            frame[name] = totals[:, j]
            target = totals[:, j].sum() * cap / cap.sum()
            if name in self.load_names:
                target = np.nan_to_num(self.target[:, self.load_names.index(name)], nan=0.0)
            frame[f"{name}_target"] = target
            with np.errstate(divide="ignore", invalid="ignore"):
                frame[f"{name}_deviation"] = np.where(target > 0, totals[:, j] / target - 1, 0.0)
        if p.account_coords is not None and self.assignment is not None:
            for d, axis in enumerate(
                ("lat", "lon") if str(p.coord_system) == "latlon" else ("x", "y")
            ):
                sums = np.bincount(
                    self.assignment, weights=p.account_coords[:, d], minlength=p.n_reps
                )
                counts = np.maximum(np.bincount(self.assignment, minlength=p.n_reps), 1)
                frame[f"center_{axis}"] = sums / counts
        frame["moved_in"] = (
            np.bincount(self.assignment[self.moved], minlength=p.n_reps)
            if self.assignment is not None
            else 0
        )
        return frame

    def summary(self) -> dict[str, Any]:
        """Return the JSON-ready part of ``plan.json`` that describes the result."""
        moved = self.moved
        return {
            "status": str(self.status),
            "objective": _num(self.objective),
            "lower_bound": _num(self.lower_bound),
            "gap": _num(self.gap),
            "objective_terms": {k: _num(v) for k, v in self.objective_terms.items()},
            "moved_accounts": int(moved.sum()),
            "accounts": self.problem.n_accounts,
            "reps": self.problem.n_reps,
        }


def _num(value: float) -> float | None:
    """JSON has no inf/NaN: write None; round to 10 significant digits for stable bytes."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.10g}")


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    text = frame.to_csv(index=False, lineterminator="\n", float_format="%.10g")
    return text.encode("utf-8")


def input_entries(
    sources: Mapping[str, str], paths: Mapping[str, str], plan_dir: Path | None
) -> dict[str, dict[str, str]]:
    """Input paths (relative to the plan folder when possible) and their sha256."""
    out = {}
    for role, path in sorted(paths.items()):
        shown = path
        if plan_dir is not None:
            with contextlib.suppress(ValueError):
                shown = os.path.relpath(path, plan_dir.resolve())
        out[role] = {"path": Path(shown).as_posix(), "sha256": sources.get(role, "")}
    return out


def plan_json(
    plan: Plan, *, scenario_hash: str | None = None, plan_dir: Path | None = None
) -> dict[str, Any]:
    """Everything ``plan.json`` holds."""
    from territory_opt import __version__

    options = dataclasses.asdict(plan.options)
    options.pop("warm_start", None)
    spec = dataclasses.asdict(plan.spec)
    return {
        "format_version": PLAN_FORMAT_VERSION,
        "tool": "territory-opt",
        "tool_version": __version__,
        **plan.summary(),
        "backend": plan.backend,
        "solver": plan.solver,
        "solver_version": plan.solver_version,
        "seed": plan.options.seed,
        "time_limit": plan.options.time_limit,
        "gap_tolerance": plan.options.gap,
        "options": options,
        "spec": spec,
        "inputs_sha256": dict(plan.problem.sources),
        "inputs": input_entries(plan.problem.sources, plan.problem.source_paths, plan_dir),
        "input_options": dict(plan.problem.load_options),
        "scenario_hash": scenario_hash,
        "wall_times": {"solve_seconds": round(plan.seconds, 3)},
        "stats": {k: _num(v) for k, v in sorted(plan.stats.items())},
        # Only when true, so that plans of uninterrupted runs keep their bytes.
        **({"interrupted": True} if plan.interrupted else {}),
    }


def write_plan(
    plan: Plan,
    out: str | Path,
    *,
    force: bool = False,
    scenario_hash: str | None = None,
    plan_dir: str | Path | None = None,
) -> Path:
    """Write the plan folder atomically (temp folder, then rename).

    Parameters
    ----------
    plan
        The plan to write.
    out
        Folder to create.
    force
        Replace an existing non-empty folder.
    scenario_hash
        sha256 of the scenario that produced the plan, when run from one.
    plan_dir
        Where the folder will finally live, when ``out`` is a staging folder
        (the scenario runner builds folders elsewhere and moves them); input
        paths in ``plan.json`` are written relative to it. Default: ``out``.

    Returns
    -------
    Path
        The written folder.
    """
    out = Path(out)
    with atomic_folder(out, force=force) as tmp:
        final = out if plan_dir is None else Path(plan_dir)
        meta = plan_json(plan, scenario_hash=scenario_hash, plan_dir=final)
        files: dict[str, bytes] = {}
        if plan.assignment is not None:
            files["assignments.csv"] = _csv_bytes(plan.assignments_frame())
            files["territories.csv"] = _csv_bytes(plan.territories_frame())
        if plan.diagnosis is not None:
            files["diagnosis.json"] = (
                json.dumps(plan.diagnosis, indent=2, sort_keys=True, default=str) + "\n"
            ).encode("utf-8")
        meta["files_sha256"] = {
            name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())
        }
        files["plan.json"] = (
            json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n"
        ).encode("utf-8")
        for name, data in files.items():
            (tmp / name).write_bytes(data)
    return out


def read_plan(plan_dir: str | Path) -> Plan:
    """Read a plan folder back, reloading its inputs (checked by sha256).

    Parameters
    ----------
    plan_dir
        A folder written by :func:`write_plan`.

    Returns
    -------
    Plan
        The plan with its Problem and spec; the solver log is not kept.

    Raises
    ------
    InputError
        When the folder is not a plan, comes from a newer version, or an input
        file is missing or changed since the plan was made.
    """
    from territory_opt._errors import InputError

    folder = Path(plan_dir)
    meta_path = folder / "plan.json"
    if not meta_path.is_file():
        raise InputError.single(str(folder), "is not a plan folder (no plan.json)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError.single(str(meta_path), f"is not valid JSON: {err}") from None
    if not isinstance(meta, dict):
        raise InputError.single(str(meta_path), "is not a plan.json (not a JSON object)")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise InputError.single(
            str(meta_path),
            f"has no valid format_version ({version!r}): not a plan written by territory-opt",
            column="format_version",
        )
    if version > PLAN_FORMAT_VERSION:
        tool = meta.get("tool_version", "a newer version")
        raise InputError.single(
            str(meta_path),
            f"plan format version {version} (written by territory-opt {tool}) is newer than "
            f"this tool reads ({PLAN_FORMAT_VERSION}); upgrade territory-opt",
            column="format_version",
        )
    try:
        return _plan_from_meta(folder, meta_path, meta)
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InputError.single(
            str(meta_path),
            f"is damaged ({type(err).__name__}: {err}); write the plan again",
        ) from None


def _plan_from_meta(folder: Path, meta_path: Path, meta: dict[str, Any]) -> Plan:
    """Build the Plan that a plan folder's ``plan.json`` describes."""
    from territory_opt._errors import InputError
    from territory_opt.alignment.instance import Instance
    from territory_opt.data.io import sha256_of
    from territory_opt.data.problem import load_problem

    paths: dict[str, Path] = {}
    for role, entry in (meta.get("inputs") or {}).items():
        path = (folder / entry["path"]).resolve()
        if not path.is_file():
            raise InputError.single(str(path), f"input '{role}' of plan {folder} is missing")
        if entry.get("sha256") and sha256_of(path) != entry["sha256"]:
            raise InputError.single(
                str(path), f"input '{role}' changed since plan {folder} was made; re-run the plan"
            )
        paths[role] = path
    if meta.get("kind") == "districts":
        raise InputError.single(
            str(meta_path),
            "is a district design (territory-opt districts); reports, quotas and exports "
            "read alignment plans only in this version",
        )
    if "accounts" not in paths or "reps" not in paths:
        raise InputError.single(str(meta_path), "records no accounts/reps input files")
    options = meta.get("input_options") or {}
    problem = load_problem(
        paths["accounts"],
        paths["reps"],
        pairs=paths.get("pairs"),
        adjacency=paths.get("adjacency"),
        metrics=options.get("metrics"),
        account_columns=options.get("account_columns") or None,
        rep_columns=options.get("rep_columns") or None,
    )
    spec = AlignmentSpec.from_dict(meta["spec"], source=str(meta_path))
    inst = Instance.build(problem, spec)
    assignment = None
    if (folder / "assignments.csv").is_file():
        table = pd.read_csv(
            folder / "assignments.csv",
            dtype={"account_id": str, "rep_id": str},
            keep_default_na=False,
        )
        acc = pd.Index(problem.account_ids).get_indexer(pd.Index(table["account_id"]))
        rep = pd.Index(problem.rep_ids).get_indexer(pd.Index(table["rep_id"]))
        if (acc < 0).any() or (rep < 0).any() or len(np.unique(acc)) != problem.n_accounts:
            raise InputError.single(
                str(folder / "assignments.csv"), "does not match the plan's accounts and reps"
            )
        assignment = np.empty(problem.n_accounts, dtype=np.int32)
        assignment[acc] = rep
    opts = meta.get("options") or {}
    return Plan(
        problem=problem,
        spec=spec,
        status=Status(meta["status"]),
        assignment=assignment,
        objective=_float(meta.get("objective")),
        lower_bound=_float(meta.get("lower_bound")),
        objective_terms={k: _float(v) for k, v in (meta.get("objective_terms") or {}).items()},
        load_names=inst.load_names,
        target=inst.target,
        lo=inst.lo,
        hi=inst.hi,
        solver=str(meta.get("solver", "")),
        solver_version=str(meta.get("solver_version", "")),
        backend=str(meta.get("backend", "")),
        options=SolveOptions(
            **{k: opts[k] for k in ("time_limit", "gap", "threads", "seed", "solver") if k in opts}
        ),
        seconds=float((meta.get("wall_times") or {}).get("solve_seconds", 0.0)),
        stats={k: _float(v) for k, v in (meta.get("stats") or {}).items()},
        diagnosis=json.loads((folder / "diagnosis.json").read_text(encoding="utf-8"))
        if (folder / "diagnosis.json").is_file()
        else None,
        interrupted=bool(meta.get("interrupted", False)),
    )


def _float(value: object) -> float:
    return math.inf if value is None else float(value)  # type: ignore[arg-type]


def refresh_plan_hashes(plan_dir: str | Path) -> None:
    """Record the sha256 of every data file of a plan folder in ``plan.json`` (atomically).

    Used after a later step (quotas) adds a file to an existing plan folder.
    """
    folder = Path(plan_dir)
    meta = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    meta["files_sha256"] = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != "plan.json" and not p.name.startswith(".")
    }
    text = json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n"
    write_file_atomic(folder / "plan.json", text.encode("utf-8"))
