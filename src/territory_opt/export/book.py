"""The book of record an export moves from (the baseline) and to (the plan).

A :class:`Book` says who owns each of the plan's accounts, which reps hold a
territory and what the CRM knows of them (user ids, emails, manager, segment),
and the quotas. The plan gives one book; the baseline comes from a previous plan
folder, from the ``current_rep`` column of an accounts file, or, by default,
from the plan's own ``previous_rep_id``. Targets turn both books into the CRM's
records and load the difference.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from territory_opt._errors import InputError, Issue, IssueCollector
from territory_opt.plan import Plan, read_plan

#: ``Plan.assignments_frame`` names a rep's territory ``T_<rep_id>``.
TERRITORY_PREFIX = "T_"
#: Prefix of the team territories built from ``manager_id`` (the level above reps).
TEAM_PREFIX = "M_"
#: Rep attributes the exports use (all optional columns of the reps contract).
REP_FIELDS = ("name", "email", "crm_user_id", "hubspot_owner_id", "manager_id", "segment")
#: Plan folder files whose content identifies a plan (``plan.json`` also holds wall times).
PLAN_CONTENT_FILES = ("assignments.csv", "territories.csv", "quotas.csv")
_PERIOD = re.compile(r"^(q[1-4]|m(0[1-9]|1[0-2]))$")


@dataclass(frozen=True)
class RepSource:
    """Where the reps of a book were read, to point errors at a file, row and column."""

    file: str
    columns: Mapping[str, str]

    def shown(self, column: str) -> str:
        """Return the file's own name of a contract column."""
        return self.columns.get(column, column)


@dataclass(frozen=True)
class Book:
    """Owners, territories and quotas of one side of an export.

    Attributes
    ----------
    label
        Plain words for the runbook, e.g. ``the previous plan folder plan-2026``.
    kind
        ``plan``, ``baseline_plan``, ``current_owners`` or ``previous_owners``.
    owners
        Owner rep id of every account of the plan (index: account id, plan
        order); ``""`` when the account has no owner.
    reps
        One row per rep that holds a territory or owns an account (index: rep
        id, sorted): the :data:`REP_FIELDS` as strings, ``file`` and ``row``
        (where the rep is defined; row 0 when unknown) and ``known`` (False for
        an owner that is not in any reps file).
    territory_reps
        Reps that hold a territory, sorted.
    quotas
        Per rep (index) ``quota`` and the period columns (``q1``..``q4`` or
        ``m01``..``m12``) [currency], or None without ``quotas.csv``.
    sha256
        Content hash of the source (plan files or the accounts file).
    rep_source
        Column names of the reps file, for messages.
    """

    label: str
    kind: str
    owners: pd.Series
    reps: pd.DataFrame
    territory_reps: tuple[str, ...]
    quotas: pd.DataFrame | None
    sha256: str
    rep_source: RepSource

    @cached_property
    def territories(self) -> pd.DataFrame:
        """The territory hierarchy of this book, one row per territory.

        Reps' territories are ``T_<rep_id>``; when reps have a ``manager_id``,
        a team territory ``M_<manager_id>`` sits above them. Columns:
        ``rep_id`` (empty for teams), ``label``, ``parent``, ``depth`` (1 = top),
        ``segment``, ``user`` (CRM user id of the rep or of a manager who is
        also a rep), ``level`` (``team`` or ``rep``). Index: territory id, sorted.
        """
        reps = self.reps.loc[list(self.territory_reps)]
        managers = sorted({m for m in reps["manager_id"] if m})
        rows: list[dict[str, object]] = []
        for manager in managers:
            lead = self.reps.loc[manager] if manager in self.reps.index else None
            name = str(lead["name"]) if lead is not None and lead["name"] else manager
            rows.append(
                {
                    "territory_id": TEAM_PREFIX + manager,
                    "rep_id": "",
                    "label": f"Team {name}",
                    "parent": "",
                    "depth": 1,
                    "segment": "",
                    "user": str(lead["crm_user_id"]) if lead is not None else "",
                    "level": "team",
                }
            )
        for rep_id, rep in reps.iterrows():
            name = str(rep["name"])
            rows.append(
                {
                    "territory_id": territory_of(str(rep_id)),
                    "rep_id": str(rep_id),
                    "label": f"{name} ({rep_id})" if name else str(rep_id),
                    "parent": TEAM_PREFIX + str(rep["manager_id"]) if rep["manager_id"] else "",
                    "depth": 2 if rep["manager_id"] else 1,
                    "segment": str(rep["segment"]),
                    "user": str(rep["crm_user_id"]),
                    "level": "rep",
                }
            )
        columns = ["territory_id", "rep_id", "label", "parent", "depth", "segment", "user", "level"]
        frame = pd.DataFrame(rows, columns=columns).astype(
            {c: object for c in columns if c != "depth"}
        )
        return frame.set_index("territory_id").sort_index()

    def territory_ids(self) -> pd.Series:
        """Territory id of every account (``""`` without owner), index account id."""
        owners = self.owners.to_numpy(dtype=object)
        ids = np.where(owners != "", TERRITORY_PREFIX + owners.astype(str), "")
        return pd.Series(ids.astype(object), index=self.owners.index, dtype=object)

    def where(self, rep_id: str, column: str) -> Issue:
        """Return an issue template pointing at a rep's cell (problem text left empty)."""
        if rep_id in self.reps.index:
            rep = self.reps.loc[rep_id]
            row = int(float(str(rep["row"]))) or None
            shown = self.rep_source.shown(column) if rep["known"] else str(rep["column"])
            return Issue(str(rep["file"]), row, shown, "")
        return Issue(self.rep_source.file, None, column, "")


