"""Checks every export passes before anything is written.

Errors stop the export (:class:`~territory_opt._errors.InputError`, naming the
file, row, column and problem): reps or accounts without the CRM id a target
needs, ids that cannot be the right kind of id, duplicate keys, and values over
a target's limits. Cells a spreadsheet would run as a formula are not errors:
they are listed (:class:`Flag`) and left as they are in the load files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from territory_opt._errors import InputError, Issue
from territory_opt.export.book import AccountInfo, Book
from territory_opt.export.files import LoadFile, is_formula_trigger

#: Salesforce DeveloperName: letters, digits, underscores; starts with a letter;
#: no double or trailing underscore; at most 80 characters (object reference).
DEVELOPER_NAME_MAX = 80
_DEVELOPER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$")
#: Salesforce record ids are 15 (case-sensitive) or 18 characters; the first
#: three characters name the object (005 User, 001 Account).
SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
SALESFORCE_PREFIX = {"User": "005", "Account": "001"}
#: HubSpot record ids and owner ids are whole numbers.
HUBSPOT_ID = re.compile(r"^[0-9]+$")
#: Dataverse (Dynamics 365) ids are GUIDs.
GUID = re.compile(r"^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$")
#: Loose email shape: something@domain.tld, no spaces.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: At most this many flagged cells are listed in the manifest; the rest are counted.
MAX_LISTED_FLAGS = 1000


@dataclass(frozen=True)
class Flag:
    """A cell a spreadsheet would run as a formula, kept as is in a load file.

    Attributes
    ----------
    file
        Path of the export file, e.g. ``load/01_Account_update.csv``.
    row
        Row as a spreadsheet shows it (header = row 1).
    column
        Column name.
    start
        The cell's first characters (at most 20), for the reader.
    """

    file: str
    row: int
    column: str
    start: str


def developer_name(text: str, *, prefix: str = "X") -> str:
    """Turn an id into a DeveloperName: invalid characters become ``_``.

    Runs of ``_`` collapse, leading and trailing ``_`` go, and a name that does
    not start with a letter gets ``prefix`` and ``_`` in front. The result still
    has to be checked for length and uniqueness.

    Examples
    --------
    >>> developer_name("T_OPEN-01"), developer_name("9 north"), developer_name("a__b_")
    ('T_OPEN_01', 'X_9_north', 'a_b')
    """
    name = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")
    name = re.sub(r"_+", "_", name)
    if not name or not name[0].isalpha():
        name = f"{prefix}_{name}" if name else prefix
    return name


def developer_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid DeveloperName, or None when it is.

    Examples
    --------
    >>> developer_name_problem("FY2027_Plan") is None
    True
    >>> developer_name_problem("FY__2027")
    "'FY__2027' has a double underscore"
    """
    if not name:
        return "is empty"
    if len(name) > DEVELOPER_NAME_MAX:
        return f"'{name}' is longer than {DEVELOPER_NAME_MAX} characters"
    if not name[0].isalpha() or not name[0].isascii():
        return f"'{name}' does not start with a letter"
    if re.search(r"[^A-Za-z0-9_]", name):
        return f"'{name}' has characters other than letters, digits and underscores"
    if "__" in name:
        return f"'{name}' has a double underscore"
    if name.endswith("_"):
        return f"'{name}' ends with an underscore"
    assert _DEVELOPER_NAME.match(name)
    return None


def rep_id_issues(
    books: Sequence[Book],
    rep_ids: Iterable[str],
    field: str,
    *,
    pattern: re.Pattern[str] | None,
    what: str,
    prefix: str = "",
) -> list[Issue]:
    """Issues for reps that lack a CRM id (or have one of the wrong shape).

    Parameters
    ----------
    books
        Where to look the reps up, first match wins (plan first, then baseline).
    rep_ids
        Reps the export needs the id of.
    field
        The reps column holding the id, e.g. ``crm_user_id``.
    pattern
        Shape the id must have, or None.
    what
        What the id is, for the message, e.g. ``Salesforce User Id``.
    prefix
        Required first characters (``005`` for Salesforce users).
    """
    issues: list[Issue] = []
    for rep_id in sorted(set(rep_ids) - {""}):
        book = next((b for b in books if rep_id in b.reps.index), books[0])
        at = book.where(rep_id, field)
        if rep_id not in book.reps.index or not bool(book.reps.loc[rep_id, "known"]):
            issues.append(
                Issue(
                    at.file,
                    at.row,
                    at.column,
                    f"rep '{rep_id}' is not in the reps file, so its {what} is unknown; "
                    "add the rep (with its ids) to the reps file",
                )
            )
            continue
        value = str(book.reps.loc[rep_id, field])
        if not value:
            issues.append(
                Issue(
                    at.file,
                    at.row,
                    at.column,
                    f"rep '{rep_id}' has no {field}; the export needs its {what}",
                )
            )
        elif (pattern is not None and not pattern.match(value)) or not value.startswith(prefix):
            shape = f" starting with {prefix}" if prefix else ""
            issues.append(
                Issue(
                    at.file,
                    at.row,
                    at.column,
                    f"'{value}' of rep '{rep_id}' is not a {what}{shape}",
                )
            )
    return issues


