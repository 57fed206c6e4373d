"""Headcount sizing: minimum team size with its proof, placement of hires, the curve.

The exact method is checked against a brute force that enumerates every set of
sites (and every choice of reps to remove) and plans each team with the exact
MIP backend, built from plain DataFrames without the sizing code.
"""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from territory_opt import InputError, load_problem
from territory_opt._progress import step, track, use_reporter
from territory_opt._progress_bar import BarReporter
from territory_opt.alignment import AlignmentSpec, Status, align
from territory_opt.cli import app
from territory_opt.plan import read_plan
from territory_opt.sizing import (
    SizingRequest,
    knee_point,
    parse_capacity,
    parse_max_new,
    parse_range,
    size_team,
    sizing_frame,
    write_sizing,
)
from territory_opt.testing import check_plan

runner = CliRunner()
CAPACITY = 700.0
SPEC = AlignmentSpec(
    bands=(), travel_weight=1.0, travel_metric="workload", segment_match=False
).with_(bands={"potential": 0.6})


def tiny_book(seed: int, n_accounts: int = 10, n_reps: int = 2, n_sites: int = 4):
    """Accounts, reps and candidate sites on a 100 × 100 plane."""
    rng = np.random.default_rng(seed)
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i:02d}" for i in range(n_accounts)],
            "x": rng.uniform(0, 100, n_accounts).round(2),
            "y": rng.uniform(0, 100, n_accounts).round(2),
            "workload": rng.integers(100, 400, n_accounts),
            "potential": rng.integers(1000, 5000, n_accounts),
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": [f"R{r}" for r in range(n_reps)],
            "home_x": rng.uniform(0, 100, n_reps).round(2),
            "home_y": rng.uniform(0, 100, n_reps).round(2),
        }
    )
    accounts["current_rep"] = [f"R{r}" for r in rng.integers(0, n_reps, n_accounts)]
    sites = pd.DataFrame(
        {
            "site_id": [f"S{s}" for s in range(n_sites)],
            "x": rng.uniform(0, 100, n_sites).round(2),
            "y": rng.uniform(0, 100, n_sites).round(2),
        }
    )
    return accounts, reps, sites


def brute_force(accounts, reps, sites, sizes, spec=SPEC, capacity=CAPACITY):
    """Best objective and site set (or removed set) per team size, by enumeration."""
    m0 = len(reps)
    out = {}
    for n in sizes:
        best = None
        if n >= m0:
            choices = itertools.combinations(range(len(sites)), n - m0)
        else:
            choices = itertools.combinations(range(m0), m0 - n)
        for choice in choices:
            if n >= m0:
                new = pd.DataFrame(
                    {
                        "rep_id": [f"H{s}" for s in choice],
                        "home_x": sites["x"].to_numpy()[list(choice)],
                        "home_y": sites["y"].to_numpy()[list(choice)],
                    }
                )
                team = pd.concat([reps, new], ignore_index=True)
                book = accounts
            else:
                gone = {f"R{r}" for r in choice}
                team = reps[~reps["rep_id"].isin(gone)].reset_index(drop=True)
                book = accounts.assign(
                    current_rep=accounts["current_rep"].where(
                        ~accounts["current_rep"].isin(gone), ""
                    )
                )
            team = team.assign(max_workload=capacity)
            plan = align(load_problem(book, team), spec, backend="highs-mip", gap=1e-9)
            if plan.assignment is None:
                assert plan.status == Status.INFEASIBLE
                continue
            if best is None or plan.objective < best[0] - 1e-7 * abs(best[0]):
                best = (plan.objective, choice)
        out[n] = best
    return out


def request(**changes):
    values = {"capacity": {"workload": CAPACITY}, "time_limit": 30.0, "gap": 1e-9}
    values.update(changes)
    return SizingRequest(**values)


@pytest.mark.parametrize(
    ("seed", "capacity", "tolerance"),
    [
        (1, 700.0, 0.6),
        (4, 700.0, 0.6),
        (1, 620.0, 0.6),  # the counting bound says 4, packing needs 5
        (3, 620.0, 0.25),  # ... and here the potential band needs 5
        (9, 620.0, 0.6),  # bound 5, minimum 6
    ],
)
def test_exact_minimum_and_placement_equal_brute_force(
    seed: int, capacity: float, tolerance: float
) -> None:
    accounts, reps, sites = tiny_book(seed)
    spec = SPEC.with_(bands={"potential": tolerance})
    result = size_team(
        accounts,
        reps,
        request(n_range=(3, 6), capacity={"workload": capacity}),
        candidates=sites,
        spec=spec,
    )
    brute = brute_force(accounts, reps, sites, range(1, 7), spec=spec, capacity=capacity)
    feasible = [n for n, best in brute.items() if best is not None]
    assert result.minimum == min(feasible)
    assert result.minimum_proven, result.minimum_reason
    below = result.point(result.minimum - 1)
    assert below is not None and below.feasible == "no"
    assert below.proof == ("count" if result.minimum == result.bound.n else "exact")
    for n in range(3, 7):
        point, best = result.point(n), brute[n]
        assert point is not None
        if best is None:
            assert point.feasible == "no" and point.plan is None
            continue
        check_plan(point.plan)
        assert point.method == "exact"
        assert point.plan.objective == pytest.approx(best[0], rel=1e-6)
        assert point.lower_bound <= point.plan.objective + 1e-6
        chosen = sorted(int(result.context.slots.site[s]) for s in point.team.hires)
        assert chosen == sorted(best[1])


def test_removal_matches_brute_force_and_writes_changed_accounts(tmp_path: Path) -> None:
    accounts, reps, sites = tiny_book(11, n_accounts=9, n_reps=4, n_sites=2)
    capacity = {"workload": 1400.0}
    result = size_team(
        accounts, reps, request(n_range=(2, 4), capacity=capacity), candidates=sites, spec=SPEC
    )
    brute = brute_force(accounts, reps, sites, range(1, 5), capacity=1400.0)
    assert result.minimum == min(n for n, b in brute.items() if b is not None)
    for n in (3, 2):
        point = result.point(n)
        assert point is not None and point.plan is not None
        assert point.plan.objective == pytest.approx(brute[n][0], rel=1e-6)
        removed = {
            result.context.base.rep_index[r] for r in result.context.builder.removed(point.team)
        }
        assert removed == set(brute[n][1])
    folder = write_sizing(result, tmp_path / "sizing")
    frame = pd.read_csv(folder / "sizing.csv", keep_default_na=False)
    row = frame[frame["n_reps"] == 2].iloc[0]
    assert int(row["removed"]) == 2 and row["removed_reps"]
    plan_dir = folder / row["plan"]
    assert (plan_dir / "inputs" / "accounts.csv").is_file()
    reread = read_plan(plan_dir)
    check_plan(reread)
    gone = set(row["removed_reps"].split(";"))
    assert not set(reread.problem.rep_ids) & gone
    assert reread.objective == pytest.approx(result.point(2).plan.objective, rel=1e-9)


def test_greedy_placement_is_feasible_and_never_beats_the_exact_optimum() -> None:
    accounts, reps, sites = tiny_book(4)
    exact = size_team(accounts, reps, request(n_range=(4, 5)), candidates=sites, spec=SPEC)
    greedy = size_team(
        accounts,
        reps,
        request(n_range=(4, 5), placement="greedy", swaps=2),
        candidates=sites,
        spec=SPEC,
    )
    for n in (4, 5):
        e, g = exact.point(n), greedy.point(n)
        assert g.method == "greedy" and g.bound_scope == "team"
        if e.plan is None:
            continue
        check_plan(g.plan)
        assert g.plan.objective >= e.lower_bound - 1e-6 * abs(e.lower_bound)


def test_packing_infeasibility_is_proven_by_the_solver_in_both_modes() -> None:
    # Three accounts of 600 h and 1,000 h per FTE: two reps have 2,000 h (the
    # count allows 2) but no two reps can hold three 600-h accounts.
    accounts = pd.DataFrame(
        {
            "account_id": ["A", "B", "C"],
            "x": [0.0, 10.0, 20.0],
            "y": [0.0, 0.0, 0.0],
            "workload": [600, 600, 600],
        }
    )
    reps = pd.DataFrame({"rep_id": ["R1"], "home_x": [0.0], "home_y": [0.0]})
    sites = pd.DataFrame({"site_id": ["S1", "S2", "S3"], "x": [5.0, 15.0, 25.0], "y": 0.0})
    spec = AlignmentSpec(travel_weight=1.0, segment_match=False)
    for placement, proof in (("exact", "exact"), ("greedy", "solver")):
        result = size_team(
            accounts,
            reps,
            SizingRequest({"workload": 1000}, placement=placement, time_limit=20),
            candidates=sites,
            spec=spec,
        )
        assert result.bound.n == 2
        assert result.minimum == 3
        assert result.minimum_proven, result.minimum_reason
        below = result.point(2)
        assert below.feasible == "no" and below.proof == proof


