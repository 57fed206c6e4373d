"""Plan reports: plans side by side as one self-contained HTML page and a workbook.

The page (jinja2 templates in ``report/templates``, plotly.js embedded) shows the
KPI table, the balance-versus-disruption frontier of several plans, per-rep
charts, a map coloured by territory and the moved accounts with their reasons.
The workbook holds the same tables. See ``docs/report.md``.

Examples
--------
>>> from territory_opt.report import format_value
>>> format_value(0.05, "percent")
'5.00 %'
"""

from territory_opt.report.compare import Report, build_report, write_report
from territory_opt.report.figures import MAP_MAX_POINTS, MAP_SAMPLE_SEED
from territory_opt.report.kpis import (
    balance_stats,
    format_value,
    frontier_table,
    kpi_table,
)
from territory_opt.report.moves import Comparison, comparisons, moved_accounts
from territory_opt.report.plans import ReportPlan, load_plans

__all__ = [
    "MAP_MAX_POINTS",
    "MAP_SAMPLE_SEED",
    "Comparison",
    "Report",
    "ReportPlan",
    "balance_stats",
    "build_report",
    "comparisons",
    "format_value",
    "frontier_table",
    "kpi_table",
    "load_plans",
    "moved_accounts",
    "write_report",
]
