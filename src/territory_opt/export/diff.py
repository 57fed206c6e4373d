"""The change set between two versions of a CRM table.

Every target describes the CRM records a book implies (one table per object,
all cells strings). Loading the plan is the difference baseline -> plan, and
the rollback is the difference plan -> baseline, so applying one after the
other gives back the baseline exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Changes:
    """Rows to insert, update and delete to turn ``old`` into ``new``.

    Attributes
    ----------
    insert
        Rows of ``new`` whose key is not in ``old``.
    update
        Rows of ``new`` whose key is in ``old`` with other values.
    delete
        Rows of ``old`` whose key is not in ``new``.

    All three are sorted by key and have ``new``'s columns.
    """

    insert: pd.DataFrame
    update: pd.DataFrame
    delete: pd.DataFrame

    @property
    def empty(self) -> bool:
        """True when nothing changes."""
        return not (len(self.insert) or len(self.update) or len(self.delete))


def diff(new: pd.DataFrame, old: pd.DataFrame, key: Sequence[str]) -> Changes:
    """Compare two tables of string cells by key.

    Parameters
    ----------
    new, old
        Tables with the same columns, keys unique in each.
    key
        Key columns.

    Returns
    -------
    Changes

    Examples
    --------
    >>> new = pd.DataFrame({"k": ["a", "b"], "v": ["1", "2"]})
    >>> old = pd.DataFrame({"k": ["b", "c"], "v": ["9", "3"]})
    >>> c = diff(new, old, ["k"])
    >>> c.insert["k"].tolist(), c.update["v"].tolist(), c.delete["k"].tolist()
    (['a'], ['2'], ['c'])
    """
    keys = list(key)
    columns = list(new.columns)
    old = old[columns]
    merged = new.merge(old, on=keys, how="outer", suffixes=("", "__old"), indicator=True)
    values = [c for c in columns if c not in keys]
    both = merged["_merge"] == "both"
    changed = pd.Series(False, index=merged.index)
    for col in values:
        changed |= merged[col].astype(object) != merged[f"{col}__old"].astype(object)
    insert = merged.loc[merged["_merge"] == "left_only", columns]
    update = merged.loc[both & changed, columns]
    deleted = merged.loc[merged["_merge"] == "right_only", keys + [f"{c}__old" for c in values]]
    deleted = deleted.rename(columns={f"{c}__old": c for c in values})[columns]
    return Changes(_sorted(insert, keys), _sorted(update, keys), _sorted(deleted, keys))


def _sorted(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    out = frame.astype(object).sort_values(key, kind="stable") if len(frame) else frame
    return out.reset_index(drop=True).astype(object)
