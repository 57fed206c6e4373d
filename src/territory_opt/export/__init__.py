"""CRM export: load files for Salesforce, HubSpot, Dynamics 365 or any tool.

``export_plan`` writes only what changed between a baseline (what the CRM holds
now) and the plan, in each CRM's own load format, with ``manifest.json``, a
``LOAD_ORDER.md`` runbook, a rollback set that restores the baseline, and
review copies in which nothing a spreadsheet could execute runs.
``resolve_export`` fills in Salesforce Ids known only at load time. See
``docs/export.md``.
"""

from territory_opt.export.api import ExportResult, export_plan
from territory_opt.export.package import ExportOptions, Target
from territory_opt.export.resolve import resolve_export

__all__ = ["ExportOptions", "ExportResult", "Target", "export_plan", "resolve_export"]
