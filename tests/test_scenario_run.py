"""Running scenarios: the plan folder, determinism, team changes, locks and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from territory_opt import InputError
from territory_opt.cli import app
from territory_opt.data.demo import generate_demo
from territory_opt.plan import read_plan
from territory_opt.scenario import examples_folder, load_scenario, run_scenario
from tests.scenario_helpers import (
    SMALL_SCENARIO,
    folder_content,
    plan_json_text_without_wall_times,
    write_scenario,
)

runner = CliRunner()


@pytest.fixture
def book_files(tmp_path: Path) -> tuple[Path, Path]:
    """The 200-account demo book as CSV files."""
    accounts, reps = generate_demo(200, seed=1)
    data = tmp_path / "data"
    data.mkdir()
    accounts.to_csv(data / "accounts.csv", index=False)
    reps.to_csv(data / "reps.csv", index=False)
    return data / "accounts.csv", data / "reps.csv"


def test_run_writes_the_plan_folder_and_is_repeatable(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "scenarios", "small.yaml", SMALL_SCENARIO)
    first = run_scenario(scenario, tmp_path / "one")
    run_scenario(scenario, tmp_path / "two")
    assert str(first.plan.status) == "optimal"  # proven within the gap: repeatable
    one, two = tmp_path / "one", tmp_path / "two"
    assert sorted(p.name for p in one.iterdir()) == [
        "assignments.csv",
        "inputs",
        "plan.json",
        "quota_rollups.csv",
        "quotas.csv",
        "scenario.json",
        "territories.csv",
    ]
    assert folder_content(one) == folder_content(two)
    # Byte for byte, apart from the lines holding wall times.
    assert plan_json_text_without_wall_times(one) == plan_json_text_without_wall_times(two)
    meta = json.loads((one / "plan.json").read_text())
    assert meta["scenario_hash"] == first.scenario_hash == load_scenario(scenario).hash
    assert set(meta["inputs_sha256"]) == {"accounts", "reps"}
    assert meta["inputs"]["accounts"]["path"] == "inputs/accounts.csv"
    assert set(meta["files_sha256"]) >= {"quotas.csv", "scenario.json", "assignments.csv"}
    record = json.loads((one / "scenario.json").read_text())
    assert record["scenario_hash"] == first.scenario_hash
    assert record["sources"] == {"demo": {"accounts": 200, "reps": None, "seed": 1}}
    quotas = pd.read_csv(one / "quotas.csv")
    revenue = first.plan.problem.metric("revenue_ly").sum()
    assert quotas["quota"].sum() == pytest.approx(round(revenue * 1.1, -3))
    # Later steps read the folder like any plan folder.
    assert read_plan(one).problem.n_accounts == 200
    with pytest.raises(InputError, match="pass --force"):
        run_scenario(scenario, one)


def test_team_changes_and_locks_change_copies_only(
    tmp_path: Path, book_files: tuple[Path, Path]
) -> None:
    accounts_file, reps_file = book_files
    before = accounts_file.read_bytes(), reps_file.read_bytes()
    scenario = write_scenario(
        tmp_path / "scenarios",
        "changes.yaml",
        """\
        inputs: {accounts: ../data/accounts.csv, reps: ../data/reps.csv}
        balance: {potential: 15%, workload: 20%}
        solver: {gap: 0.01, time_limit: 60, threads: 1}
        team:
          remove: [R002]
          capacity: {R003: 0.8}
          add:
            - {rep_id: TX-01, home_lat: 32.78, home_lon: -96.8, segment: commercial,
               start_date: 2027-01-04}
        locks:
          - where: {segment: enterprise}
          - accounts: [A0000005]
            rep: TX-01
        """,
    )
    run = run_scenario(scenario, tmp_path / "plan")
    assert (accounts_file.read_bytes(), reps_file.read_bytes()) == before  # inputs untouched
    folder = tmp_path / "plan"
    assert str(run.plan.status) == "optimal"
    reps = pd.read_csv(folder / "inputs" / "reps.csv", dtype=str, keep_default_na=False)
    assert "R002" not in set(reps["rep_id"]) and "TX-01" in set(reps["rep_id"])
    assert reps.set_index("rep_id").loc["R003", "capacity"] == "0.8"
    original = pd.read_csv(accounts_file, dtype=str, keep_default_na=False)
    assignments = pd.read_csv(folder / "assignments.csv", dtype=str, keep_default_na=False)
    merged = original.merge(assignments, on="account_id")
    enterprise = merged[(merged["segment"] == "enterprise") & (merged["current_rep"] != "R002")]
    assert (enterprise["rep_id"] == enterprise["current_rep"]).all()  # frozen
    assert merged.set_index("account_id").loc["A0000005", "rep_id"] == "TX-01"
    orphans = merged[merged["current_rep"] == "R002"]
    assert (orphans["previous_rep_id"] == "").all()  # lost their rep: not counted as moved
    changes = run.changes
    assert changes.reps_removed == ("R002",) and changes.reps_added == ("TX-01",)
    assert changes.accounts_unassigned == len(orphans)
    # Enterprise accounts of the leaver have no current rep to keep: skipped, counted.
    skipped = ((original["segment"] == "enterprise") & (original["current_rep"] == "R002")).sum()
    assert changes.locks_skipped == skipped
    meta = json.loads((folder / "plan.json").read_text())
    assert meta["inputs"]["accounts"]["path"] == "inputs/accounts.csv"
    record = json.loads((folder / "scenario.json").read_text())
    assert record["sources"]["accounts"]["path"] == "../data/accounts.csv"
    assert read_plan(folder).problem.n_reps == run.plan.problem.n_reps


def test_unchanged_file_inputs_are_referenced_not_copied(
    tmp_path: Path, book_files: tuple[Path, Path]
) -> None:
    scenario = write_scenario(
        tmp_path / "scenarios",
        "plain.yaml",
        """\
        inputs: {accounts: ../data/accounts.csv, reps: ../data/reps.csv}
        solver: {gap: 0.01, threads: 1}
        """,
    )
    run_scenario(scenario, tmp_path / "out" / "plain")
    folder = tmp_path / "out" / "plain"
    assert not (folder / "inputs").exists()
    meta = json.loads((folder / "plan.json").read_text())
    assert meta["inputs"]["accounts"]["path"] == "../../data/accounts.csv"
    assert not (folder / "quotas.csv").exists()  # no quota section: no quota step


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("team: {remove: [R02]}", "key 'team.remove[0]': unknown rep 'R02' (did you mean"),
        ("team: {capacity: {R009: 0.5}}", "key 'team.capacity.R009': unknown rep 'R009'"),
        (
            "team: {add: [{rep_id: R001}]}",
            "key 'team.add[0].rep_id': rep 'R001' already exists",
        ),
        (
            "team: {add: [{rep_id: N1, segment: smb}]}",
            "key 'team.add[0].segment': unknown segment 'smb'",
        ),
        ("locks: [{accounts: [A0000001, B1]}]", "key 'locks[0].accounts[1]': unknown account"),
        ("locks: [{where: {segmnt: x}}]", "the accounts have no column 'segmnt' (did you mean"),
        ("locks: [{where: {segment: strategic}}]", "no account has segment strategic"),
        ("locks: [{accounts: [A0000001], rep: NOBODY}]", "key 'locks[0].rep': unknown rep"),
        ("balance: {potentail: 5%}", "'potentail' is not a metric of the accounts (did you"),
        ("objective: {travel_metric: visits}", "key 'objective.travel_metric': 'visits'"),
        ("quota: {method: top_down}", "key 'quota.target': the top_down term splits a target"),
        ("quota: {target: 1e6, method: hist}", "key 'quota.method': unknown method 'hist'"),
    ],
)
def test_scenario_mistakes_found_at_run_time_name_the_key(
    tmp_path: Path, section: str, message: str
) -> None:
    text = "inputs: {demo: {accounts: 200, seed: 1}}\nsolver: {gap: 0.01, threads: 1}\n"
    scenario = write_scenario(tmp_path, "s.yaml", text + section + "\n")
    with pytest.raises(InputError) as info:
        run_scenario(scenario, tmp_path / "out")
    assert "s.yaml: line 3, " in str(info.value)
    assert message in str(info.value)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_cli_run_exit_codes_and_default_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_scenario(tmp_path / "scenarios", "small.yaml", SMALL_SCENARIO)
    result = runner.invoke(app, ["run", "scenarios/small.yaml"])
    assert result.exit_code == 0, result.output
    assert "plan written to plans/small" in result.stdout
    assert (tmp_path / "plans" / "small" / "plan.json").is_file()
    again = runner.invoke(app, ["run", "scenarios/small.yaml"])
    assert again.exit_code == 2 and "pass --force" in again.stderr
    bad = write_scenario(tmp_path / "scenarios", "bad.yaml", "inputs: {demo: {}}\nbalanse: {}\n")
    result = runner.invoke(app, ["run", str(bad)])
    assert result.exit_code == 2
    assert "key 'balanse': unknown key (did you mean 'balance'?)" in result.stderr
    assert "Traceback" not in result.output
    impossible = write_scenario(
        tmp_path / "scenarios",
        "impossible.yaml",
        SMALL_SCENARIO + "disruption: {max_moved_share: 0.01}\n",
    )
    result = runner.invoke(app, ["run", str(impossible), "--out", "plans/impossible"])
    assert result.exit_code == 3, result.output
    assert (tmp_path / "plans" / "impossible" / "diagnosis.json").is_file()
    assert not (tmp_path / "plans" / "impossible" / "quotas.csv").exists()


@pytest.mark.slow
def test_example_scenarios_run_as_they_are(tmp_path: Path) -> None:
    for name in ("base", "tighter-balance", "disruption-capped", "new-hires"):
        run = run_scenario(examples_folder() / f"{name}.yaml", tmp_path / name)
        assert str(run.plan.status) == "optimal", name
        assert run.quotas is not None
    hires = json.loads((tmp_path / "new-hires" / "scenario.json").read_text())
    assert hires["changes"]["reps_added"] == ["TX-01", "TX-02", "TX-03", "TX-04"]
