"""``LOAD_ORDER.md``: the runbook of an export, written from its manifest.

The runbook says in plain words what to load, in which order, with which tool,
when to run ``territory-opt export resolve``, how to check the files, and how to
undo the load with the rollback set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

TARGET_TITLES = {
    "generic": "any system (generic tables)",
    "salesforce": "Salesforce Enterprise Territory Management",
    "salesforce-owner": "Salesforce (account owners)",
    "hubspot": "HubSpot",
    "dynamics": "Dynamics 365",
}


def _step(entry: Mapping[str, Any]) -> list[str]:
    refs = entry.get("references") or []
    ops = {"insert": "create", "update": "update", "delete": "delete", "upsert": "upsert"}
    rows = int(entry["rows"])
    noun = "record" if rows == 1 else "records"
    lines = [
        f"{entry['step']}. `{entry['file']}`: {ops[entry['operation']]} {rows:,} "
        f"{entry['object']} {noun}. {entry['how']}."
    ]
    if refs:
        columns = ", ".join(f"`{r['column']}` ({r['object']})" for r in refs)
        unresolved = int(entry.get("unresolved", 0))
        if unresolved == 0:
            status = "All Ids are filled in: ready to load."
        else:
            status = (
                f"Not ready: {unresolved:,} cell(s) still need a CRM Id. Run `territory-opt "
                "export resolve` with the success files of the earlier steps (and a SOQL "
                "export of the records that existed before), then load the resolved copy."
            )
        lines.append(f"   Ids to fill in: {columns}. {status}")
    return lines


def _files(manifest: Mapping[str, Any], phase: str) -> Sequence[Mapping[str, Any]]:
    return [f for f in manifest["files"] if f["phase"] == phase]


def runbook_text(manifest: Mapping[str, Any]) -> str:
    """Render the runbook of an export from its manifest."""
    target = str(manifest["target"])
    plan = manifest["plan"]
    baseline = manifest["baseline"]
    mode = manifest["mode"]
    out = [
        f"# Loading {plan['label']} into {TARGET_TITLES.get(target, target)}",
        "",
        f"This folder was written by territory-opt {manifest['tool_version']} "
        f"(`territory-opt export --to {target}`).",
        "",
        f"- Plan: {plan['label']}, content sha256 `{plan['sha256']}`.",
        f"- Baseline (what the CRM holds now): {baseline['label']}.",
        "- Contents: "
        + (
            "every record of the plan (`--full`, a first load)."
            if mode == "full"
            else "only what changed between the baseline and the plan."
        ),
        f"- Accounts written: {manifest['summary']['accounts_written']:,} of "
        f"{manifest['summary']['accounts']:,}.",
    ]
    if manifest.get("resolved"):
        res = manifest["resolved"]
        out.append(
            f"- Ids filled in by `territory-opt export resolve` from {len(res['id_files'])} "
            f"file(s); {res['ids']:,} Ids known (see `ids.csv`)."
        )
    out += [
        "",
        "## Before you start",
        "",
        "1. Check that nothing changed in this folder: every file's sha256 is in `manifest.json`.",
        "2. Look through the review copies in `review/` (`review.xlsx`, or the CSV files with "
        "a BOM). Cells that start like a spreadsheet formula are shown there with a leading `'`; "
        "the load files keep them exactly as they are.",
        "3. Keep the rollback set (`rollback/`) at hand: loading it in its own order puts the "
        "baseline back.",
    ]
    for number, note in enumerate(manifest.get("notes") or [], start=4):
        out.append(f"{number}. {note}")
    load = _files(manifest, "load")
    out += ["", "## Load, in this order", ""]
    if not load:
        out.append("Nothing to load: the plan and the baseline agree.")
    for entry in load:
        out += _step(entry)
    out += ["", "Keep each step's success and error files. Stop at the first step with errors."]
    warnings = manifest.get("warnings") or []
    if warnings:
        out += ["", "## Warnings", ""]
        out += [f"- {w}" for w in warnings]
    flags = manifest.get("formula_cells") or {}
    if flags.get("count"):
        out += [
            "",
            "## Cells that start like a formula",
            "",
            f"{flags['count']:,} cell(s) start with `=`, `+`, `-`, `@`, a tab or a line break. "
            "A CRM stores them as text, but a spreadsheet that opens the load file could run "
            "them. Check them in `manifest.json` (`formula_cells`) before loading:",
            "",
        ]
        for cell in flags["cells"][:20]:
            out.append(
                f"- `{cell['file']}` row {cell['row']}, column `{cell['column']}`: "
                f"starts `{cell['start']!r}`"
            )
        if flags["count"] > 20:
            out.append(f"- ... {flags['count'] - 20:,} more in `manifest.json`")
    rollback = _files(manifest, "rollback")
    out += ["", "## Roll back", ""]
    if not rollback:
        out.append("Nothing to roll back.")
    else:
        resolve = any(f["references"] for f in rollback)
        out.append(
            "To undo the load, load these files in this order, the same way as above"
            + (" (resolve their Ids with the success files of the load):" if resolve else ":")
        )
        out.append("")
        for entry in rollback:
            out += _step(entry)
    return "\n".join(out) + "\n"
