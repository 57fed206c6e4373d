"""``territory-opt export resolve``: fill in Salesforce Ids known only at load time.

Load files name the records they point to by DeveloperName (Territory2Model,
Territory2Type, Territory2, ForecastingType). After a step is loaded, the
loader's success file (its ``ID`` column next to the loaded DeveloperName) or a
SOQL export (``SELECT Id, DeveloperName FROM Territory2 WHERE ...``) tells the
Ids. Rows to delete or update need their own Id: association and quota Ids are
matched on their key columns (``ObjectId, Territory2Id``; ``UserId,
Territory2Id``; ``QuotaOwnerId, Territory2Id, StartDate, ForecastingTypeId``)
from a success file or a SOQL export with those columns.

Resolving writes a new export folder: the same files with every Id that is known
filled in, the Ids in ``ids.csv`` (so the next resolve needs only the new
success files), the files as exported in ``keys/`` (each resolve starts from the
names again, so an Id that changed, e.g. of a territory deleted and created
again by a rollback, is taken from the newest file), and the manifest and
runbook saying which steps are ready.
Salesforce accepts 15- and 18-character Ids; they are matched on their first 15.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from territory_opt._errors import InputError, Issue, IssueCollector
from territory_opt.export.files import (
    Format,
    LoadFile,
    Operation,
    Reference,
    csv_bytes,
    text_frame,
)
from territory_opt.export.writer import EXPORT_FORMAT_VERSION, Placed, sha256, write_export

#: Objects whose rows are found by key columns instead of a DeveloperName.
KEYED = {
    "ForecastingQuota": ("QuotaOwnerId", "Territory2Id", "StartDate", "ForecastingTypeId"),
    "UserTerritory2Association": ("UserId", "Territory2Id"),
    "ObjectTerritory2Association": ("ObjectId", "Territory2Id"),
}
_CANONICAL = {
    c.lower(): c
    for c in (
        "Id",
        "DeveloperName",
        "ObjectId",
        "Territory2Id",
        "UserId",
        "QuotaOwnerId",
        "StartDate",
        "ForecastingTypeId",
    )
}
_SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
IDS_FILE = "ids.csv"
#: Separator of key values in ``ids.csv``.
KEY_SEPARATOR = "|"


def norm(value: str) -> str:
    """Salesforce Id in its 15-character form (other values unchanged).

    Examples
    --------
    >>> norm("0MI5e000000XyZ1AAK"), norm("2027-01-01")
    ('0MI5e000000XyZ1', '2027-01-01')
    """
    return value[:15] if _SALESFORCE_ID.match(value) else value


@dataclass
class IdBook:
    """Ids known so far: by DeveloperName, or by key for associations and quotas."""

    names: dict[str, dict[str, str]] = field(default_factory=dict)
    keyed: dict[str, dict[tuple[str, ...], str]] = field(default_factory=dict)

    def known(self, obj: str) -> set[str]:
        """Normalised Ids of an object."""
        ids = set(self.names.get(obj, {}).values()) | set(self.keyed.get(obj, {}).values())
        return {norm(i) for i in ids}

    def add_name(self, obj: str, name: str, record_id: str, where: Issue) -> Issue | None:
        """Record an Id by DeveloperName; an Issue when the name already has another Id."""
        table = self.names.setdefault(obj, {})
        if name in table and norm(table[name]) != norm(record_id):
            return Issue(
                where.file,
                where.row,
                "Id",
                f"{obj} '{name}' has Id {record_id} here and {table[name]} elsewhere; "
                "export the Ids of one territory model only",
            )
        table.setdefault(name, record_id)
        return None

    def add_key(self, obj: str, key: tuple[str, ...], record_id: str) -> None:
        """Record an Id by its (normalised) key values."""
        self.keyed.setdefault(obj, {}).setdefault(tuple(norm(k) for k in key), record_id)

    def update(self, newer: IdBook) -> None:
        """Take the Ids of ``newer`` over these (a record created again has a new Id)."""
        for obj, names in newer.names.items():
            self.names.setdefault(obj, {}).update(names)
        for obj, keyed in newer.keyed.items():
            self.keyed.setdefault(obj, {}).update(keyed)

    def count(self) -> int:
        """Count the Ids known."""
        return sum(len(v) for v in self.names.values()) + sum(len(v) for v in self.keyed.values())

    def table(self) -> pd.DataFrame:
        """All Ids as ``object, key, Id`` rows, sorted."""
        rows = [(o, n, i) for o, t in self.names.items() for n, i in t.items()]
        rows += [(o, KEY_SEPARATOR.join(k), i) for o, t in self.keyed.items() for k, i in t.items()]
        rows.sort()
        return text_frame(
            {
                "object": [r[0] for r in rows],
                "key": [r[1] for r in rows],
                "Id": [r[2] for r in rows],
            }
        )


def resolve_file(file: LoadFile, ids: IdBook) -> tuple[pd.DataFrame, int]:
    """Fill a file's Id columns from ``ids``; return the table and the cells still missing."""
    table = file.table.copy()
    missing = 0
    by_name = [r for r in file.references if r.by == ("DeveloperName",)]
    by_key = [r for r in file.references if r.by != ("DeveloperName",)]
    for ref in by_name:
        known = ids.known(ref.object)
        names = ids.names.get(ref.object, {})
        source = table["DeveloperName"] if ref.column == "Id" else table[ref.column]
        values = table[ref.column].to_numpy(dtype=object).copy()
        for pos, (cell, name) in enumerate(zip(values, source, strict=True)):
            if norm(str(cell)) in known or (cell == "" and ref.column != "Id"):
                continue
            if name in names:
                values[pos] = names[name]
            else:
                missing += 1
        table[ref.column] = values
    for ref in by_key:
        known = ids.known(ref.object)
        keyed = ids.keyed.get(ref.object, {})
        values = table[ref.column].to_numpy(dtype=object).copy()
        keys = table[list(ref.by)].to_numpy(dtype=object)
        for pos, cell in enumerate(values):
            if cell and norm(str(cell)) in known:
                continue
            found = keyed.get(tuple(norm(str(k)) for k in keys[pos]))
            if found is None:
                missing += 1
            else:
                values[pos] = found
        table[ref.column] = values
    return table.astype(object), missing


