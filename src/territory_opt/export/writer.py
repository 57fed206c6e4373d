"""Writing an export folder: load files, rollback set, review copies, manifest, runbook.

::

    OUT/
      manifest.json        what each file is, its rows and sha256, the load order
      LOAD_ORDER.md        the runbook, in plain words
      ids.csv              only after ``export resolve``: the CRM Ids known so far
      keys/                only after ``export resolve``: the files as exported, which
                           name records instead of Ids (the next resolve starts there)
      load/NN_<file>       the changes, in load order
      rollback/NN_<file>   what restores the baseline, in load order
      review/              copies for people: CSV with BOM and review.xlsx, formula
                           cells neutralised with a leading '

The folder is written atomically (a temp folder renamed at the end), and its bytes
depend only on the plan, the baseline and the options: no clock, no paths.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from territory_opt._atomic import atomic_folder
from territory_opt.export.checks import MAX_LISTED_FLAGS, Flag, formula_flags
from territory_opt.export.files import Format, LoadFile, review_csv_bytes, review_xlsx_bytes
from territory_opt.export.runbook import runbook_text

#: Version of the export folder layout (manifest.json ``format_version``).
EXPORT_FORMAT_VERSION = 1
PHASES = ("load", "rollback")
#: Formats that repeat the rows of another file of the export (assignments.parquet,
#: territories.geojson): they get no review copy of their own.
DUPLICATE_FORMATS = (Format.PARQUET, Format.GEOJSON)


@dataclass(frozen=True)
class Placed:
    """A file with its place in the export folder."""

    path: str
    phase: str
    step: int
    file: LoadFile
    unresolved: int = 0
    source: LoadFile | None = None

    @property
    def key_path(self) -> str:
        """Where a resolved folder keeps the file as exported (names, no Ids)."""
        return f"keys/{self.path}"


def place(load: Sequence[LoadFile], rollback: Sequence[LoadFile]) -> list[Placed]:
    """Give each file its path: phase folder and step number (``load/01_<name>``)."""
    out = []
    for phase, files in zip(PHASES, (load, rollback), strict=True):
        for step, f in enumerate(files, start=1):
            out.append(Placed(f"{phase}/{step:02d}_{f.name}", phase, step, f))
    return out


def sha256(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def file_entry(p: Placed, data: bytes) -> dict[str, Any]:
    """Describe one file for the manifest."""
    f = p.file
    entry: dict[str, Any] = {
        "file": p.path,
        "phase": p.phase,
        "step": p.step,
        "object": f.object,
        "operation": str(f.operation),
        "key": list(f.key),
        "rows": f.rows,
        "format": str(f.fmt),
        "sha256": sha256(data),
        "how": f.how,
        "references": [
            {"column": r.column, "object": r.object, "by": list(r.by)} for r in f.references
        ],
    }
    if f.references:
        entry["unresolved"] = p.unresolved
    if p.source is not None:
        entry["key_file"] = p.key_path
        entry["key_sha256"] = sha256(p.source.data())
    return entry


def _review(placed: Sequence[Placed]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    sheets = []
    for p in placed:
        if p.file.fmt in DUPLICATE_FORMATS:
            continue
        stem = p.path.rsplit(".", 1)[0]
        out[f"review/{stem}.csv"] = review_csv_bytes(p.file.table)
        title = f"{p.phase[0].upper()}{p.step:02d} {p.file.object} {p.file.operation}"
        sheets.append((title, p.file.table))
    if sheets:
        out["review/review.xlsx"] = review_xlsx_bytes(_unique_titles(sheets))
    return out


def _unique_titles(sheets: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    seen: set[str] = set()
    out = []
    for title, table in sheets:
        short = title[:31]
        n = 2
        while short in seen:
            suffix = f" {n}"
            short = title[: 31 - len(suffix)] + suffix
            n += 1
        seen.add(short)
        out.append((short, table))
    return out


def write_export(
    out: Path,
    meta: Mapping[str, Any],
    placed: Sequence[Placed],
    *,
    force: bool,
    extra: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """Write the folder atomically and return the manifest written.

    Parameters
    ----------
    out
        Folder to create.
    meta
        Manifest content that does not depend on the files (target, plan,
        baseline, options, warnings, notes...).
    placed
        The files with their paths.
    force
        Replace an existing folder.
    extra
        Further files (path -> bytes), e.g. ``ids.csv``.
    """
    data = {p.path: p.file.data() for p in placed}
    data |= {p.key_path: p.source.data() for p in placed if p.source is not None}
    flags: list[Flag] = []
    for p in placed:
        flags += formula_flags(p.path, p.file.table)
    review = _review(placed)
    manifest = dict(meta)
    manifest["format_version"] = EXPORT_FORMAT_VERSION
    manifest["load_order"] = [p.path for p in placed if p.phase == "load"]
    manifest["rollback_order"] = [p.path for p in placed if p.phase == "rollback"]
    manifest["files"] = [file_entry(p, data[p.path]) for p in placed]
    manifest["review_files"] = [
        {"file": name, "sha256": sha256(blob)} for name, blob in sorted(review.items())
    ]
    manifest["formula_cells"] = {
        "count": len(flags),
        "cells": [
            {"file": f.file, "row": f.row, "column": f.column, "start": f.start}
            for f in flags[:MAX_LISTED_FLAGS]
        ],
    }
    for name, blob in sorted((extra or {}).items()):
        manifest.setdefault("other_files", []).append({"file": name, "sha256": sha256(blob)})
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with atomic_folder(out, force=force) as tmp:
        for name, blob in {**data, **review, **(extra or {})}.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(blob)
        (tmp / "manifest.json").write_bytes(text.encode("utf-8"))
        (tmp / "LOAD_ORDER.md").write_bytes(runbook_text(manifest).encode("utf-8"))
    return manifest
