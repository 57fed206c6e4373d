"""Dynamics 365 (Dataverse): ``territory`` rows and ``account`` updates of ``territoryid``.

Territories are named by their territory id (``T_<rep_id>``, ``M_<manager_id>``
for the team level), which stays the same from plan to plan and so works as the
matching key. ``managerid`` is the territory rep's Dataverse user id
(``crm_user_id``, a ``systemuserid`` GUID), ``parentterritoryid`` and
``territoryid`` name the territory they point to; the import resolves these
lookups by the territory's name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from territory_opt.export.book import Book, territory_of
from territory_opt.export.checks import GUID, account_id_issues, rep_id_issues
from territory_opt.export.diff import diff
from territory_opt.export.files import LoadFile, Operation, text_frame
from territory_opt.export.package import Context, Package

#: Length of ``territory.name`` in Dataverse [characters].
NAME_MAX = 200
COLUMNS = ["name", "managerid", "parentterritoryid"]
TERRITORY_HOW = "Dynamics 365: import into the Territory table ({verb}), matching on name"
ACCOUNT_HOW = (
    "Dynamics 365: update Account rows matched on accountid; "
    "territoryid is a lookup by territory name"
)


def _territories(book: Book) -> pd.DataFrame:
    terr = book.territories
    return text_frame(
        {
            "name": terr.index,
            "managerid": terr["user"],
            "parentterritoryid": terr["parent"],
            "depth": terr["depth"],
        }
    )


def _steps(new: pd.DataFrame, old: pd.DataFrame, accounts: pd.DataFrame) -> list[LoadFile]:
    changes = diff(new, old, ["name"])
    depth = pd.concat([new, old]).drop_duplicates("name").set_index("name")["depth"].astype(int)
    files: list[LoadFile] = []

    def levels(frame: pd.DataFrame) -> dict[int, pd.DataFrame]:
        d = depth.reindex(frame["name"]).to_numpy(dtype=int)
        return {int(k): frame[d == k][COLUMNS].reset_index(drop=True) for k in np.unique(d)}

    for level, table in sorted(levels(changes.insert).items()):
        files.append(
            LoadFile(
                f"territory_insert_depth{level}.csv",
                "territory",
                Operation.INSERT,
                ("name",),
                table,
                TERRITORY_HOW.format(verb="create"),
            )
        )
    if len(changes.update):
        files.append(
            LoadFile(
                "territory_update.csv",
                "territory",
                Operation.UPDATE,
                ("name",),
                changes.update[COLUMNS].reset_index(drop=True),
                TERRITORY_HOW.format(verb="update"),
            )
        )
    if len(accounts):
        files.append(
            LoadFile(
                "account_update_territoryid.csv",
                "account",
                Operation.UPDATE,
                ("accountid",),
                accounts,
                ACCOUNT_HOW,
            )
        )
    for level, table in sorted(levels(changes.delete).items(), reverse=True):
        files.append(
            LoadFile(
                f"territory_delete_depth{level}.csv",
                "territory",
                Operation.DELETE,
                ("name",),
                table[["name"]],
                TERRITORY_HOW.format(verb="delete"),
            )
        )
    return files


def _accounts(ctx: Context, positions: np.ndarray, book: Book) -> pd.DataFrame:
    reps = book.owners.to_numpy(dtype=object)[positions]
    frame = text_frame(
        {
            "accountid": ctx.accounts.crm_ids[positions],
            "territoryid": [territory_of(str(r)) if r else "" for r in reps],
        }
    )
    return frame.sort_values("accountid", kind="stable").reset_index(drop=True)


def build(ctx: Context) -> Package:
    """Territory rows and account updates for the plan, and their rollback."""
    positions = ctx.moved()
    issues = account_id_issues(
        ctx.accounts, positions, pattern=GUID, what="Dataverse accountid (a GUID)"
    )
    with_user = [
        r
        for b in (ctx.plan, ctx.baseline)
        for r in b.territories["rep_id"]
        if r and b.reps.loc[r, "crm_user_id"]
    ]
    issues += rep_id_issues(
        [ctx.plan, ctx.baseline],
        with_user,
        "crm_user_id",
        pattern=GUID,
        what="Dataverse systemuserid (a GUID)",
    )
    if issues:
        return Package((), (), issues=tuple(issues))
    new = _territories(ctx.plan)
    old = _territories(ctx.baseline)
    if ctx.full:
        old = old.iloc[0:0]
    no_user = sorted(
        {r for r in ctx.plan.territories["rep_id"] if r and not ctx.plan.reps.loc[r, "crm_user_id"]}
    )
    warnings = []
    if no_user:
        warnings.append(
            f"{len(no_user)} territor(ies) have no manager (rep without crm_user_id): "
            + ", ".join(no_user[:10])
        )
    cleared = int((ctx.baseline.owners.to_numpy(dtype=object)[positions] == "").sum())
    if cleared:
        warnings.append(
            f"{cleared} account(s) had no territory in the baseline; the rollback clears "
            "their territoryid"
        )
    notes = (
        "Load the territory files in order (parents before children), then the account "
        "updates, then the territory deletes (children before parents). An import that "
        "updates rows needs a key to match on: define an alternate key on territory.name, "
        "or load with a tool that updates by key (for example the Dataverse Web API: "
        "PATCH accounts(<accountid>) with territoryid@odata.bind).",
        "Empty managerid, parentterritoryid or territoryid cells clear the field.",
    )
    return Package(
        load=tuple(_steps(new, old, _accounts(ctx, positions, ctx.plan))),
        rollback=tuple(_steps(old, new, _accounts(ctx, positions, ctx.baseline))),
        limits={"territory": {"name": NAME_MAX, "parentterritoryid": NAME_MAX}},
        warnings=tuple(warnings),
        notes=notes,
    )