def test_oversized_account_is_named_and_the_cli_exits_3(tmp_path: Path) -> None:
    accounts, reps, sites = tiny_book(2)
    accounts.loc[3, "workload"] = 2 * CAPACITY
    result = size_team(accounts, reps, request(n_range=(2, 3)), candidates=sites, spec=SPEC)
    assert result.status == "infeasible"
    assert result.diagnosis is not None
    assert "A03" in result.diagnosis["summary"]
    assert result.diagnosis["findings"][0]["accounts"] == ["A03"]
    assert all(p.feasible == "no" and p.proof == "account" for p in result.points)
    paths = {}
    for name, frame in (("accounts", accounts), ("reps", reps), ("sites", sites)):
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    out = tmp_path / "out"
    cli = runner.invoke(
        app,
        [
            "size",
            str(paths["accounts"]),
            str(paths["reps"]),
            "--capacity",
            "workload=700",
            "--candidates",
            str(paths["sites"]),
            "--out",
            str(out),
        ],
    )
    assert cli.exit_code == 3, cli.output
    assert "A03" in cli.output
    meta = json.loads((out / "sizing.json").read_text())
    assert meta["status"] == "infeasible"
    assert meta["diagnosis"]["findings"][0]["accounts"] == ["A03"]


@pytest.fixture
def book_files(tmp_path: Path) -> dict[str, Path]:
    accounts, reps, sites = tiny_book(4)
    sites["region"] = ["north", "north", "south", "south"]
    paths = {}
    for name, frame in (("accounts", accounts), ("reps", reps), ("sites", sites)):
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


def _size_args(paths: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "size",
        str(paths["accounts"]),
        str(paths["reps"]),
        "--capacity",
        "workload=700",
        "--candidates",
        str(paths["sites"]),
        "--balance",
        "potential=60%",
        "--balance",
        "workload=100%",
        "--out",
        str(out),
        *extra,
    ]


def test_cli_writes_the_curve_and_plans_that_read_back(
    book_files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, _size_args(book_files, out, "--range", "3:5", "--gap", "0"))
    assert result.exit_code == 0, result.output
    assert "minimum headcount" in result.stdout
    frame = pd.read_csv(out / "sizing.csv", keep_default_na=False)
    assert list(frame["n_reps"]) == sorted(frame["n_reps"])
    assert frame["minimum"].sum() == 1
    minimum = frame[frame["minimum"]].iloc[0]
    below = frame[frame["n_reps"] == minimum["n_reps"] - 1].iloc[0]
    assert below["feasible"] == "no" and below["proof"] in ("count", "exact", "solver")
    for name in frame["plan"]:
        if name:
            plan = read_plan(out / name)
            check_plan(plan)
            assert plan.problem.rep_max[:, plan.problem.metric_names.index("workload")].max() <= 700
    sites = pd.read_csv(out / "sites.csv")
    assert list(sites.columns[:4]) == ["site_id", "name", "x", "y"]
    again = runner.invoke(app, _size_args(book_files, out, "--range", "3:5"))
    assert again.exit_code == 2
    assert "--force" in again.output


def test_hiring_limits_and_keep(book_files: dict[str, Path], tmp_path: Path) -> None:
    accounts = pd.read_csv(book_files["accounts"])
    reps = pd.read_csv(book_files["reps"])
    sites = pd.read_csv(book_files["sites"])
    result = size_team(
        accounts,
        reps,
        request(n_range=(2, 6), max_new={"total": 3, "north": 1}, keep=("R1",)),
        candidates=sites,
        spec=SPEC,
    )
    regions = result.context.sites.region
    for point in result.points:
        if point.team is None:
            continue
        assert 1 in point.team.kept
        hires = [result.context.slots.site[s] for s in point.team.hires]
        assert len(hires) <= 3
        assert sum(regions[s] == "north" for s in hires) <= 1
    top = result.point(6)
    assert top.feasible == "no" and top.proof == "limit"
    out = tmp_path / "bad"
    bad = runner.invoke(app, _size_args(book_files, out, "--max-new", "east=2"))
    assert bad.exit_code == 2
    assert "east" in bad.output and "north" in bad.output
    unknown = runner.invoke(app, _size_args(book_files, out, "--keep", "R9"))
    assert unknown.exit_code == 2 and "R9" in unknown.output


