"""Commands that read plans: ``compare`` (report) and ``size`` (headcount sizing)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from territory_opt._errors import InputError
from territory_opt._progress import use_reporter
from territory_opt._progress_bar import BarReporter

if TYPE_CHECKING:
    pass

from territory_opt.cli._app import (
    EXIT_INFEASIBLE,
    EXIT_INTERNAL,
    MetricOption,
    _guarded,
    _parse_band,
    app,
    err,
    out,
)


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
