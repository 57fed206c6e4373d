"""Problem assembly: families, segments, pairs, adjacency, and the public benchmark files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from territory_opt import load_problem
from tests.conftest import REPS_CSV, gap_instance_files

Writer = Callable[[str, str | bytes], Path]


def test_families_follow_parent_chains(write_file: Writer) -> None:
    text = (
        "account_id,potential,parent_id\n"
        "P,1,\n"  # parent account
        "C1,1,P\n"  # child of P
        "G1,1,C1\n"  # grandchild: same family
        "X1,1,HQ\n"  # two children of a parent that is not an account
        "X2,1,HQ\n"
        "S,1,\n"  # no family
    )
    problem = load_problem(write_file("accounts.csv", text), write_file("reps.csv", REPS_CSV))
    fam = problem.family.tolist()
    assert fam[0] == fam[1] == fam[2] >= 0
    assert fam[3] == fam[4] >= 0
    assert fam[0] != fam[3]
    assert fam[5] == -1


def test_segments_and_locks_and_exclusions(write_file: Writer) -> None:
    accounts = (
        "account_id,potential,segment,locked_rep,excluded_reps\nA1,1,smb,R1,\nA2,1,ent,,R1; R2\n"
    )
    reps = "rep_id,segment\nR1,smb\nR2,ent\nR3,\n"
    problem = load_problem(write_file("accounts.csv", accounts), write_file("reps.csv", reps))
    names = problem.segment_names
    assert [names[i] for i in problem.account_segment] == ["smb", "ent"]
    assert problem.rep_segment[2] == -1
    assert problem.locked_rep.tolist() == [0, -1]
    assert problem.excluded.tolist() == [[1, 0], [1, 1]]


def test_pair_table_overrides_and_pair_only_metric(write_file: Writer) -> None:
    accounts = "account_id,potential\nA1,10\nA2,20\n"
    pairs = "account_id,rep_id,cost,potential,resource\nA1,R1,5,,3\nA1,R2,-1,7,4\nA2,R1,2,,1\n"
    problem = load_problem(
        write_file("accounts.csv", accounts),
        write_file("reps.csv", "rep_id\nR1\nR2\n"),
        pairs=write_file("pairs.csv", pairs),
    )
    assert problem.metric_names == ("potential", "resource")
    assert problem.pairs is not None
    assert problem.pairs.account.tolist() == [0, 0, 1]
    assert problem.pairs.rep.tolist() == [0, 1, 0]
    assert problem.pairs.cost.tolist() == [5, -1, 2]
    np.testing.assert_array_equal(problem.pairs.metrics[:, 0], [np.nan, 7, np.nan])
    assert problem.pairs.metrics[:, 1].tolist() == [3, 4, 1]


def test_duplicate_pair_is_reported(write_file: Writer) -> None:
    from territory_opt import InputError

    with pytest.raises(InputError, match=r"pair \(A1, R1\) is listed twice"):
        load_problem(
            write_file("accounts.csv", "account_id,potential\nA1,1\n"),
            write_file("reps.csv", "rep_id\nR1\n"),
            pairs=write_file("pairs.csv", "account_id,rep_id,cost\nA1,R1,1\nA1,R1,2\n"),
        )


def test_adjacency_is_undirected_and_deduplicated(write_file: Writer) -> None:
    problem = load_problem(
        write_file("units.csv", "account_id,x,y,pop\nU1,0,0,1\nU2,1,0,1\nU3,2,0,1\n"),
        write_file("reps.csv", "rep_id\nR1\n"),
        adjacency=write_file("edges.csv", "unit_a,unit_b\nU1,U2\nU2,U1\nU3,U2\n"),
    )
    assert problem.adjacency is not None
    assert problem.adjacency.tolist() == [[0, 1], [1, 2]]
    assert str(problem.coord_system) == "xy"


def test_gap_instance_reads_through_the_pair_table(shared_benchmarks: Path, tmp_path: Path) -> None:
    paths = gap_instance_files(shared_benchmarks / "gap" / "cattrysse1994" / "gap1-0", tmp_path)
    problem = load_problem(paths[0], paths[1], pairs=paths[2])
    assert (problem.n_accounts, problem.n_reps) == (15, 5)
    assert problem.metric_names == ("resource",)
    assert problem.rep_max[:, 0].tolist() == [36, 34, 38, 27, 33]
    assert problem.pairs is not None and len(problem.pairs.account) == 75


def test_zip_accounts_read_with_column_mapping(shared_benchmarks: Path, write_file: Writer) -> None:
    path = shared_benchmarks / "zip_accounts" / "ok_zcta_accounts.csv"
    problem = load_problem(
        path,
        write_file("reps.csv", "rep_id\nR1\nR2\n"),
        account_columns={"account_id": "zcta", "potential": "pop2010"},
        metrics=["potential", "aland_sqmi"],
    )
    assert problem.n_accounts == 647
    assert str(problem.coord_system) == "latlon"
    assert problem.metric("potential").sum() > 3_000_000  # Oklahoma had 3.75 M people in 2010