def territory_of(rep_id: str) -> str:
    """Territory id of a rep's territory, as the plan names it.

    Examples
    --------
    >>> territory_of("R001")
    'T_R001'
    """
    return TERRITORY_PREFIX + rep_id


def column_map(value: object) -> dict[str, str]:
    """Return the contract-name to file-column map of a plan's reading options."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return {}


def content_sha256(folder: Path) -> str:
    """Hash of a plan folder's data files (not ``plan.json``, which holds wall times)."""
    digest = hashlib.sha256()
    for name in PLAN_CONTENT_FILES:
        path = folder / name
        if path.is_file():
            digest.update(f"{name}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()


def _rep_table(plan: Plan) -> tuple[pd.DataFrame, RepSource]:
    """Collect the plan's reps with their attributes and the row each is defined in."""
    from territory_opt.data.io import read_table

    p = plan.problem
    n = p.n_reps
    data: dict[str, object] = {
        f: np.asarray(p.rep_attrs[f], dtype=object)
        if f in p.rep_attrs
        else np.full(n, "", dtype=object)
        for f in REP_FIELDS
    }
    path = p.source_paths.get("reps")
    file = Path(path).name if path else "reps"
    rows = np.zeros(n, dtype=np.int64)
    if path and Path(path).is_file():
        rows = np.asarray(read_table(path).rows, dtype=np.int64)
    frame = pd.DataFrame(data, index=pd.Index(p.rep_ids.astype(object), name="rep_id"))
    frame = frame.astype(object)
    frame["file"] = file
    frame["row"] = rows
    frame["known"] = True
    frame["column"] = ""
    return frame, RepSource(file, column_map(plan.problem.load_options.get("rep_columns")))


def _quotas(folder: Path) -> pd.DataFrame | None:
    path = folder / "quotas.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path, dtype={"rep_id": str}, keep_default_na=False, na_values=[""])
    keep = ["quota", *[c for c in table.columns if _PERIOD.match(str(c))]]
    out = table.set_index("rep_id")[keep].astype(np.float64)
    return out.sort_index()


def plan_book(plan: Plan, folder: Path) -> Book:
    """Build the book the plan asks for: every account with its new owner."""
    frame = plan.assignments_frame()
    owners = pd.Series(
        frame["rep_id"].to_numpy(dtype=object),
        index=pd.Index(frame["account_id"].to_numpy(dtype=object), name="account_id"),
        dtype=object,
    )
    reps, source = _rep_table(plan)
    return Book(
        label=f"plan folder '{folder.name}'",
        kind="plan",
        owners=owners,
        reps=reps.sort_index(),
        territory_reps=tuple(sorted(str(r) for r in reps.index)),
        quotas=_quotas(folder),
        sha256=content_sha256(folder),
        rep_source=source,
    )


def _owner_book(
    plan: Book,
    owners: pd.Series,
    *,
    label: str,
    kind: str,
    sha256: str,
    unknown: Mapping[str, tuple[str, int, str]] | None = None,
) -> Book:
    """Build a baseline that knows owners only; reps' attributes come from the plan."""
    owned = sorted({str(r) for r in owners.to_numpy(dtype=object) if r})
    reps = plan.reps.reindex(owned)
    for rep_id in owned:
        if rep_id not in plan.reps.index:
            file, row, column = (unknown or {}).get(rep_id, (plan.rep_source.file, 0, "rep_id"))
            reps.loc[rep_id] = {
                **dict.fromkeys(REP_FIELDS, ""),
                "file": file,
                "row": row,
                "known": False,
                "column": column,
            }
    return Book(
        label=label,
        kind=kind,
        owners=owners,
        reps=reps.sort_index(),
        territory_reps=tuple(owned),
        quotas=None,
        sha256=sha256,
        rep_source=plan.rep_source,
    )


def previous_owner_book(plan: Plan, book: Book) -> Book:
    """Baseline from the plan's own ``previous_rep_id`` (its accounts' ``current_rep``)."""
    frame = plan.assignments_frame()
    owners = pd.Series(
        frame["previous_rep_id"].to_numpy(dtype=object), index=book.owners.index, dtype=object
    )
    return _owner_book(
        book,
        owners,
        label="the current owners recorded in the plan (previous_rep_id)",
        kind="previous_owners",
        sha256=book.sha256,
    )


def current_owner_book(path: str | Path, book: Book, plan: Plan) -> Book:
    """Baseline from the ``current_rep`` column of an accounts file.

    Accounts of the file that are not in the plan are left out; plan accounts
    missing from the file have no baseline owner.
    """
    from territory_opt.data.cells import text_cells
    from territory_opt.data.io import read_table, sha256_of

    table = read_table(path)
    columns = column_map(plan.problem.load_options.get("account_columns"))
    id_col = str(columns.get("account_id", "account_id"))
    rep_col = str(columns.get("current_rep", "current_rep"))
    collector = IssueCollector(table.file)
    for col in (id_col, rep_col):
        if col not in table.frame.columns:
            collector.add(f"required column '{col}' is missing", row=1, column=col)
    collector.raise_if_any()
    ids = text_cells(table.frame[id_col])
    reps = text_cells(table.frame[rep_col])
    first: dict[str, int] = {}
    unknown: dict[str, tuple[str, int, str]] = {}
    for pos, account in enumerate(ids):
        row = int(table.rows[pos])
        if account in first:
            collector.add(
                f"duplicate account_id '{account}' (first seen in row {first[account]})",
                row=row,
                column=id_col,
            )
        first.setdefault(str(account), row)
        rep = str(reps[pos])
        if rep and rep not in book.reps.index and rep not in unknown:
            unknown[rep] = (table.file, row, rep_col)
    collector.raise_if_any()
    current = pd.Series(reps, index=pd.Index(ids, dtype=object), dtype=object)
    owners = current.reindex(book.owners.index).fillna("").astype(object)
    owned = set(owners.to_numpy(dtype=object))
    return _owner_book(
        book,
        owners,
        label=f"the current owners in {table.file} (current_rep)",
        kind="current_owners",
        sha256=sha256_of(Path(path)),
        unknown={r: w for r, w in unknown.items() if r in owned},
    )


def baseline_plan_book(folder: str | Path, book: Book) -> Book:
    """Baseline from a previous plan folder: its owners, reps and quotas.

    Raises
    ------
    InputError
        When the folder is not a readable plan with assignments.
    """
    folder = Path(folder)
    previous = read_plan(folder)
    if previous.assignment is None:
        raise InputError.single(str(folder), "has no assignments (an infeasible or failed plan)")
    frame = previous.assignments_frame()
    owners = (
        pd.Series(
            frame["rep_id"].to_numpy(dtype=object),
            index=pd.Index(frame["account_id"].to_numpy(dtype=object)),
            dtype=object,
        )
        .reindex(book.owners.index)
        .fillna("")
        .astype(object)
    )
    reps, source = _rep_table(previous)
    return Book(
        label=f"the previous plan folder '{folder.name}'",
        kind="baseline_plan",
        owners=owners,
        reps=reps.sort_index(),
        territory_reps=tuple(sorted(str(r) for r in reps.index)),
        quotas=_quotas(folder),
        sha256=content_sha256(folder),
        rep_source=source,
    )


@dataclass(frozen=True)
class AccountInfo:
    """The plan's accounts as the CRM knows them.

    Attributes
    ----------
    ids
        Account ids, plan order.
    names
        Display names (may be empty).
    crm_ids
        CRM record ids: ``crm_account_id``, or the account id when that column
        is absent or empty for every account.
    crm_column
        ``crm_account_id`` or ``account_id``: where ``crm_ids`` come from.
    file, path
        The accounts file (name for messages, full path to find rows).
    columns
        Column names of the accounts file, by contract name.
    """

    ids: np.ndarray
    names: np.ndarray
    crm_ids: np.ndarray
    crm_column: str
    file: str
    path: str | None
    columns: Mapping[str, str]

    @classmethod
    def from_plan(cls, plan: Plan) -> AccountInfo:
        """Collect the accounts' names and CRM ids from the plan's problem."""
        p = plan.problem
        n = p.n_accounts
        crm = np.asarray(p.account_attrs.get("crm_account_id", np.full(n, "")), dtype=object)
        column = "crm_account_id"
        if not (crm != "").any():
            crm, column = p.account_ids.astype(object), "account_id"
        path = p.source_paths.get("accounts")
        columns = column_map(p.load_options.get("account_columns"))
        return cls(
            ids=p.account_ids.astype(object),
            names=np.asarray(p.account_attrs.get("name", np.full(n, "")), dtype=object),
            crm_ids=crm,
            crm_column=column,
            file=Path(path).name if path else "accounts",
            path=path,
            columns=columns,
        )

    @cached_property
    def rows(self) -> np.ndarray:
        """Row of every account in its file (read again only when an error needs it)."""
        from territory_opt.data.io import read_table

        if self.path and Path(self.path).is_file():
            return np.asarray(read_table(self.path).rows, dtype=np.int64)
        return np.zeros(len(self.ids), dtype=np.int64)

    def issue(self, position: int, column: str, problem: str) -> Issue:
        """Return an issue about one account's cell."""
        row = int(self.rows[position]) or None
        return Issue(self.file, row, self.columns.get(column, column), problem)
