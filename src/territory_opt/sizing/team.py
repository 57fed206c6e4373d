"""A team of a given size as input tables: kept reps, new hires, capacity limits.

A :class:`Team` names which current reps stay and which hiring slots are
filled. :class:`TeamBuilder` turns it into the reps table the alignment reads
(and a plan folder records): kept reps as they were, one row per new hire at
its site, and the capacity as a ``max_<metric>`` column, capacity × FTE,
intersected with any maximum the reps file already gives. When reps leave,
their accounts lose their current rep (keeping them is not free and moving
them is not counted as disruption) and exclusions of them are dropped.

The accounts are validated once; each team only validates its reps table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from territory_opt._errors import InputError
from territory_opt._progress import step
from territory_opt.data.cells import number_cells, text_cells
from territory_opt.data.io import RawTable, frame_from_records, read_table
from territory_opt.data.problem import Problem, build_problem
from territory_opt.data.schema import (
    EXCLUDED_SEPARATOR,
    AccountTable,
    CoordSystem,
    validate_accounts,
    validate_reps,
)
from territory_opt.sizing.request import NEW_HIRE_FTE
from territory_opt.sizing.sites import CandidateSites, Slots

#: Id prefix of new hires (``NEW-001``, ``NEW-002``, ... in hiring order).
HIRE_PREFIX = "NEW-"
#: Spellings of "yes" in a reps ``keep`` column.
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "x", "keep"})

TableSource = str | Path | pd.DataFrame


@dataclass(frozen=True)
class Team:
    """Who is on the team: current reps kept (indices) and hiring slots filled.

    Attributes
    ----------
    kept
        Indices of the current reps that stay, ascending.
    hires
        Slot indices of the new hires, in hiring order.
    """

    kept: tuple[int, ...]
    hires: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        """Number of reps on the team."""
        return len(self.kept) + len(self.hires)


def _text_frame(raw: RawTable) -> pd.DataFrame:
    """Cells as text, so a table written from it reads back to the same values."""
    return pd.DataFrame({str(c): text_cells(raw.frame[c]) for c in raw.frame.columns}, dtype=object)


def _raw(source: TableSource, role: str) -> RawTable:
    if isinstance(source, pd.DataFrame):
        return frame_from_records(role, source)
    return read_table(source)


def _without(cell: str, gone: set[str]) -> str:
    """Drop the reps that left from an ``excluded_reps`` cell."""
    parts = (x.strip() for x in cell.split(EXCLUDED_SEPARATOR))
    return EXCLUDED_SEPARATOR.join(r for r in parts if r and r not in gone)


def _number(value: float) -> str:
    """Shortest text of a number that reads back to the same float."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


