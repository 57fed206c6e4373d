"""The ``territory-opt`` command line: a thin layer over the Python API.

Exit codes: 0 success, 1 internal error, 2 bad input (a message naming file,
row and column; no traceback), 3 proven infeasible.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from territory_opt import __version__
from territory_opt._atomic import atomic_folder, check_output_folder
from territory_opt._errors import InfeasibleError, InputError, TerritoryOptError
from territory_opt._interrupt import stop_on_sigint
from territory_opt._progress import use_reporter
from territory_opt._progress_bar import BarReporter
from territory_opt.data import load_problem
from territory_opt.data.demo import generate_demo
from territory_opt.data.problem import Problem

if TYPE_CHECKING:
    import datetime

    from territory_opt.plan import Plan
    from territory_opt.quota import QuotaResult, QuotaSettings
    from territory_opt.scenario.sweep import PointResult

EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_INFEASIBLE = 3

app = typer.Typer(
    name="territory-opt",
    help="Sales territory and quota planning with proven bounds and reproducible plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)
T = TypeVar("T")


class RichReporter:
    """Shows library progress steps on stderr."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.depth = 0

    def begin(self, label: str, total: int | None) -> None:  # noqa: ARG002 - protocol
        """Start a step."""
        self.depth += 1

    def advance(self, n: int) -> None:
        """Advance the current step (shown only as elapsed time here)."""

    def end(self, label: str, seconds: float) -> None:
        """Print the finished step with its wall time."""
        self.depth -= 1
        indent = "  " * self.depth
        self.console.print(f"[dim]{indent}{label} ... {seconds:.2f} s[/dim]")


def _guarded(action: Callable[[], T]) -> T:
    """Run ``action`` with progress shown, mapping errors to exit codes."""
    try:
        with use_reporter(RichReporter(err)):
            return action()
    except InputError as exc:
        # escape: messages may hold brackets ("territory-opt[dask]", "team.add[0]").
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", markup=True, soft_wrap=True)
        raise typer.Exit(EXIT_INPUT) from None
    except InfeasibleError as exc:
        err.print(f"[bold red]infeasible:[/bold red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_INFEASIBLE) from None
    except TerritoryOptError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_INTERNAL) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug: show the traceback so it can be reported
        err.print(f"[bold red]internal error:[/bold red] {type(exc).__name__}: {exc}")
        traceback.print_exc(file=sys.stderr)
        raise typer.Exit(EXIT_INTERNAL) from None


