"""Sweeps: grids, the process pool, a Dask LocalCluster, failures, resume and interruption."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from territory_opt import InputError
from territory_opt.cli import app
from territory_opt.scenario import parse_grid, run_sweep
from territory_opt.scenario.sweep import folder_hash
from tests.scenario_helpers import SMALL_SCENARIO, folder_content, write_scenario

runner = CliRunner()
GRID = ["balance.potential=8%,12%", "disruption.max_moved_share=0.5,60%"]
#: Grid of the interruption test: each point takes a moment, so the sweep is still
#: running when the first folder lands.
# Enough points that Ctrl-C after the first one lands before the last one ends.
SLOW_GRID = ["balance.potential=" + ",".join(f"{p}%" for p in range(6, 30))]
SLOW_POINTS = 24


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    return write_scenario(tmp_path / "scenarios", "small.yaml", SMALL_SCENARIO)


def points_of(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("p"))


def test_grid_parsing_errors() -> None:
    assert parse_grid(["a.b=1,2%,x"])[0].values == (1, "2%", "x")
    for bad, message in (
        ("balance.potential", "is not KEY=V1,V2"),
        ("a=1,,2", "has an empty value"),
        ("a=1,1", "repeats a value"),
    ):
        with pytest.raises(InputError, match=message):
            parse_grid([bad])
    with pytest.raises(InputError, match="given twice"):
        parse_grid(["a=1", "a=2"])


def test_local_cluster_gives_the_same_plans_as_the_process_pool(
    scenario: Path, tmp_path: Path
) -> None:
    pytest.importorskip("dask.distributed")
    pool = run_sweep(scenario, GRID, tmp_path / "pool", jobs=2)
    cluster = run_sweep(scenario, GRID, tmp_path / "dask", jobs=1, dask="local")
    names = points_of(tmp_path / "pool")
    assert names == points_of(tmp_path / "dask")
    assert names == [
        "p001-potential=8pct-max_moved_share=0.5",
        "p002-potential=8pct-max_moved_share=60pct",
        "p003-potential=12pct-max_moved_share=0.5",
        "p004-potential=12pct-max_moved_share=60pct",
    ]
    for name in names:
        assert folder_content(tmp_path / "pool" / name) == folder_content(tmp_path / "dask" / name)
        meta = json.loads((tmp_path / "pool" / name / "plan.json").read_text())
        assert meta["status"] == "optimal"
    table = pd.read_csv(tmp_path / "pool" / "sweep.csv", dtype={"efficient": str})
    assert list(table["point"]) == names
    assert list(table["balance.potential"]) == ["8%", "8%", "12%", "12%"]
    assert {"max_deviation", "moved_share", "efficient", "scenario_hash"} <= set(table.columns)
    assert set(table["efficient"]) <= {"true", "false"} and "true" in set(table["efficient"])
    # The frontier: no efficient point is beaten on both balance and accounts moved.
    eff = table[table["efficient"] == "true"]
    for _, row in eff.iterrows():
        beaten = (table["max_deviation"] <= row["max_deviation"]) & (
            table["moved_accounts"] <= row["moved_accounts"]
        )
        strictly = (table["max_deviation"] < row["max_deviation"]) | (
            table["moved_accounts"] < row["moved_accounts"]
        )
        assert not (beaten & strictly).any()
    shared = [c for c in pool.table.columns if c != "solve_seconds"]
    assert pool.table[shared].equals(cluster.table[shared])


def test_a_failing_point_is_recorded_and_the_others_run(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    grid = ["objective.travel_metric=workload,visits"]  # 'visits' is not a metric
    result = runner.invoke(app, ["sweep", str(scenario), "--grid", *grid, "--out", str(out)])
    assert result.exit_code == 2, result.output  # the failure was bad input
    assert "p002-travel_metric=visits: failed" in result.stderr
    table = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    assert list(table["status"]) == ["optimal", "failed"]
    assert "'visits' is not a metric of the accounts" in table["error"][1]
    assert points_of(out) == ["p001-travel_metric=workload"]


def test_rerun_keeps_finished_points_and_refuses_foreign_folders(
    scenario: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    first = run_sweep(scenario, ["balance.potential=8%,12%"], out, jobs=1)
    stamp = (out / first.points[0].name / "plan.json").stat().st_mtime_ns
    again = run_sweep(scenario, ["balance.potential=8%,12%,15%"], out, jobs=1)
    assert [p.reused for p in again.points] == [True, True, False]
    assert (out / first.points[0].name / "plan.json").stat().st_mtime_ns == stamp
    assert len(pd.read_csv(out / "sweep.csv")) == 3
    changed = write_scenario(
        tmp_path / "scenarios", "small.yaml", SMALL_SCENARIO.replace("seed: 1", "seed: 2")
    )
    with pytest.raises(InputError, match="holds a plan of another scenario"):
        run_sweep(changed, ["balance.potential=8%"], out, jobs=1)
    forced = run_sweep(changed, ["balance.potential=8%"], out, jobs=1, force=True)
    assert folder_hash(out / forced.points[0].name) == forced.points[0].scenario_hash


def test_dask_flag_without_dask_names_the_extra(
    scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails
    args = ["sweep", str(scenario), "-g", "balance.potential=8%", "--dask", "local"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "pip install 'territory-opt[dask]'" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "s").exists()  # checked before anything is written


def test_interrupted_sweep_leaves_complete_folders_only(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    exe = Path(sys.executable).with_name("territory-opt")
    args = [str(exe), "sweep", str(scenario), "--out", str(out), "--jobs", "1"]
    args += [item for g in SLOW_GRID for item in ("--grid", g)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out.is_dir() and points_of(out)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert points_of(out), "no point finished within a minute"
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    done = points_of(out)
    assert 1 <= len(done) < SLOW_POINTS
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temp folders
    for name in done:  # every folder is complete: plan.json lists every file, hashes match
        meta = json.loads((out / name / "plan.json").read_text())
        for file, digest in meta["files_sha256"].items():
            assert hashlib.sha256((out / name / file).read_bytes()).hexdigest() == digest
    assert list(pd.read_csv(out / "sweep.csv")["point"]) == done
    # Running the same sweep again finishes the rest and keeps what was done.
    result = runner.invoke(app, args[1:])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("(kept from an earlier run)") == len(done)
    assert len(points_of(out)) == SLOW_POINTS


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout
