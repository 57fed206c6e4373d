"""Salesforce territory management end to end: load, resolve, load again, roll back.

A small in-memory org plays Salesforce and Data Loader: it gives new records
Ids, writes success files (``ID``, the loaded columns, ``STATUS``), and refuses
what Salesforce refuses: an Id column that was not filled in, a reference to a
record that does not exist, a duplicate DeveloperName or association, a
forecast manager who is not assigned to the territory, deleting a territory that
still has children or accounts, deleting a type or model still in use.

The scenario: last year's plan is loaded into an empty org with ``--full``
(that is the baseline). This year's plan is exported against it
(``--baseline``), resolved step by step and loaded; the org must then hold what
a first load of this year's plan into an empty org holds. Loading the rollback
set must give back the baseline exactly.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from territory_opt import InputError
from territory_opt.cli import app
from territory_opt.export import ExportOptions, export_plan, resolve_export
from tests.export_book import make_plan

PREFIX = {
    "Territory2Type": "0M5",
    "Territory2Model": "0MA",
    "Territory2": "0MI",
    "UserTerritory2Association": "0R0",
    "ObjectTerritory2Association": "0R5",
    "ForecastingQuota": "0J9",
    "ForecastingType": "0Db",
}
REFS = {
    "Territory2": {
        "Territory2ModelId": "Territory2Model",
        "Territory2TypeId": "Territory2Type",
        "ParentTerritory2Id": "Territory2",
    },
    "UserTerritory2Association": {"Territory2Id": "Territory2"},
    "ObjectTerritory2Association": {"Territory2Id": "Territory2"},
    "ForecastingQuota": {"Territory2Id": "Territory2", "ForecastingTypeId": "ForecastingType"},
}
UNIQUE = {
    "Territory2Type": ("DeveloperName",),
    "Territory2Model": ("DeveloperName",),
    "Territory2": ("DeveloperName",),
    "UserTerritory2Association": ("UserId", "Territory2Id"),
    "ObjectTerritory2Association": ("ObjectId", "Territory2Id"),
    "ForecastingQuota": ("QuotaOwnerId", "Territory2Id", "StartDate", "ForecastingTypeId"),
}
START = dt.date(2027, 1, 1)
OPTIONS = ExportOptions(quota_start=START, baseline_quota_start=START, currency="USD")


class Org:
    """Just enough of Salesforce to check load order, Ids and the final state."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, str]]] = {o: {} for o in PREFIX}
        self.counter = 0
        self.tables["ForecastingType"][self._new("ForecastingType")] = {
            "DeveloperName": "OpportunityRevenue"
        }

    def _new(self, obj: str) -> str:
        self.counter += 1
        return f"{PREFIX[obj]}{self.counter:012d}"

    def _check(self, obj: str, rid: str, rec: dict[str, str]) -> None:
        for field, target in REFS.get(obj, {}).items():
            value = rec.get(field, "")
            assert not value or value in self.tables[target], f"{obj}.{field}={value!r}"
        key = tuple(rec.get(k, "") for k in UNIQUE[obj])
        for other_id, other in self.tables[obj].items():
            if other_id != rid:
                assert tuple(other.get(k, "") for k in UNIQUE[obj]) != key, f"duplicate {key}"
        user = rec.get("ForecastUserId", "")
        if obj == "Territory2" and user:
            assert any(
                a["UserId"] == user and a["Territory2Id"] == rid
                for a in self.tables["UserTerritory2Association"].values()
            ), "forecast manager not assigned to the territory"

    def _delete(self, obj: str, rid: str) -> None:
        assert rid in self.tables[obj], f"no {obj} {rid!r}"
        for child_obj, refs in REFS.items():
            for field, target in refs.items():
                if target == obj:
                    users = [r for r in self.tables[child_obj].values() if r.get(field) == rid]
                    assert not users, f"{obj} {rid} still used by {child_obj}.{field}"
        if obj == "UserTerritory2Association":
            assoc = self.tables[obj][rid]
            territory = self.tables["Territory2"][assoc["Territory2Id"]]
            assert territory.get("ForecastUserId", "") != assoc["UserId"], "still forecast manager"
        del self.tables[obj][rid]

    def load(self, path: Path, obj: str, operation: str, success: Path) -> Path:
        """Load one file like Data Loader; return the success file."""
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        out = []
        for row in table.to_dict("records"):
            if operation == "insert":
                assert not row.get("Id"), "insert rows have no Id"
                rid = self._new(obj)
                rec = {k: v for k, v in row.items() if k != "Id"}
                self._check(obj, rid, rec)
                self.tables[obj][rid] = rec
            elif operation == "update":
                rid = row["Id"]
                assert rid in self.tables[obj], f"no {obj} {rid!r} to update"
                rec = {**self.tables[obj][rid], **{k: v for k, v in row.items() if k != "Id"}}
                self._check(obj, rid, rec)
                self.tables[obj][rid] = rec
            else:
                rid = row["Id"]
                self._delete(obj, rid)
            out.append({"ID": rid, **row, "STATUS": "Item Created"})
        with success.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["ID", *table.columns, "STATUS"])
            writer.writeheader()
            writer.writerows(out)
        return success

    def soql(self, folder: Path) -> list[str]:
        """Id exports of every record (what an admin would query before deleting)."""
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for obj, records in self.tables.items():
            if not records:
                continue
            columns = ["DeveloperName"] if obj not in REFS or obj == "Territory2" else []
            if obj in UNIQUE and obj not in ("Territory2Type", "Territory2Model", "Territory2"):
                columns = list(UNIQUE[obj])
            rows = [{"Id": rid, **{c: r.get(c, "") for c in columns}} for rid, r in records.items()]
            path = folder / f"{obj}.csv"
            pd.DataFrame(rows, columns=["Id", *columns]).to_csv(path, index=False)
            files.append(f"{obj}={path}")
        return files

    def state(self) -> dict[str, set[tuple[tuple[str, str], ...]]]:
        """Every record without its Id, references written as the referenced DeveloperName."""
        out = {}
        for obj, records in self.tables.items():
            rows = set()
            for rec in records.values():
                items = []
                for field, value in sorted(rec.items()):
                    target = REFS.get(obj, {}).get(field)
                    if target and value:
                        value = self.tables[target][value]["DeveloperName"]
                    if value:
                        items.append((field, value))
                rows.add(tuple(items))
            out[obj] = rows
        return out


