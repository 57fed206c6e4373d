"""HubSpot: company owner changes as an import file and as batch-update requests.

Two ways to load the same change, use one:

- ``companies_import.csv`` for HubSpot's import (Contacts > Import, object
  Companies): ``Record ID`` matches the company, ``Company owner`` is the new
  owner's email, and an optional column carries the territory to a company
  property.
- ``companies_batch_update.jsonl``: one request body per line for
  ``POST /crm/v3/objects/companies/batch/update`` (at most 100 companies per
  request), setting ``hubspot_owner_id``. That is the *owner* id, which the
  owners API returns as ``id``; the ``userId`` it also returns is a different
  number and fails as an owner.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from territory_opt._errors import InputError, Issue, IssueCollector
from territory_opt.export.book import Book, territory_of
from territory_opt.export.checks import EMAIL, HUBSPOT_ID, account_id_issues
from territory_opt.export.files import Format, LoadFile, Operation, jsonl_bytes, text_frame
from territory_opt.export.package import Context, Package

#: Inputs per batch request (HubSpot CRM batch endpoints accept at most 100).
BATCH_SIZE = 100
#: Rows per import file (HubSpot imports accept up to 1,048,576 rows per file).
IMPORT_MAX_ROWS = 1_048_576
#: A property value may hold at most 65,536 characters.
PROPERTY_MAX = 65_536
IMPORT_HOW = (
    "HubSpot: Import > Start an import > File from computer > One file > Companies; "
    "map Record ID and Company owner"
)
API_HOW = (
    "HubSpot API: POST /crm/v3/objects/companies/batch/update, one line = one request "
    "body (the same changes as {other}; use one or the other)"
)


def read_owners(path: Path) -> dict[str, str]:
    """Map of lower-case email to HubSpot owner id from an owners file.

    Accepts the JSON of ``GET /crm/v3/owners`` (``{"results": [...]}`` or a
    list) or a table (CSV, XLSX...) with columns ``id`` and ``email``.

    Raises
    ------
    InputError
        When the file has no owner id column (a ``userId`` column is not one),
        or one email maps to two owner ids.
    """
    from territory_opt.data.cells import text_cells
    from territory_opt.data.io import read_table

    if not path.is_file():
        raise InputError.single(str(path), "file does not exist")
    rows: list[tuple[int, str, str]] = []
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise InputError.single(path.name, f"is not valid JSON: {err}") from None
        items = doc.get("results", []) if isinstance(doc, dict) else doc
        for n, item in enumerate(items if isinstance(items, list) else [], start=1):
            if not isinstance(item, dict) or "id" not in item:
                has_user = isinstance(item, dict) and "userId" in item
                hint = " (userId is not the owner id)" if has_user else ""
                raise InputError.single(path.name, f"owner {n} has no 'id'{hint}", column="id")
            rows.append((n, str(item.get("email") or ""), str(item["id"])))
    else:
        table = read_table(path)
        lower = {str(c).lower(): str(c) for c in table.frame.columns}
        id_col = next(
            (lower[c] for c in ("id", "owner_id", "ownerid", "owner id") if c in lower), None
        )
        if id_col is None or "email" not in lower:
            hint = " (userId is the user id, not the owner id)" if "userid" in lower else ""
            raise InputError.single(
                table.file, f"needs columns 'id' (the owner id) and 'email'{hint}", row=1
            )
        ids = text_cells(table.frame[id_col])
        emails = text_cells(table.frame[lower["email"]])
        rows = [(int(r), str(e), str(i)) for r, e, i in zip(table.rows, emails, ids, strict=True)]
    owners: dict[str, str] = {}
    collector = IssueCollector(path.name)
    for row, email, owner in rows:
        key = email.strip().lower()
        if not key:
            continue
        if key in owners and owners[key] != owner:
            collector.add(f"email {email} has two owner ids: {owners[key]} and {owner}", row=row)
        owners.setdefault(key, owner)
    collector.raise_if_any()
    return owners


def _owner_ids(
    ctx: Context, owners: Mapping[str, str] | None
) -> tuple[dict[str, str], list[Issue]]:
    """Owner id of every rep of both books, and conflicts with the reps file."""
    out: dict[str, str] = {}
    issues: list[Issue] = []
    for book in (ctx.plan, ctx.baseline):
        for rep_id, rep in book.reps.iterrows():
            if rep_id in out:
                continue
            given = str(rep["hubspot_owner_id"])
            found = (owners or {}).get(str(rep["email"]).strip().lower(), "")
            if given and found and given != found:
                at = book.where(str(rep_id), "hubspot_owner_id")
                issues.append(
                    Issue(
                        at.file,
                        at.row,
                        at.column,
                        f"rep '{rep_id}' has hubspot_owner_id {given} but the owners file gives "
                        f"{found} for {rep['email']}",
                    )
                )
            out[str(rep_id)] = found or given
    return out, issues


def _rep_issues(
    books: list[Book], reps: Iterable[str], owner_ids: Mapping[str, str], *, with_owners_file: bool
) -> list[Issue]:
    issues: list[Issue] = []
    for rep_id in sorted(set(reps) - {""}):
        book = next((b for b in books if rep_id in b.reps.index), books[0])
        rep = book.reps.loc[rep_id]
        if not bool(rep["known"]):
            at = book.where(rep_id, "email")
            issues.append(
                Issue(
                    at.file,
                    at.row,
                    at.column,
                    f"rep '{rep_id}' is not in the reps file, so its HubSpot owner is unknown",
                )
            )
            continue
        email = str(rep["email"])
        if not EMAIL.match(email):
            at = book.where(rep_id, "email")
            what = (
                "has no email"
                if not email
                else f"has email '{email}', which is not an email address"
            )
            issues.append(
                Issue(
                    at.file,
                    at.row,
                    at.column,
                    f"rep '{rep_id}' {what}; Company owner needs the owner's email",
                )
            )
        owner = owner_ids.get(rep_id, "")
        if not HUBSPOT_ID.match(owner):
            at = book.where(rep_id, "hubspot_owner_id")
            if owner:
                problem = f"'{owner}' of rep '{rep_id}' is not a HubSpot owner id (a whole number)"
            elif with_owners_file:
                problem = (
                    f"rep '{rep_id}' ({email}) is not in the owners file "
                    "and has no hubspot_owner_id"
                )
            else:
                problem = (
                    f"rep '{rep_id}' has no hubspot_owner_id; "
                    "add it or pass --owners (GET /crm/v3/owners)"
                )
            issues.append(Issue(at.file, at.row, at.column, problem))
    return issues


def _files(
    ctx: Context,
    positions: np.ndarray,
    book: Book,
    owner_ids: Mapping[str, str],
    *,
    clear_in_csv: bool,
) -> list[LoadFile]:
    reps = book.owners.to_numpy(dtype=object)[positions]
    record = ctx.accounts.crm_ids[positions]
    emails = [str(book.reps.loc[r, "email"]) if r else "" for r in reps]
    prop = ctx.options.territory_property
    columns: dict[str, Iterable[object]] = {"Record ID": record, "Company owner": emails}
    if prop:
        columns[prop] = [territory_of(str(r)) if r else "" for r in reps]
    table = text_frame(columns).sort_values("Record ID", kind="stable").reset_index(drop=True)
    if not clear_in_csv:
        table = table[table["Company owner"] != ""].reset_index(drop=True)
    api_columns: dict[str, Iterable[object]] = {
        "id": record,
        "hubspot_owner_id": [owner_ids.get(str(r), "") if r else "" for r in reps],
    }
    if prop:
        api_columns[prop] = columns[prop]
    api = text_frame(api_columns).sort_values("id", kind="stable").reset_index(drop=True)
    lines = []
    names = [c for c in api.columns if c != "id"]
    for start in range(0, len(api), BATCH_SIZE):
        chunk = api.iloc[start : start + BATCH_SIZE]
        inputs = [
            {"id": row[0], "properties": dict(zip(names, row[1:], strict=True))}
            for row in chunk.itertuples(index=False)
        ]
        lines.append({"inputs": inputs})
    files = []
    if len(table):
        files.append(
            LoadFile(
                "companies_import.csv",
                "companies",
                Operation.UPDATE,
                ("Record ID",),
                table,
                IMPORT_HOW,
            )
        )
    if len(api):
        other = "companies_import.csv" if len(table) else "nothing else"
        files.append(
            LoadFile(
                "companies_batch_update.jsonl",
                "companies",
                Operation.UPDATE,
                ("id",),
                api,
                API_HOW.format(other=other),
                fmt=Format.JSONL,
                payload=jsonl_bytes(lines),
            )
        )
    return files


def build(ctx: Context) -> Package:
    """Owner changes of the plan's companies, and their rollback."""
    owners = read_owners(ctx.options.owners_file) if ctx.options.owners_file else None
    owner_ids, issues = _owner_ids(ctx, owners)
    positions = ctx.moved()
    new = ctx.plan.owners.to_numpy(dtype=object)
    old = ctx.baseline.owners.to_numpy(dtype=object)
    issues += account_id_issues(
        ctx.accounts, positions, pattern=HUBSPOT_ID, what="HubSpot company Record ID"
    )
    issues += _rep_issues(
        [ctx.plan, ctx.baseline],
        (str(new[p]) for p in positions),
        owner_ids,
        with_owners_file=owners is not None,
    )
    issues += _rep_issues(
        [ctx.baseline, ctx.plan],
        (str(old[p]) for p in positions),
        owner_ids,
        with_owners_file=owners is not None,
    )
    if issues:
        return Package((), (), issues=tuple(issues))
    cleared = int((old[positions] == "").sum())
    warnings = []
    if cleared:
        warnings.append(
            f"{cleared} compan(ies) had no owner in the baseline; an import cannot clear a "
            "value, so the rollback CSV leaves them out: use the rollback JSONL, which "
            "clears the owner"
        )
    limits = {
        "companies": {
            "rows": IMPORT_MAX_ROWS,
            **(
                {ctx.options.territory_property: PROPERTY_MAX}
                if ctx.options.territory_property
                else {}
            ),
        }
    }
    notes = (
        "The import matches companies on Record ID and sets Company owner by the owner's "
        "email; the owner must be a HubSpot user of the account. In the import, choose to "
        "update existing companies only.",
        "The JSONL lines are request bodies for the batch update endpoint; send them one by one "
        "with a private app token that has the crm.objects.companies.write scope.",
    )
    return Package(
        load=tuple(_files(ctx, positions, ctx.plan, owner_ids, clear_in_csv=True)),
        rollback=tuple(_files(ctx, positions, ctx.baseline, owner_ids, clear_in_csv=False)),
        limits=limits,
        warnings=tuple(warnings),
        notes=notes,
    )


__all__ = ["build", "read_owners"]
