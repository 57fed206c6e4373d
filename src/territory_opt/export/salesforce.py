"""Salesforce: Enterprise Territory Management load files, and the owner-only update.

Territory management (``--to salesforce``) writes, in load order:
Territory2Type -> Territory2Model -> Territory2 (one file per hierarchy depth)
-> UserTerritory2Association -> Territory2 update of ForecastUserId ->
ObjectTerritory2Association (delete, then insert) -> ForecastingQuota, and the
deletes of territories, types and the model at the end. The association objects
support create and delete only, so moving an account is one delete and one
insert.

Ids are known only at load time: files name records by DeveloperName, and
``territory-opt export resolve`` fills the Id columns from the loader's success
files or a SOQL export (:mod:`territory_opt.export.resolve`).

Without territory management (``--to salesforce-owner``), one Account update
file sets ``OwnerId``.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd

from territory_opt._errors import Issue
from territory_opt.export.book import TEAM_PREFIX, Book, territory_of
from territory_opt.export.checks import (
    DEVELOPER_NAME_MAX,
    SALESFORCE_ID,
    SALESFORCE_PREFIX,
    account_id_issues,
    developer_name,
    developer_name_problem,
    rep_id_issues,
)
from territory_opt.export.diff import Changes, diff
from territory_opt.export.files import LoadFile, Operation, Reference, text_frame
from territory_opt.export.package import Context, Package
from territory_opt.quota.ramp import add_months

#: Territories per model allowed by default (Salesforce ETM limit, can be raised
#: by Salesforce support); above it the export warns.
TERRITORIES_PER_MODEL = 1000
#: Text limits from the object reference [characters].
LIMITS = {
    "Territory2Type": {"DeveloperName": DEVELOPER_NAME_MAX, "MasterLabel": 80},
    "Territory2Model": {"DeveloperName": DEVELOPER_NAME_MAX, "Name": 80},
    "Territory2": {"DeveloperName": DEVELOPER_NAME_MAX, "Name": 80},
}
#: Type of team territories (the level built from manager_id) and of reps without segment.
TEAM_TYPE = ("Sales_Team", "Sales team")
REP_TYPE = ("Sales_Territory", "Sales territory")
TYPE_PREFIX = "Segment_"
MANUAL = "Territory2Manual"
#: Territory2Type.Priority is an int of at most 5 digits and unique per org.
PRIORITY_MIN, PRIORITY_MAX = 10_000, 99_999
DATA_LOADER = "Data Loader"

TYPE_COLUMNS = ["DeveloperName", "MasterLabel", "Priority"]
MODEL_COLUMNS = ["DeveloperName", "Name"]
TERRITORY_COLUMNS = [
    "DeveloperName",
    "Name",
    "Territory2ModelId",
    "Territory2TypeId",
    "ParentTerritory2Id",
    "AccountAccessLevel",
    "OpportunityAccessLevel",
    "CaseAccessLevel",
]
USER_COLUMNS = ["UserId", "Territory2Id", "RoleInTerritory2"]
OBJECT_COLUMNS = ["ObjectId", "Territory2Id", "AssociationCause"]
QUOTA_COLUMNS = [
    "QuotaOwnerId",
    "ForecastingTypeId",
    "StartDate",
    "QuotaAmount",
    "CurrencyIsoCode",
    "Territory2Id",
]
QUOTA_KEY = ("QuotaOwnerId", "Territory2Id", "StartDate", "ForecastingTypeId")


def _type_of(segment: str, level: str) -> tuple[str, str]:
    if level == "team":
        return TEAM_TYPE
    if not segment:
        return REP_TYPE
    return developer_name(TYPE_PREFIX + segment), segment


def _names(ctx: Context) -> tuple[dict[str, str], dict[str, int], list[Issue]]:
    """Give every territory (both books) its DeveloperName and every type its Priority.

    A type's Priority is derived from its DeveloperName alone (:func:`type_priority`),
    so it is the same in every export and in every org.
    """
    issues: list[Issue] = []
    names: dict[str, str] = {}
    seen: dict[str, str] = {}
    types: set[str] = set()
    for book in (ctx.plan, ctx.baseline):
        for tid, row in book.territories.iterrows():
            types.add(_type_of(str(row["segment"]), str(row["level"]))[0])
            if str(tid) in names:
                continue
            name = developer_name(str(tid), prefix="T")
            names[str(tid)] = name
            at = _where(book, str(tid), str(row["rep_id"]))
            problem = developer_name_problem(name)
            other = seen.setdefault(name, str(tid))
            if problem:
                issues.append(
                    Issue(at.file, at.row, at.column, f"territory DeveloperName {problem}")
                )
            elif other != tid:
                issues.append(
                    Issue(
                        at.file,
                        at.row,
                        at.column,
                        f"territories '{other}' and '{tid}' both get the DeveloperName "
                        f"'{name}'; rename one of the ids",
                    )
                )
    priorities = {name: type_priority(name) for name in sorted(types)}
    clash: dict[int, str] = {}
    for name, number in priorities.items():
        if number in clash:
            issues.append(
                Issue(
                    ctx.plan.rep_source.file,
                    None,
                    "segment",
                    f"territory types '{clash[number]}' and '{name}' get the same Priority "
                    f"{number}; rename one of the segments",
                )
            )
        clash[number] = name
    return names, priorities, issues


def type_priority(name: str) -> int:
    """Return the Priority of a territory type: 5 digits derived from its DeveloperName.

    Salesforce needs a unique Priority per type. Deriving it from the name keeps a
    type's Priority the same from export to export; change it in Salesforce when
    opportunity assignment needs another order.

    Examples
    --------
    >>> 10000 <= type_priority("Segment_enterprise") <= 99999
    True
    """
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    return PRIORITY_MIN + int(digest[:8], 16) % (PRIORITY_MAX - PRIORITY_MIN + 1)


def _where(book: Book, territory: str, rep_id: str) -> Issue:
    """Point at the reps file cell a territory comes from (rep id or a manager_id)."""
    if rep_id:
        return book.where(rep_id, "rep_id")
    manager = territory[len(TEAM_PREFIX) :]
    member = book.reps.index[book.reps["manager_id"] == manager]
    return book.where(str(member[0]), "manager_id") if len(member) else book.where("", "manager_id")


def _records(
    book: Book,
    ctx: Context,
    names: dict[str, str],
    priority: dict[str, int],
    *,
    quota_start: dt.date | None,
) -> dict[str, pd.DataFrame]:
    """Describe the ETM records a book implies, one table per object."""
    o = ctx.options
    terr = book.territories
    types = sorted(
        {_type_of(str(s), str(lv)) for s, lv in zip(terr["segment"], terr["level"], strict=True)}
    )
    dev = [names[str(t)] for t in terr.index]
    records = {
        "Territory2Type": text_frame(
            {
                "DeveloperName": [t[0] for t in types],
                "MasterLabel": [t[1] for t in types],
                "Priority": [priority[t[0]] for t in types],
            }
        ),
        "Territory2Model": text_frame(
            {"DeveloperName": [o.model], "Name": [o.model_label or o.model]}
        ),
        "Territory2": text_frame(
            {
                "DeveloperName": dev,
                "Name": terr["label"],
                "Territory2ModelId": [o.model] * len(terr),
                "Territory2TypeId": [
                    _type_of(str(s), str(lv))[0]
                    for s, lv in zip(terr["segment"], terr["level"], strict=True)
                ],
                "ParentTerritory2Id": [names[p] if p else "" for p in terr["parent"]],
                "AccountAccessLevel": [o.account_access] * len(terr),
                "OpportunityAccessLevel": [o.opportunity_access] * len(terr),
                "CaseAccessLevel": [o.case_access] * len(terr),
            }
        ),
        "Depth": text_frame({"DeveloperName": dev, "depth": terr["depth"]}),
        "Forecast": text_frame({"DeveloperName": dev, "ForecastUserId": terr["user"]}),
    }
    with_user = terr[terr["user"] != ""]
    records["UserTerritory2Association"] = text_frame(
        {
            "UserId": with_user["user"],
            "Territory2Id": [names[str(t)] for t in with_user.index],
            "RoleInTerritory2": [o.user_role] * len(with_user),
        }
    )
    owners = book.owners.to_numpy(dtype=object)
    has = owners != ""
    records["ObjectTerritory2Association"] = text_frame(
        {
            "ObjectId": ctx.accounts.crm_ids[has],
            "Territory2Id": [names[territory_of(str(r))] for r in owners[has]],
            "AssociationCause": [MANUAL] * int(has.sum()),
        }
    )
    records["ForecastingQuota"] = _quota_records(book, ctx, names, quota_start)
    return records


def _quota_records(
    book: Book, ctx: Context, names: dict[str, str], start: dt.date | None
) -> pd.DataFrame:
    empty = text_frame(dict.fromkeys(QUOTA_COLUMNS, []))
    if start is None or book.quotas is None:
        return empty
    periods = [c for c in book.quotas.columns if c != "quota"]
    step = 3 if periods and periods[0].startswith("q") else 1
    rows: dict[str, list[object]] = {c: [] for c in QUOTA_COLUMNS}
    for rep_id, quota in book.quotas.iterrows():
        if rep_id not in book.reps.index or rep_id not in book.territory_reps:
            continue
        user = str(book.reps.loc[rep_id, "crm_user_id"])
        if not user:
            continue
        for k, period in enumerate(periods):
            rows["QuotaOwnerId"].append(user)
            rows["ForecastingTypeId"].append(ctx.options.forecasting_type)
            rows["StartDate"].append(add_months(start, k * step).isoformat())
            rows["QuotaAmount"].append(float(quota[period]))
            rows["CurrencyIsoCode"].append(ctx.options.currency)
            rows["Territory2Id"].append(names[territory_of(str(rep_id))])
    return text_frame(rows) if rows["QuotaOwnerId"] else empty


def _empty_like(
    records: dict[str, pd.DataFrame], objects: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    return {k: (v.iloc[0:0] if k in objects else v) for k, v in records.items()}


def _forecast_rows(new: dict[str, pd.DataFrame], old: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Territories whose ForecastUserId changes; territories about to go are cleared."""
    after = new["Forecast"].set_index("DeveloperName")["ForecastUserId"]
    before = old["Forecast"].set_index("DeveloperName")["ForecastUserId"]
    keys = sorted(set(after.index) | set(before.index))
    a = after.reindex(keys).fillna("")
    b = before.reindex(keys).fillna("")
    changed = a.to_numpy(dtype=object) != b.to_numpy(dtype=object)
    out = pd.DataFrame({"DeveloperName": keys, "ForecastUserId": a.to_numpy(dtype=object)})[changed]
    return text_frame(
        {
            "Id": [""] * len(out),
            "DeveloperName": out["DeveloperName"],
            "ForecastUserId": out["ForecastUserId"],
        }
    )


