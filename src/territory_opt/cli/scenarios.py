"""Scenario commands: ``run`` and ``sweep``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from territory_opt._progress import use_reporter
from territory_opt._progress_bar import BarReporter

if TYPE_CHECKING:
    from territory_opt.scenario.sweep import PointResult

from territory_opt.cli._app import (
    EXIT_INFEASIBLE,
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    MemoryLimitOption,
    _guarded,
    app,
    err,
    out,
)
from territory_opt.cli.plans import _print_plan


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
