"""CRM export commands: ``export PLAN_DIR`` and ``export resolve``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from territory_opt._errors import InputError

if TYPE_CHECKING:
    import datetime


from territory_opt.cli._app import (
    _guarded,
    app,
    err,
    out,
)


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
