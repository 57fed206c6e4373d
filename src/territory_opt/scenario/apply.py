"""Team changes and locks of a scenario, applied to copies of the input tables.

The input files are never modified. The changed tables are written into the
plan folder (``inputs/``), so the plan can be read again, reported and
exported like any other. Changes apply in this order:

1. ``team.remove``: the seats go; their accounts lose their current rep
   (``current_rep`` becomes empty, so keeping them is not free and moving them
   is not counted as disruption), locks to them are released and exclusions
   of them dropped.
2. ``team.capacity``: new FTE per rep.
3. ``team.add``: new seats (id, home, segment, capacity, start date).
4. ``locks``: each selected account gets ``locked_rep`` = the lock's ``rep``,
   or its current rep (after step 1). A filter (``where``) skips accounts
   that have no current rep; ids given one by one must have one.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from territory_opt.data.cells import text_cells
from territory_opt.data.io import RawTable
from territory_opt.data.problem import Problem
from territory_opt.data.schema import EXCLUDED_SEPARATOR
from territory_opt.scenario.config import NewRep
from territory_opt.scenario.load import LoadedScenario

#: Ids listed in one message at most.
_SHOWN_IDS = 5


@dataclass(frozen=True)
class Changes:
    """What a scenario changed in the inputs (recorded in ``scenario.json``).

    Attributes
    ----------
    reps_added, reps_removed
        Seat ids added and removed.
    capacity
        New FTE by rep id.
    accounts_unassigned
        Accounts whose current rep was removed.
    locks_released
        Accounts that were locked to a removed rep and are now free.
    accounts_locked
        Accounts locked by the scenario's ``locks``.
    locks_skipped
        Accounts a ``where`` filter selected that have no current rep to keep.
    """

    reps_added: tuple[str, ...] = ()
    reps_removed: tuple[str, ...] = ()
    capacity: Mapping[str, float] = field(default_factory=dict)
    accounts_unassigned: int = 0
    locks_released: int = 0
    accounts_locked: int = 0
    locks_skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "reps_added": list(self.reps_added),
            "reps_removed": list(self.reps_removed),
            "capacity": dict(self.capacity),
            "accounts_unassigned": self.accounts_unassigned,
            "locks_released": self.locks_released,
            "accounts_locked": self.accounts_locked,
            "locks_skipped": self.locks_skipped,
        }


def has_changes(loaded: LoadedScenario) -> bool:
    """Whether the scenario changes the team or locks accounts."""
    team = loaded.config.team
    return bool(team.add or team.remove or team.capacity or loaded.config.locks)


def text_frame(raw: RawTable) -> pd.DataFrame:
    """Return the table's cells as text, the way the validators read them.

    Whole floats become integers (``53314.0`` -> ``53314``), other numbers
    their shortest round-trip form, dates ISO, empty cells ``""``; so a table
    written from this frame reads back to the same values.
    """
    return pd.DataFrame({str(c): text_cells(raw.frame[c]) for c in raw.frame.columns}, dtype=object)


def _hint(value: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _shown(ids: Sequence[str]) -> str:
    text = ", ".join(f"'{i}'" for i in ids[:_SHOWN_IDS])
    return text + (f" and {len(ids) - _SHOWN_IDS} more" if len(ids) > _SHOWN_IDS else "")


class _Editor:
    """Edits the text tables of one run; names scenario keys in every error."""

    def __init__(
        self,
        loaded: LoadedScenario,
        tables: dict[str, pd.DataFrame],
        raws: Mapping[str, RawTable],
        problem: Problem,
    ) -> None:
        self.loaded = loaded
        self.tables = tables
        self.raws = raws
        self.problem = problem
        self.changed: set[str] = set()
        self.counts: dict[str, int] = dict.fromkeys(
            ("accounts_unassigned", "locks_released", "accounts_locked", "locks_skipped"), 0
        )
        inputs = loaded.config.inputs
        self.maps = {"accounts": inputs.account_columns, "reps": inputs.rep_columns}

    def col(self, role: str, name: str) -> str:
        """Column of contract name ``name`` in the ``role`` table (after the column map)."""
        return self.maps.get(role, {}).get(name, name)

    def column(self, role: str, name: str) -> pd.Series | None:
        frame = self.tables[role]
        col = self.col(role, name)
        return frame[col] if col in frame.columns else None

    def set_column(self, role: str, name: str, values: np.ndarray) -> None:
        frame = self.tables[role].copy()
        frame[self.col(role, name)] = pd.Series(values, dtype=object, index=frame.index)
        self.tables[role] = frame
        self.changed.add(role)

    def text(self, role: str, name: str) -> np.ndarray:
        series = self.column(role, name)
        n = len(self.tables[role])
        if series is None:
            return np.full(n, "", dtype=object)
        return np.array(series.to_numpy(dtype=object), dtype=object)  # a writable copy

    def check_spatial(self, role: str, key: list[str | int]) -> None:
        raw = self.raws.get(role)
        if raw is not None and raw.geometry is not None:
            raise self.loaded.error(
                key,
                f"this changes the {role} of {raw.file}, a spatial file; give the {role} "
                "as CSV, XLSX or Parquet with lat/lon (or x/y) columns to change them",
            )

    # ------------------------------------------------------------------ team
    def remove(self, removed: Sequence[str]) -> None:
        known = [str(r) for r in self.problem.rep_ids]
        for i, rep in enumerate(removed):
            if rep not in self.problem.rep_index:
                raise self.loaded.error(
                    ["team", "remove", i], f"unknown rep '{rep}'{_hint(rep, known)}"
                )
        gone = set(removed)
        reps = self.tables["reps"]
        keep = ~np.isin(self.text("reps", "rep_id"), list(gone))
        self.tables["reps"] = reps.loc[keep].reset_index(drop=True)
        self.changed.add("reps")
        current = self.text("accounts", "current_rep")
        hit = np.isin(current, list(gone))
        locked = self.text("accounts", "locked_rep")
        released = np.isin(locked, list(gone))
        excluded = self.text("accounts", "excluded_reps")
        trimmed = np.array(
            [
                EXCLUDED_SEPARATOR.join(
                    r
                    for r in (x.strip() for x in str(cell).split(EXCLUDED_SEPARATOR))
                    if r and r not in gone
                )
                if cell
                else ""
                for cell in excluded
            ],
            dtype=object,
        )
        if hit.any() or released.any() or (trimmed != excluded).any():
            self.check_spatial("accounts", ["team", "remove"])
        if hit.any():
            self.set_column("accounts", "current_rep", np.where(hit, "", current))
        if released.any():
            self.set_column("accounts", "locked_rep", np.where(released, "", locked))
        if (trimmed != excluded).any():
            self.set_column("accounts", "excluded_reps", trimmed)
        self.counts["accounts_unassigned"] = int(hit.sum())
        self.counts["locks_released"] = int(released.sum())
        if "pairs" in self.tables:
            pairs = self.tables["pairs"]
            rep_ids = pairs["rep_id"].to_numpy(dtype=object) if "rep_id" in pairs else None
            if rep_ids is not None and np.isin(rep_ids, list(gone)).any():
                self.tables["pairs"] = pairs.loc[~np.isin(rep_ids, list(gone))].reset_index(
                    drop=True
                )
                self.changed.add("pairs")

    def capacity(self, changes: Mapping[str, float], removed: Sequence[str]) -> None:
        ids = self.text("reps", "rep_id")
        known = [str(r) for r in ids]
        values = self.text("reps", "capacity")
        for rep, fte in changes.items():
            key: list[str | int] = ["team", "capacity", rep]
            if rep in removed:
                raise self.loaded.error(key, f"rep '{rep}' is also in team.remove")
            pos = np.flatnonzero(ids == rep)
            if len(pos) == 0:
                raise self.loaded.error(
                    key,
                    f"unknown rep '{rep}'{_hint(rep, known)}; give a new seat's "
                    "capacity in team.add",
                )
            values[pos] = repr(float(fte))
        self.set_column("reps", "capacity", values)

    def add(self, new_reps: Sequence[NewRep]) -> None:
        if "pairs" in self.tables:
            raise self.loaded.error(
                ["team", "add"],
                "the pair table lists the allowed (account, rep) pairs and has none for a "
                "new seat; add the new reps' pairs to the pair file instead",
            )
        existing = set(self.text("reps", "rep_id"))
        system = self.problem.coord_system
        segments = list(self.problem.segment_names)
        rows: list[dict[str, str]] = []
        for i, rep in enumerate(new_reps):
            key: list[str | int] = ["team", "add", i]
            if rep.rep_id in existing:
                raise self.loaded.error(
                    [*key, "rep_id"], f"rep '{rep.rep_id}' already exists; choose a new id"
                )
            existing.add(rep.rep_id)
            if rep.home_lat is not None and str(system) == "xy":
                raise self.loaded.error(
                    [*key, "home_lat"], "the book uses x/y locations; give home_x and home_y"
                )
            if rep.home_x is not None and str(system) == "latlon":
                raise self.loaded.error(
                    [*key, "home_x"], "the book uses lat/lon locations; give home_lat and home_lon"
                )
            if rep.segment is not None and segments and rep.segment not in segments:
                raise self.loaded.error(
                    [*key, "segment"],
                    f"unknown segment '{rep.segment}'{_hint(rep.segment, segments)}; "
                    f"segments are: {', '.join(segments)}",
                )
            values = {
                "rep_id": rep.rep_id,
                "name": rep.name,
                "email": rep.email,
                "home_lat": rep.home_lat,
                "home_lon": rep.home_lon,
                "home_x": rep.home_x,
                "home_y": rep.home_y,
                "capacity": rep.capacity,
                "segment": rep.segment,
                "start_date": rep.start_date.isoformat() if rep.start_date else None,
                "manager_id": rep.manager_id,
            }
            rows.append({k: _cell(v) for k, v in values.items() if v is not None})
        frame = self.tables["reps"]
        added = pd.DataFrame(
            [{self.col("reps", k): v for k, v in row.items()} for row in rows], dtype=object
        )
        for col in added.columns:
            if col not in frame.columns:
                frame = frame.assign(**{col: pd.Series("", index=frame.index, dtype=object)})
        added = added.reindex(columns=frame.columns, fill_value="").fillna("")
        self.tables["reps"] = pd.concat([frame.astype(object), added], ignore_index=True)
        self.changed.add("reps")

    # ----------------------------------------------------------------- locks
    def lock(self, index: int) -> None:
        lock = self.loaded.config.locks[index]
        key: list[str | int] = ["locks", index]
        ids = self.text("accounts", "account_id")
        if lock.accounts is not None:
            position = pd.Index(ids).get_indexer(pd.Index(lock.accounts))
            for j, pos in enumerate(position):
                if pos < 0:
                    name = lock.accounts[j]
                    raise self.loaded.error(
                        [*key, "accounts", j],
                        f"unknown account '{name}'{_hint(name, [str(a) for a in ids[:5000]])}",
                    )
            mask = np.zeros(len(ids), dtype=bool)
            mask[position] = True
        else:
            mask = self._where(lock.where or {}, key)
        current = self.text("accounts", "current_rep")
        valid = set(self.text("reps", "rep_id"))
        if lock.rep is not None:
            if lock.rep not in valid:
                raise self.loaded.error(
                    [*key, "rep"],
                    f"unknown rep '{lock.rep}'{_hint(lock.rep, sorted(valid))} "
                    "(after the team changes)",
                )
            target = np.where(mask, lock.rep, "")
        else:
            target = np.where(mask, current, "")
        without = mask & (target == "")
        if without.any():
            if lock.accounts is not None:
                raise self.loaded.error(
                    [*key, "accounts"],
                    f"account(s) {_shown([str(a) for a in ids[without]])} have no current rep "
                    "to keep; give 'rep' to pin them to one",
                )
            self.counts["locks_skipped"] += int(without.sum())
        chosen = mask & (target != "")
        excluded = self.text("accounts", "excluded_reps")
        for pos in np.flatnonzero(chosen & (excluded != "")):
            banned = {r.strip() for r in str(excluded[pos]).split(EXCLUDED_SEPARATOR)}
            if target[pos] in banned:
                raise self.loaded.error(
                    key, f"account '{ids[pos]}' excludes rep '{target[pos]}', so it cannot lock"
                )
        self.check_spatial("accounts", key)
        locked = self.text("accounts", "locked_rep")
        self.set_column("accounts", "locked_rep", np.where(chosen, target, locked))
        self.counts["accounts_locked"] += int(chosen.sum())

    def _where(self, where: Mapping[str, str | list[str]], key: list[str | int]) -> np.ndarray:
        frame = self.tables["accounts"]
        mask = np.ones(len(frame), dtype=bool)
        for column, wanted in where.items():
            col = self.col("accounts", column)
            if col not in frame.columns:
                columns = [str(c) for c in frame.columns]
                raise self.loaded.error(
                    [*key, "where", column],
                    f"the accounts have no column '{column}'{_hint(column, columns)}",
                )
            values = frame[col].to_numpy(dtype=object)
            options = [wanted] if isinstance(wanted, str) else list(wanted)
            hit = np.isin(values, options)
            if not hit.any():
                present = sorted({str(v) for v in values if v != ""})
                listed = ", ".join(present[:10]) + (" ..." if len(present) > 10 else "")
                raise self.loaded.error(
                    [*key, "where", column],
                    f"no account has {column} {' or '.join(options)}"
                    f"{_hint(options[0], present)}; values are: {listed}",
                )
            mask &= hit
        if not mask.any():
            raise self.loaded.error([*key, "where"], "no account matches every condition")
        return mask


def _cell(value: object) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def apply_changes(
    loaded: LoadedScenario,
    raws: Mapping[str, RawTable],
    problem: Problem,
) -> tuple[dict[str, pd.DataFrame], Changes]:
    """Apply the scenario's team changes and locks to text copies of the inputs.

    Parameters
    ----------
    loaded
        The scenario.
    raws
        The input tables as read, by role (``accounts``, ``reps``, ``pairs``).
    problem
        The validated original inputs (for ids, segments and locations).

    Returns
    -------
    tables, changes
        The changed tables only (as text, ready to write), and a summary.

    Raises
    ------
    InputError
        Naming the scenario file and key: unknown reps, accounts, columns or
        segments, duplicate ids, and locks that cannot hold.
    """
    tables = {role: text_frame(raw) for role, raw in raws.items() if role != "adjacency"}
    editor = _Editor(loaded, tables, raws, problem)
    team = loaded.config.team
    if team.remove:
        editor.remove(team.remove)
    if team.capacity:
        editor.capacity(team.capacity, team.remove)
    if team.add:
        editor.add(team.add)
    for index in range(len(loaded.config.locks)):
        editor.lock(index)
    changes = Changes(
        reps_added=tuple(r.rep_id for r in team.add),
        reps_removed=tuple(team.remove),
        capacity={k: float(v) for k, v in team.capacity.items()},
        accounts_unassigned=editor.counts["accounts_unassigned"],
        locks_released=editor.counts["locks_released"],
        accounts_locked=editor.counts["accounts_locked"],
        locks_skipped=editor.counts["locks_skipped"],
    )
    return {role: editor.tables[role] for role in sorted(editor.changed)}, changes