def pending(file: LoadFile) -> int:
    """Cells of a freshly exported file that still need an Id."""
    return resolve_file(file, IdBook())[1]


def _columns(frame: pd.DataFrame) -> dict[str, str]:
    """File column of each canonical column name (case-insensitive)."""
    out: dict[str, str] = {}
    for col in frame.columns:
        canonical = _CANONICAL.get(str(col).strip().lower())
        if canonical and canonical not in out:
            out[canonical] = str(col)
    return out


def _split(arg: str | Path) -> tuple[str | None, Path]:
    text = str(arg)
    if not Path(text).exists() and "=" in text:
        obj, _, path = text.partition("=")
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", obj):
            return obj, Path(path)
    return None, Path(text)


def _named_objects(files: Sequence[LoadFile]) -> dict[str, set[str]]:
    """DeveloperNames of each object that the export refers to."""
    out: dict[str, set[str]] = {}
    for f in files:
        if "DeveloperName" in f.table.columns and f.object not in KEYED:
            out.setdefault(f.object, set()).update(f.table["DeveloperName"])
        for ref in f.references:
            if ref.by == ("DeveloperName",) and ref.column != "Id":
                out.setdefault(ref.object, set()).update(v for v in f.table[ref.column] if v)
    return out


def read_ids(
    args: Sequence[str | Path], files: Sequence[LoadFile], ids: IdBook
) -> list[dict[str, str]]:
    """Add the Ids of success files and SOQL exports to ``ids``.

    Parameters
    ----------
    args
        Paths, each optionally prefixed ``OBJECT=`` (e.g. ``Territory2=ok.csv``)
        when the object cannot be told from the file.
    files
        The export's files (to tell which object a file of DeveloperNames is about).
    ids
        Updated in place.

    Returns
    -------
    list of dict
        ``file`` and ``sha256`` of every file read, for the manifest.
    """
    from territory_opt.data.cells import text_cells
    from territory_opt.data.io import read_table, sha256_of

    named = _named_objects(files)
    issues: list[Issue] = []
    read: list[dict[str, str]] = []
    for arg in args:
        obj, path = _split(arg)
        table = read_table(path)
        collector = IssueCollector(table.file)
        cols = _columns(table.frame)
        if any(str(c).strip().lower() == "error" for c in table.frame.columns):
            raise InputError.single(
                table.file, "is a loader error file; pass the success file", row=1
            )
        if "Id" not in cols:
            raise InputError.single(table.file, "has no Id column", row=1, column="Id")
        cells = {c: text_cells(table.frame[f]) for c, f in cols.items()}
        record_ids = cells["Id"]
        keyed = obj if obj in KEYED else None
        if keyed is None and obj is None and "DeveloperName" not in cols:
            keyed = next((o for o, key in KEYED.items() if all(k in cols for k in key)), None)
        if keyed is not None:
            key = KEYED[keyed]
            if not all(k in cols for k in key):
                raise InputError.single(
                    table.file, f"needs the columns Id, {', '.join(key)} for {keyed}", row=1
                )
            for pos, record_id in enumerate(record_ids):
                if record_id:
                    ids.add_key(keyed, tuple(str(cells[k][pos]) for k in key), str(record_id))
        elif "DeveloperName" in cols:
            names = [str(n) for n in cells["DeveloperName"]]
            target = obj or _guess(named, names, table.file)
            if target is None:
                read.append({"file": table.file, "sha256": sha256_of(path)})
                continue
            for pos, (name, record_id) in enumerate(zip(names, record_ids, strict=True)):
                if name and record_id:
                    issue = ids.add_name(
                        target,
                        name,
                        str(record_id),
                        Issue(table.file, int(table.rows[pos]), None, ""),
                    )
                    if issue:
                        issues.append(issue)
        else:
            collector.add(
                "has neither DeveloperName nor the key columns of an association or quota "
                "(ObjectId/UserId, Territory2Id)",
                row=1,
            )
        collector.raise_if_any()
        read.append({"file": table.file, "sha256": sha256_of(path)})
    if issues:
        raise InputError(issues)
    return read