def load_phase(
    org: Org, export: Path, phase: str, work: Path, id_files: list[str]
) -> tuple[Path, list[str]]:
    """Load one phase of an export, resolving before each step that needs Ids."""
    manifest = json.loads((export / "manifest.json").read_text())
    work.mkdir(parents=True, exist_ok=True)
    current = export
    new_files = list(id_files)
    for entry in [f for f in manifest["files"] if f["phase"] == phase]:
        if entry["references"]:
            resolved = work / f"resolved-{phase}-{entry['step']:02d}"
            written = resolve_export(current, new_files, resolved)
            current, new_files = resolved, []
            done = next(f for f in written["files"] if f["file"] == entry["file"])
            assert done["unresolved"] == 0, f"{entry['file']} is not ready"
        success = work / f"success-{phase}-{entry['step']:02d}.csv"
        org.load(current / entry["file"], entry["object"], entry["operation"], success)
        new_files.append(str(success))
    return current, new_files


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sf")
    return make_plan(root / "now", "salesforce"), make_plan(
        root / "before", "salesforce", previous=True
    )


def test_diff_load_then_rollback_gives_back_the_baseline(
    plans: tuple[Path, Path], tmp_path: Path
) -> None:
    now, before = plans
    # The baseline org: last year's plan loaded into an empty org.
    org = Org()
    first = export_plan(before, tmp_path / "first", target="salesforce", full=True, options=OPTIONS)
    assert first.manifest["load_order"][0].endswith("Territory2Type_insert.csv")
    load_phase(org, tmp_path / "first", "load", tmp_path / "w1", org.soql(tmp_path / "s1"))
    baseline = org.state()
    assert len(baseline["ObjectTerritory2Association"]) == 9
    assert len(baseline["ForecastingQuota"]) == 5 * 4

    # This year's plan, as changes against last year's.
    export_plan(now, tmp_path / "diff", target="salesforce", baseline=before, options=OPTIONS)
    soql = org.soql(tmp_path / "soql")
    last, ids = load_phase(org, tmp_path / "diff", "load", tmp_path / "w2", soql)

    # The same plan loaded into an empty org gives the same records.
    fresh = Org()
    export_plan(now, tmp_path / "fresh", target="salesforce", full=True, options=OPTIONS)
    load_phase(fresh, tmp_path / "fresh", "load", tmp_path / "w3", fresh.soql(tmp_path / "s3"))
    assert org.state() == fresh.state()
    assert org.state() != baseline

    # Rollback, resolved with the success files of the load.
    load_phase(org, last, "rollback", tmp_path / "w4", ids)
    assert org.state() == baseline


def test_full_load_rollback_empties_the_org(plans: tuple[Path, Path], tmp_path: Path) -> None:
    now, _ = plans
    org = Org()
    empty = org.state()
    export_plan(now, tmp_path / "e", target="salesforce", full=True, options=OPTIONS)
    last, ids = load_phase(org, tmp_path / "e", "load", tmp_path / "w", org.soql(tmp_path / "s"))
    assert len(org.tables["Territory2"]) == 2 + 4  # two teams, four reps
    load_phase(org, last, "rollback", tmp_path / "w", ids)
    assert org.state() == empty


