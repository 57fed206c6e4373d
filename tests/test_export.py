"""CRM export: golden files per target, byte-identical reruns, load-file format, checks.

The fixture is the small hand-made book of ``tests/export_book.py``, planned with
the real alignment and quota code. Golden files live in
``tests/golden/export/<target>/``: every text file of the export (load and
rollback files, review CSVs, ``LOAD_ORDER.md`` and ``manifest.json``). Binary
files (Parquet, GeoPackage, XLSX) are compared through their sha256 in the
reruns test, not kept as goldens; the manifest's tool version is written as
``<version>``.

To regenerate the goldens after an intended change, run::

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_export.py -k golden

and review the diff before committing.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from territory_opt import InputError, __version__
from territory_opt.alignment import AlignmentSpec, align
from territory_opt.cli import app
from territory_opt.data import load_problem
from territory_opt.export import ExportOptions, export_plan
from territory_opt.export.checks import developer_name, developer_name_problem
from territory_opt.export.files import csv_text
from territory_opt.export.hubspot import read_owners
from territory_opt.export.salesforce import TERRITORIES_PER_MODEL, type_priority
from territory_opt.plan import write_plan
from tests.export_book import TARGETS, make_plan, write_inputs

GOLDEN = Path(__file__).parent / "golden" / "export"
BINARY_SUFFIXES = (".parquet", ".gpkg", ".xlsx")
runner = CliRunner()

OWNERS = {
    "results": [
        {"id": str(100 + n), "email": email, "userId": 9000 + n}
        for n, email in enumerate(
            ["rita@example.com", "raj@example.com", "eve@example.com", "ann@example.com"],
            start=1,
        )
    ]
}


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One plan folder per target (ids shaped for it), and last year's Salesforce plan."""
    root = tmp_path_factory.mktemp("books")
    out = {t: make_plan(root / t, t) for t in TARGETS}
    out["previous"] = make_plan(root / "previous", "salesforce", previous=True)
    (root / "owners.json").write_text(json.dumps(OWNERS), encoding="utf-8")
    out["owners"] = root / "owners.json"
    return out


def run_export(plans: dict[str, Path], target: str, out: Path) -> dict[str, object]:
    """The golden export of a target (see the module docstring)."""
    if target == "salesforce":
        options = ExportOptions(
            quota_start=pd.Timestamp("2027-01-01").date(),
            baseline_quota_start=pd.Timestamp("2027-01-01").date(),
            currency="USD",
        )
        result = export_plan(
            plans[target], out, target=target, baseline=plans["previous"], options=options
        )
    elif target == "hubspot":
        options = ExportOptions(owners_file=plans["owners"], territory_property="sales_territory")
        result = export_plan(plans[target], out, target=target, options=options)
    else:
        result = export_plan(plans[target], out, target=target)
    return result.manifest


def snapshot(folder: Path) -> dict[str, bytes]:
    """Text files of an export, normalised for comparison with the goldens."""
    out: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if not path.is_file() or name.endswith(BINARY_SUFFIXES):
            continue
        data = path.read_bytes()
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["tool_version"] = "<version>"
            for entry in manifest["files"] + manifest["review_files"]:
                if entry["file"].endswith(BINARY_SUFFIXES):
                    entry["sha256"] = "<binary>"
            data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        elif name == "LOAD_ORDER.md":
            data = data.replace(f"territory-opt {__version__}".encode(), b"territory-opt <version>")
        out[name] = data
    return out