def _guess(named: Mapping[str, set[str]], names: Sequence[str], file: str) -> str | None:
    """Guess the object whose DeveloperNames the file holds (None: none of ours)."""
    overlap = {obj: len(set(names) & known) for obj, known in named.items()}
    best = max(overlap.values(), default=0)
    if best == 0:
        return None
    winners = sorted(o for o, n in overlap.items() if n == best)
    if len(winners) > 1:
        raise InputError.single(
            file,
            f"its DeveloperNames fit {' and '.join(winners)}; prefix the file with the object, "
            f"e.g. {winners[0]}={file}",
        )
    return winners[0]


def _read_export(folder: Path) -> tuple[dict[str, Any], list[Placed], IdBook]:
    import json

    meta_path = folder / "manifest.json"
    if not meta_path.is_file():
        raise InputError.single(str(folder), "is not an export folder (no manifest.json)")
    try:
        manifest = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError.single(str(meta_path), f"is not valid JSON: {err}") from None
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if not isinstance(version, int) or version > EXPORT_FORMAT_VERSION:
        raise InputError.single(
            str(meta_path),
            f"export format version {version!r} is not one this tool reads "
            f"(up to {EXPORT_FORMAT_VERSION}); upgrade territory-opt or export again",
            column="format_version",
        )
    placed = []
    for entry in manifest["files"]:
        path = folder / entry["file"]
        if not path.is_file() or sha256(path.read_bytes()) != entry["sha256"]:
            raise InputError.single(
                str(path), "is missing or changed since the export was written; export again"
            )
        if entry["format"] != str(Format.CSV):
            raise InputError.single(
                str(path), "only CSV load files have Ids to fill in; this export has none"
            )
        if entry.get("key_file"):  # an earlier resolve: start again from the names
            path = folder / entry["key_file"]
            if not path.is_file() or sha256(path.read_bytes()) != entry["key_sha256"]:
                raise InputError.single(str(path), "is missing or changed since it was written")
        table = pd.read_csv(path, dtype=str, keep_default_na=False).astype(object)
        refs = tuple(
            Reference(r["column"], r["object"], tuple(r["by"])) for r in entry["references"]
        )
        load_file = LoadFile(
            name=entry["file"].split("/", 1)[1].split("_", 1)[1],
            object=entry["object"],
            operation=Operation(entry["operation"]),
            key=tuple(entry["key"]),
            table=table,
            how=entry["how"],
            references=refs,
        )
        placed.append(Placed(entry["file"], entry["phase"], entry["step"], load_file))
    ids = IdBook()
    if (folder / IDS_FILE).is_file():
        known = pd.read_csv(folder / IDS_FILE, dtype=str, keep_default_na=False)
        for obj, key, record_id in known[["object", "key", "Id"]].itertuples(index=False):
            if obj in KEYED:
                ids.add_key(obj, tuple(key.split(KEY_SEPARATOR)), record_id)
            else:
                ids.names.setdefault(obj, {})[key] = record_id
    return manifest, placed, ids