class TeamBuilder:
    """Builds the Problem (and the reps table) of any team.

    Parameters
    ----------
    accounts, reps
        Paths or DataFrames (never modified).
    capacity
        Capacity per FTE by metric.
    metrics
        Metric columns of the accounts (default: every numeric column).
    """

    def __init__(
        self,
        accounts: TableSource,
        reps: TableSource,
        capacity: Mapping[str, float],
        *,
        metrics: Sequence[str] | None = None,
    ) -> None:
        with step("Reading accounts"):
            self.account_raw = _raw(accounts, "accounts")
            self.accounts: AccountTable = validate_accounts(self.account_raw, metrics=metrics)
        with step("Reading reps"):
            rep_raw = _raw(reps, "reps")
            self.rep_file = rep_raw.file
            self.rep_text = _text_frame(rep_raw)
            rep_table = validate_reps(rep_raw)
        with step("Checking references"):
            base = build_problem(self.accounts, rep_table)
        self.accounts_path = (
            None if isinstance(accounts, pd.DataFrame) else str(Path(accounts).resolve())
        )
        paths = {"accounts": self.accounts_path} if self.accounts_path else {}
        if not isinstance(reps, pd.DataFrame):
            paths["reps"] = str(Path(reps).resolve())
        self.options: dict[str, object] = {
            "metrics": None if metrics is None else list(metrics),
            "account_columns": {},
            "rep_columns": {},
        }
        self.base = dataclasses.replace(
            base,
            source_paths=MappingProxyType(paths),
            load_options=MappingProxyType(dict(self.options)),
        )
        self.capacity = dict(capacity)
        for metric in self.capacity:
            if metric not in self.base.metric_names:
                valid = ", ".join(self.base.metric_names) or "(none)"
                raise InputError.single(
                    "--capacity",
                    f"'{metric}' is not a metric of the accounts; metrics are: {valid}",
                    column=metric,
                )
        self.sites: CandidateSites | None = None
        self.slots: Slots | None = None
        self._hire_ids: dict[int, str] = {}
        self._cache: dict[Team, Problem] = {}

    # ----------------------------------------------------------------- inputs
    @property
    def spatial_accounts(self) -> bool:
        """Whether the accounts come from a spatial file (their polygons cannot be rewritten)."""
        return self.account_raw.geometry is not None

    def keep_column(self) -> set[str]:
        """Rep ids flagged in the reps file's ``keep`` column (1, true, yes, y, x)."""
        if "keep" not in self.rep_text.columns:
            return set()
        flags = self.rep_text["keep"].str.lower().isin(TRUE_WORDS).to_numpy()
        return {str(r) for r in self.rep_text["rep_id"].to_numpy()[flags]}

    def use_sites(self, sites: CandidateSites, slots: Slots) -> None:
        """Set the candidate sites and slots new hires are taken from."""
        self.sites, self.slots = sites, slots

    # ------------------------------------------------------------------- ids
    def hire_id(self, position: int) -> str:
        """Rep id of the ``position``-th new hire (0-based), unique in the book."""
        if position not in self._hire_ids:
            taken = set(self.base.rep_index)
            k, rep_id = position + 1, f"{HIRE_PREFIX}{position + 1:03d}"
            while rep_id in taken:
                k += 1
                rep_id = f"{HIRE_PREFIX}{position + 1:03d}-{k}"
            self._hire_ids[position] = rep_id
        return self._hire_ids[position]

    def removed(self, team: Team) -> list[str]:
        """Ids of the current reps the team leaves out."""
        kept = set(team.kept)
        return [str(r) for i, r in enumerate(self.base.rep_ids) if i not in kept]

    # ---------------------------------------------------------------- tables
    def reps_frame(self, team: Team) -> pd.DataFrame:
        """Return the team's reps table as text: kept reps, new hires, capacity limits."""
        frame = self.rep_text.iloc[list(team.kept)].reset_index(drop=True).copy()
        latlon = self.base.coord_system != CoordSystem.XY
        home = ("home_lat", "home_lon") if latlon else ("home_x", "home_y")
        for col in (*home, "capacity", "segment"):
            if col not in frame.columns:
                frame[col] = pd.Series("", index=frame.index, dtype=object)
        fte = self.base.rep_capacity[list(team.kept)]
        for metric, per_fte in self.capacity.items():
            col = f"max_{metric}"
            limit = per_fte * fte
            if col in frame.columns:
                given, empty, _ = number_cells(frame[col])
                limit = np.where(empty, limit, np.fmin(given, limit))
            frame[col] = [_number(v) for v in limit]
        if team.hires:
            frame = pd.concat(
                [frame, self._hires_frame(team, frame.columns, home)], ignore_index=True
            )
        return frame.astype(object)

    def _hires_frame(self, team: Team, columns: pd.Index, home: tuple[str, str]) -> pd.DataFrame:
        assert self.sites is not None and self.slots is not None
        rows = []
        for pos, slot in enumerate(team.hires):
            site = int(self.slots.site[slot])
            row = dict.fromkeys(columns, "")
            row.update(
                {
                    "rep_id": self.hire_id(pos),
                    "name": f"New hire at {self.sites.names[site]}",
                    home[0]: _number(self.sites.coords[site, 0]),
                    home[1]: _number(self.sites.coords[site, 1]),
                    "capacity": _number(NEW_HIRE_FTE),
                    "segment": str(self.slots.segment[slot]),
                }
            )
            for metric, per_fte in self.capacity.items():
                row[f"max_{metric}"] = _number(per_fte * NEW_HIRE_FTE)
            rows.append(row)
        return pd.DataFrame(rows, columns=columns, dtype=object)

    def _removal_text(self, team: Team) -> dict[str, np.ndarray] | None:
        """Account text columns with the removed reps taken out, or None when none leave."""
        gone = set(self.removed(team))
        if not gone:
            return None
        text = dict(self.accounts.text)
        current = text["current_rep"]
        text["current_rep"] = np.where(np.isin(current, list(gone)), "", current).astype(object)
        text["excluded_reps"] = np.array(
            [_without(str(cell), gone) for cell in text["excluded_reps"]], dtype=object
        )
        return text

    def base_accounts_frame(self) -> pd.DataFrame:
        """Return the accounts table as text, unchanged."""
        return _text_frame(self.account_raw)

    def accounts_frame(self, team: Team) -> pd.DataFrame | None:
        """Return the accounts table as text when reps leave (changed owners), else None."""
        text = self._removal_text(team)
        if text is None:
            return None
        if self.spatial_accounts:
            raise InputError.single(
                self.account_raw.file,
                "removing reps rewrites the accounts' current_rep; give the accounts as CSV, "
                "XLSX or Parquet with lat/lon (or x/y) columns to size below the current team",
            )
        frame = _text_frame(self.account_raw)
        for col in ("current_rep", "excluded_reps"):
            if col in frame.columns:
                frame[col] = text[col]
        return frame

    # --------------------------------------------------------------- problem
    def problem(self, team: Team) -> Problem:
        """Return the validated Problem of a team (cached)."""
        cached = self._cache.get(team)
        if cached is not None:
            return cached
        text = self._removal_text(team)
        accounts = self.accounts
        if text is not None:
            accounts = dataclasses.replace(accounts, text=MappingProxyType(text))
        reps = validate_reps(frame_from_records(self.rep_file, self.reps_frame(team)))
        problem = build_problem(accounts, reps)
        problem = dataclasses.replace(problem, load_options=MappingProxyType(dict(self.options)))
        if len(self._cache) > 64:  # keep memory bounded on long curves
            self._cache.clear()
        self._cache[team] = problem
        return problem
