"""``territory-opt compare``: read plan folders, write the HTML report and workbook."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from territory_opt._atomic import write_file_atomic
from territory_opt._errors import InputError
from territory_opt._progress import step
from territory_opt.report.html import render_html
from territory_opt.report.kpis import frontier_table, kpi_table
from territory_opt.report.moves import comparisons
from territory_opt.report.plans import ReportPlan, load_plans
from territory_opt.report.sizing import SizingRun, expand_folders
from territory_opt.report.xlsx import workbook_bytes


@dataclass(frozen=True)
class Report:
    """A rendered report.

    Attributes
    ----------
    html
        The self-contained HTML page (UTF-8).
    xlsx
        The Excel workbook, or None when not asked for.
    plans
        The plans it shows.
    sizing
        The sizing run it shows, or None.
    """

    html: bytes
    xlsx: bytes | None
    plans: tuple[ReportPlan, ...]
    sizing: SizingRun | None = None


def build_report(
    plans: Sequence[ReportPlan], *, xlsx: bool = True, sizing: SizingRun | None = None
) -> Report:
    """Render the report of plans already read (see :func:`load_plans`).

    Parameters
    ----------
    plans
        One or more plans.
    xlsx
        Also build the Excel workbook.
    sizing
        A sizing run (:func:`~territory_opt.report.sizing.read_sizing`) whose
        curve the report shows in a "Headcount sizing" section and sheet.

    Returns
    -------
    Report
    """
    if not plans:
        raise InputError.single("compare", "give at least one plan folder")
    with step("Computing KPIs"):
        kpis = kpi_table(plans)
        frontier = frontier_table(plans)
    with step("Listing moved accounts"):
        moved = comparisons(plans)
    with step("Rendering HTML"):
        page = render_html(plans, kpis, moved, sizing=sizing).encode("utf-8")
    book = None
    if xlsx:
        with step("Writing Excel workbook"):
            book = workbook_bytes(plans, kpis, moved, frontier, sizing=sizing)
    return Report(page, book, tuple(plans), sizing)


def _check_output(path: Path, *, force: bool, option: str) -> None:
    if path.is_dir():
        raise InputError.single(str(path), f"{option} is a folder; give a file name")
    if path.exists() and not force:
        raise InputError.single(str(path), "exists; pass --force to replace it")
    if path.parent.exists() and not path.parent.is_dir():
        raise InputError.single(str(path.parent), "is not a folder")


def write_report(
    plan_dirs: Sequence[str | Path],
    out: str | Path,
    *,
    xlsx: str | Path | None = None,
    force: bool = False,
) -> Report:
    """Compare plan folders: write the HTML report and, optionally, the workbook.

    Both files are written atomically (temp file, then rename). Outputs are
    checked before any plan is read, so a wrong name fails fast.

    Parameters
    ----------
    plan_dirs
        One or more plan folders (several plans, e.g. of a sweep, go side by side).
        A sizing folder (written by ``territory-opt size``; it holds
        ``sizing.csv``) stands for its plan folders and adds the "Headcount
        sizing" section (see :mod:`territory_opt.report.sizing`).
    out
        HTML file to write.
    xlsx
        Excel workbook to write, or None.
    force
        Replace existing files.

    Returns
    -------
    Report

    Raises
    ------
    InputError
        When an output exists without ``force``, is a folder, both outputs are
        the same file, a plan folder is missing or not a plan, or a sizing
        folder is unreadable or has no plan.
    """
    out = Path(out)
    book_path = Path(xlsx) if xlsx is not None else None
    _check_output(out, force=force, option="--out")
    if book_path is not None:
        _check_output(book_path, force=force, option="--xlsx")
        if book_path.resolve() == out.resolve():
            raise InputError.single(str(book_path), "--xlsx and --out name the same file")
    folders, sizing = expand_folders(plan_dirs)
    plans = load_plans(folders)
    report = build_report(plans, xlsx=book_path is not None, sizing=sizing)
    _publish(out, report.html)
    if book_path is not None and report.xlsx is not None:
        _publish(book_path, report.xlsx)
    return report


def _publish(path: Path, data: bytes) -> None:
    """Write atomically (creating the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomic(path, data)