def _with_id(frame: pd.DataFrame) -> pd.DataFrame:
    """Put an empty ``Id`` column first: resolve fills it (by DeveloperName or by key)."""
    out = frame.copy()
    out.insert(0, "Id", "")
    return out.astype(object)


def _by_depth(frame: pd.DataFrame, depth: pd.DataFrame) -> dict[int, pd.DataFrame]:
    levels = depth.set_index("DeveloperName")["depth"].astype(int)
    d = levels.reindex(frame["DeveloperName"]).fillna(1).astype(int).to_numpy()
    return {int(level): frame[d == level].reset_index(drop=True) for level in np.unique(d)}


def _steps(new: dict[str, pd.DataFrame], old: dict[str, pd.DataFrame]) -> list[LoadFile]:
    """Files that turn ``old`` into ``new``, in load order."""
    key = {
        "Territory2Type": ["DeveloperName"],
        "Territory2Model": ["DeveloperName"],
        "Territory2": ["DeveloperName"],
        "UserTerritory2Association": ["UserId", "Territory2Id"],
        "ObjectTerritory2Association": ["ObjectId", "Territory2Id"],
        "ForecastingQuota": list(QUOTA_KEY),
    }
    c: dict[str, Changes] = {obj: diff(new[obj], old[obj], cols) for obj, cols in key.items()}
    depth = pd.concat([new["Depth"], old["Depth"]]).drop_duplicates("DeveloperName")
    files: list[LoadFile] = []

    def add(
        obj: str,
        op: Operation,
        table: pd.DataFrame,
        name: str,
        refs: tuple[Reference, ...],
        file_key: tuple[str, ...],
    ) -> None:
        if len(table):
            verb = {"insert": "Insert", "update": "Update", "delete": "Delete"}[str(op)]
            files.append(
                LoadFile(
                    name=name,
                    object=obj,
                    operation=op,
                    key=file_key,
                    table=table.reset_index(drop=True),
                    how=f"{DATA_LOADER}: {verb}, object {obj}",
                    references=refs,
                )
            )

    self_ref = (Reference("Id", "Territory2Type"),)
    add(
        "Territory2Type",
        Operation.INSERT,
        c["Territory2Type"].insert,
        "Territory2Type_insert.csv",
        (),
        ("DeveloperName",),
    )
    add(
        "Territory2Type",
        Operation.UPDATE,
        _with_id(c["Territory2Type"].update),
        "Territory2Type_update.csv",
        self_ref,
        ("DeveloperName",),
    )
    add(
        "Territory2Model",
        Operation.INSERT,
        c["Territory2Model"].insert,
        "Territory2Model_insert.csv",
        (),
        ("DeveloperName",),
    )
    add(
        "Territory2Model",
        Operation.UPDATE,
        _with_id(c["Territory2Model"].update),
        "Territory2Model_update.csv",
        (Reference("Id", "Territory2Model"),),
        ("DeveloperName",),
    )
    terr_refs = (
        Reference("Territory2ModelId", "Territory2Model"),
        Reference("Territory2TypeId", "Territory2Type"),
        Reference("ParentTerritory2Id", "Territory2"),
    )
    for level, table in sorted(_by_depth(c["Territory2"].insert, depth).items()):
        add(
            "Territory2",
            Operation.INSERT,
            table,
            f"Territory2_insert_depth{level}.csv",
            terr_refs,
            ("DeveloperName",),
        )
    add(
        "Territory2",
        Operation.UPDATE,
        _with_id(c["Territory2"].update),
        "Territory2_update.csv",
        (Reference("Id", "Territory2"), *terr_refs),
        ("DeveloperName",),
    )
    user_key = ("UserId", "Territory2Id")
    user_refs = (Reference("Territory2Id", "Territory2"),)
    user_id = (Reference("Id", "UserTerritory2Association", user_key), *user_refs)
    add(
        "UserTerritory2Association",
        Operation.INSERT,
        c["UserTerritory2Association"].insert,
        "UserTerritory2Association_insert.csv",
        user_refs,
        user_key,
    )
    add(
        "UserTerritory2Association",
        Operation.UPDATE,
        _with_id(c["UserTerritory2Association"].update),
        "UserTerritory2Association_update.csv",
        user_id,
        user_key,
    )
    add(
        "Territory2",
        Operation.UPDATE,
        _forecast_rows(new, old),
        "Territory2_update_ForecastUserId.csv",
        (Reference("Id", "Territory2"),),
        ("DeveloperName",),
    )
    add(
        "UserTerritory2Association",
        Operation.DELETE,
        _with_id(c["UserTerritory2Association"].delete)[["Id", *user_key]],
        "UserTerritory2Association_delete.csv",
        user_id,
        user_key,
    )
    obj_key = ("ObjectId", "Territory2Id")
    obj_refs = (Reference("Territory2Id", "Territory2"),)
    add(
        "ObjectTerritory2Association",
        Operation.DELETE,
        _with_id(c["ObjectTerritory2Association"].delete)[["Id", *obj_key]],
        "ObjectTerritory2Association_delete.csv",
        (Reference("Id", "ObjectTerritory2Association", obj_key), *obj_refs),
        obj_key,
    )
    add(
        "ObjectTerritory2Association",
        Operation.INSERT,
        c["ObjectTerritory2Association"].insert,
        "ObjectTerritory2Association_insert.csv",
        obj_refs,
        obj_key,
    )
    quota_refs = (
        Reference("ForecastingTypeId", "ForecastingType"),
        Reference("Territory2Id", "Territory2"),
    )
    quota_id = (Reference("Id", "ForecastingQuota", QUOTA_KEY), *quota_refs)
    add(
        "ForecastingQuota",
        Operation.DELETE,
        _with_id(c["ForecastingQuota"].delete)[["Id", *QUOTA_KEY]],
        "ForecastingQuota_delete.csv",
        quota_id,
        QUOTA_KEY,
    )
    add(
        "ForecastingQuota",
        Operation.INSERT,
        c["ForecastingQuota"].insert,
        "ForecastingQuota_insert.csv",
        quota_refs,
        QUOTA_KEY,
    )
    add(
        "ForecastingQuota",
        Operation.UPDATE,
        _with_id(c["ForecastingQuota"].update),
        "ForecastingQuota_update.csv",
        quota_id,
        QUOTA_KEY,
    )
    for level, table in sorted(_by_depth(c["Territory2"].delete, depth).items(), reverse=True):
        add(
            "Territory2",
            Operation.DELETE,
            _with_id(table)[["Id", "DeveloperName"]],
            f"Territory2_delete_depth{level}.csv",
            (Reference("Id", "Territory2"),),
            ("DeveloperName",),
        )
    add(
        "Territory2Type",
        Operation.DELETE,
        _with_id(c["Territory2Type"].delete)[["Id", "DeveloperName"]],
        "Territory2Type_delete.csv",
        self_ref,
        ("DeveloperName",),
    )
    add(
        "Territory2Model",
        Operation.DELETE,
        _with_id(c["Territory2Model"].delete)[["Id", "DeveloperName"]],
        "Territory2Model_delete.csv",
        (Reference("Id", "Territory2Model"),),
        ("DeveloperName",),
    )
    return files