def resolve_export(
    export_dir: str | Path,
    id_files: Sequence[str | Path],
    out: str | Path,
    *,
    force: bool = False,
) -> dict[str, Any]:
    """Write a copy of an export with the Ids known from ``id_files`` filled in.

    Parameters
    ----------
    export_dir
        A folder written by ``territory-opt export`` (or by an earlier resolve).
    id_files
        Loader success files and SOQL exports; ``OBJECT=PATH`` names the object
        when the file alone does not tell.
    out
        Folder to write.
    force
        Replace an existing folder.

    Returns
    -------
    dict
        The manifest written; ``files[i]["unresolved"]`` counts the cells still
        waiting for an Id.

    Raises
    ------
    InputError
        When the export was changed, an id file is unreadable or gives two Ids
        for one record.
    """
    from territory_opt._atomic import check_output_folder

    folder = Path(export_dir)
    check_output_folder(Path(out), force=force)
    manifest, placed, ids = _read_export(folder)
    if not any(p.file.references for p in placed):
        raise InputError.single(str(folder), "has no Id columns to fill in (nothing to resolve)")
    fresh = IdBook()
    read = read_ids(id_files, [p.file for p in placed], fresh)
    ids.update(fresh)
    resolved = []
    for p in placed:
        if not p.file.references:
            resolved.append(p)
            continue
        table, missing = resolve_file(p.file, ids)
        new_file = LoadFile(
            p.file.name,
            p.file.object,
            p.file.operation,
            p.file.key,
            table,
            p.file.how,
            p.file.references,
        )
        resolved.append(
            Placed(p.path, p.phase, p.step, new_file, unresolved=missing, source=p.file)
        )
    meta = {
        k: v
        for k, v in manifest.items()
        if k
        not in {
            "format_version",
            "load_order",
            "rollback_order",
            "files",
            "review_files",
            "formula_cells",
            "other_files",
        }
    }
    earlier = (manifest.get("resolved") or {}).get("id_files", [])
    meta["resolved"] = {"id_files": [*earlier, *read], "ids": ids.count()}
    extra = {IDS_FILE: csv_bytes(ids.table())}
    return write_export(Path(out), meta, resolved, force=force, extra=extra)
