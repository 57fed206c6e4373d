"""``export_plan``: read a plan and its baseline, build a target's files, check, write.

Nothing is written until every check has passed; then the export folder is
written atomically (see :mod:`territory_opt.export.writer`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from territory_opt._atomic import check_output_folder
from territory_opt._errors import InputError, Issue
from territory_opt._progress import step
from territory_opt.export import dynamics, generic, hubspot, salesforce
from territory_opt.export.book import (
    AccountInfo,
    Book,
    baseline_plan_book,
    current_owner_book,
    plan_book,
    previous_owner_book,
)
from territory_opt.export.checks import file_issues, raise_if_any
from territory_opt.export.package import Context, ExportOptions, Package, Target
from territory_opt.export.resolve import pending
from territory_opt.export.writer import place, write_export

BUILDERS: dict[Target, Callable[[Context], Package]] = {
    Target.generic: generic.build,
    Target.salesforce: salesforce.build,
    Target.salesforce_owner: salesforce.build_owner,
    Target.hubspot: hubspot.build,
    Target.dynamics: dynamics.build,
}


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote.

    Attributes
    ----------
    folder
        The export folder.
    manifest
        The content of ``manifest.json``.
    """

    folder: Path
    manifest: dict[str, Any]

    @property
    def warnings(self) -> list[str]:
        """Warnings for the person loading the files."""
        return list(self.manifest.get("warnings") or [])

    @property
    def formula_cells(self) -> int:
        """Number of cells that start like a spreadsheet formula."""
        return int(self.manifest["formula_cells"]["count"])


def _target(value: Target | str) -> Target:
    try:
        return Target(str(value))
    except ValueError:
        valid = ", ".join(t.value for t in Target)
        raise InputError.single("--to", f"unknown target '{value}'; use one of {valid}") from None


def export_plan(
    plan_dir: str | Path,
    out: str | Path,
    *,
    target: Target | str,
    baseline: str | Path | None = None,
    current_from: str | Path | None = None,
    full: bool = False,
    force: bool = False,
    options: ExportOptions | None = None,
) -> ExportResult:
    """Export a plan folder as CRM load files, with a manifest, runbook and rollback set.

    Parameters
    ----------
    plan_dir
        A plan folder (``territory-opt align``, optionally with quotas).
    out
        Export folder to create.
    target
        ``generic``, ``salesforce``, ``salesforce-owner``, ``hubspot`` or ``dynamics``.
    baseline
        A previous plan folder: what the CRM holds now.
    current_from
        An accounts file whose ``current_rep`` column holds the current owners.
        Without ``baseline`` or ``current_from`` the plan's ``previous_rep_id``
        is the baseline.
    full
        Write every record instead of only the changes (a first load).
    force
        Replace an existing ``out`` folder.
    options
        Target settings.

    Returns
    -------
    ExportResult

    Raises
    ------
    InputError
        Naming file, row, column and problem for everything that would make a
        load wrong: missing or malformed CRM ids, unknown users, duplicate keys,
        values over the target's limits. Nothing is written then.
    """
    from territory_opt import __version__
    from territory_opt.plan import read_plan

    kind = _target(target)
    if baseline is not None and current_from is not None:
        raise InputError.single("--baseline", "give either --baseline or --current-from, not both")
    out = Path(out)
    check_output_folder(out, force=force)
    options = options or ExportOptions()
    folder = Path(plan_dir)
    with step("Reading the plan"):
        plan = read_plan(folder)
        if plan.assignment is None:
            raise InputError.single(
                str(folder), "has no assignments (an infeasible or failed plan): nothing to export"
            )
        book = plan_book(plan, folder)
    with step("Reading the baseline"):
        base: Book
        if baseline is not None:
            base = baseline_plan_book(baseline, book)
        elif current_from is not None:
            base = current_owner_book(current_from, book, plan)
        else:
            base = previous_owner_book(plan, book)
    ctx = Context(
        plan=book,
        baseline=base,
        accounts=AccountInfo.from_plan(plan),
        problem=plan.problem,
        full=full,
        options=options,
    )
    with step(f"Building the {kind.value} files"):
        package = BUILDERS[kind](ctx)
    raise_if_any(package.issues)
    placed = place(package.load, package.rollback)
    issues: list[Issue] = []
    for p in placed:
        issues += file_issues(p.path, p.file, package.limits.get(p.file.object, {}))
    raise_if_any(issues)
    placed = [
        type(p)(p.path, p.phase, p.step, p.file, pending(p.file) if p.file.references else 0)
        for p in placed
    ]
    meta: dict[str, Any] = {
        "tool": "territory-opt",
        "tool_version": __version__,
        "target": kind.value,
        "mode": "full" if full else "changes",
        "plan": {
            "label": book.label,
            "sha256": book.sha256,
            "status": str(plan.status),
        },
        "baseline": {"kind": base.kind, "label": base.label, "sha256": base.sha256},
        "options": options.as_dict(),
        "summary": {
            "accounts": len(book.owners),
            "accounts_written": len(ctx.moved()),
            "accounts_changed": int(
                (book.owners.to_numpy(dtype=object) != base.owners.to_numpy(dtype=object)).sum()
            ),
        },
        "warnings": list(package.warnings),
        "notes": list(package.notes),
    }
    with step("Writing the export"):
        manifest = write_export(out, meta, placed, force=force)
    return ExportResult(out, manifest)
