"""The ``districts`` command: geographic territory design."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from territory_opt._atomic import check_output_folder
from territory_opt._errors import InputError

if TYPE_CHECKING:
    pass

from territory_opt.cli._app import (
    EXIT_INFEASIBLE,
    EXIT_INTERNAL,
    _guarded,
    _parse_band,
    app,
    err,
    out,
)


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
