"""Sweeps: every combination of a grid of scenario values, run in parallel.

``run_sweep(scenario, ["balance.potential=3%,5%,8%", "disruption.max_moved_share=0.3,0.4"])``
runs the 6 combinations and writes, under the output folder, one plan folder
per point (``p001-potential=3pct-max_moved_share=0.3``, ...) and ``sweep.csv``
(one row per point: grid values, status, KPIs, and ``efficient`` marking the
balance-versus-disruption frontier).

Points run in local worker processes (``concurrent.futures`` with the
``spawn`` start method) or on a Dask cluster. Workers never touch the output
folder: each returns its plan folder's files, and this process writes the
folder atomically. So an interrupted sweep leaves complete point folders only,
and running the same sweep again skips every point whose folder holds a plan
of the same scenario (same scenario hash) and runs the rest; ``force``
recomputes every point. A point that fails is recorded in ``sweep.csv`` (status
``failed`` and the error) and does not stop the others.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
import shutil
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pandas as pd
import yaml

from territory_opt._atomic import write_file_atomic
from territory_opt._errors import InputError
from territory_opt._progress import advance, step
from territory_opt.scenario.errors import GRID_ORIGIN
from territory_opt.scenario.kpis import KPI_COLUMNS, WITH_PLAN, folder_hash, folder_kpis, frontier
from territory_opt.scenario.load import (
    LoadedScenario,
    load_scenario,
    load_yaml_text,
    with_overrides,
)
from territory_opt.scenario.run import write_files
from territory_opt.scenario.workers import (
    PointOutcome,
    import_dask,
    run_in_processes,
    run_on_dask,
)

#: The sweep's KPI table in the output folder.
SWEEP_FILE = "sweep.csv"
#: Where ``sweep`` writes when no output folder is given (relative to the working folder).
DEFAULT_SWEEPS_FOLDER = Path("sweeps")


@dataclass(frozen=True)
class GridAxis:
    """One ``--grid KEY=V1,V2,...`` option: a dotted key and its values."""

    key: str
    values: tuple[Any, ...]
    texts: tuple[str, ...]


def parse_grid(options: Sequence[str]) -> list[GridAxis]:
    """Parse ``KEY=V1,V2,...`` options; each value is read as a YAML scalar.

    Examples
    --------
    >>> axis = parse_grid(["balance.potential=3%,5%"])[0]
    >>> axis.key, axis.values
    ('balance.potential', ('3%', '5%'))
    >>> parse_grid(["disruption.max_moved_share=0.1,null"])[0].values
    (0.1, None)
    """
    axes: list[GridAxis] = []
    for option in options:
        key, sep, rest = option.partition("=")
        key = key.strip()
        if not sep or not key or not rest.strip():
            raise InputError.single(
                GRID_ORIGIN, f"'{option}' is not KEY=V1,V2,..., e.g. balance.potential=3%,5%,8%"
            )
        if any(a.key == key for a in axes):
            raise InputError.single(GRID_ORIGIN, f"key '{key}' is given twice; give it once")
        texts = tuple(t.strip() for t in rest.split(","))
        values = []
        for text in texts:
            if not text:
                raise InputError.single(GRID_ORIGIN, f"'{option}' has an empty value")
            try:
                values.append(load_yaml_text(text, GRID_ORIGIN))
            except yaml.YAMLError:
                values.append(text)
        if len(set(texts)) != len(texts):
            raise InputError.single(GRID_ORIGIN, f"'{option}' repeats a value")
        axes.append(GridAxis(key, tuple(values), texts))
    if not axes:
        raise InputError.single(GRID_ORIGIN, "give at least one --grid KEY=V1,V2,...")
    return axes


def expand_grid(axes: Sequence[GridAxis]) -> list[dict[str, int]]:
    """Every combination, as ``{key: index of the value}``; the last axis varies fastest.

    Examples
    --------
    >>> axes = parse_grid(["a=1,2", "b=x,y,z"])
    >>> len(expand_grid(axes)), expand_grid(axes)[1]
    (6, {'a': 0, 'b': 1})
    """
    ranges = [range(len(a.values)) for a in axes]
    return [
        {a.key: i for a, i in zip(axes, combo, strict=True)} for combo in itertools.product(*ranges)
    ]


def _slug(text: str) -> str:
    text = text.replace("%", "pct")
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_") or "_"


@dataclass(frozen=True)
class Point:
    """One combination of the grid, with the scenario it makes."""

    index: int
    name: str
    texts: dict[str, str]
    scenario: LoadedScenario


def make_points(loaded: LoadedScenario, axes: Sequence[GridAxis]) -> list[Point]:
    """Validate every combination up front (a bad value stops the sweep before it starts)."""
    points = []
    for number, combo in enumerate(expand_grid(axes), start=1):
        overrides = {a.key: a.values[combo[a.key]] for a in axes}
        texts = {a.key: a.texts[combo[a.key]] for a in axes}
        label = "-".join(f"{_slug(k.split('.')[-1])}={_slug(v)}" for k, v in texts.items())
        name = f"p{number:03d}-{label}"
        points.append(Point(number, name, texts, with_overrides(loaded, overrides)))
    return points


@dataclass(frozen=True)
class PointResult:
    """One row of ``sweep.csv``.

    Attributes
    ----------
    name
        The point's folder name.
    texts
        The grid values as written.
    status
        The plan's status, or ``failed``.
    kpis
        KPIs read back from the folder (empty for failed points).
    error
        Why the point failed.
    error_kind
        ``input``, ``infeasible`` (quota) or ``error``.
    reused
        True when the folder was already there from an earlier run of the sweep.
    scenario_hash
        sha256 of the point's resolved scenario.
    """

    name: str
    texts: dict[str, str]
    status: str
    kpis: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_kind: str | None = None
    reused: bool = False
    scenario_hash: str = ""


@dataclass(frozen=True)
class SweepResult:
    """The points of a sweep and its ``sweep.csv`` table."""

    folder: Path
    points: tuple[PointResult, ...]
    table: pd.DataFrame

    @property
    def failed(self) -> list[PointResult]:
        """Points that produced no folder."""
        return [p for p in self.points if p.status == "failed"]


def run_sweep(
    scenario: LoadedScenario | str | Path,
    grid: Sequence[str],
    out: str | Path | None = None,
    *,
    jobs: int = 0,
    dask: str | None = None,
    force: bool = False,
    on_point: Callable[[PointResult], None] | None = None,
) -> SweepResult:
    """Run every combination of ``grid`` and write one plan folder per point and sweep.csv.

    Parameters
    ----------
    scenario
        The scenario every point starts from.
    grid
        ``KEY=V1,V2,...`` options (dotted scenario keys).
    out
        Output folder; default ``sweeps/<scenario name>``.
    jobs
        Worker processes (0: one per core); with ``dask="local"`` the number
        of Dask workers.
    dask
        None: local processes; ``"local"``: a local Dask cluster; else the
        address of a Dask scheduler (``tcp://host:8786``). Workers of a remote
        cluster need territory-opt installed and the input files at the same
        paths.
    force
        Recompute every point and replace its folder (default: points whose
        folder already holds the same scenario are kept).
    on_point
        Called with each finished (or kept) point, for progress display.

    Returns
    -------
    SweepResult

    Raises
    ------
    InputError
        For a bad scenario or grid (before any point runs), for point folders
        that hold another scenario's plan (without ``force``), or when Dask is
        needed and not installed.
    """
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    points = make_points(loaded, parse_grid(grid))
    axes_keys = list(points[0].texts)
    folder = Path(out) if out is not None else DEFAULT_SWEEPS_FOLDER / loaded.name
    if folder.exists() and not folder.is_dir():
        raise InputError.single(str(folder), "exists and is a file; choose a folder name")
    todo: list[Point] = []
    results: dict[str, PointResult] = {}
    for point in points:
        target = folder / point.name
        if target.exists() and not force:
            if folder_hash(target) != point.scenario.hash:
                raise InputError.single(
                    str(target),
                    "holds a plan of another scenario (the scenario or a model preset changed "
                    "since the sweep ran); pass --force to recompute every point, or choose "
                    "another --out",
                )
            results[point.name] = _result(point, target, reused=True)
        else:
            todo.append(point)
    if dask is not None and todo:
        import_dask()  # fail before anything is written
    folder.mkdir(parents=True, exist_ok=True)
    _clean_stale(folder, [p.name for p in points])
    tasks = [(p.name, p.scenario, str((folder / p.name).resolve())) for p in todo]
    by_name = {p.name: p for p in todo}
    label = f"Sweep of {len(points)} point{'s' if len(points) > 1 else ''}"
    try:
        with step(label, total=len(points)), _terminate_as_interrupt():
            for point in points:
                if point.name in results:
                    advance(1)
                    if on_point is not None:
                        on_point(results[point.name])
            if todo:
                runner = (
                    run_in_processes(tasks, jobs=jobs)
                    if dask is None
                    else run_on_dask(tasks, jobs=jobs, address=dask)
                )
                with contextlib.closing(runner) as finished:
                    for name, outcome in finished:
                        point = by_name[name]
                        results[point.name] = _record(point, outcome, folder, force=force)
                        _write_table(folder, points, results, axes_keys)
                        advance(1)
                        if on_point is not None:
                            on_point(results[point.name])
    finally:
        # Also when interrupted: sweep.csv lists every complete folder.
        for point in points:
            target = folder / point.name
            if point.name not in results and folder_hash(target) == point.scenario.hash:
                results[point.name] = _result(point, target, reused=False)
        table = _table(points, results, axes_keys)
        if results:
            _write_csv(folder, table)
    ordered = tuple(results[p.name] for p in points)
    return SweepResult(folder, ordered, table)


def _clean_stale(folder: Path, names: Sequence[str]) -> None:
    """Remove temp folders of points that a killed sweep left behind."""
    for name in names:
        for pattern in (f".{name}.tmp-*", f".{name}.old-*"):
            for stale in folder.glob(pattern):
                shutil.rmtree(stale, ignore_errors=True)


def _record(point: Point, outcome: PointOutcome, folder: Path, *, force: bool) -> PointResult:
    target = folder / point.name
    if outcome.built is None:
        if force and target.is_dir():
            shutil.rmtree(target)  # the old plan no longer matches the sweep
        return PointResult(
            point.name,
            point.texts,
            "failed",
            error=outcome.error,
            error_kind=outcome.error_kind,
            scenario_hash=point.scenario.hash,
        )
    write_files(target, outcome.built.files, force=force)
    return _result(point, target, reused=False)


def _result(point: Point, target: Path, *, reused: bool) -> PointResult:
    kpis = folder_kpis(target)
    return PointResult(
        point.name,
        point.texts,
        str(kpis.get("status", "")),
        kpis=kpis,
        reused=reused,
        scenario_hash=point.scenario.hash,
    )


def short_error(result: PointResult) -> str:
    r"""One line for sweep.csv: the problems of an input error, or an exception's first line.

    Examples
    --------
    >>> text = "2 problems found in the input:\n  s.yaml: bad\n  s.yaml: worse"
    >>> short_error(PointResult("p001", {}, "failed", error=text, error_kind="input"))
    's.yaml: bad; s.yaml: worse'
    """
    lines = [line.strip() for line in (result.error or "").splitlines() if line.strip()]
    if not lines:
        return ""
    if result.error_kind == "error":
        return lines[0]
    if lines[0].endswith("in the input:"):
        lines = lines[1:]
    return "; ".join(lines)


def _write_table(
    folder: Path,
    points: Sequence[Point],
    results: dict[str, PointResult],
    keys: Sequence[str],
) -> None:
    """Write sweep.csv (atomically) for the points finished so far, in point order."""
    _write_csv(folder, _table(points, results, keys))


def _write_csv(folder: Path, table: pd.DataFrame) -> None:
    text = table.to_csv(index=False, lineterminator="\n", float_format="%.10g")
    write_file_atomic(folder / SWEEP_FILE, text.encode("utf-8"))


def _table(
    points: Sequence[Point], results: dict[str, PointResult], keys: Sequence[str]
) -> pd.DataFrame:
    """Build the rows of sweep.csv for the points finished so far, in point order."""
    rows = []
    metrics: list[str] = []
    for finished in results.values():
        metrics += [m for m in finished.kpis.get("deviations") or {} if m not in metrics]
    for point in points:
        result = results.get(point.name)
        if result is None:
            continue
        row: dict[str, Any] = {"point": point.name, **{k: point.texts[k] for k in keys}}
        row["status"] = result.status
        for column in KPI_COLUMNS:
            value = result.kpis.get(column)
            row[column] = math.nan if value is None else value
        deviations = result.kpis.get("deviations") or {}
        for metric in metrics:
            row[f"max_deviation.{metric}"] = deviations.get(metric, math.nan)
        row["efficient"] = ""
        row["error"] = short_error(result)
        row["scenario_hash"] = result.scenario_hash
        seconds = result.kpis.get("solve_seconds")
        row["solve_seconds"] = math.nan if seconds is None else seconds
        rows.append(row)
    columns = [
        "point",
        *keys,
        "status",
        *KPI_COLUMNS,
        *(f"max_deviation.{m}" for m in metrics),
        "efficient",
        "error",
        "scenario_hash",
        "solve_seconds",
    ]
    table = pd.DataFrame(rows, columns=columns)
    if len(table):
        efficient = frontier(
            table["max_deviation"].to_numpy(dtype=np.float64),
            table["moved_accounts"].to_numpy(dtype=np.float64),
        )
        has_plan = table["status"].isin(WITH_PLAN).to_numpy() & np.isfinite(
            table["max_deviation"].to_numpy(dtype=np.float64)
        )
        table["efficient"] = pd.Series(
            np.where(has_plan, np.where(efficient, "true", "false"), ""), dtype=object
        )
    return table


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C during a sweep, so that cleanup runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