@pytest.mark.parametrize("target", TARGETS)
def test_golden_files(plans: dict[str, Path], target: str, tmp_path: Path) -> None:
    run_export(plans, target, tmp_path / "export")
    got = snapshot(tmp_path / "export")
    golden = GOLDEN / target
    if os.environ.get("UPDATE_GOLDEN"):
        import shutil

        shutil.rmtree(golden, ignore_errors=True)
        for name, data in got.items():
            (golden / name).parent.mkdir(parents=True, exist_ok=True)
            (golden / name).write_bytes(data)
    expected = {
        p.relative_to(golden).as_posix(): p.read_bytes() for p in golden.rglob("*") if p.is_file()
    }
    assert sorted(got) == sorted(expected), "files differ; UPDATE_GOLDEN=1 regenerates"
    for name, data in got.items():
        assert data == expected[name], f"{target}/{name} differs from the golden file"


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.mark.parametrize("target", TARGETS)
def test_same_plan_twice_gives_identical_bytes(
    plans: dict[str, Path], target: str, tmp_path: Path
) -> None:
    run_export(plans, target, tmp_path / "a")
    run_export(plans, target, tmp_path / "b")
    files_a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in _files(tmp_path / "a")}
    files_b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in _files(tmp_path / "b")}
    assert files_a.keys() == files_b.keys()
    for name, data in files_a.items():
        assert data == files_b[name], name
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    text = json.dumps(manifest)
    assert str(tmp_path) not in text  # no paths of this machine
    assert "wall" not in text and "time" not in manifest


@pytest.mark.parametrize("target", TARGETS)
def test_load_files_utf8_without_bom_rfc4180_lf(
    plans: dict[str, Path], target: str, tmp_path: Path
) -> None:
    manifest = run_export(plans, target, tmp_path)
    files = manifest["files"]
    assert isinstance(files, list) and files
    for entry in files:
        data = (tmp_path / entry["file"]).read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf"), entry["file"]
        if entry["format"] in ("parquet", "gpkg"):
            continue
        text = data.decode("utf-8")
        assert text.endswith("\n")
        if entry["format"] == "csv":
            rows = list(csv.reader(io.StringIO(text, newline="")))
            assert len(rows) == entry["rows"] + 1
            # Written again with LF records and minimal RFC 4180 quoting, the text is the same.
            table = pd.DataFrame(rows[1:], columns=rows[0], dtype=object)
            assert csv_text(table) == text
            assert "\r\n" not in text.replace('"', "")
        if entry["format"] == "jsonl":
            for line in text.splitlines():
                assert len(json.loads(line)["inputs"]) <= 100
    for review in manifest["review_files"]:
        if review["file"].endswith(".csv"):
            assert (tmp_path / review["file"]).read_bytes().startswith(b"\xef\xbb\xbf")


