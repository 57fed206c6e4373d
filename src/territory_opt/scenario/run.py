"""Run a scenario: inputs -> team changes and locks -> alignment -> quotas -> plan folder.

The plan folder is the one of ``territory-opt align`` (see ``docs/plan-folder.md``)
plus:

- ``scenario.json``: the resolved scenario (``extends`` merged), its hash, the
  sweep values that made it (if any), the original inputs with their sha256
  and what the team changes and locks did;
- ``inputs/``: the accounts and reps the plan was made from, when the scenario
  changed them (team changes, locks) or generated them (demo); ``plan.json``
  points at them, so ``quota``, ``compare`` and ``export`` read the same data;
- ``quotas.csv`` and ``quota_rollups.csv`` when the scenario has a quota step.

``plan.json`` holds the scenario hash (``scenario_hash``) and the sha256 of
every input the plan read (``inputs_sha256``). The folder is built in a temp
folder and appears at its destination in one rename, so nothing half-written
is ever visible.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from territory_opt._atomic import atomic_folder, check_output_folder, write_file_atomic
from territory_opt._errors import InputError
from territory_opt._progress import step
from territory_opt.data.demo import generate_demo
from territory_opt.data.io import RawTable, frame_from_records, read_table
from territory_opt.data.problem import Problem, load_problem
from territory_opt.scenario.apply import Changes, apply_changes, has_changes, text_frame
from territory_opt.scenario.config import Quota
from territory_opt.scenario.load import INPUT_PATH_KEYS, LoadedScenario, load_scenario

if TYPE_CHECKING:
    from territory_opt.plan import Plan
    from territory_opt.quota import QuotaResult, QuotaSettings

#: Sub-folder of a plan folder holding the inputs a scenario changed or generated.
INPUTS_FOLDER = "inputs"
#: The resolved scenario in a plan folder.
SCENARIO_FILE = "scenario.json"
#: Quota roll-ups by manager and segment (as ``territory-opt demo`` writes them).
ROLLUPS_FILE = "quota_rollups.csv"
#: Where ``run`` writes when no output folder is given (relative to the working folder).
DEFAULT_PLANS_FOLDER = Path("plans")


@dataclass(frozen=True)
class BuiltPlan:
    """A plan folder built away from its destination.

    Attributes
    ----------
    files
        Relative file name -> content, ready to be written in one go.
    scenario_hash
        sha256 of the resolved scenario.
    summary
        ``Plan.summary()`` (status, objective, bound, gap, moved accounts).
    diagnosis
        The infeasibility summary, when the request has no solution.
    changes
        What the team changes and locks did.
    """

    files: Mapping[str, bytes]
    scenario_hash: str
    summary: Mapping[str, Any]
    diagnosis: str | None
    changes: Changes

    @property
    def status(self) -> str:
        """The plan's status (optimal, feasible, time_limit, infeasible, error)."""
        return str(self.summary["status"])


@dataclass(frozen=True, eq=False)
class ScenarioRun:
    """The result of :func:`run_scenario`: the written folder and what is in it."""

    folder: Path
    plan: Plan
    quotas: QuotaResult | None
    scenario_hash: str
    changes: Changes


def default_out(loaded: LoadedScenario) -> Path:
    """``plans/<scenario name>`` in the working folder."""
    return DEFAULT_PLANS_FOLDER / loaded.name


def run_scenario(
    scenario: LoadedScenario | str | Path,
    out: str | Path | None = None,
    *,
    force: bool = False,
    memory_limit: float | None = None,
) -> ScenarioRun:
    """Run the whole chain of a scenario and write its plan folder.

    Parameters
    ----------
    scenario
        A scenario file or a loaded scenario.
    out
        Plan folder to create; default ``plans/<scenario name>``.
    force
        Replace an existing folder.
    memory_limit
        Refuse an instance estimated to need more memory than this [GB]
        (see :mod:`territory_opt.alignment.resources`).

    Returns
    -------
    ScenarioRun
        Check ``run.plan.status``; an infeasible request still writes its
        folder, with ``diagnosis.json``.

    Raises
    ------
    InputError
        For a bad scenario or bad inputs (naming file, key or row), or an
        existing folder without ``force``.
    InfeasibleError
        When the quota caps cannot reach the target (nothing is written).
    """
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    folder = Path(out) if out is not None else default_out(loaded)
    check_output_folder(folder, force=force)
    built, plan, quotas = build_plan(loaded, plan_dir=folder, memory_limit=memory_limit)
    with step("Writing the plan folder"):
        write_files(folder, built.files, force=force)
    return ScenarioRun(folder, plan, quotas, built.scenario_hash, built.changes)