def test_resolve_round_trip(plans: tuple[Path, Path], tmp_path: Path) -> None:
    now, _ = plans
    export_plan(now, tmp_path / "e", target="salesforce", full=True, options=OPTIONS)
    ok = tmp_path / "types_ok.csv"
    types = pd.read_csv(tmp_path / "e" / "load" / "01_Territory2Type_insert.csv", dtype=str)
    # A Data Loader success file: ID first, the loaded columns, STATUS; 18-character Ids.
    ids = [f"0M5000000000{n:03d}AAA" for n in range(len(types))]
    pd.DataFrame({"ID": ids, **types, "STATUS": "Item Created"}).to_csv(ok, index=False)
    model = tmp_path / "model.csv"
    model.write_text("Id,DeveloperName\n0MA000000000001,Territory_Plan\n", encoding="utf-8")
    manifest = resolve_export(tmp_path / "e", [ok, f"Territory2Model={model}"], tmp_path / "r")
    depth1 = pd.read_csv(next((tmp_path / "r" / "load").glob("*Territory2_insert_depth1.csv")))
    assert set(depth1["Territory2ModelId"]) == {"0MA000000000001"}
    by_name = dict(zip(types["DeveloperName"], ids, strict=True))
    keys = pd.read_csv(next((tmp_path / "r" / "keys" / "load").glob("*depth1.csv")), dtype=str)
    assert list(depth1["Territory2TypeId"]) == [by_name[t] for t in keys["Territory2TypeId"]]
    entry = next(f for f in manifest["files"] if f["file"].endswith("depth1.csv"))
    assert entry["unresolved"] == 0
    depth2 = next(f for f in manifest["files"] if f["file"].endswith("depth2.csv"))
    assert depth2["unresolved"] == depth2["rows"]  # parents are not loaded yet
    # Resolving again with nothing new changes nothing.
    again = resolve_export(tmp_path / "r", [], tmp_path / "r2")
    for path in (tmp_path / "r").rglob("*.csv"):
        twin = tmp_path / "r2" / path.relative_to(tmp_path / "r")
        assert path.read_bytes() == twin.read_bytes(), path
    assert again["resolved"]["ids"] == manifest["resolved"]["ids"]
    runbook = (tmp_path / "r" / "LOAD_ORDER.md").read_text(encoding="utf-8")
    assert "ready to load" in runbook and "Not ready" in runbook


def test_resolve_refuses_conflicts_and_edited_exports(
    plans: tuple[Path, Path], tmp_path: Path
) -> None:
    now, _ = plans
    export_plan(now, tmp_path / "e", target="salesforce", full=True, options=OPTIONS)
    twice = tmp_path / "twice.csv"
    twice.write_text(
        "Id,DeveloperName\n0MA000000000001,Territory_Plan\n0MA000000000002,Territory_Plan\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="has Id"):
        resolve_export(tmp_path / "e", [f"Territory2Model={twice}"], tmp_path / "r")
    errors = tmp_path / "error.csv"
    errors.write_text("Id,DeveloperName,ERROR\n,T_R1,duplicate value\n", encoding="utf-8")
    with pytest.raises(InputError, match="error file"):
        resolve_export(tmp_path / "e", [errors], tmp_path / "r")
    edited = next((tmp_path / "e" / "load").glob("*depth1.csv"))
    edited.write_text(edited.read_text() + "X,Y,Z,,,,,\n", encoding="utf-8")
    with pytest.raises(InputError, match="changed since"):
        resolve_export(tmp_path / "e", [], tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_cli_resolve(plans: tuple[Path, Path], tmp_path: Path) -> None:
    now, _ = plans
    runner = CliRunner()
    out = tmp_path / "e"
    result = runner.invoke(
        app,
        [
            "export",
            str(now),
            "--to",
            "salesforce",
            "--full",
            "--out",
            str(out),
            "--quota-start",
            "2027-01-01",
        ],
    )
    assert result.exit_code == 0, result.output
    model = tmp_path / "model.csv"
    model.write_text("Id,DeveloperName\n0MA000000000001,Territory_Plan\n", encoding="utf-8")
    resolved = runner.invoke(
        app, ["export", "resolve", str(out), "--ids", str(model), "--out", str(tmp_path / "r")]
    )
    assert resolved.exit_code == 0, resolved.output
    assert (tmp_path / "r" / "ids.csv").read_text().splitlines()[1].startswith("Territory2Model,")
    bad_date = runner.invoke(
        app,
        [
            "export",
            str(now),
            "--to",
            "salesforce",
            "--out",
            str(tmp_path / "x"),
            "--quota-start",
            "soon",
        ],
    )
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output
