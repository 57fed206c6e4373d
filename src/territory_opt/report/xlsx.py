"""The report's tables as an Excel workbook.

One sheet per table: ``Sizing`` (for a sizing folder: one row per team size),
``KPIs``, ``Balance vs disruption``, ``Territories``, ``Quotas`` (when a plan
has quotas) and ``Moved accounts`` (every row, not capped as on the page).
Header rows are frozen and numbers carry number formats. Text is always
written as text: the workbook is opened with ``strings_to_formulas=False``
and ``strings_to_urls=False``, so an account named ``=HYPERLINK(...)`` stays
a name and never becomes a formula or a link.

The workbook is deterministic: its creation date is fixed and xlsxwriter fixes
the timestamps inside the zip, so the same plans give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xlsxwriter

from territory_opt.report.kpis import EXCEL_FORMATS, Format
from territory_opt.report.moves import Comparison
from territory_opt.report.plans import ReportPlan
from territory_opt.report.sizing import SizingRun, column_format

#: Creation date written into the workbook's properties. A fixed value keeps the
#: file byte-identical for the same plans (a plan's own provenance is in plan.json).
FIXED_CREATED = dt.datetime(2000, 1, 1)

#: Rows of one Excel sheet, header included (Excel's limit).
EXCEL_MAX_ROWS = 1_048_576

#: Number format by column name (suffix), for the plain tables.
_PERCENT_COLUMNS = ("_deviation", "growth", "p_attain", "expected_attainment", "share")
_RATIO_COLUMNS = ("quota_per_potential", "capacity", "ramp", "max_min", "cv")


def _column_format(name: str, values: pd.Series) -> Format:
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return Format.TEXT
    if name.endswith(_PERCENT_COLUMNS) or name in ("max_deviation", "moved_share"):
        return Format.PERCENT
    if name in _RATIO_COLUMNS:
        return Format.RATIO
    if name.startswith(("distance_change", "center_")):
        return Format.DISTANCE
    finite = values.to_numpy(dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if pd.api.types.is_integer_dtype(values) or np.all(finite == np.round(finite)):
        return Format.COUNT
    return Format.NUMBER


class _Book:
    """Thin wrapper: shared cell formats and table writing."""

    def __init__(self, buffer: io.BytesIO) -> None:
        self.workbook = xlsxwriter.Workbook(
            buffer,
            {
                "in_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "nan_inf_to_errors": False,
            },
        )
        self.workbook.set_properties(
            {"title": "territory-opt plan report", "created": FIXED_CREATED}
        )
        self.header = self.workbook.add_format({"bold": True, "bottom": 1, "bg_color": "#F3F5F7"})
        self.group = self.workbook.add_format({"bold": True})
        self.formats = {
            fmt: self.workbook.add_format({"num_format": code})
            for fmt, code in EXCEL_FORMATS.items()
        }

    def cell(
        self, sheet: xlsxwriter.worksheet.Worksheet, row: int, col: int, value: object, fmt: Format
    ) -> None:
        """Write one value: text as a string, numbers as numbers, missing as blank."""
        if value is None:
            return
        if isinstance(value, bool | np.bool_):
            sheet.write_boolean(row, col, bool(value))
        elif isinstance(value, int | float | np.integer | np.floating):
            v = float(value)
            if math.isfinite(v):
                sheet.write_number(row, col, v, self.formats[fmt])
        else:
            sheet.write_string(row, col, str(value))

    def table(
        self,
        name: str,
        frame: pd.DataFrame,
        *,
        widths: dict[str, int] | None = None,
        formats: dict[str, Format] | None = None,
    ) -> int:
        """Write a frame as a sheet with a frozen header; return the rows written."""
        sheet = self.workbook.add_worksheet(name)
        rows = min(len(frame), EXCEL_MAX_ROWS - 1)
        for col, column in enumerate(frame.columns):
            sheet.write_string(0, col, str(column), self.header)
            fmt = (formats or {}).get(str(column)) or _column_format(str(column), frame[column])
            width = (widths or {}).get(str(column), max(10, min(40, len(str(column)) + 2)))
            sheet.set_column(col, col, width)
            values = frame[column].to_numpy(dtype=object)[:rows]
            for r, value in enumerate(values, start=1):
                self.cell(sheet, r, col, value, fmt)
        sheet.freeze_panes(1, 0)
        if len(frame.columns):
            sheet.autofilter(0, 0, rows, len(frame.columns) - 1)
        return rows


def workbook_bytes(
    plans: Sequence[ReportPlan],
    kpis: pd.DataFrame,
    comparisons: Sequence[Comparison],
    frontier: pd.DataFrame,
    *,
    sizing: SizingRun | None = None,
) -> bytes:
    """Build the workbook in memory.

    Parameters
    ----------
    plans
        The plans of the report.
    kpis
        The KPI table (:func:`~territory_opt.report.kpis.kpi_table`).
    comparisons
        Moved accounts (:func:`~territory_opt.report.moves.comparisons`).
    frontier
        :func:`~territory_opt.report.kpis.frontier_table`.
    sizing
        A sizing run: its table goes first, on the ``Sizing`` sheet.

    Returns
    -------
    bytes
        The ``.xlsx`` file.
    """
    buffer = io.BytesIO()
    book = _Book(buffer)
    names = [rp.name for rp in plans]

    if sizing is not None:
        table = sizing.table()
        book.table(
            "Sizing",
            table,
            widths={"mark": 16, "hire_sites": 24, "removed_reps": 24},
            formats={str(c): column_format(str(c)) for c in table.columns},
        )

    sheet = book.workbook.add_worksheet("KPIs")
    for col, title in enumerate(["group", "KPI", "key", *names]):
        sheet.write_string(0, col, title, book.header)
    sheet.set_column(0, 0, 22)
    sheet.set_column(1, 1, 44)
    sheet.set_column(2, 2, 30)
    sheet.set_column(3, 2 + len(names), 18)
    for r, record in enumerate(kpis.to_dict(orient="records"), start=1):
        fmt = Format(str(record["format"]))
        sheet.write_string(r, 0, str(record["group"]), book.group)
        sheet.write_string(r, 1, str(record["label"]))
        sheet.write_string(r, 2, str(record["key"]))
        for c, name in enumerate(names, start=3):
            book.cell(sheet, r, c, record[name], fmt)
    sheet.freeze_panes(1, 3)

    book.table("Balance vs disruption", frontier, widths={"plan": 24})

    territories = [
        rp.territories().assign(plan=rp.name) for rp in plans if rp.plan.assignment is not None
    ]
    if territories:
        frame = pd.concat(territories, ignore_index=True)
        book.table("Territories", frame[["plan", *[c for c in frame.columns if c != "plan"]]])

    quotas = [rp.quotas.assign(plan=rp.name) for rp in plans if rp.quotas is not None]
    if quotas:
        frame = pd.concat(quotas, ignore_index=True)
        book.table("Quotas", frame[["plan", *[c for c in frame.columns if c != "plan"]]])

    moved = [
        c.table.assign(comparison=c.label).rename(
            columns={"distance_change": f"distance_change_{c.unit}"}
        )
        for c in comparisons
    ]
    if moved:
        frame = pd.concat(moved, ignore_index=True)
        columns = ["comparison", *[c for c in frame.columns if c != "comparison"]]
        book.table(
            "Moved accounts",
            frame[columns],
            widths={"comparison": 28, "name": 30, "reason": 60},
        )
    book.workbook.close()
    return buffer.getvalue()