def test_same_inputs_and_seed_give_identical_files(tmp_path: Path) -> None:
    accounts, reps, _ = tiny_book(7, n_accounts=30)
    files = []
    for run in ("a", "b"):
        result = size_team(
            accounts,
            reps,
            request(
                n_range=(4, 6),
                capacity={"workload": 2000.0},
                placement="greedy",
                time_limit=20,
                gap=1e-6,
            ),
            spec=SPEC,
        )
        folder = write_sizing(result, tmp_path / run)
        meta = json.loads((folder / "sizing.json").read_text())
        meta.pop("wall_times")
        plans = {
            p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.csv"))
        }
        files.append((meta, plans))
    assert files[0] == files[1]
    assert "inputs/accounts.csv" in files[0][1]  # accounts given as a DataFrame: one copy
    assert read_plan(tmp_path / "a" / "n005").objective > 0


def test_sites_from_accounts_are_account_locations_per_segment() -> None:
    from territory_opt import generate_demo
    from territory_opt.sizing.context import prepare

    accounts, reps = generate_demo(600, 8, seed=5)
    spec = AlignmentSpec.from_preset("balanced-travel")
    ctx = prepare(accounts, reps, request(), spec=spec)
    again = prepare(accounts, reps, request(), spec=spec)
    assert list(ctx.sites.ids) == list(again.sites.ids)
    assert 10 <= len(ctx.sites) <= 70
    index = ctx.base.account_index
    for site, segment in zip(ctx.sites.ids, ctx.sites.segment, strict=True):
        account = index[site]
        names = ctx.base.segment_names
        assert names[ctx.base.account_segment[account]] == segment
    assert set(ctx.slots.pool) == {"commercial", "enterprise"}


def test_bad_options_and_sites_file_name_what_is_wrong(write_file) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="capacity"):
        parse_capacity(["workload"])
    with pytest.raises(InputError, match="max-new"):
        parse_max_new(["ent=-1"])
    with pytest.raises(InputError, match="range"):
        parse_range("60:40")
    accounts, reps, _ = tiny_book(1)
    with pytest.raises(InputError, match="'visits' is not a metric"):
        size_team(accounts, reps, SizingRequest({"visits": 10}), spec=SPEC)
    sites = write_file("sites.csv", "site_id,x,yy\nS1,1,2\n")
    with pytest.raises(InputError, match="sites.csv.*'y'"):
        size_team(accounts, reps, request(), candidates=sites, spec=SPEC)
    sites = write_file("sites2.csv", "site_id,x,y,max_hires\nS1,1,2,0\nS1,3,4,1\n")
    with pytest.raises(InputError) as err:
        size_team(accounts, reps, request(), candidates=sites, spec=SPEC)
    text = str(err.value)
    assert "row 2, column 'max_hires'" in text and "duplicate site_id 'S1'" in text


def test_max_hires_sites_and_segments() -> None:
    from territory_opt import generate_demo

    accounts, reps = generate_demo(150, 4, seed=2)
    sites = pd.DataFrame(
        {
            "site_id": ["hub", "west"],
            "lat": [35.0, 36.0],
            "lon": [-97.0, -101.0],
            "segment": ["commercial", ""],
            "max_hires": [2, 1],
        }
    )
    result = size_team(
        accounts,
        reps,
        SizingRequest({"workload": 1400}, n_range=(4, 7), time_limit=10, placement="greedy"),
        candidates=sites,
    )
    slots = result.context.slots
    # hub: 2 commercial hires; west: one hire for each staffed segment.
    assert len(slots) == 4
    for point in result.points:
        if point.plan is not None and point.plan.assignment is not None:
            check_plan(point.plan)
    frame = sizing_frame(result)
    assert {"deviation_potential", "utilisation_workload", "potential_per_rep"} <= set(frame)


def test_knee_rule() -> None:
    assert knee_point([1, 2, 3, 4], [4.0, 3.0, 2.0, 1.0]) is None  # a straight line
    assert knee_point([5, 6, 7, 8, 9], [100.0, 50.0, 40.0, 35.0, 33.0]) == 6


def test_bar_reporter_draws_loops_and_prints_steps() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, force_terminal=False)
    with use_reporter(BarReporter(console)):
        with step("Reading"):
            pass
        for _ in track(range(3), "Sizing", total=3):
            with step("inner"):
                pass
    text = buffer.getvalue()
    assert "Reading ..." in text and "Sizing ..." in text
    assert "inner ..." not in text
