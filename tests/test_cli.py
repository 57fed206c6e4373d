"""The command line: help everywhere, exit codes, no tracebacks for user mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from territory_opt import __version__
from territory_opt.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


@pytest.mark.parametrize("command", [[], ["validate"], ["demo"], ["compare"]])
def test_help_on_every_command(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_validate_ok(small_files: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["validate", *map(str, small_files)])
    assert result.exit_code == 0, result.output
    assert "inputs are valid" in result.stdout


def test_validate_json(small_files: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["validate", *map(str, small_files), "--json"])
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["accounts"] == 4
    assert summary["metrics"] == {"potential": 750.0, "workload": 57.0}


def test_bad_input_exits_2_with_location_and_no_traceback(write_file) -> None:  # type: ignore[no-untyped-def]
    accounts = write_file("accounts.csv", "account_id,potential\nA1,5\nA2,-1\n")
    reps = write_file("reps.csv", "rep_id\nR1\n")
    result = runner.invoke(app, ["validate", str(accounts), str(reps)])
    assert result.exit_code == 2
    assert "accounts.csv, row 3, column 'potential'" in result.stderr
    assert "Traceback" not in result.output


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "a.csv"), str(tmp_path / "r.csv")])
    assert result.exit_code == 2
    assert "file does not exist" in result.stderr


def test_internal_error_exits_1(
    monkeypatch: pytest.MonkeyPatch, small_files: tuple[Path, Path]
) -> None:
    import territory_opt.cli.plans as cli

    def broken(*args: object, **kwargs: object) -> None:
        msg = "boom"
        raise RuntimeError(msg)

    monkeypatch.setattr(cli, "load_problem", broken)
    result = runner.invoke(app, ["validate", *map(str, small_files)])
    assert result.exit_code == 1
    assert "internal error: RuntimeError: boom" in result.stderr


def test_demo_writes_inputs_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = runner.invoke(
        app, ["demo", "--out", str(out), "--accounts", "300", "--seed", "4", "--time-limit", "10"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "accounts.csv",
        "plan",
        "report.html",
        "report.xlsx",
        "reps.csv",
        "validation.json",
    ]
    assert (out / "plan" / "assignments.csv").exists()
    quotas = pd.read_csv(out / "plan" / "quotas.csv")
    revenue = pd.read_csv(out / "accounts.csv")["revenue_ly"].sum()
    assert quotas["quota"].sum() == pytest.approx(round(revenue * 1.1, -3))
    summary = json.loads((out / "validation.json").read_text())
    assert summary["accounts"] == 300
    assert "Reading accounts" in result.stderr  # progress goes to stderr


def test_demo_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    args = ["demo", "--no-plan", "--out", str(out), "--accounts", "200"]
    assert runner.invoke(app, args).exit_code == 0
    before = (out / "accounts.csv").read_bytes()
    again = runner.invoke(app, [*args[:-1], "300"])
    assert again.exit_code == 2
    assert "pass --force" in again.stderr
    assert (out / "accounts.csv").read_bytes() == before
    forced = runner.invoke(app, [*args[:-1], "300", "--force"])
    assert forced.exit_code == 0
    assert (out / "accounts.csv").read_bytes() != before
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # no temp folders left


def test_installed_entry_point_runs() -> None:
    exe = Path(sys.executable).with_name("territory-opt")
    result = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert result.stdout.strip() == f"territory-opt {__version__}"