def _version(value: bool) -> None:
    if value:
        out.print(f"territory-opt {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Plan sales territories and quotas: balanced, explainable, CRM-ready."""


def _summary_table(problem: Problem) -> Table:
    summary = problem.summary()
    table = Table(title="Input summary", show_header=False)
    table.add_column("item")
    table.add_column("value", justify="right")
    table.add_row("accounts", f"{summary['accounts']:,}")
    table.add_row("reps (seats)", f"{summary['reps']:,}")
    table.add_row("total FTE", f"{summary['total_fte']:g}")
    table.add_row("locations", str(summary["locations"]))
    metrics = summary["metrics"]
    assert isinstance(metrics, dict)
    for name, total in metrics.items():
        table.add_row(f"total {name}", f"{total:,.6g}")
    for key in (
        "segments",
        "families",
        "locked_accounts",
        "excluded_pairs",
        "accounts_with_current_rep",
        "pairs",
        "adjacency_edges",
    ):
        value = summary[key]
        if isinstance(value, list):
            value = ", ".join(value) or "-"
        table.add_row(key.replace("_", " "), "-" if value is None else f"{value}")
    return table


MetricOption = Annotated[
    list[str] | None,
    typer.Option("--metric", "-m", help="Metric column (repeatable); default: all numeric."),
]


@app.command()
def validate(
    accounts: Annotated[Path, typer.Argument(help="Accounts file (CSV, XLSX, Parquet, GPKG...).")],
    reps: Annotated[Path, typer.Argument(help="Reps file, one row per seat.")],
    pairs: Annotated[
        Path | None, typer.Option(help="Pair table: account_id, rep_id, cost.")
    ] = None,
    adjacency: Annotated[Path | None, typer.Option(help="Edge list: unit_a, unit_b.")] = None,
    metric: MetricOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Check input files against the data contract and summarise them."""

    def action() -> Problem:
        return load_problem(accounts, reps, pairs=pairs, adjacency=adjacency, metrics=metric)

    problem = _guarded(action)
    if as_json:
        out.print_json(json.dumps(problem.summary()))
    else:
        out.print(_summary_table(problem))
        out.print("[green]inputs are valid[/green]")


class DataFormat(StrEnum):
    """File formats the demo data can be written in."""

    csv = "csv"
    parquet = "parquet"
    xlsx = "xlsx"


def _parse_band(text: str) -> tuple[str, float]:
    """Parse ``potential=5%`` or ``workload=0.1`` into (metric, fraction)."""
    if "=" not in text:
        raise InputError.single("--balance", f"'{text}' is not METRIC=TOLERANCE, e.g. potential=5%")
    metric, _, value = text.partition("=")
    value = value.strip()
    try:
        tol = float(value[:-1]) / 100.0 if value.endswith("%") else float(value)
    except ValueError:
        raise InputError.single(
            "--balance", f"'{value}' is not a tolerance such as 5% or 0.05"
        ) from None
    return metric.strip(), tol


MemoryLimitOption = Annotated[
    float | None,
    typer.Option(
        "--memory-limit",
        help="Refuse, before building any model, an instance estimated to need more "
        "memory than this [GB].",
    ),
]


class Objective(StrEnum):
    """Main objective term of ``align``."""

    travel = "travel"
    pair_cost = "pair_cost"


@app.command()
def align(
    accounts: Annotated[Path, typer.Argument(help="Accounts file.")],
    reps: Annotated[Path, typer.Argument(help="Reps file, one row per seat.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Plan folder to write.")],
    pairs: Annotated[
        Path | None, typer.Option(help="Pair table: account_id, rep_id, cost.")
    ] = None,
    balance: Annotated[
        list[str] | None,
        typer.Option("--balance", "-b", help="Band METRIC=TOL, e.g. potential=5% (repeatable)."),
    ] = None,
    preset: Annotated[str | None, typer.Option(help="Model preset from models/.")] = None,
    objective: Annotated[Objective | None, typer.Option(help="Main objective term.")] = None,
    travel_weight: Annotated[
        str | None,
        typer.Option(
            "--travel-weight", help="Metric that weights distance (e.g. workload), or 'none'."
        ),
    ] = None,
    disruption_weight: Annotated[float | None, typer.Option(help="Cost per unit moved.")] = None,
    disruption_metric: Annotated[str | None, typer.Option(help="Basis of disruption cost.")] = None,
    max_moved_share: Annotated[
        float | None, typer.Option(help="Budget: share of potential moved.")
    ] = None,
    max_moved_accounts: Annotated[int | None, typer.Option(help="Budget: accounts moved.")] = None,
    max_distance: Annotated[float | None, typer.Option(help="Max account-rep distance.")] = None,
    max_accounts: Annotated[int | None, typer.Option(help="Max accounts per rep.")] = None,
    backend: Annotated[str, typer.Option(help="highs | highs-mip | cpsat | pulp")] = "highs",
    solver: Annotated[str | None, typer.Option(help="PuLP solver name (pulp backend).")] = None,
    time_limit: Annotated[float, typer.Option(help="Time limit [s].")] = 60.0,
    gap: Annotated[float, typer.Option(help="Relative gap counted as optimal.")] = 1e-3,
    threads: Annotated[int, typer.Option(help="Solver threads (0 = solver default).")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    memory_limit: MemoryLimitOption = None,
    force: Annotated[bool, typer.Option(help="Replace an existing plan folder.")] = False,
) -> None:
    """Assign accounts to reps with hard balance bands; write a plan folder."""
    from territory_opt.alignment import AlignmentSpec
    from territory_opt.alignment import align as run_align
    from territory_opt.plan import write_plan

    def action() -> object:
        problem = load_problem(accounts, reps, pairs=pairs)
        name = preset or ("pair-cost" if objective == Objective.pair_cost else "balanced-travel")
        try:
            spec = AlignmentSpec.from_preset(name)
        except KeyError as exc:
            raise InputError.single("--preset", str(exc.args[0])) from None
        changes: dict[str, object] = {}
        if balance:
            changes["bands"] = dict(_parse_band(b) for b in balance)
        if objective == Objective.pair_cost:
            changes.update(pair_cost_weight=1.0, travel_weight=0.0)
        elif objective == Objective.travel:
            changes["travel_weight"] = 1.0
        if travel_weight is not None:
            changes["travel_metric"] = None if travel_weight.lower() == "none" else travel_weight
        for key, value in (
            ("disruption_weight", disruption_weight),
            ("disruption_metric", disruption_metric),
            ("max_moved_share", max_moved_share),
            ("max_moved_accounts", max_moved_accounts),
            ("max_distance", max_distance),
            ("max_accounts", max_accounts),
        ):
            if value is not None:
                changes[key] = value
        try:
            spec = spec.with_(**changes)
        except ValueError as exc:
            raise InputError.single("alignment settings", str(exc)) from None
        check_output_folder(out_dir, force=force)
        # The first Ctrl-C ends the solve as if out of time; the plan so far is kept.
        with stop_on_sigint():
            plan = run_align(
                problem,
                spec,
                backend=backend,
                time_limit=time_limit,
                gap=gap,
                threads=threads,
                seed=seed,
                solver=solver,
                memory_limit=memory_limit,
            )
        if not (plan.interrupted and plan.assignment is None):
            write_plan(plan, out_dir, force=force)
        return plan

    plan = _guarded(action)
    from territory_opt.plan import Plan

    assert isinstance(plan, Plan)
    if plan.interrupted and plan.assignment is None:
        err.print("[yellow]interrupted:[/yellow] no plan was found before Ctrl-C; nothing written")
        raise typer.Exit(EXIT_INTERRUPTED)
    _print_plan(plan, out_dir)
    if plan.interrupted:
        err.print(
            "[yellow]interrupted:[/yellow] the plan is the best found before Ctrl-C "
            f'(status {plan.status}; plan.json has "interrupted": true)'
        )
    if plan.diagnosis is not None:
        raise typer.Exit(EXIT_INFEASIBLE)
    if plan.assignment is None:
        raise typer.Exit(EXIT_INTERNAL)


def _print_plan(plan: object, out_dir: Path) -> None:
    from territory_opt.plan import Plan

    assert isinstance(plan, Plan)
    summary = plan.summary()
    if plan.diagnosis is not None:
        err.print(f"[bold red]infeasible:[/bold red] {plan.diagnosis.get('summary')}")
        for finding in plan.diagnosis.get("findings", []):
            err.print(f"  - {finding['message']}\n    relax: {finding['relaxation']}")
        err.print(f"diagnosis written to {out_dir / 'diagnosis.json'}")
        return
    table = Table(title=f"Plan: {summary['status']}", show_header=False)
    table.add_column("item")
    table.add_column("value", justify="right")
    gap = summary["gap"]
    table.add_row("objective", f"{plan.objective:,.6g}")
    table.add_row("lower bound", f"{plan.lower_bound:,.6g}")
    table.add_row("gap", "-" if gap is None else f"{100 * gap:.3f} %")
    for term, value in plan.objective_terms.items():
        table.add_row(f"  {term}", f"{value:,.6g}")
    table.add_row("accounts moved", f"{summary['moved_accounts']:,}")
    table.add_row("solver", f"{plan.solver} {plan.solver_version} ({plan.backend})")
    table.add_row("time", f"{plan.seconds:.2f} s")
    out.print(table)
    out.print(f"[green]plan written to {out_dir}[/green]")


def _range(text: str, option: str) -> tuple[float, float]:
    """Parse ``LOW:HIGH`` (fractions, or percentages with %)."""
    parts = text.split(":")
    if len(parts) != 2:
        raise InputError.single(option, f"'{text}' is not LOW:HIGH, e.g. 0.05:0.30")
    try:
        lo, hi = (float(p[:-1]) / 100 if p.endswith("%") else float(p) for p in parts)
    except ValueError:
        raise InputError.single(option, f"'{text}' is not LOW:HIGH, e.g. 0.05:0.30") from None
    return lo, hi


def _column_numbers(path: Path, column: str) -> list[float]:
    """Read one numeric column of a small CSV/XLSX settings table, with row errors."""
    from territory_opt.data.cells import number_cells
    from territory_opt.data.io import read_table

    table = read_table(path)
    if column not in table.frame.columns:
        raise InputError.single(
            table.file, f"required column '{column}' is missing", row=1, column=column
        )
    values, empty, invalid = number_cells(table.frame[column])
    for pos in np.flatnonzero(empty | invalid | ~np.isfinite(values) | (values < 0)):
        raise InputError.single(
            table.file, "must be a non-negative number", row=int(table.rows[pos]), column=column
        )
    return [float(v) for v in values]


@app.command()
def quota(
    plan_dir: Annotated[Path, typer.Argument(help="Plan folder written by align.")],
    target: Annotated[float, typer.Option(help="Company target [currency].")],
    method: Annotated[str, typer.Option(help="top_down | history | blend | capacity")] = "top_down",
    history_weight: Annotated[float, typer.Option(help="Weight of history in blend.")] = 0.5,
    growth: Annotated[float, typer.Option(help="Growth on last year (history).")] = 0.0,
    growth_cap: Annotated[
        str | None, typer.Option(help="Growth bounds LOW:HIGH, e.g. 0.05:0.30.")
    ] = None,
    floor: Annotated[float | None, typer.Option(help="Minimum quota per full-time rep.")] = None,
    ceiling: Annotated[float | None, typer.Option(help="Maximum quota per full-time rep.")] = None,
    buffer: Annotated[
        float, typer.Option(help="Over-assignment: quotas sum to target×(1+b).")
    ] = 0.0,
    round_to: Annotated[float, typer.Option("--round", help="Rounding unit.")] = 1000.0,
    ramp: Annotated[Path | None, typer.Option(help="Ramp table: month, factor.")] = None,
    plan_start: Annotated[str | None, typer.Option(help="Plan year start, YYYY-MM-DD.")] = None,
    seasonality: Annotated[
        Path | None, typer.Option(help="Table with a 'weight' column (4 or 12 rows).")
    ] = None,
    productivity: Annotated[
        float | None, typer.Option(help="Currency per workload unit (capacity).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the attainment simulation.")] = 0,
) -> None:
    """Set fair quotas for a plan's territories; write quotas.csv into the plan folder."""
    import datetime as dt

    from territory_opt.plan import read_plan
    from territory_opt.quota import QuotaSettings

    def action() -> object:
        plan = read_plan(plan_dir)
        options: dict[str, object] = {
            "target": target,
            "method": method,
            "history_weight": history_weight,
            "growth": growth,
            "floor": floor,
            "ceiling": ceiling,
            "buffer": buffer,
            "rounding": round_to,
            "productivity": productivity,
            "seed": seed,
        }
        if growth_cap:
            options["growth_min"], options["growth_max"] = _range(growth_cap, "--growth-cap")
        if plan_start:
            try:
                options["plan_start"] = dt.date.fromisoformat(plan_start)
            except ValueError:
                raise InputError.single(
                    "--plan-start", f"'{plan_start}' is not YYYY-MM-DD"
                ) from None
        if ramp is not None:
            months = _column_numbers(ramp, "month")
            factors = _column_numbers(ramp, "factor")
            options["ramp"] = tuple((int(m), f) for m, f in zip(months, factors, strict=True))
        if seasonality is not None:
            options["seasonality"] = tuple(_column_numbers(seasonality, "weight"))
        try:
            settings = QuotaSettings(**options)  # type: ignore[arg-type]
        except ValueError as exc:
            raise InputError.single("quota settings", str(exc)) from None
        return _save_quotas(plan, settings, plan_dir)

    result = _guarded(action)
    from territory_opt.quota import QuotaResult

    assert isinstance(result, QuotaResult)
    table = Table(title="Quotas", show_header=False)
    table.add_column("item")
    table.add_column("value", justify="right")
    table.add_row("total", f"{result.total:,.0f}")
    table.add_row(
        "quota ÷ potential: min / max", f"{result.fairness.min:.4g} / {result.fairness.max:.4g}"
    )
    table.add_row("coefficient of variation", f"{result.fairness.cv:.3f}")
    table.add_row("Gini", f"{result.fairness.gini:.3f}")
    table.add_row("reps expected at quota", f"{100 * result.attainment.team_share:.0f} %")
    out.print(table)
    out.print(f"[green]quotas written to {plan_dir / 'quotas.csv'}[/green]")


@app.command()
def compare(
    plan_dirs: Annotated[
        list[Path],
        typer.Argument(
            metavar="PLAN_DIR",
            help="Plan folders to put side by side; a sizing folder (from 'size') "
            "adds its plans and a headcount sizing section.",
        ),
    ],
    out_html: Annotated[Path, typer.Option("--out", help="HTML report to write.")],
    xlsx: Annotated[
        Path | None, typer.Option("--xlsx", help="Also write the tables as an Excel workbook.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace existing report files.")] = False,
) -> None:
    """Compare plans: KPIs, per-rep charts, map and moved accounts in one HTML file.

    A sizing folder written by 'size' stands for its plan folders and adds a
    headcount sizing section (curve table and chart) and a Sizing sheet.
    """
    from territory_opt.report import write_report

    _guarded(lambda: write_report(plan_dirs, out_html, xlsx=xlsx, force=force))
    out.print(f"[green]report written to {out_html}[/green]")
    if xlsx is not None:
        out.print(f"[green]workbook written to {xlsx}[/green]")


@app.command()
def size(
    accounts: Annotated[Path, typer.Argument(help="Accounts file.")],
    reps: Annotated[Path, typer.Argument(help="Reps file: the current team.")],
    capacity: Annotated[
        list[str], typer.Option(help="Workload one FTE carries, METRIC=VALUE, e.g. workload=1600.")
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Sizing folder to write.")],
    candidates: Annotated[
        str, typer.Option(help="Sites file for new hires (lat/lon), or 'accounts'.")
    ] = "accounts",
    max_new: Annotated[
        list[str] | None,
        typer.Option("--max-new", help="Hiring limit: N (total) or KEY=N, KEY a segment/region."),
    ] = None,
    keep: Annotated[
        list[str] | None, typer.Option(help="Rep that may not be removed (repeatable).")
    ] = None,
    n_range: Annotated[
        str | None, typer.Option("--range", help="Team sizes of the curve LOW:HIGH, e.g. 40:60.")
    ] = None,
    preset: Annotated[str, typer.Option(help="Model preset from models/.")] = "balanced-travel",
    balance: Annotated[
        list[str] | None,
        typer.Option("--balance", "-b", help="Band METRIC=TOL, e.g. potential=5% (repeatable)."),
    ] = None,
    placement: Annotated[str, typer.Option(help="auto | exact | greedy")] = "auto",
    screen: Annotated[int, typer.Option(min=1, help="Greedy: moves planned per size.")] = 3,
    swaps: Annotated[int, typer.Option(min=0, help="Greedy: interchange tries per size.")] = 0,
    time_limit: Annotated[float, typer.Option(help="Time limit per solve [s].")] = 10.0,
    gap: Annotated[float, typer.Option(help="Relative gap counted as optimal.")] = 0.01,
    threads: Annotated[int, typer.Option(help="Solver threads (0 = solver default).")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    metric: MetricOption = None,
    force: Annotated[bool, typer.Option(help="Replace an existing folder.")] = False,
) -> None:
    """Size the team: minimum headcount with its proof, where hires sit, and the curve.

    Writes sizing.csv (one row per team size), sizing.json, sites.csv and one
    plan folder per team size planned.
    """
    from territory_opt.alignment import AlignmentSpec
    from territory_opt.sizing import (
        SizingRequest,
        parse_capacity,
        parse_max_new,
        parse_range,
        size_team,
        write_sizing,
    )

    def action() -> object:
        try:
            spec = AlignmentSpec.from_preset(preset)
        except KeyError as exc:
            raise InputError.single("--preset", str(exc.args[0])) from None
        if balance:
            spec = spec.with_(bands=dict(_parse_band(b) for b in balance))
        request = SizingRequest(
            parse_capacity(capacity),
            max_new=parse_max_new(max_new or []),
            keep=tuple(keep or ()),
            n_range=None if n_range is None else parse_range(n_range),
            placement=placement,
            time_limit=time_limit,
            gap=gap,
            seed=seed,
            screen=screen,
            swaps=swaps,
            threads=threads,
        )
        sites = candidates if candidates == "accounts" else Path(candidates)
        with use_reporter(BarReporter(err)):
            result = size_team(accounts, reps, request, candidates=sites, spec=spec, metrics=metric)
        write_sizing(result, out_dir, force=force)
        return result

    result = _guarded(action)
    from territory_opt.sizing import SizingResult

    assert isinstance(result, SizingResult)
    _print_sizing(result, out_dir)
    if result.status == "infeasible":
        raise typer.Exit(EXIT_INFEASIBLE)
    if result.status != "ok":
        raise typer.Exit(EXIT_INTERNAL)


def _print_sizing(result: Any, out_dir: Path) -> None:
    from territory_opt.sizing import sizing_frame

    if result.diagnosis is not None:
        err.print(f"[bold red]infeasible:[/bold red] {escape(result.diagnosis['summary'])}")
        for finding in result.diagnosis["findings"]:
            err.print(f"  - {escape(finding['message'])}\n    relax: {finding['relaxation']}")
    frame = sizing_frame(result)
    table = Table(title="Team sizes")
    for column in ("reps", "feasible", "proof", "objective", "gap", "hires", "removed", ""):
        table.add_column(column, justify="left" if column in ("feasible", "proof", "") else "right")
    for row in frame.to_dict("records"):
        objective, gap_value = row["objective"], row["gap"]
        marks = ("minimum " if row["minimum"] else "") + ("knee" if row["knee"] else "")
        table.add_row(
            str(row["n_reps"]),
            str(row["feasible"]),
            str(row["proof"]),
            "-" if objective != objective else f"{objective:,.6g}",
            "-" if gap_value != gap_value else f"{100 * gap_value:.2f} %",
            "-" if row["new_hires"] != row["new_hires"] else f"{int(row['new_hires'])}",
            "-" if row["removed"] != row["removed"] else f"{int(row['removed'])}",
            marks.strip(),
        )
    out.print(table)
    if result.minimum is not None:
        proof = "proven" if result.minimum_proven else "not proven"
        out.print(f"minimum headcount: {result.minimum} ({proof}: {escape(result.minimum_reason)})")
    if result.knee is not None:
        out.print(f"knee of the curve: {result.knee} reps")
    out.print(f"[green]sizing written to {out_dir} (sizing.csv)[/green]")


#: Demo company target: last year's revenue plus this growth [fraction].
DEMO_GROWTH = 0.10


def _demo_quotas(plan: Plan, plan_dir: Path, *, seed: int) -> None:
    """Quotas for the demo plan: last year's revenue + 10 %, blended 40 % history."""
    from territory_opt.quota import QuotaSettings

    history = float(plan.problem.metric("revenue_ly").sum())
    target = round(history * (1 + DEMO_GROWTH), -3)
    settings = QuotaSettings(target=target, method="blend", history_weight=0.4, seed=seed)
    _save_quotas(plan, settings, plan_dir)


def _save_quotas(plan: Plan, settings: QuotaSettings, plan_dir: Path) -> QuotaResult:
    """Set quotas, write them and their roll-ups into the plan folder, refresh hashes.

    The three files change together: the folder is updated through a temp copy
    that replaces it in one step, so a crash never leaves quotas whose hash
    ``plan.json`` does not record.
    """
    from territory_opt._atomic import update_folder
    from territory_opt.plan import refresh_plan_hashes
    from territory_opt.quota import rollups, set_quotas, write_quotas

    result = set_quotas(plan, settings)
    table = rollups(result).to_csv(index=False, lineterminator="\n", float_format="%.10g")
    with update_folder(plan_dir) as tmp:
        write_quotas(result, tmp)
        (tmp / "quota_rollups.csv").write_bytes(table.encode("utf-8"))
        refresh_plan_hashes(tmp)
    return result


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write.")] = Path("demo-output"),
    n_accounts: Annotated[int, typer.Option("--accounts", min=100, max=1_000_000)] = 2000,
    n_reps: Annotated[
        int | None, typer.Option("--reps", min=3, help="Seats (default: 1/50 accounts).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    fmt: Annotated[DataFormat, typer.Option("--format", help="Data file format.")] = DataFormat.csv,
    time_limit: Annotated[float, typer.Option(help="Time limit of the alignment [s].")] = 20.0,
    plan: Annotated[bool, typer.Option(help="Also run the example alignment.")] = True,
    force: Annotated[bool, typer.Option(help="Replace an existing folder.")] = False,
) -> None:
    """Generate a demo book, validate it, and plan it with the balanced-travel preset.

    Writes ``accounts``, ``reps``, ``validation.json`` and, unless ``--no-plan``,
    a plan folder ``plan/`` (balanced-travel preset: potential ±5 %, workload
    ±10 %, workload-weighted travel) with quotas for a target of last year's
    revenue + 10 % (blend, 40 % history), and the plan's report
    ``report.html`` / ``report.xlsx``.
    """
    from territory_opt.alignment import AlignmentSpec
    from territory_opt.alignment import align as run_align
    from territory_opt.plan import write_plan

    def action() -> tuple[Problem, Plan | None]:
        from territory_opt.data.demo import write_demo

        acc, rep = generate_demo(n_accounts, n_reps, seed=seed)
        result = None
        with atomic_folder(out_dir, force=force) as tmp:
            paths = write_demo(acc, rep, tmp, fmt=str(fmt))
            problem = load_problem(*paths)
            (tmp / "validation.json").write_text(
                json.dumps(problem.summary(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )
            if plan:
                spec = AlignmentSpec.from_preset("balanced-travel")
                result = run_align(problem, spec, time_limit=time_limit, seed=seed)
                write_plan(result, tmp / "plan")
                if result.assignment is not None:
                    _demo_quotas(result, tmp / "plan", seed=seed)
                    from territory_opt.report import write_report

                    write_report([tmp / "plan"], tmp / "report.html", xlsx=tmp / "report.xlsx")
        return problem, result

    problem, result = _guarded(action)
    out.print(_summary_table(problem))
    if result is not None:
        _print_plan(result, out_dir / "plan")
        if (out_dir / "report.html").is_file():
            out.print(f"[green]report written to {out_dir / 'report.html'}[/green]")
    out.print(f"[green]demo written to {out_dir}[/green]")


class _SweepBar(BarReporter):
    """Shows a sweep's progress bar on stderr and one line per finished point."""

    def point(self, result: PointResult) -> None:
        """Print one finished point."""
        if result.status == "failed":
            first = (result.error or "").strip().splitlines()
            self.console.print(f"[red]{result.name}: failed[/red] {first[0] if first else ''}")
            for line in first[1:3]:
                self.console.print(f"    {line}")
        else:
            kept = " (kept from an earlier run)" if result.reused else ""
            self.console.print(f"{result.name}: {result.status}{kept}")


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario file, e.g. scenarios/base.yaml.")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Plan folder to write (default: plans/<scenario name>)."),
    ] = None,
    memory_limit: MemoryLimitOption = None,
    force: Annotated[bool, typer.Option(help="Replace an existing plan folder.")] = False,
) -> None:
    """Run a scenario: inputs, team changes, locks, alignment and quotas; write the plan folder."""
    from territory_opt.scenario import ScenarioRun, run_scenario

    result = _guarded(
        lambda: run_scenario(scenario, out_dir, force=force, memory_limit=memory_limit)
    )
    assert isinstance(result, ScenarioRun)
    _print_plan(result.plan, result.folder)
    if result.quotas is not None:
        out.print(f"quotas set: total {result.quotas.total:,.0f}")
    out.print(f"scenario hash {result.scenario_hash}")
    if result.plan.diagnosis is not None:
        raise typer.Exit(EXIT_INFEASIBLE)
    if result.plan.assignment is None:
        raise typer.Exit(EXIT_INTERNAL)


#: Exit code of an interrupted sweep (128 + SIGINT, as shells report Ctrl-C).
EXIT_INTERRUPTED = 130


@app.command()
def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario file every point starts from.")],
    grid: Annotated[
        list[str],
        typer.Option(
            "--grid",
            "-g",
            help="KEY=V1,V2,... e.g. balance.potential=3%,5%,8% (repeatable; every "
            "combination runs).",
        ),
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Sweep folder to write (default: sweeps/<scenario name>)."),
    ] = None,
    jobs: Annotated[int, typer.Option(min=0, help="Worker processes (0: one per core).")] = 0,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask", help="Run on Dask: a scheduler address, or 'local' for a local cluster."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Recompute every point (default: keep finished points).")
    ] = False,
) -> None:
    """Run a scenario over a grid of values; one plan folder per point and sweep.csv.

    Points run in parallel local processes (or on Dask with --dask). sweep.csv
    lists each point's KPIs and marks the balance-versus-disruption frontier
    (efficient). Running the same sweep again keeps the points already done.
    """
    from territory_opt.scenario import SweepResult, run_sweep

    bar = _SweepBar(err)

    def action() -> SweepResult:
        with use_reporter(bar):
            return run_sweep(
                scenario, grid, out_dir, jobs=jobs, dask=dask, force=force, on_point=bar.point
            )

    try:
        result = _guarded(action)
    except KeyboardInterrupt:
        if bar.progress is not None:
            bar.progress.stop()
        err.print(
            "[yellow]interrupted:[/yellow] finished points are kept (each folder is complete); "
            "run the same command again to finish the others"
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    table = Table(title=f"Sweep: {len(result.points)} points")
    for column in ("point", "status", "max deviation", "moved", "efficient"):
        table.add_column(column, justify="left" if column in ("point", "status") else "right")
    for row in result.table.to_dict("records"):
        dev, moved = row["max_deviation"], row["moved_accounts"]
        table.add_row(
            str(row["point"]),
            str(row["status"]),
            "-" if dev != dev else f"{100 * dev:.2f} %",
            "-" if moved != moved else f"{int(moved):,}",
            str(row["efficient"]) or "-",
        )
    out.print(table)
    out.print(f"[green]sweep written to {result.folder} (sweep.csv)[/green]")
    if result.failed:
        kinds = {p.error_kind for p in result.failed}
        err.print(f"[bold red]{len(result.failed)} point(s) failed[/bold red] (see sweep.csv)")
        raise typer.Exit(EXIT_INPUT if kinds == {"input"} else EXIT_INTERNAL)


class _ExportGroup(TyperGroup):
    """``export PLAN_DIR ...`` runs ``export plan PLAN_DIR ...``; ``export resolve`` fills Ids."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Route arguments that do not start with a subcommand name to ``plan``."""
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["plan", *args]
        return super().parse_args(ctx, args)


export_app = typer.Typer(
    cls=_ExportGroup,
    no_args_is_help=True,
    help="Write CRM load files for a plan (`export PLAN_DIR --to TARGET --out DIR`), "
    "or fill in Salesforce Ids (`export resolve EXPORT_DIR --ids FILE --out DIR`).",
)
app.add_typer(export_app, name="export")


def _date_option(text: str | None, option: str) -> datetime.date | None:
    import datetime as dt

    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError.single(option, f"'{text}' is not a date YYYY-MM-DD") from None


@export_app.command("plan")
def export_plan_command(
    plan_dir: Annotated[Path, typer.Argument(help="Plan folder to export.")],
    to: Annotated[
        str,
        typer.Option("--to", help="generic | salesforce | salesforce-owner | hubspot | dynamics"),
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Export folder to write.")],
    baseline: Annotated[
        Path | None, typer.Option(help="Previous plan folder: what the CRM holds now.")
    ] = None,
    current_from: Annotated[
        Path | None, typer.Option(help="Accounts file whose current_rep is the current owner.")
    ] = None,
    full: Annotated[bool, typer.Option(help="Write every record, not only the changes.")] = False,
    model: Annotated[
        str, typer.Option(help="Salesforce Territory2Model DeveloperName.")
    ] = "Territory_Plan",
    quota_start: Annotated[
        str | None, typer.Option(help="First day of the first quota period (ForecastingQuota).")
    ] = None,
    baseline_quota_start: Annotated[
        str | None,
        typer.Option(help="First quota period of the baseline's quotas already in the CRM."),
    ] = None,
    forecasting_type: Annotated[
        str, typer.Option(help="Salesforce ForecastingType DeveloperName of the quotas.")
    ] = "OpportunityRevenue",
    currency: Annotated[str, typer.Option(help="CurrencyIsoCode of the quotas.")] = "",
    owners: Annotated[
        Path | None, typer.Option(help="HubSpot owners (GET /crm/v3/owners JSON, or id,email).")
    ] = None,
    territory_property: Annotated[
        str | None, typer.Option(help="HubSpot company property for the territory id.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing export folder.")] = False,
) -> None:
    """Export a plan as CRM load files: only the changes, with manifest, runbook and rollback."""
    from territory_opt.export import ExportOptions, ExportResult, export_plan

    def action() -> ExportResult:
        options = ExportOptions(
            model=model,
            quota_start=_date_option(quota_start, "--quota-start"),
            baseline_quota_start=_date_option(baseline_quota_start, "--baseline-quota-start"),
            forecasting_type=forecasting_type,
            currency=currency,
            owners_file=owners,
            territory_property=territory_property,
        )
        return export_plan(
            plan_dir,
            out_dir,
            target=to,
            baseline=baseline,
            current_from=current_from,
            full=full,
            force=force,
            options=options,
        )

    result = _guarded(action)
    _print_export(result.manifest, out_dir)


def _print_export(manifest: dict[str, Any], out_dir: Path) -> None:
    table = Table(title=f"Export: {manifest['target']} ({manifest['mode']})")
    table.add_column("file")
    table.add_column("object")
    table.add_column("operation")
    table.add_column("rows", justify="right")
    table.add_column("Ids missing", justify="right")
    for entry in manifest["files"]:
        missing = entry.get("unresolved")
        table.add_row(
            entry["file"],
            entry["object"],
            entry["operation"],
            f"{entry['rows']:,}",
            "-" if missing is None else f"{missing:,}",
        )
    out.print(table)
    for warning in manifest.get("warnings") or []:
        err.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
    cells = manifest["formula_cells"]["count"]
    if cells:
        err.print(
            f"[yellow]warning:[/yellow] {cells} cell(s) start like a spreadsheet formula; they "
            "are kept as they are in the load files (see manifest.json, formula_cells)"
        )
    out.print(f"[green]export written to {out_dir} (runbook: LOAD_ORDER.md)[/green]")


@export_app.command("resolve")
def export_resolve_command(
    export_dir: Annotated[Path, typer.Argument(help="Export folder (or an earlier resolve).")],
    ids: Annotated[
        list[str],
        typer.Option(
            "--ids", help="Success file or SOQL export (Id, DeveloperName); OBJECT=FILE if needed."
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Resolved folder to write.")],
    force: Annotated[bool, typer.Option(help="Replace an existing folder.")] = False,
) -> None:
    """Fill in Salesforce Ids from loader success files or SOQL exports."""
    from territory_opt.export import resolve_export

    manifest = _guarded(lambda: resolve_export(export_dir, ids, out_dir, force=force))
    _print_export(manifest, out_dir)


class DistrictObjectiveOption(StrEnum):
    """Objective of ``districts``."""

    sum_distance = "sum-distance"
    max_distance = "max-distance"
    cut_edges = "cut-edges"


@app.command()
def districts(
    units: Annotated[
        Path, typer.Argument(help="Unit layer: polygons (GPKG/GeoJSON/SHP) or points.")
    ],
    k: Annotated[int, typer.Option("--k", help="Number of districts.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Plan folder to write.")],
    adjacency: Annotated[
        str | None,
        typer.Option(help="Edge list file (unit_a, unit_b), or rook | queen for polygons."),
    ] = None,
    balance: Annotated[
        list[str] | None,
        typer.Option("--balance", "-b", help="Band METRIC=TOL around the mean, e.g. pop=0.5%."),
    ] = None,
    contiguous: Annotated[
        bool, typer.Option("--contiguous/--no-contiguous", help="Each district in one piece.")
    ] = True,
    objective: Annotated[
        DistrictObjectiveOption, typer.Option(help="What to minimise.")
    ] = DistrictObjectiveOption.sum_distance,
    weight: Annotated[
        str | None, typer.Option(help="Metric weighting distance in sum-distance.")
    ] = None,
    cut_length: Annotated[
        bool, typer.Option(help="cut-edges counts shared boundary length.")
    ] = False,
    centers: Annotated[
        str | None, typer.Option(help="Fixed centers: a file with a unit_id column, or ids a,b,c.")
    ] = None,
    disruption_weight: Annotated[
        float,
        typer.Option(help="Cost per unit leaving its current territory (current_rep column)."),
    ] = 0.0,
    disruption_metric: Annotated[
        str | None, typer.Option(help="Metric weighting disruption (default: unit count).")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option(help="Column holding the unit id (default account_id).")
    ] = None,
    accounts: Annotated[
        Path | None,
        typer.Option(help="Accounts with a geo_unit column: their metrics are summed per unit."),
    ] = None,
    metric: Annotated[
        list[str] | None, typer.Option(help="Metric columns to read (default: all numeric).")
    ] = None,
    backend: Annotated[str, typer.Option(help="highs (the only backend for districts).")] = "highs",
    time_limit: Annotated[float, typer.Option(help="Time limit [s].")] = 60.0,
    gap: Annotated[float, typer.Option(help="Relative gap counted as optimal.")] = 1e-4,
    threads: Annotated[int, typer.Option(help="Solver threads (0 = solver default).")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    force: Annotated[bool, typer.Option(help="Replace an existing plan folder.")] = False,
) -> None:
    """Design k balanced, contiguous territories from geographic units; write a plan folder."""
    from territory_opt.districting import (
        DistrictObjective,
        DistrictSpec,
        design_districts,
        load_units,
    )
    from territory_opt.districting.output import write_district_plan

    def action() -> Any:
        if backend != "highs":
            raise InputError.single("--backend", f"'{backend}': districts are solved with highs")
        rule_or_file: str | Path | None = adjacency
        if adjacency is not None and adjacency not in ("rook", "queen"):
            rule_or_file = Path(adjacency)
        layer = load_units(
            units,
            adjacency=rule_or_file,
            metrics=metric,
            columns={"account_id": id_column} if id_column else None,
            accounts=accounts,
        )
        fixed: tuple[str, ...] = ()
        if centers:
            path = Path(centers)
            if path.suffix.lower() in (".csv", ".txt", ".xlsx", ".parquet"):
                from territory_opt.data.cells import text_cells
                from territory_opt.data.io import read_table

                table = read_table(path)
                if "unit_id" not in table.frame.columns:
                    raise InputError.single(table.file, "needs a unit_id column")
                fixed = tuple(str(c) for c in text_cells(table.frame["unit_id"]))
            else:
                fixed = tuple(c.strip() for c in centers.split(",") if c.strip())
        spec = DistrictSpec(
            k=k,
            bands=dict(_parse_band(b) for b in balance or []),
            contiguous=contiguous,
            objective=DistrictObjective(objective.value),
            weight=weight,
            cut_length=cut_length,
            centers=fixed,
            disruption_weight=disruption_weight,
            disruption_metric=disruption_metric,
        )
        check_output_folder(out_dir, force=force)
        plan = design_districts(
            layer, spec, time_limit=time_limit, gap=gap, seed=seed, threads=threads
        )
        if plan.labels is not None or plan.diagnosis is not None:
            write_district_plan(plan, out_dir, force=force)
        return plan

    plan = _guarded(action)
    for warning in plan.units.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)
    if plan.diagnosis is not None:
        err.print(
            f"[bold red]infeasible:[/bold red] {escape(str(plan.diagnosis['summary']))}",
            soft_wrap=True,
        )
        err.print(f"diagnosis written to {out_dir / 'diagnosis.json'}")
        raise typer.Exit(EXIT_INFEASIBLE)
    if plan.labels is None:
        err.print(
            f"[bold red]no design found[/bold red] in {plan.seconds:.1f} s; raise --time-limit"
        )
        raise typer.Exit(EXIT_INTERNAL)
    table = Table(title=f"{plan.spec.k} districts, {plan.units.n} units")
    for col in ("status", "objective", "lower bound", "gap", "seconds"):
        table.add_column(col)
    table.add_row(
        str(plan.status),
        f"{plan.objective:,.6g}",
        f"{plan.lower_bound:,.6g}",
        f"{plan.gap:.3%}",
        f"{plan.seconds:.1f}",
    )
    out.print(table)
    out.print(f"[green]plan written to {out_dir}[/green]")