def account_id_issues(
    accounts: AccountInfo,
    positions: np.ndarray,
    *,
    pattern: re.Pattern[str] | None,
    what: str,
    prefix: str = "",
) -> list[Issue]:
    """Issues for accounts whose CRM id is missing, malformed or shared with another account."""
    issues: list[Issue] = []
    crm = accounts.crm_ids
    column = accounts.crm_column
    for pos in positions:
        value = str(crm[pos])
        if not value:
            issues.append(
                accounts.issue(
                    int(pos),
                    column,
                    f"account '{accounts.ids[pos]}' has no {column}; the export needs its {what}",
                )
            )
        elif (pattern is not None and not pattern.match(value)) or not value.startswith(prefix):
            shape = f" starting with {prefix}" if prefix else ""
            issues.append(
                accounts.issue(
                    int(pos),
                    column,
                    f"'{value}' of account '{accounts.ids[pos]}' is not a {what}{shape}",
                )
            )
    series = pd.Series(crm, dtype=object)
    dup = series.duplicated(keep=False).to_numpy() & (crm != "")
    if dup.any():
        first: dict[str, int] = {}
        for pos in np.flatnonzero(dup):
            value = str(crm[pos])
            if value in first:
                issues.append(
                    accounts.issue(
                        int(pos),
                        column,
                        f"{column} '{value}' of account '{accounts.ids[pos]}' is also the id "
                        f"of account '{accounts.ids[first[value]]}'; CRM ids must be unique",
                    )
                )
            else:
                first[value] = int(pos)
    return issues


def file_issues(path: str, file: LoadFile, limits: Mapping[str, int]) -> list[Issue]:
    """Duplicate keys and values over the target's limits in one export file.

    Parameters
    ----------
    path
        The file's path in the export folder, for messages.
    file
        The file.
    limits
        Maximum length per column name [characters]; the special key
        ``"rows"`` is the most records one file may hold.
    """
    issues: list[Issue] = []
    table = file.table
    if "rows" in limits and len(table) > limits["rows"]:
        issues.append(
            Issue(
                path,
                None,
                None,
                f"{len(table):,} records are more than the {limits['rows']:,} one file may hold",
            )
        )
    key = [c for c in file.key if c in table.columns]
    if key and len(table):
        keys = table[key].astype(str).agg("\x1f".join, axis=1)
        dup = keys.duplicated(keep=False).to_numpy()
        first: dict[str, int] = {}
        for pos in np.flatnonzero(dup):
            k = str(keys.iloc[pos])
            if k in first:
                shown = ", ".join(f"{c}={table[c].iloc[pos]}" for c in key)
                issues.append(
                    Issue(
                        path,
                        int(pos) + 2,
                        key[0],
                        f"duplicate key ({shown}); first in row {first[k]}",
                    )
                )
            else:
                first[k] = int(pos) + 2
    for column, limit in limits.items():
        if column == "rows" or column not in table.columns:
            continue
        lengths = table[column].astype(str).str.len().to_numpy()
        for pos in np.flatnonzero(lengths > limit):
            issues.append(
                Issue(
                    path,
                    int(pos) + 2,
                    column,
                    f"'{table[column].iloc[pos][:40]}...' has {lengths[pos]} characters; "
                    f"the limit is {limit}",
                )
            )
    return issues


def formula_flags(path: str, table: pd.DataFrame) -> list[Flag]:
    """Cells of a load file that a spreadsheet would run as formulas."""
    flags: list[Flag] = []
    for column in table.columns:
        values = table[column].to_numpy(dtype=object)
        starts = (
            pd.Series(values, dtype=object).str[:1].isin(["=", "+", "-", "@", "\t", "\r", "\n"])
        )
        for pos in np.flatnonzero(starts.to_numpy(dtype=bool)):
            text = str(values[pos])
            if is_formula_trigger(text):
                flags.append(Flag(path, int(pos) + 2, str(column), text[:20]))
    return flags


def raise_if_any(issues: Sequence[Issue]) -> None:
    """Raise one InputError listing every issue, if there are any."""
    if issues:
        raise InputError(list(issues), total=len(issues))
