"""Render the report as one self-contained HTML file.

The page is built from the jinja2 templates in ``report/templates`` with
autoescaping on, so every user string (plan, account, rep and metric names) is
escaped. The chart and table data travel as one JSON document inside a
``<script type="application/json">`` element; :func:`script_json` escapes
``<``, ``>`` and ``&`` in it so that no string can end the script element or
open an HTML comment. plotly.js is embedded once, so the page needs no network.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import cache
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from territory_opt.report.figures import (
    PALETTE,
    frontier_data,
    map_data,
    per_rep_data,
    rep_order,
)
from territory_opt.report.kpis import (
    Format,
    balance_metrics,
    disruption_metric,
    distance_unit,
    format_value,
)
from territory_opt.report.moves import Comparison
from territory_opt.report.plans import ReportPlan
from territory_opt.report.sizing import SizingRun, sizing_chart, sizing_context

#: Most moved-account rows embedded in the page over all comparisons. A row
#: takes about 120 bytes, so the tables stay under ~6 MB; the largest moves (by
#: the first balance metric) are kept and the workbook lists every row.
MOVED_ROWS_BUDGET = 50_000

#: Each comparison keeps at least this many rows, whatever the number of comparisons.
MOVED_ROWS_MIN = 2_000

_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def script_json(data: object) -> Markup:
    r"""Serialise ``data`` as JSON that is safe inside an HTML ``<script>`` element.

    ``<``, ``>``, ``&`` and the two Unicode line separators are written as
    ``\uXXXX`` escapes, which JSON reads back as the same characters, so no
    string can close the element (``</script>``) or open a comment (``<!--``).

    Examples
    --------
    >>> str(script_json({"name": "</script><!--"}))
    '{"name":"\\u003c/script\\u003e\\u003c!--"}'
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in _ESCAPES.items():
        text = text.replace(char, escape)
    return Markup(text)  # every markup-significant character is escaped above


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("territory_opt.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _static(name: str) -> Markup:
    """Return a template folder file (CSS or JS) to insert as it is."""
    env = _environment()
    assert env.loader is not None
    source = env.loader.get_source(env, name)[0]
    assert "</script" not in source.lower() and "</style" not in source.lower()
    return Markup(source)  # our own file, checked above


@cache
def _plotly_js() -> Markup:
    from plotly.offline import get_plotlyjs

    source = get_plotlyjs()
    assert "</script" not in source.lower()
    return Markup(source)  # the plotly.js bundle, checked above


def _raw(value: object) -> str:
    """Value for a ``data-value`` attribute: full precision, empty when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value)


def kpi_groups(kpis: pd.DataFrame, names: Sequence[str]) -> list[dict[str, Any]]:
    """KPI rows grouped for the template, each cell with its text and raw value."""
    groups: list[dict[str, Any]] = []
    for record in kpis.to_dict(orient="records"):
        if not groups or groups[-1]["name"] != record["group"]:
            groups.append({"name": record["group"], "rows": []})
        fmt = Format(str(record["format"]))
        cells = [{"text": format_value(record[n], fmt), "raw": _raw(record[n])} for n in names]
        groups[-1]["rows"].append(
            {"key": record["key"], "label": record["label"], "format": str(fmt), "cells": cells}
        )
    return groups


def _digits(values: np.ndarray) -> int:
    """Decimals to show: none for whole numbers, else two."""
    finite = values[np.isfinite(values)]
    return 0 if np.all(finite == np.round(finite)) else 2


def moved_data(comparisons: Sequence[Comparison]) -> list[dict[str, Any]]:
    """Columns of each comparison's moved-accounts table, capped for the page.

    Each comparison keeps its first ``max(MOVED_ROWS_MIN, MOVED_ROWS_BUDGET //
    len(comparisons))`` rows (the tables are sorted largest move first).
    Strings are kept as they are: the page's script writes them with
    ``textContent``, never as HTML.
    """
    cap = max(MOVED_ROWS_MIN, MOVED_ROWS_BUDGET // max(len(comparisons), 1))
    out = []
    for comp in comparisons:
        table = comp.table.iloc[:cap]
        columns: list[dict[str, Any]] = [
            {"key": "account", "label": "account", "type": "text"},
            {"key": "name", "label": "name", "type": "text"},
            {"key": "from", "label": "from", "type": "text"},
            {"key": "to", "label": "to", "type": "text"},
            {"key": "reason", "label": "reason", "type": "text"},
            {"key": "distance", "label": f"Δ distance [{comp.unit}]", "type": "num", "digits": 1},
        ]
        values: list[list[Any]] = [
            [str(v) for v in table[col]]
            for col in ("account_id", "name", "from_rep", "to_rep", "reason")
        ]
        values.append(_plain_numbers(table["distance_change"].to_numpy(dtype=np.float64), 1))
        fixed = {"account_id", "name", "from_rep", "to_rep", "reason", "distance_change"}
        for metric in (c for c in comp.table.columns if c not in fixed):
            column = comp.table[metric].to_numpy(dtype=np.float64)
            digits = _digits(column)
            columns.append({"key": "metric", "label": str(metric), "type": "num", "digits": digits})
            values.append(_plain_numbers(column[:cap], max(digits, 2)))
        out.append(
            {
                "label": comp.label,
                "columns": columns,
                "values": values,
                "shown": len(table),
                "total": len(comp.table),
                "sortedBy": comp.sorted_by or "",
            }
        )
    return out


def _plain_numbers(values: np.ndarray, decimals: int) -> list[float | None]:
    return [round(v, decimals) if math.isfinite(v) else None for v in values.tolist()]


def _title(plans: Sequence[ReportPlan], sizing: SizingRun | None = None) -> str:
    if sizing is not None:
        return f"Headcount sizing: {sizing.folder.resolve().name}"
    if len(plans) == 1:
        return f"Plan report: {plans[0].name}"
    if len(plans) <= 4:
        return "Plan comparison: " + ", ".join(rp.name for rp in plans)
    return f"Plan comparison: {len(plans)} plans"


def render_html(
    plans: Sequence[ReportPlan],
    kpis: pd.DataFrame,
    comparisons: Sequence[Comparison],
    *,
    sizing: SizingRun | None = None,
) -> str:
    """Render the report page.

    Parameters
    ----------
    plans
        The plans, in report order.
    kpis
        Their KPI table (:func:`~territory_opt.report.kpis.kpi_table`).
    comparisons
        Moved accounts (:func:`~territory_opt.report.moves.comparisons`).
    sizing
        A sizing run: adds the "Headcount sizing" section (table and chart).

    Returns
    -------
    str
        The whole HTML document.
    """
    from territory_opt import __version__

    names = [rp.name for rp in plans]
    colour = {rep: i for i, rep in enumerate(rep_order(plans))}
    the_map = map_data(plans, colour)
    frontier = frontier_data(plans)
    moved = moved_data(comparisons)
    notes = []
    map_note = ""
    if the_map is not None and the_map["shown"] < the_map["total"]:
        map_note = (
            f"The map shows a random sample of {the_map['shown']:,} of {the_map['total']:,} "
            f"accounts (seed {the_map['seed']}; maps of more than {the_map['limit']:,} accounts "
            "are sampled so that the page stays small and quick). Every table and KPI uses "
            "all accounts."
        )
        notes.append(map_note)
    capped = [m for m in moved if m["shown"] < m["total"]]
    if capped:
        notes.append(
            f"The moved-accounts table of this page keeps the {capped[0]['shown']:,} largest "
            "moves of each comparison; the Excel workbook lists all of them."
        )
    data = {
        "palette": list(PALETTE),
        "perRep": [per_rep_data(rp, colour) for rp in plans],
        "map": the_map,
        "frontier": frontier,
        "moved": moved,
        "sizing": sizing_chart(sizing) if sizing is not None else None,
    }
    context = {
        "title": _title(plans, sizing),
        "sizing": sizing_context(sizing) if sizing is not None else None,
        "version": __version__,
        "plans": [
            {
                "name": rp.name,
                "status": str(rp.plan.status),
                "accounts": f"{rp.plan.problem.n_accounts:,}",
                "reps": f"{rp.plan.problem.n_reps:,}",
                "has_quotas": rp.quotas is not None,
                "has_plan": rp.plan.assignment is not None,
                "diagnosis": str((rp.plan.diagnosis or {}).get("summary", ""))
                if rp.plan.assignment is None
                else "",
            }
            for rp in plans
        ],
        "kpi_groups": kpi_groups(kpis, names),
        "has_frontier": frontier is not None,
        "has_quotas": any(rp.quotas is not None for rp in plans),
        "balance_metrics": balance_metrics(plans),
        "disruption_metric": disruption_metric(plans) or "",
        "distance_unit": distance_unit(plans[0].plan),
        "map_note": map_note,
        "comparisons": [c.label for c in comparisons],
        "notes": notes,
        "data_json": script_json(data),
        "plotly_js": _plotly_js(),
        "report_css": _static("report.css"),
        "report_js": _static("report.js"),
    }
    return _environment().get_template("report.html.j2").render(**context)