def build(ctx: Context) -> Package:
    """Enterprise Territory Management files for the plan, and their rollback."""
    o = ctx.options
    names, priority, issues = _names(ctx)
    problem = developer_name_problem(o.model)
    if problem:
        issues.append(Issue("--model", None, None, f"Territory2Model DeveloperName {problem}"))
    taken = set(names.values())
    if o.model in taken:
        issues.append(
            Issue("--model", None, None, f"'{o.model}' is also a territory's DeveloperName")
        )
    warnings: list[str] = []
    if (
        o.quota_start is not None
        and ctx.plan.quotas is not None
        and len(ctx.plan.quotas.columns) == 1
    ):
        issues.append(
            Issue(
                "quotas.csv",
                None,
                None,
                "ForecastingQuota needs quotas per period (q1..q4 or m01..m12); set them with "
                "`territory-opt quota --seasonality FILE` (4 or 12 weights)",
            )
        )
    if issues:
        return Package((), (), issues=tuple(issues))
    new = _records(ctx.plan, ctx, names, priority, quota_start=o.quota_start)
    old = _records(ctx.baseline, ctx, names, priority, quota_start=o.baseline_quota_start)
    if ctx.full:
        # A first load: the org holds none of these records (types included).
        old = _empty_like(
            old,
            (
                "Territory2Type",
                "Territory2Model",
                "Territory2",
                "Depth",
                "Forecast",
                "UserTerritory2Association",
                "ObjectTerritory2Association",
                "ForecastingQuota",
            ),
        )
    issues += rep_id_issues(
        [ctx.plan, ctx.baseline],
        [
            r
            for b in (ctx.plan, ctx.baseline)
            for r in b.territories["rep_id"]
            if r and b.reps.loc[r, "crm_user_id"]
        ],
        "crm_user_id",
        pattern=SALESFORCE_ID,
        what="Salesforce User Id",
        prefix=SALESFORCE_PREFIX["User"],
    )
    issues += account_id_issues(
        ctx.accounts,
        ctx.moved(),
        pattern=SALESFORCE_ID,
        what="Salesforce Account Id",
        prefix=SALESFORCE_PREFIX["Account"],
    )
    for book in (ctx.plan, ctx.baseline):
        n = len(book.territories)
        if n > TERRITORIES_PER_MODEL:
            warnings.append(
                f"{book.label} has {n:,} territories, more than the {TERRITORIES_PER_MODEL:,} "
                "Salesforce allows per model by default; ask Salesforce support to raise "
                "the limit first"
            )
    no_user = sorted(
        {r for r in ctx.plan.territories["rep_id"] if r and not ctx.plan.reps.loc[r, "crm_user_id"]}
    )
    if no_user:
        warnings.append(
            f"{len(no_user)} rep(s) have no crm_user_id: {', '.join(no_user[:10])}"
            + (" ..." if len(no_user) > 10 else "")
            + ". Their territories are created and get their accounts, but no user, forecast "
            "manager or quota"
        )
    if o.quota_start is None and ctx.plan.quotas is not None:
        warnings.append(
            "the plan has quotas but no --quota-start was given: ForecastingQuota is left out"
        )
    unknown = [r for r in ctx.baseline.reps.index if not ctx.baseline.reps.loc[r, "known"]]
    if unknown:
        warnings.append(
            f"baseline owner(s) not in any reps file: {', '.join(map(str, unknown[:10]))}; their "
            "user associations are unknown and the rollback does not restore them"
        )
    notes: tuple[str, ...] = (
        "Use Data Loader (or Workbench) with the Bulk API off or in serial mode, so that "
        "parents load before children. Turn on 'Insert null values' in Data Loader's settings: "
        "an empty ForecastUserId or ParentTerritory2Id cell must clear the field.",
        "After each insert step, keep the loader's success file; before a step whose file "
        "has Id columns to fill, run `territory-opt export resolve` with the success files "
        "so far (or a SOQL export of Id and DeveloperName) and load the resolved copy.",
        "Deletes need the record Ids. For associations and quotas that existed before this "
        "export, export them first, e.g. `SELECT Id, ObjectId, Territory2Id FROM "
        "ObjectTerritory2Association WHERE Territory2.Territory2Model.DeveloperName = "
        f"'{o.model}'`, and pass that file to resolve.",
    )
    if ctx.full:
        notes += (
            "This is a first load (--full): every record is created, territory types "
            "included. Types are shared by all models of an org; if the loader reports a "
            "type's DeveloperName as a duplicate, that type exists already: its Id comes "
            "from a SOQL export (SELECT Id, DeveloperName FROM Territory2Type), and its row "
            "must be removed from the rollback's Territory2Type delete file.",
        )
    return Package(
        load=tuple(_steps(new, old)),
        rollback=tuple(_steps(old, new)),
        limits=LIMITS,
        issues=tuple(issues),
        warnings=tuple(warnings),
        notes=notes,
    )


