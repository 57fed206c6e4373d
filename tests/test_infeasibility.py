"""Infeasible requests: pre-checks name accounts/reps; the elastic model says what to relax."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from territory_opt import InfeasibleError, generate_demo, load_problem
from territory_opt.alignment import AlignmentSpec, Status, align
from territory_opt.testing import check_plan

Writer = Callable[[str, str | bytes], Path]

REPS = "rep_id,home_lat,home_lon,segment\nR1,35,-97,smb\nR2,36,-96,smb\nR3,35.5,-96.5,smb\n"


def _accounts(potentials: list[float], extra: str = "") -> str:
    rows = [
        f"A{i},{35 + 0.1 * i},{-97 + 0.1 * i},{p},10,smb{extra}" for i, p in enumerate(potentials)
    ]
    return "account_id,lat,lon,potential,workload,segment\n" + "\n".join(rows) + "\n"


def test_account_larger_than_every_band(write_file: Writer) -> None:
    problem = load_problem(
        write_file("a.csv", _accounts([100, 100, 100, 100, 100, 2000])), write_file("r.csv", REPS)
    )
    plan = align(problem, AlignmentSpec().with_(bands={"potential": 0.05}))
    assert plan.status == Status.INFEASIBLE
    assert plan.diagnosis is not None
    finding = plan.diagnosis["findings"][0]
    assert finding["accounts"] == ["A5"]
    assert "potential 2,000 exceeds the upper limit of every rep" in finding["message"]
    with pytest.raises(InfeasibleError, match="A5"):
        plan.raise_if_not_ok()


def test_segment_without_reps(write_file: Writer) -> None:
    text = _accounts([100] * 6).replace("A2,35.2,-96.8,100,10,smb", "A2,35.2,-96.8,100,10,ent")
    problem = load_problem(write_file("a.csv", text), write_file("r.csv", REPS))
    plan = align(problem, AlignmentSpec().with_(bands={"potential": 0.5}))
    assert plan.status == Status.INFEASIBLE
    finding = plan.diagnosis["findings"][0]  # type: ignore[index]
    assert finding["family"] == "segment"
    assert "segment 'ent' has 1 account(s) but no rep" in finding["message"]
    assert finding["accounts"] == ["A2"]


def test_locked_accounts_overflow_a_rep(write_file: Writer) -> None:
    text = (
        "account_id,lat,lon,potential,locked_rep\n"
        + "\n".join(f"A{i},35,-97,100,{'R1' if i < 4 else ''}" for i in range(9))
        + "\n"
    )
    problem = load_problem(
        write_file("a.csv", text), write_file("r.csv", REPS.replace(",smb", ","))
    )
    plan = align(problem, AlignmentSpec().with_(bands={"potential": 0.1}, segment_match=False))
    assert plan.status == Status.INFEASIBLE
    finding = plan.diagnosis["findings"][0]  # type: ignore[index]
    assert finding["family"] == "lock"
    assert finding["reps"] == ["R1"]
    assert set(finding["accounts"]) == {"A0", "A1", "A2", "A3"}


def test_elastic_diagnosis_names_the_widening_and_it_works() -> None:
    accounts, reps = generate_demo(100, 4, seed=1)
    problem = load_problem(accounts.head(24), reps)
    spec = AlignmentSpec.from_preset("balanced-travel").with_(
        bands={"potential": 0.001, "workload": 0.001}, segment_match=False
    )
    plan = align(problem, spec, time_limit=30)
    assert plan.status == Status.INFEASIBLE
    assert plan.diagnosis is not None and plan.diagnosis["source"] == "elastic"
    widen = {f["band"]: f["tolerance"] for f in plan.diagnosis["findings"] if "band" in f}
    assert widen, plan.diagnosis
    assert "must widen from ±0.1 % to" in plan.diagnosis["summary"]
    relaxed = spec.with_(bands={m: widen.get(m, 0.001) for m in ("potential", "workload")})
    fixed = align(problem, relaxed, time_limit=30)
    assert fixed.status in (Status.OPTIMAL, Status.FEASIBLE)
    check_plan(fixed)


def test_cli_align_exit_codes(write_file: Writer, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from territory_opt.cli import app

    runner = CliRunner()
    accounts = write_file("a.csv", _accounts([100, 100, 100, 100, 100, 2000]))
    reps = write_file("r.csv", REPS)
    out = tmp_path / "plan"
    result = runner.invoke(
        app, ["align", str(accounts), str(reps), "--out", str(out), "--balance", "potential=5%"]
    )
    assert result.exit_code == 3, result.output
    assert "A5" in result.stderr
    assert (out / "diagnosis.json").exists()
    assert not (out / "assignments.csv").exists()
    ok = runner.invoke(
        app,
        [
            "align",
            str(accounts),
            str(reps),
            "--out",
            str(tmp_path / "ok"),
            "--balance",
            "potential=500%",
            "--time-limit",
            "10",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "ok" / "assignments.csv").exists()
    bad = runner.invoke(
        app,
        ["align", str(accounts), str(reps), "--out", str(tmp_path / "x"), "--balance", "potential"],
    )
    assert bad.exit_code == 2
    assert "METRIC=TOLERANCE" in bad.stderr


def test_elastic_diagnosis_offers_releasing_locks(write_file: Writer) -> None:
    """Two big low-workload accounts locked to R1 fit its potential band, but R1 then
    cannot reach its workload band without overflowing potential: releasing one lock,
    or widening a band, fixes it. No pre-check sees this; the elastic models do."""
    reps = "rep_id,home_lat,home_lon\nR1,35,-97\nR2,36,-96\nR3,35.5,-96.5\nR4,36,-97\n"
    rows = [f"A{i},35,-97,100,1,{'R1' if i < 2 else ''}" for i in range(4)]
    rows += [f"S{i},{35 + 0.05 * i},-96.5,25,10," for i in range(16)]
    text = "account_id,lat,lon,potential,workload,locked_rep\n" + "\n".join(rows) + "\n"
    problem = load_problem(write_file("a.csv", text), write_file("r.csv", reps))
    spec = AlignmentSpec.from_preset("balanced-travel").with_(
        bands={"potential": 0.1, "workload": 0.1}, segment_match=False
    )
    plan = align(problem, spec, time_limit=20)
    assert plan.status == Status.INFEASIBLE
    assert plan.diagnosis is not None and plan.diagnosis["source"] == "elastic"
    release = [f for f in plan.diagnosis["findings"] if f["family"] == "lock"]
    assert len(release) == 1 and release[0]["release"] == 1
    assert release[0]["accounts"][0] in {"A0", "A1"}
    assert "or keep the limits and release 1 locked account(s)" in plan.diagnosis["summary"]
    # Releasing that lock gives a plan.
    unlocked = text.replace(f"{release[0]['accounts'][0]},35,-97,100,1,R1", "X,35,-97,100,1,")
    fixed = align(
        load_problem(write_file("b.csv", unlocked), write_file("r2.csv", reps)), spec, time_limit=20
    )
    assert fixed.status in (Status.OPTIMAL, Status.FEASIBLE)
    check_plan(fixed)