def write_files(out: Path, files: Mapping[str, bytes], *, force: bool = False) -> Path:
    """Write a built folder atomically: a temp sibling folder renamed into place.

    Raises
    ------
    InputError
        When a file name is absolute or climbs out of the folder (``..``): the
        files may come from a remote worker, and nothing may be written outside
        ``out``.
    """
    for name in files:
        parts = Path(name).parts
        if not parts or Path(name).is_absolute() or ".." in parts or name.startswith(("/", "\\")):
            raise InputError.single(
                str(out), f"refusing to write '{name}': a plan folder's files stay inside it"
            )
    with atomic_folder(out, force=force) as tmp:
        for name, data in sorted(files.items()):
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return out


def build_plan(
    loaded: LoadedScenario, *, plan_dir: str | Path, memory_limit: float | None = None
) -> tuple[BuiltPlan, Plan, QuotaResult | None]:
    """Run the chain in a temp folder and return the plan folder's files in memory.

    Parameters
    ----------
    loaded
        The scenario.
    plan_dir
        Where the folder will be written; ``plan.json`` records input paths
        relative to it.
    memory_limit
        Largest estimated peak memory of the alignment [GB], or None.

    Returns
    -------
    built, plan, quotas
        The files, and the plan and quotas they describe.
    """
    from territory_opt.alignment import align
    from territory_opt.plan import refresh_plan_hashes, write_plan

    final = Path(plan_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="territory-opt-run-") as work_name:
        work = Path(work_name)
        staged = work / INPUTS_FOLDER
        problem, changes, sources = _prepare_inputs(loaded, staged, final)
        _check_metrics(loaded, problem)
        solver = loaded.config.solver
        plan = align(
            problem,
            loaded.spec,
            backend=solver.backend,
            time_limit=solver.time_limit,
            gap=solver.gap,
            threads=solver.threads,
            seed=solver.seed,
            solver=solver.solver,
            memory_limit=memory_limit,
        )
        folder = work / "plan"
        write_plan(plan, folder, scenario_hash=loaded.hash, plan_dir=final)
        if staged.is_dir():
            shutil.move(staged, folder / INPUTS_FOLDER)
        quotas = None
        if loaded.config.quota is not None and plan.assignment is not None:
            with step("Setting quotas"):
                quotas = _quotas(loaded, plan, folder)
        record = {
            "scenario_file": Path(os.path.relpath(loaded.file, final)).as_posix(),
            "scenario_hash": loaded.hash,
            "overrides": dict(loaded.overrides),
            "resolved": loaded.canonical()["scenario"],
            "description": loaded.config.description,
            "sources": sources,
            "changes": changes.as_dict(),
        }
        (folder / SCENARIO_FILE).write_bytes(_json_bytes(record))
        refresh_plan_hashes(folder)
        files = {
            path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        }
    diagnosis = None if plan.diagnosis is None else str(plan.diagnosis.get("summary", ""))
    built = BuiltPlan(files, loaded.hash, plan.summary(), diagnosis, changes)
    return built, plan, quotas


def _json_bytes(data: object) -> bytes:
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return (text + "\n").encode("utf-8")


def _prepare_inputs(
    loaded: LoadedScenario, staged: Path, final: Path
) -> tuple[Problem, Changes, dict[str, Any]]:
    """Read and validate the inputs, apply the scenario's changes, stage changed tables.

    Returns the Problem to plan (its input paths pointing at the plan folder's
    ``inputs/`` for staged tables), the changes and the original sources.
    """
    inputs = loaded.config.inputs
    options: dict[str, Any] = {
        "metrics": inputs.metrics,
        "account_columns": inputs.account_columns or None,
        "rep_columns": inputs.rep_columns or None,
    }
    paths: dict[str, Path] = {}
    raws: dict[str, RawTable] = {}
    sources: dict[str, Any] = {}
    if inputs.demo is not None:
        with step("Generating the demo book"):
            accounts, reps = generate_demo(
                inputs.demo.accounts, inputs.demo.reps, seed=inputs.demo.seed
            )
        original = load_problem(accounts, reps, **options)
        raws = {
            "accounts": frame_from_records("accounts", accounts),
            "reps": frame_from_records("reps", reps),
        }
        sources["demo"] = inputs.demo.model_dump(mode="json")
    else:
        for role in INPUT_PATH_KEYS:
            path = loaded.input_path(role)
            if path is not None:
                paths[role] = path
        original = load_problem(
            paths["accounts"],
            paths["reps"],
            pairs=paths.get("pairs"),
            adjacency=paths.get("adjacency"),
            **options,
        )
        for role, path in paths.items():
            shown = Path(os.path.relpath(path.resolve(), final)).as_posix()
            sources[role] = {"path": shown, "sha256": original.sources.get(role, "")}
        if not has_changes(loaded):
            return original, Changes(), sources
        with step("Reading inputs to change"):
            raws = {
                role: read_table(paths[role])
                for role in ("accounts", "reps", "pairs")
                if role in paths
            }
    with step("Applying team changes and locks"):
        tables, changes = apply_changes(loaded, raws, original)
    if inputs.demo is not None:
        for role in ("accounts", "reps"):
            tables.setdefault(role, text_frame(raws[role]))
    staged.mkdir(parents=True, exist_ok=True)
    located: dict[str, Path] = dict(paths)
    shown_paths = {role: str(path.resolve()) for role, path in paths.items()}
    for role, frame in sorted(tables.items()):
        target = staged / f"{role}.csv"
        text = frame.to_csv(index=False, lineterminator="\n")
        target.write_bytes(text.encode("utf-8"))
        located[role] = target
        shown_paths[role] = str(final / INPUTS_FOLDER / target.name)
    problem = load_problem(
        located["accounts"],
        located["reps"],
        pairs=located.get("pairs"),
        adjacency=located.get("adjacency"),
        **options,
    )
    problem = dataclasses.replace(problem, source_paths=MappingProxyType(shown_paths))
    return problem, changes, sources


