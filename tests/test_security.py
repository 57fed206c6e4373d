"""Security: safe YAML, no eval/exec, no HTML or spreadsheet injection, no writes outside --out."""

from __future__ import annotations

import json
import re
from pathlib import Path

import openpyxl
import pytest
import yaml
from typer.testing import CliRunner

from territory_opt import InputError
from territory_opt.cli import app
from territory_opt.scenario.load import _UniqueKeyLoader, load_scenario
from territory_opt.scenario.run import write_files
from territory_opt.scenario.sweep import make_points, parse_grid

SRC = Path(__file__).resolve().parents[1] / "src" / "territory_opt"
runner = CliRunner()


def _source_lines() -> list[tuple[str, int, str]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            out.append((path.relative_to(SRC).as_posix(), number, code))
    return out


def test_yaml_is_only_loaded_safely() -> None:
    unsafe = re.compile(
        r"yaml\.(unsafe_load|full_load|load_all)\(|yaml\.load\((?![^)]*Loader=_UniqueKeyLoader)"
        r"|Loader=yaml\.(Loader|FullLoader|UnsafeLoader)"
    )
    found = [f"{f}:{n}: {c.strip()}" for f, n, c in _source_lines() if unsafe.search(c)]
    assert found == []
    assert issubclass(_UniqueKeyLoader, yaml.SafeLoader)


def test_yaml_python_tags_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    scenario = tmp_path / "evil.yaml"
    scenario.write_text(
        "inputs: {demo: {accounts: 100}}\n"
        f'description: !!python/object/apply:os.system ["touch {marker}"]\n'
    )
    result = runner.invoke(app, ["run", str(scenario), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "not valid YAML" in result.stderr and "python/object/apply" in result.stderr
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_no_eval_exec_or_shell_in_the_package() -> None:
    banned = re.compile(
        r"(?<![.\w])(eval|exec|compile|__import__)\(|\bbuiltins\.(eval|exec)\b"
        r"|\bpickle\b|\bmarshal\b|os\.system\(|os\.popen\(|shell\s*=\s*True"
    )
    found = [f"{f}:{n}: {c.strip()}" for f, n, c in _source_lines() if banned.search(c)]
    assert found == []


HOSTILE = {
    "A1": "<img src=x onerror=alert(2)>",
    "A2": "=cmd|' /C calc'!A0",
    "A3": "@SUM(1+1)*cmd|' /C calc'!A0",
    "A4": "+1+1",
    "A5": '"><script>alert(3)</script>',
}


@pytest.fixture(scope="module")
def hostile_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    rows = ["account_id,name,lat,lon,potential,workload,current_rep,crm_account_id"]
    for i in range(1, 13):
        name = HOSTILE.get(f"A{i}", f"Account {i}").replace('"', '""')
        place = f"{35 + i / 10:.2f},{-97 + i / 20:.2f}"
        rows.append(
            f'A{i},"{name}",{place},{100 + i},{10 + i % 3},R{i % 3 + 1},001000000000A{i:02d}'
        )
    (root / "accounts.csv").write_text("\n".join(rows) + "\n")
    (root / "reps.csv").write_text(
        "rep_id,name,home_lat,home_lon,crm_user_id\n"
        'R1,=HYPERLINK("http://x"),35.2,-96.9,005000000000U01\n'
        "R2,<b>Raj</b>,35.6,-96.6,005000000000U02\n"
        "R3,Rosa,36.0,-96.3,005000000000U03\n"
    )
    out = root / "plan"
    result = runner.invoke(
        app,
        [
            "align",
            str(root / "accounts.csv"),
            str(root / "reps.csv"),
            "--out",
            str(out),
            "-b",
            "potential=40%",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_report_escapes_html_and_writes_no_formulas(hostile_plan: Path, tmp_path: Path) -> None:
    html, xlsx = tmp_path / "report.html", tmp_path / "report.xlsx"
    result = runner.invoke(
        app, ["compare", str(hostile_plan), "--out", str(html), "--xlsx", str(xlsx)]
    )
    assert result.exit_code == 0, result.output
    page = html.read_text(encoding="utf-8")
    for raw in ("<img src=x", "<script>alert(3)", "<b>Raj</b>"):
        assert raw not in page
    book = openpyxl.load_workbook(xlsx)
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = {c.value for c in cells}
    assert HOSTILE["A2"] in values or "'" + HOSTILE["A2"] in values


def test_export_flags_formula_cells_and_neutralises_review_copies(
    hostile_plan: Path, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    result = runner.invoke(
        app, ["export", str(hostile_plan), "--to", "generic", "--out", str(out), "--full"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    flagged = {c["start"][:2] for c in manifest["formula_cells"]["cells"]}
    assert {"=c", "@S", "+1"} <= flagged
    load = next((out / "load").glob("*.csv")).read_text(encoding="utf-8")
    assert "=cmd|' /C calc'!A0" in load and "'=cmd" not in load  # kept as is, flagged
    review = next((out / "review" / "load").glob("*.csv")).read_bytes().decode("utf-8-sig")
    assert "'=cmd|' /C calc'!A0" in review and "'@SUM" in review and "'+1+1" in review
    book = openpyxl.load_workbook(out / "review" / "review.xlsx")
    assert not [c for s in book.worksheets for r in s.iter_rows() for c in r if c.data_type == "f"]


@pytest.mark.parametrize("name", ["../escape.csv", "/tmp/abs.csv", "a/../../b.csv", ".."])
def test_built_folders_cannot_write_outside_their_folder(name: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="refusing to write"):
        write_files(tmp_path / "plan", {"plan.json": b"{}", name: b"x"})
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_sweep_point_names_stay_inside_the_sweep_folder(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("inputs: {demo: {accounts: 100}}\n")
    loaded = load_scenario(scenario)
    axes = parse_grid(["description=../../etc/x,/abs/y,..\\\\z"])
    folder = (tmp_path / "sweep").resolve()
    for point in make_points(loaded, axes):
        target = (folder / point.name).resolve()
        assert target.parent == folder, point.name
