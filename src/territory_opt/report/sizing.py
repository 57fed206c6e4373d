"""A sizing folder in the report: its plans and the "Headcount sizing" section.

``territory-opt compare SIZING_DIR`` accepts the folder written by
``territory-opt size`` (it holds ``sizing.csv``). The report then compares the
plan folders of the run and adds a section with the curve of ``sizing.csv``:
one row per team size and a chart of the objective and its lower bound against
team size, with the minimum and the knee marked.

Which plans are compared: every plan folder of the run when there are at most
:data:`SIZING_MAX_PLANS`, else the minimum, the knee and the largest team size
planned (in team-size order), so that a long curve keeps the page small.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory_opt._errors import InputError
from territory_opt.report.figures import label, numbers
from territory_opt.report.kpis import Format

#: File that marks a sizing folder (``territory_opt.sizing.output``; repeated here
#: so that reading a report does not import the sizing engine).
SIZING_FILE = "sizing.csv"

#: Meta data of a sizing folder.
SIZING_META = "sizing.json"

#: A sizing run with at most this many plan folders has all of them compared;
#: above it, only the minimum, the knee and the largest team size.
SIZING_MAX_PLANS = 8

#: Columns of ``sizing.csv`` the report needs.
REQUIRED_COLUMNS = ("n_reps", "feasible", "proof", "objective", "lower_bound", "gap", "plan")

#: Numeric columns of the sizing table, with their format.
_NUMERIC: dict[str, Format] = {
    "n_reps": Format.COUNT,
    "current_reps": Format.COUNT,
    "new_hires": Format.COUNT,
    "removed": Format.COUNT,
    "objective": Format.NUMBER,
    "lower_bound": Format.NUMBER,
    "gap": Format.PERCENT,
    "travel": Format.NUMBER,
    "mean_distance": Format.DISTANCE,
    "accounts_moved": Format.COUNT,
}

#: Column headings of the sizing table (deviation columns are added per metric).
_LABELS: dict[str, str] = {
    "n_reps": "team size",
    "current_reps": "current reps",
    "new_hires": "new hires",
    "removed": "removed",
    "feasible": "feasible",
    "proof": "proof",
    "method": "method",
    "objective": "objective",
    "lower_bound": "lower bound",
    "bound_scope": "bound scope",
    "gap": "gap",
    "travel": "travel",
    "mean_distance": "mean distance",
    "accounts_moved": "accounts moved",
    "mark": "mark",
    "hire_sites": "hire sites",
    "removed_reps": "removed reps",
    "plan": "plan",
}


@dataclass(frozen=True, eq=False)
class SizingRun:
    """A sizing folder as the report shows it.

    Attributes
    ----------
    folder
        The sizing folder.
    curve
        ``sizing.csv`` as read (one row per team size, sorted by team size).
    meta
        ``sizing.json`` (empty when the file is missing).
    plan_folders
        The plan folders the report compares, in team-size order.
    """

    folder: Path
    curve: pd.DataFrame
    meta: dict[str, Any]
    plan_folders: tuple[Path, ...]

    @property
    def minimum(self) -> int | None:
        """Smallest team size with a plan (the ``minimum`` mark), or None."""
        return _marked(self.curve, "minimum")

    @property
    def knee(self) -> int | None:
        """Team size at the knee of the curve, or None."""
        return _marked(self.curve, "knee")

    def table(self) -> pd.DataFrame:
        """Return the sizing table of the report (page and workbook).

        Columns: team size, composition, feasibility and proof, objective,
        lower bound, gap, the worst deviation of each band metric, travel,
        mean distance, accounts moved, the minimum/knee mark, hire sites,
        removed reps and the plan folder (columns absent from ``sizing.csv``
        are left out).
        """
        curve = self.curve
        columns = [
            c
            for c in (
                "n_reps",
                "current_reps",
                "new_hires",
                "removed",
                "feasible",
                "proof",
                "method",
                "objective",
                "lower_bound",
                "bound_scope",
                "gap",
            )
            if c in curve.columns
        ]
        columns += deviation_columns(curve)
        columns += [c for c in ("travel", "mean_distance", "accounts_moved") if c in curve.columns]
        table = curve[columns].copy()
        marks = []
        for minimum, knee in zip(_flags(curve, "minimum"), _flags(curve, "knee"), strict=True):
            marks.append("; ".join(m for m, on in (("minimum", minimum), ("knee", knee)) if on))
        table["mark"] = marks
        for c in ("hire_sites", "removed_reps", "plan"):
            if c in curve.columns:
                table[c] = curve[c]
        return table.reset_index(drop=True)


def deviation_columns(curve: pd.DataFrame) -> list[str]:
    """Return the ``deviation_<metric>`` columns of a curve, in file order."""
    return [str(c) for c in curve.columns if str(c).startswith("deviation_")]


def column_format(column: str) -> Format:
    """Format of a sizing table column.

    Examples
    --------
    >>> column_format("gap"), column_format("deviation_potential"), column_format("proof")
    (<Format.PERCENT: 'percent'>, <Format.PERCENT: 'percent'>, <Format.TEXT: 'text'>)
    """
    if column.startswith("deviation_"):
        return Format.PERCENT
    return _NUMERIC.get(column, Format.TEXT)


def column_label(column: str) -> str:
    """Heading of a sizing table column.

    Examples
    --------
    >>> column_label("lower_bound"), column_label("deviation_potential")
    ('lower bound', 'worst deviation: potential')
    """
    if column.startswith("deviation_"):
        return f"worst deviation: {column.removeprefix('deviation_')}"
    return _LABELS.get(column, column)


def _flags(curve: pd.DataFrame, column: str) -> list[bool]:
    if column not in curve.columns:
        return [False] * len(curve)
    return [str(v).strip().lower() in ("true", "1", "yes") for v in curve[column]]


def _marked(curve: pd.DataFrame, column: str) -> int | None:
    for n, on in zip(curve["n_reps"], _flags(curve, column), strict=True):
        if on:
            return int(n)
    return None


def is_sizing_folder(folder: Path) -> bool:
    """Whether a folder is a sizing folder (it holds ``sizing.csv``)."""
    return (folder / SIZING_FILE).is_file()


def read_curve(folder: Path) -> pd.DataFrame:
    """Read ``sizing.csv``: numbers as floats, text as text, sorted by team size.

    Raises
    ------
    InputError
        When a required column is missing or a number is not a number.
    """
    path = folder / SIZING_FILE
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError.single(str(path), f"is not a readable sizing file: {err}") from None
    for column in REQUIRED_COLUMNS:
        if column not in frame.columns:
            raise InputError.single(
                str(path), f"required column '{column}' is missing", row=1, column=column
            )
    numeric = [c for c in frame.columns if c in _NUMERIC or c.startswith("deviation_")]
    for column in numeric:
        text = frame[column].astype(str).str.strip()
        values = pd.to_numeric(text.mask(text == ""), errors="coerce")
        bad = values.isna() & (text != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise InputError.single(str(path), "must be a number", row=row, column=column)
        frame[column] = values.astype(np.float64)
    if frame["n_reps"].isna().any():
        row = int(np.flatnonzero(frame["n_reps"].isna().to_numpy())[0]) + 2
        raise InputError.single(str(path), "must be a number", row=row, column="n_reps")
    return frame.sort_values("n_reps", kind="stable").reset_index(drop=True)


def _choose_plans(curve: pd.DataFrame, folder: Path) -> tuple[Path, ...]:
    """Plan folders of the run, all or (above :data:`SIZING_MAX_PLANS`) three."""
    planned = [(int(n), str(p)) for n, p in zip(curve["n_reps"], curve["plan"], strict=True) if p]
    if len(planned) > SIZING_MAX_PLANS:
        keep = {_marked(curve, "minimum"), _marked(curve, "knee"), planned[-1][0]}
        planned = [(n, p) for n, p in planned if n in keep]
    out = []
    for _, name in planned:
        path = folder / name
        if not path.is_dir():
            raise InputError.single(str(path), "is listed in sizing.csv but is not a folder")
        out.append(path)
    return tuple(out)


def read_sizing(folder: str | Path) -> SizingRun:
    """Read a sizing folder for the report.

    Raises
    ------
    InputError
        When ``sizing.csv`` or ``sizing.json`` cannot be read, a listed plan
        folder is missing, or the run has no plan at all.
    """
    folder = Path(folder)
    curve = read_curve(folder)
    meta: dict[str, Any] = {}
    meta_path = folder / SIZING_META
    if meta_path.is_file():
        try:
            loaded = json.loads(meta_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as err:
            raise InputError.single(str(meta_path), f"is not readable JSON: {err}") from None
        if isinstance(loaded, dict):
            meta = loaded
    from territory_opt.sizing.output import SIZING_FORMAT_VERSION

    version = meta.get("format_version", SIZING_FORMAT_VERSION)
    if not isinstance(version, int) or version > SIZING_FORMAT_VERSION:
        raise InputError.single(
            str(meta_path),
            f"sizing format version {version!r} is newer than this tool reads "
            f"({SIZING_FORMAT_VERSION}); upgrade territory-opt",
            column="format_version",
        )
    plans = _choose_plans(curve, folder)
    if not plans:
        raise InputError.single(
            str(folder), "is a sizing folder without any plan (no team size could be planned)"
        )
    return SizingRun(folder, curve, meta, plans)


def expand_folders(folders: Sequence[str | Path]) -> tuple[list[Path], SizingRun | None]:
    """Replace a sizing folder among the report's folders by its plan folders.

    Returns
    -------
    list of Path
        The plan folders to compare, in the order given.
    SizingRun or None
        The sizing run, when one folder is a sizing folder.

    Raises
    ------
    InputError
        When more than one sizing folder is given.
    """
    plans: list[Path] = []
    run: SizingRun | None = None
    for folder in (Path(f) for f in folders):
        if folder.is_dir() and is_sizing_folder(folder):
            if run is not None:
                raise InputError.single(
                    str(folder), f"is a second sizing folder (also {run.folder}); give one"
                )
            run = read_sizing(folder)
            plans.extend(run.plan_folders)
        else:
            plans.append(folder)
    return plans, run


def _raw(value: object) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return "" if value is None else str(value)


def _section(meta: dict[str, Any], key: str) -> dict[str, Any]:
    value = meta.get(key)
    return value if isinstance(value, dict) else {}


def sizing_context(run: SizingRun) -> dict[str, Any]:
    """Return what the page template shows of a sizing run (the template escapes it)."""
    from territory_opt.report.kpis import format_value

    table = run.table()
    columns = [
        {"key": c, "label": column_label(c), "num": column_format(c) != Format.TEXT}
        for c in table.columns
    ]
    rows = []
    for record in table.to_dict(orient="records"):
        cells = []
        for c in table.columns:
            value = record[c]
            fmt = column_format(str(c))
            text = str(value) if fmt == Format.TEXT else format_value(value, fmt)
            cells.append({"text": text, "raw": _raw(value), "key": str(c)})
        rows.append({"n": int(record["n_reps"]), "mark": record["mark"], "cells": cells})
    meta = run.meta
    minimum = _section(meta, "minimum")
    bound = _section(meta, "counting_bound")
    summary = []
    if run.minimum is not None:
        proven = "proven" if minimum.get("proven") else "not proven"
        reason = f"; {minimum['reason']}" if minimum.get("reason") else ""
        summary.append(f"Minimum headcount: {run.minimum} reps ({proven}{reason}).")
    else:
        summary.append("No minimum headcount was found in the sizes planned.")
    summary.append(f"Knee of the curve: {run.knee} reps." if run.knee is not None else "No knee.")
    if bound.get("n_reps") is not None:
        summary.append(f"Counting bound: {bound['n_reps']} reps.")
    if meta.get("current_reps") is not None:
        summary.append(f"Current team: {meta['current_reps']} reps.")
    return {
        "name": run.folder.resolve().name,
        "columns": columns,
        "rows": rows,
        "summary": summary,
        "compared": [p.name for p in run.plan_folders],
        "all_compared": len(run.plan_folders) == int((run.curve["plan"] != "").sum()),
        "max_plans": SIZING_MAX_PLANS,
    }


def sizing_chart(run: SizingRun) -> dict[str, Any]:
    """Chart data: objective and lower bound against team size, minimum and knee."""
    curve = run.curve
    planned = curve["plan"] != ""
    return {
        "n": [int(v) for v in curve["n_reps"]],
        "objective": numbers(curve["objective"].to_numpy(dtype=np.float64), 10),
        "bound": numbers(curve["lower_bound"].to_numpy(dtype=np.float64), 10),
        "feasible": [label(v) for v in curve["feasible"]],
        "proof": [label(v) for v in curve["proof"]],
        "planned": [bool(v) for v in planned],
        "minimum": run.minimum,
        "knee": run.knee,
    }