def build_owner(ctx: Context) -> Package:
    """One Account update file setting OwnerId, for orgs without territory management."""
    positions = ctx.moved()
    new = ctx.plan.owners.to_numpy(dtype=object)
    old = ctx.baseline.owners.to_numpy(dtype=object)
    issues = account_id_issues(
        ctx.accounts,
        positions,
        pattern=SALESFORCE_ID,
        what="Salesforce Account Id",
        prefix=SALESFORCE_PREFIX["Account"],
    )
    needed_new = {str(new[p]) for p in positions}
    back = positions[old[positions] != ""]
    issues += rep_id_issues(
        [ctx.plan, ctx.baseline],
        needed_new,
        "crm_user_id",
        pattern=SALESFORCE_ID,
        what="Salesforce User Id",
        prefix=SALESFORCE_PREFIX["User"],
    )
    issues += rep_id_issues(
        [ctx.baseline, ctx.plan],
        {str(old[p]) for p in back},
        "crm_user_id",
        pattern=SALESFORCE_ID,
        what="Salesforce User Id",
        prefix=SALESFORCE_PREFIX["User"],
    )
    if issues:
        return Package((), (), issues=tuple(issues))

    def users(book: Book, reps: np.ndarray) -> list[str]:
        table = pd.concat(
            [
                book.reps["crm_user_id"],
                ctx.plan.reps["crm_user_id"],
                ctx.baseline.reps["crm_user_id"],
            ]
        )
        table = table[~table.index.duplicated()]
        return [str(table.get(r, "")) for r in reps]

    def table(pos: np.ndarray, owners: np.ndarray, book: Book) -> pd.DataFrame:
        frame = text_frame({"Id": ctx.accounts.crm_ids[pos], "OwnerId": users(book, owners[pos])})
        return frame.sort_values("Id", kind="stable").reset_index(drop=True)

    how = f"{DATA_LOADER}: Update, object Account (match on Id)"
    load = LoadFile(
        "Account_update_OwnerId.csv",
        "Account",
        Operation.UPDATE,
        ("Id",),
        table(positions, new, ctx.plan),
        how,
    )
    rollback = LoadFile(
        "Account_update_OwnerId.csv",
        "Account",
        Operation.UPDATE,
        ("Id",),
        table(back, old, ctx.baseline),
        how,
    )
    warnings = []
    if len(back) < len(positions):
        warnings.append(
            f"{len(positions) - len(back)} account(s) had no owner in the baseline; an Account "
            "needs an owner, so the rollback leaves them with the plan's owner"
        )
    notes = (
        "Changing an Account's OwnerId does not move its child records (contacts, "
        "opportunities, cases): Salesforce transfers them only when the owner is changed "
        "in the user interface with the transfer options. Move child records separately if "
        "the new owner should own them.",
    )
    return Package(
        load=(load,) if load.rows else (),
        rollback=(rollback,) if rollback.rows else (),
        warnings=tuple(warnings),
        notes=notes,
    )
