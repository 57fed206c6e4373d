"""Plan folders as the report sees them: the plan, its name and its quotas.

A report puts one or more plan folders side by side. Each folder is read once
with :func:`~territory_opt.plan.read_plan` (which checks that the inputs did not
change since the plan was made) and, when present, its ``quotas.csv``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from territory_opt._errors import InputError
from territory_opt._progress import step
from territory_opt.plan import Plan, read_plan

#: Name of the quota file in a plan folder (``territory_opt.quota.result.QUOTAS_FILE``;
#: repeated here so that reading a report does not import the quota engine).
QUOTAS_FILE = "quotas.csv"

#: Columns of ``quotas.csv`` that the report uses.
QUOTA_COLUMNS = ("rep_id", "quota", "effective_potential", "quota_per_potential", "p_attain")


@dataclass(frozen=True, eq=False)
class ReportPlan:
    """One plan of a report.

    Attributes
    ----------
    name
        Short unique name shown in the report (the folder name, with as many
        parent folders as it takes to tell plans apart).
    folder
        The plan folder.
    plan
        The plan read back from the folder.
    quotas
        The content of ``quotas.csv``, or None when the folder has no quotas.
    """

    name: str
    folder: Path
    plan: Plan
    quotas: pd.DataFrame | None

    @property
    def has_assignment(self) -> bool:
        """Whether the plan assigns accounts (infeasible and failed plans do not)."""
        return self.plan.assignment is not None

    def territories(self) -> pd.DataFrame:
        """Return ``territories.csv`` as the plan computes it (empty without assignment)."""
        if self.plan.assignment is None:
            return pd.DataFrame()
        return self.plan.territories_frame()


def plan_names(folders: Sequence[Path]) -> list[str]:
    """Short names that tell the folders apart: the last path parts that differ.

    Examples
    --------
    >>> plan_names([Path("a/plan"), Path("b/plan"), Path("c/other")])
    ['a/plan', 'b/plan', 'c/other']
    >>> plan_names([Path("sweep/tol-3"), Path("sweep/tol-5")])
    ['tol-3', 'tol-5']
    """
    parts = [Path(f).resolve().parts for f in folders]
    depth = 1
    longest = max((len(p) for p in parts), default=1)
    while True:
        names = ["/".join(p[-depth:]) for p in parts]
        if len(set(names)) == len(names) or depth >= longest:
            return names
        depth += 1


def read_quotas(folder: Path) -> pd.DataFrame | None:
    """Read ``quotas.csv`` of a plan folder, or None when there is none.

    Raises
    ------
    InputError
        When the file lacks a column the report needs.
    """
    path = folder / QUOTAS_FILE
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(
            path, dtype={"rep_id": str}, keep_default_na=False, na_values=[""], encoding="utf-8"
        )
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError.single(str(path), f"is not a readable quotas file: {err}") from None
    for column in QUOTA_COLUMNS:
        if column not in frame.columns:
            raise InputError.single(
                str(path), f"required column '{column}' is missing", row=1, column=column
            )
    frame["rep_id"] = frame["rep_id"].fillna("").astype(str)
    for column in QUOTA_COLUMNS[1:]:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise InputError.single(str(path), "must be a number", row=row, column=column)
        frame[column] = values.astype(np.float64)
    return frame


def load_plans(folders: Sequence[str | Path]) -> list[ReportPlan]:
    """Read the plan folders of a report, in the order given.

    Parameters
    ----------
    folders
        One or more plan folders written by ``territory-opt align``.

    Returns
    -------
    list of ReportPlan

    Raises
    ------
    InputError
        When no folder is given, a folder is given twice, or a folder is not a
        readable plan.
    """
    paths = [Path(f) for f in folders]
    if not paths:
        raise InputError.single("compare", "give at least one plan folder")
    seen: dict[Path, Path] = {}
    for path in paths:
        if not path.is_dir():
            raise InputError.single(
                str(path), "is not a folder; give plan folders written by align"
            )
        key = path.resolve()
        if key in seen:
            raise InputError.single(str(path), f"is given twice (also as {seen[key]})")
        seen[key] = path
    names = plan_names(paths)
    plans = []
    for name, path in zip(names, paths, strict=True):
        with step(f"Reading plan '{name}'"):
            plans.append(ReportPlan(name, path, read_plan(path), read_quotas(path)))
    return plans
