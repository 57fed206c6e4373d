"""Plan folders read back; later steps (quotas) add to them; stale inputs are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from territory_opt import InputError
from territory_opt.cli import app
from territory_opt.plan import read_plan

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo"
    result = runner.invoke(
        app, ["demo", "--out", str(out), "--accounts", "300", "--time-limit", "10"]
    )
    assert result.exit_code == 0, result.output
    return out


def test_read_plan_round_trip(demo_folder: Path) -> None:
    plan = read_plan(demo_folder / "plan")
    meta = json.loads((demo_folder / "plan" / "plan.json").read_text())
    assert str(plan.status) == meta["status"]
    assert plan.objective == pytest.approx(meta["objective"])
    assignments = pd.read_csv(demo_folder / "plan" / "assignments.csv", dtype=str)
    assert plan.assignment is not None
    assert list(plan.problem.rep_ids[plan.assignment]) == list(assignments["rep_id"])
    assert meta["inputs"]["accounts"]["path"] == "../accounts.csv"


def test_quota_command_adds_quotas_to_the_plan(demo_folder: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(demo_folder, folder)
    plan_dir = folder / "plan"
    total_potential = pd.read_csv(folder / "accounts.csv")["potential"].sum()
    target = round(0.25 * total_potential, -3)
    result = runner.invoke(
        app, ["quota", str(plan_dir), "--target", str(target), "--round", "1000"]
    )
    assert result.exit_code == 0, result.output
    quotas = pd.read_csv(plan_dir / "quotas.csv")
    assert quotas["quota"].sum() == pytest.approx(target)
    assert np.allclose(quotas["quota"] % 1000, 0)
    meta = json.loads((plan_dir / "plan.json").read_text())
    assert "quotas.csv" in meta["files_sha256"]
    assert "quota_rollups.csv" in meta["files_sha256"]
    rollup = pd.read_csv(plan_dir / "quota_rollups.csv")
    assert rollup.loc[rollup["level"] == "total", "quota"].item() == pytest.approx(target)
    (folder / "ramp.csv").write_text("month,factor\n0,0.2\n6,1\n", encoding="utf-8")
    (folder / "season.csv").write_text("weight\n1\n1\n1\n2\n", encoding="utf-8")
    ramped = runner.invoke(
        app,
        [
            "quota",
            str(plan_dir),
            "--target",
            str(target),
            "--ramp",
            str(folder / "ramp.csv"),
            "--plan-start",
            "2027-01-01",
            "--seasonality",
            str(folder / "season.csv"),
        ],
    )
    assert ramped.exit_code == 0, ramped.output
    quotas = pd.read_csv(plan_dir / "quotas.csv", dtype={"rep_id": str})
    open_seat = quotas[quotas["rep_id"] == "OPEN-01"]
    # Starts 2027-02-01: 6 months at 20 %, then 5 months at 100 %, averaged over the year.
    assert open_seat["ramp"].item() == pytest.approx((6 * 0.2 + 5 * 1.0) / 12)
    period = [c for c in quotas.columns if c.startswith(("q", "Q")) and c[1:].isdigit()]
    assert len(period) == 4, quotas.columns
    assert (quotas[period].sum(axis=1) == quotas["quota"]).all()
    bad_ramp = runner.invoke(
        app, ["quota", str(plan_dir), "--target", "1000", "--ramp", str(folder / "season.csv")]
    )
    assert bad_ramp.exit_code == 2
    assert "season.csv" in bad_ramp.stderr and "month" in bad_ramp.stderr
    impossible = runner.invoke(
        app, ["quota", str(plan_dir), "--target", "1e12", "--growth-cap", "0:0.1"]
    )
    assert impossible.exit_code == 3
    assert "reachable" in impossible.stderr


def test_changed_input_is_refused(demo_folder: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(demo_folder, folder)
    with (folder / "accounts.csv").open("a", encoding="utf-8") as fh:
        fh.write("\n")
    with pytest.raises(InputError, match="changed since plan"):
        read_plan(folder / "plan")


def test_newer_plan_format_is_refused(demo_folder: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(demo_folder, folder)
    meta_path = folder / "plan" / "plan.json"
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(InputError, match="newer than this tool reads"):
        read_plan(folder / "plan")
    result = runner.invoke(app, ["quota", str(folder / "plan"), "--target", "1000"])
    assert result.exit_code == 2


def test_atomic_outputs_have_normal_permissions(tmp_path: Path) -> None:
    """Temp files start private; what is published is readable like any new file."""
    import os

    from territory_opt._atomic import atomic_folder, write_file_atomic

    mask = os.umask(0o022)
    try:
        with atomic_folder(tmp_path / "plan", force=False) as tmp:
            write_file_atomic(tmp / "a.csv", b"x\n")
        single = write_file_atomic(tmp_path / "b.csv", b"y\n")
    finally:
        os.umask(mask)
    assert (tmp_path / "plan").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "plan" / "a.csv").stat().st_mode & 0o777 == 0o644
    assert single.stat().st_mode & 0o777 == 0o644