def _check_metrics(loaded: LoadedScenario, problem: Problem) -> None:
    """Every metric the request names must be a metric of the accounts."""
    import difflib

    names = problem.metric_names
    listing = ", ".join(names) or "(none)"

    def hint(metric: str) -> str:
        close = difflib.get_close_matches(metric, list(names), n=1)
        return f" (did you mean '{close[0]}'?)" if close else ""

    config = loaded.config
    for metric, tolerance in config.balance.items():
        if tolerance is not None and metric not in names:
            raise loaded.error(
                ["balance", metric],
                f"'{metric}' is not a metric of the accounts{hint(metric)}; metrics are: {listing}",
            )
    for section_name, key in (
        ("objective", "travel_metric"),
        ("objective", "disruption_metric"),
        ("disruption", "moved_share_metric"),
    ):
        section = getattr(config, section_name)
        value = getattr(section, key)
        if key in section.model_fields_set and value is not None and value not in names:
            raise loaded.error(
                [section_name, key],
                f"'{value}' is not a metric of the accounts{hint(value)}; metrics are: {listing}",
            )
    spec = loaded.spec
    for band in spec.bands:
        if band.metric not in names:
            raise loaded.error(
                ["model"],
                f"model preset '{config.model}' puts a band on '{band.metric}', which the "
                f"accounts do not have (metrics: {listing}); drop it with "
                f"'balance: {{{band.metric}: null}}'",
            )
    for key, section_name in (
        ("travel_metric", "objective"),
        ("disruption_metric", "objective"),
        ("moved_share_metric", "disruption"),
    ):
        value = getattr(spec, key)
        if value is not None and value not in names:
            raise loaded.error(
                ["model"],
                f"model preset '{config.model}' uses '{value}' as {key}, which the accounts "
                f"do not have (metrics: {listing}); set {section_name}.{key}",
            )


def quota_settings(loaded: LoadedScenario, problem: Problem) -> QuotaSettings:
    """Return the quota engine's settings from the scenario's ``quota`` section."""
    from territory_opt.quota import QuotaSettings

    section = loaded.config.quota
    if section is None:
        msg = "the scenario has no quota step"
        raise ValueError(msg)
    values = {
        key: value
        for key, value in section.model_dump().items()
        if value is not None and key not in ("target", "target_growth")
    }
    if "ramp" in values:
        values["ramp"] = tuple((int(m), float(f)) for m, f in values["ramp"])
    if "seasonality" in values:
        values["seasonality"] = tuple(values["seasonality"])
    values.setdefault("seed", loaded.config.solver.seed)
    target = section.target
    if section.target_growth is not None:
        metric = section.history_metric or "revenue_ly"
        if metric not in problem.metric_names:
            raise loaded.error(
                ["quota", "target_growth"],
                f"needs last year's revenue, metric '{metric}', which the accounts do not "
                f"have (metrics: {', '.join(problem.metric_names)}); give quota.target",
            )
        history = float(np.nansum(problem.metric(metric)))
        target = history * (1.0 + section.target_growth)
    return QuotaSettings(target=target, **values)


def _quotas(loaded: LoadedScenario, plan: Plan, folder: Path) -> QuotaResult:
    from territory_opt.quota import rollups, set_quotas, write_quotas
    from territory_opt.quota.settings import SETTINGS_FILE

    settings = quota_settings(loaded, plan.problem)
    try:
        result = set_quotas(plan, settings)
    except InputError as exc:
        if not all(issue.file == SETTINGS_FILE for issue in exc.issues):
            raise
        issue = exc.issues[0]
        column = issue.column or ""
        key: list[str | int] = ["quota", column] if column in Quota.model_fields else ["quota"]
        problem = issue.problem
        if problem.startswith(f"{column}: "):
            problem = problem[len(column) + 2 :]
        raise loaded.error(key, problem) from None
    write_quotas(result, folder)
    table = rollups(result).to_csv(index=False, lineterminator="\n", float_format="%.10g")
    write_file_atomic(folder / ROLLUPS_FILE, table.encode("utf-8"))
    return result