def test_dates_are_iso(plans: dict[str, Path], tmp_path: Path) -> None:
    run_export(plans, "salesforce", tmp_path)
    quota_files = sorted(tmp_path.glob("load/*ForecastingQuota*.csv"))
    assert quota_files
    for path in quota_files:
        table = pd.read_csv(path, dtype=str)
        if "StartDate" in table:
            assert table["StartDate"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()


def test_formula_cells_are_flagged_and_kept_in_load_files(
    plans: dict[str, Path], tmp_path: Path
) -> None:
    result = export_plan(plans["generic"], tmp_path / "g", target="generic", full=True)
    load = (tmp_path / "g" / "load" / "01_assignments.csv").read_text(encoding="utf-8")
    # The load file keeps the cell exactly (RFC 4180 doubles the quotes only).
    assert '"=HYPERLINK(""http://example.com"",""x"")"' in load
    assert "+1 Foods" in load and "-Minus Labs" in load and "@Home Supply" in load
    assert "'=" not in load and "'+" not in load
    cells = {(c["column"], c["start"][:2]) for c in result.manifest["formula_cells"]["cells"]}
    assert {("account_name", "=H"), ("account_name", "+1"), ("account_name", "-M")} <= cells
    assert ("account_name", "@H") in cells
    review = (tmp_path / "g" / "review" / "load" / "01_assignments.csv").read_bytes()
    text = review.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'+1 Foods" in text and "'@Home" in text
    book = openpyxl.load_workbook(tmp_path / "g" / "review" / "review.xlsx")
    values = [c.value for row in book.worksheets[0].iter_rows() for c in row]
    assert '\'=HYPERLINK("http://example.com","x")' in values
    types = {c.data_type for row in book.worksheets[0].iter_rows() for c in row}
    assert "f" not in types  # nothing is a formula
    runbook = (tmp_path / "g" / "LOAD_ORDER.md").read_text(encoding="utf-8")
    assert "Cells that start like a formula" in runbook


def test_salesforce_territory_name_from_rep_name_is_flagged(
    plans: dict[str, Path], tmp_path: Path
) -> None:
    result = export_plan(plans["salesforce"], tmp_path, target="salesforce", full=True)
    names = pd.read_csv(
        next(tmp_path.glob("load/*Territory2_insert_depth2.csv")), dtype=str, keep_default_na=False
    )
    assert "=Eve Mallory (R-4)" in set(names["Name"])
    assert "T_R_4" in set(names["DeveloperName"])  # R-4 made a valid DeveloperName
    flagged = [c for c in result.manifest["formula_cells"]["cells"] if c["column"] == "Name"]
    assert flagged


def test_changes_only_unless_full(plans: dict[str, Path], tmp_path: Path) -> None:
    changes = export_plan(plans["salesforce-owner"], tmp_path / "c", target="salesforce-owner")
    full = export_plan(
        plans["salesforce-owner"], tmp_path / "f", target="salesforce-owner", full=True
    )
    moved = pd.read_csv(plans["salesforce-owner"] / "assignments.csv")["moved"].sum()
    assert changes.manifest["files"][0]["rows"] == moved
    assert full.manifest["files"][0]["rows"] == 9
    assert changes.manifest["summary"]["accounts_changed"] == moved


def test_current_from_accounts_file(plans: dict[str, Path], tmp_path: Path) -> None:
    current = tmp_path / "current.csv"
    current.write_text(
        "account_id,current_rep\nA1,R2\nA2,R2\nA3,R2\nA4,R-4\nA5,R3\nA6,R-4\n"
        "A7,R2\nA8,R2\nA9,R3\nA99,R1\n",
        encoding="utf-8",
    )
    result = export_plan(
        plans["salesforce-owner"], tmp_path / "x", target="salesforce-owner", current_from=current
    )
    table = pd.read_csv(tmp_path / "x" / "load" / "01_Account_update_OwnerId.csv", dtype=str)
    assert list(table["Id"]) == ["001000000000A01"]  # only A1 moves against this file
    back = pd.read_csv(tmp_path / "x" / "rollback" / "01_Account_update_OwnerId.csv", dtype=str)
    assert list(back["OwnerId"]) == ["005000000000U02"]  # back to R2
    assert result.manifest["baseline"]["kind"] == "current_owners"


def test_unknown_current_owner_is_an_input_error(plans: dict[str, Path], tmp_path: Path) -> None:
    current = tmp_path / "current.csv"
    current.write_text("account_id,current_rep\nA1,R2\nA2,R9\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        export_plan(
            plans["salesforce-owner"],
            tmp_path / "x",
            target="salesforce-owner",
            current_from=current,
        )
    issue = err.value.issues[0]
    assert (issue.file, issue.row, issue.column) == ("current.csv", 3, "current_rep")
    assert "R9" in issue.problem
    assert not (tmp_path / "x").exists()


def test_missing_crm_ids_stop_the_export_before_writing(tmp_path: Path) -> None:
    accounts, reps = write_inputs(tmp_path / "book", "salesforce")
    # R2 has no crm_user_id: the owner update cannot name the new owner.
    reps.write_text(reps.read_text(encoding="utf-8").replace("005000000000U02", ""), "utf-8")
    plan = align(load_problem(accounts, reps), AlignmentSpec(), time_limit=10)
    plan_dir = write_plan(plan, tmp_path / "book" / "plan")
    with pytest.raises(InputError) as err:
        export_plan(plan_dir, tmp_path / "out", target="salesforce-owner", full=True)
    issue = err.value.issues[0]
    assert (issue.file, issue.row, issue.column) == ("reps.csv", 3, "crm_user_id")
    assert "R2" in issue.problem
    assert not (tmp_path / "out").exists()
    # Territory management accepts territories without a user, with a warning.
    result = export_plan(plan_dir, tmp_path / "etm", target="salesforce", full=True)
    assert any("no crm_user_id: R2" in w for w in result.warnings)


def test_edited_plan_inputs_are_refused(plans: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    book = tmp_path / "book"
    shutil.copytree(plans["salesforce"].parent, book)
    reps = book / "reps.csv"
    reps.write_text(reps.read_text(encoding="utf-8").replace("Rita", "Rina"), "utf-8")
    with pytest.raises(InputError, match="changed since"):
        export_plan(book / "plan", tmp_path / "out", target="salesforce-owner")


def test_wrong_kind_of_id_is_reported(plans: dict[str, Path], tmp_path: Path) -> None:
    # Salesforce-shaped account ids cannot be Dataverse GUIDs or HubSpot record ids.
    for target in ("dynamics", "hubspot"):
        with pytest.raises(InputError) as err:
            export_plan(plans["salesforce"], tmp_path / target, target=target, full=True)
        first = err.value.issues[0]
        assert first.column in {"crm_account_id", "crm_user_id", "hubspot_owner_id", "email"}


def test_hubspot_owner_ids_come_from_the_owners_file(
    plans: dict[str, Path], tmp_path: Path
) -> None:
    owners = read_owners(plans["owners"])
    assert owners["rita@example.com"] == "101"
    user_ids_only = tmp_path / "owners.csv"
    user_ids_only.write_text("userId,email\n9001,rita@example.com\n", encoding="utf-8")
    with pytest.raises(InputError, match="userId"):
        read_owners(user_ids_only)
    conflicting = tmp_path / "conflict.json"
    conflicting.write_text(
        json.dumps({"results": [{"id": "555", "email": "rita@example.com"}]}), encoding="utf-8"
    )
    with pytest.raises(InputError, match="owners file gives 555"):
        export_plan(
            plans["hubspot"],
            tmp_path / "out",
            target="hubspot",
            full=True,
            options=ExportOptions(owners_file=conflicting),
        )


def test_developer_name_rules() -> None:
    assert developer_name("T_OPEN-01") == "T_OPEN_01"
    assert developer_name("__x__y__") == "x_y"
    assert developer_name("7eleven") == "X_7eleven"
    for bad, why in [
        ("1abc", "start with a letter"),
        ("a__b", "double underscore"),
        ("ab_", "ends with an underscore"),
        ("a-b", "letters, digits and underscores"),
        ("a" * 81, "longer than 80"),
    ]:
        problem = developer_name_problem(bad)
        assert problem is not None and why in problem
    assert developer_name_problem("FY2027_Plan") is None
    assert 10_000 <= type_priority("Sales_Team") <= 99_999


def test_bad_model_name_and_long_names_are_input_errors(
    plans: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="double underscore"):
        export_plan(
            plans["salesforce"],
            tmp_path / "a",
            target="salesforce",
            options=ExportOptions(model="FY__2027"),
        )
    with pytest.raises(InputError, match="limit is 80"):
        export_plan(
            plans["salesforce"],
            tmp_path / "b",
            target="salesforce",
            full=True,
            options=ExportOptions(model_label="x" * 81),
        )


def test_many_territories_warn(plans: dict[str, Path], tmp_path: Path) -> None:
    import territory_opt.export.salesforce as sf

    old = sf.TERRITORIES_PER_MODEL
    sf.TERRITORIES_PER_MODEL = 3
    try:
        result = export_plan(plans["salesforce"], tmp_path, target="salesforce", full=True)
    finally:
        sf.TERRITORIES_PER_MODEL = old
    assert any("territories, more than" in w for w in result.warnings)
    assert TERRITORIES_PER_MODEL == 1000


def test_existing_folder_needs_force(plans: dict[str, Path], tmp_path: Path) -> None:
    export_plan(plans["generic"], tmp_path / "x", target="generic")
    with pytest.raises(InputError, match="--force"):
        export_plan(plans["generic"], tmp_path / "x", target="generic")
    export_plan(plans["generic"], tmp_path / "x", target="generic", force=True)


def test_cli_export_and_bad_input_exit_2(plans: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = runner.invoke(
        app, ["export", str(plans["dynamics"]), "--to", "dynamics", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (out / "LOAD_ORDER.md").is_file() and (out / "manifest.json").is_file()
    bad = runner.invoke(
        app, ["export", str(plans["salesforce"]), "--to", "dynamics", "--out", str(tmp_path / "b")]
    )
    assert bad.exit_code == 2
    assert "Traceback" not in bad.output
    assert "crm_account_id" in bad.output
    assert not (tmp_path / "b").exists()
    unknown = runner.invoke(
        app, ["export", str(plans["generic"]), "--to", "zoho", "--out", str(tmp_path / "z")]
    )
    assert unknown.exit_code == 2 and "unknown target" in unknown.output
    help_text = runner.invoke(app, ["export", "--help"])
    assert help_text.exit_code == 0 and "resolve" in help_text.output


def apply(state: dict[str, dict[str, object]], folder: Path, phase: str) -> None:
    """Load one phase of an owner-style export into a dict that plays the CRM."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in [f for f in manifest["files"] if f["phase"] == phase]:
        path = folder / entry["file"]
        if entry["format"] == "jsonl":
            for line in path.read_text().splitlines():
                for item in json.loads(line)["inputs"]:
                    for prop, value in item["properties"].items():
                        table = state.setdefault(prop, {})
                        if value:
                            table[item["id"]] = value
                        else:
                            table.pop(item["id"], None)
            continue
        if entry["format"] != "csv" or entry["object"] == "companies":
            continue  # the HubSpot import CSV repeats the JSONL; shapes are checked elsewhere
        rows = pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")
        key = entry["key"][0]
        table = state.setdefault(entry["object"], {})
        for row in rows:
            k = row.pop(key)
            if entry["object"] == "assignments":  # where it comes from depends on the baseline
                row = {"rep_id": row["rep_id"], "territory_id": row["territory_id"]}
            if entry["operation"] == "insert":
                assert k not in table
            if entry["operation"] in ("update", "delete"):
                assert k in table or entry["object"] in ("Account", "account"), k
            if entry["operation"] == "delete":
                assert all(v != k for v in state.get("account", {}).values()), "still used"
                del table[k]
            elif any(row.values()):
                table[k] = tuple(row.values())
            else:
                table.pop(k, None)


@pytest.mark.parametrize("target", ["generic", "salesforce-owner", "hubspot", "dynamics"])
def test_diff_then_rollback_gives_back_the_baseline(
    plans: dict[str, Path], target: str, tmp_path: Path
) -> None:
    previous = make_plan(tmp_path / "previous", target, previous=True)
    options = ExportOptions(territory_property="territory")
    export_plan(previous, tmp_path / "base", target=target, full=True, options=options)
    export_plan(plans[target], tmp_path / "fresh", target=target, full=True, options=options)
    export_plan(plans[target], tmp_path / "diff", target=target, baseline=previous, options=options)
    baseline: dict[str, dict[str, object]] = {}
    apply(baseline, tmp_path / "base", "load")
    fresh: dict[str, dict[str, object]] = {}
    apply(fresh, tmp_path / "fresh", "load")
    assert baseline != fresh
    state = copy.deepcopy(baseline)
    apply(state, tmp_path / "diff", "load")
    assert state == {k: v for k, v in fresh.items() if v}
    apply(state, tmp_path / "diff", "rollback")
    assert state == {k: v for k, v in baseline.items() if v}


def test_nothing_changed_gives_an_empty_export(plans: dict[str, Path], tmp_path: Path) -> None:
    assignments = pd.read_csv(plans["salesforce-owner"] / "assignments.csv", dtype=str)
    current = tmp_path / "current.csv"
    assignments[["account_id", "rep_id"]].rename(columns={"rep_id": "current_rep"}).to_csv(
        current, index=False
    )
    result = export_plan(
        plans["salesforce-owner"], tmp_path / "x", target="salesforce-owner", current_from=current
    )
    assert result.manifest["files"] == [] and result.manifest["load_order"] == []
    runbook = (tmp_path / "x" / "LOAD_ORDER.md").read_text(encoding="utf-8")
    assert "Nothing to load" in runbook and "Nothing to roll back" in runbook
