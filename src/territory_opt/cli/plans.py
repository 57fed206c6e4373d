"""Commands on inputs and plans: ``validate``, ``align``, ``quota``, ``demo``."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer
from rich.table import Table

from territory_opt._atomic import atomic_folder, check_output_folder
from territory_opt._errors import InputError
from territory_opt._interrupt import stop_on_sigint
from territory_opt.data import load_problem
from territory_opt.data.demo import generate_demo
from territory_opt.data.problem import Problem

if TYPE_CHECKING:
    from territory_opt.plan import Plan
    from territory_opt.quota import QuotaResult, QuotaSettings

from territory_opt.cli._app import (
    EXIT_INFEASIBLE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    MemoryLimitOption,
    MetricOption,
    _guarded,
    _parse_band,
    app,
    err,
    out,
)


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
