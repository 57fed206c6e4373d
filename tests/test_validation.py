"""Every validation case gets a clear InputError naming file, row and column."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from territory_opt import InputError, load_problem
from territory_opt._errors import MAX_REPORTED_ISSUES
from tests.conftest import ACCOUNTS_CSV, REPS_CSV

Writer = Callable[[str, str | bytes], Path]


def _problems(exc: pytest.ExceptionInfo[InputError]) -> list[tuple[str, int | None, str | None]]:
    return [(i.file, i.row, i.column) for i in exc.value.issues]


def _load_accounts(write_file: Writer, text: str, **kwargs: object) -> None:
    load_problem(write_file("accounts.csv", text), write_file("reps.csv", REPS_CSV), **kwargs)  # type: ignore[arg-type]


def test_valid_small_book_loads(small_files: tuple[Path, Path]) -> None:
    problem = load_problem(*small_files)
    assert problem.n_accounts == 4
    assert problem.n_reps == 2
    assert problem.metric_names == ("potential", "workload")
    assert problem.current_rep.tolist() == [0, 0, 1, 1]
    assert problem.rep_capacity.tolist() == [1.0, 0.5]
    assert str(problem.coord_system) == "latlon"


def test_missing_required_column(write_file: Writer) -> None:
    text = ACCOUNTS_CSV.replace("account_id", "acct")
    with pytest.raises(InputError) as exc:
        _load_accounts(write_file, text)
    issue = exc.value.issues[0]
    assert (issue.file, issue.row, issue.column) == ("accounts.csv", 1, "account_id")
    assert "required column 'account_id' is missing" in str(exc.value)


def test_missing_required_rep_column_suggests_close_name(write_file: Writer) -> None:
    reps = write_file("reps.csv", REPS_CSV.replace("rep_id", "rep_idd"))
    with pytest.raises(InputError) as exc:
        load_problem(write_file("accounts.csv", ACCOUNTS_CSV), reps)
    assert _problems(exc) == [("reps.csv", 1, "rep_id")]
    assert "did you mean 'rep_idd'" in str(exc.value)


def test_duplicate_id_names_both_rows(write_file: Writer) -> None:
    text = ACCOUNTS_CSV.replace("A3,", "A1,")
    with pytest.raises(InputError) as exc:
        _load_accounts(write_file, text)
    assert _problems(exc) == [("accounts.csv", 4, "account_id")]
    assert "duplicate account_id 'A1' (first seen in row 2)" in str(exc.value)


def test_empty_id(write_file: Writer) -> None:
    text = ACCOUNTS_CSV.replace("A2,", ",")
    with pytest.raises(InputError) as exc:
        _load_accounts(write_file, text)
    assert _problems(exc) == [("accounts.csv", 3, "account_id")]
    assert "empty account_id" in str(exc.value)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("abc", "'abc' is not a number"),
        ("1,234", "remove thousands separators"),
        ("$500", "remove thousands separators"),
        ("", "missing value"),
        ("nan", "missing value"),
        ("NaN", "missing value"),
        ("inf", "infinite"),
        ("-5", "negative value -5"),
    ],
)
def test_bad_metric_cell(write_file: Writer, cell: str, message: str) -> None:
    quoted = f'"{cell}"' if "," in cell else cell
    text = ACCOUNTS_CSV.replace("A3,Gamma,36.0,-96.0,300,", f"A3,Gamma,36.0,-96.0,{quoted},")
    with pytest.raises(InputError) as exc:
        _load_accounts(write_file, text, metrics=["potential", "workload"])
    assert _problems(exc) == [("accounts.csv", 4, "potential")]
    assert message in str(exc.value)


def test_non_numeric_cell_in_mostly_numeric_column_is_reported(write_file: Writer) -> None:
    # Without naming metrics: a mostly-numeric column is a metric, its stray text an error.
    text = ACCOUNTS_CSV.replace("A4,Delta,36.1,-96.1,150,", "A4,Delta,36.1,-96.1,n/a,")
    with pytest.raises(InputError) as exc:
        _load_accounts(write_file, text)
    assert _problems(exc) == [("accounts.csv", 5, "potential")]


@pytest.mark.parametrize(
    ("lat", "lon", "column", "message"),
    [
        ("95.0", "-97.5", "lat", "latitude 95 is outside [-90, 90]"),
        ("35.1", "-197.5", "lon", "longitude -197.5 is outside [-180, 180]"),
        ("-97.5", "35.1", "lat", "latitude and longitude look swapped"),
        ("", "-97.5", "lat", "missing latitude"),
    ],
)
def test_lat_lon_out_of_range(
    write_file: Writer, lat: str, lon: str, column: str, message: str
) -> None:
    text = ACCOUNTS_CSV.replace("A1,Alpha,35.1,-97.5,", f"A1,Alpha,{lat},{lon},")
    with pytest.raises(InputError) as exc:
        _load_accounts(write_file, text)
    assert ("accounts.csv", 2, column) in _problems(exc)
    assert message in str(exc.value)


@pytest.mark.parametrize("column", ["current_rep", "locked_rep", "excluded_reps"])
def test_unknown_rep_reference(write_file: Writer, column: str) -> None:
    header, *rows = ACCOUNTS_CSV.strip().splitlines()
    if column == "current_rep":
        text = ACCOUNTS_CSV.replace(
            "A3,Gamma,36.0,-96.0,300,15,R2", "A3,Gamma,36.0,-96.0,300,15,R9"
        )
    else:
        rows = [r + (",R9" if r.startswith("A3") else ",") for r in rows]
        text = "\n".join([header + f",{column}", *rows]) + "\n"
    with pytest.raises(InputError) as exc:
        _load_accounts(write_file, text)
    assert _problems(exc) == [("accounts.csv", 4, column)]
    assert "unknown rep 'R9': not in reps.csv" in str(exc.value)


def test_unknown_rep_and_account_in_pair_table(
    small_files: tuple[Path, Path], write_file: Writer
) -> None:
    pairs = write_file("pairs.csv", "account_id,rep_id,cost\nA1,R1,3\nA1,R7,2\nA9,R2,1\n")
    with pytest.raises(InputError) as exc:
        load_problem(*small_files, pairs=pairs)
    assert _problems(exc) == [("pairs.csv", 4, "account_id"), ("pairs.csv", 3, "rep_id")]
    message = str(exc.value)
    assert "unknown rep 'R7'" in message
    assert "unknown account 'A9'" in message


def test_empty_table_header_only(write_file: Writer) -> None:
    with pytest.raises(InputError) as exc:
        _load_accounts(write_file, ACCOUNTS_CSV.splitlines()[0] + "\n")
    assert _problems(exc) == [("accounts.csv", None, None)]
    assert "the table is empty" in str(exc.value)


def test_empty_file(write_file: Writer) -> None:
    with pytest.raises(InputError, match="the file is empty"):
        _load_accounts(write_file, "")


def test_wrong_encoding_names_line(write_file: Writer) -> None:
    data = ACCOUNTS_CSV.replace("Gamma", "Gämma").encode("cp1252")
    reps = write_file("reps.csv", REPS_CSV)
    with pytest.raises(InputError) as exc:
        load_problem(write_file("accounts.csv", data), reps)
    assert _problems(exc) == [("accounts.csv", 4, None)]
    assert "not UTF-8" in str(exc.value)
    assert "CSV UTF-8" in str(exc.value)


def test_utf16_is_rejected_with_advice(write_file: Writer) -> None:
    data = ACCOUNTS_CSV.encode("utf-16")
    with pytest.raises(InputError, match="UTF-16"):
        load_problem(write_file("accounts.csv", data), write_file("reps.csv", REPS_CSV))


def test_utf8_bom_is_accepted(write_file: Writer) -> None:
    data = b"\xef\xbb\xbf" + ACCOUNTS_CSV.replace("Gamma", "Gämma").encode("utf-8")
    problem = load_problem(write_file("accounts.csv", data), write_file("reps.csv", REPS_CSV))
    assert problem.account_ids[0] == "A1"
    assert problem.account_attrs["name"][2] == "Gämma"


def test_all_problems_reported_at_once(write_file: Writer) -> None:
    text = (
        ACCOUNTS_CSV.replace("A2,Beta,35.2,", "A1,Beta,95.2,")
        .replace(",300,", ",-3,")
        .replace(",12,", ",x,")
    )
    with pytest.raises(InputError) as exc:
        _load_accounts(write_file, text)
    assert set(_problems(exc)) == {
        ("accounts.csv", 3, "account_id"),
        ("accounts.csv", 3, "lat"),
        ("accounts.csv", 4, "potential"),
        ("accounts.csv", 5, "workload"),
    }
    assert str(exc.value).startswith("4 problems found")


def test_problem_list_is_capped(write_file: Writer) -> None:
    rows = [f"A{i},x,35,-97,-{i + 1},1" for i in range(200)]
    text = "account_id,name,lat,lon,potential,workload\n" + "\n".join(rows) + "\n"
    with pytest.raises(InputError) as exc:
        load_problem(write_file("accounts.csv", text), write_file("reps.csv", "rep_id\nR1\n"))
    assert exc.value.total == 200
    assert len(exc.value.issues) == MAX_REPORTED_ISSUES
    assert f"... and {200 - MAX_REPORTED_ISSUES} more problem(s) not shown" in str(exc.value)


def test_rep_capacity_and_dates(write_file: Writer) -> None:
    reps = "rep_id,capacity,start_date,home_lat,home_lon\nR1,0,2024-13-01,35,\nR2,-1,,,\n"
    with pytest.raises(InputError) as exc:
        load_problem(write_file("accounts.csv", ACCOUNTS_CSV), write_file("reps.csv", reps))
    assert set(_problems(exc)) == {
        ("reps.csv", 2, "capacity"),
        ("reps.csv", 2, "start_date"),
        ("reps.csv", 2, "home_lon"),
        ("reps.csv", 3, "capacity"),
    }


def test_rep_bounds_must_name_a_metric(write_file: Writer) -> None:
    reps = REPS_CSV.replace("segment\n", "segment,max_revenue\n").replace("smb\n", "smb,5\n")
    with pytest.raises(InputError) as exc:
        load_problem(write_file("accounts.csv", ACCOUNTS_CSV), write_file("reps.csv", reps))
    assert _problems(exc) == [("reps.csv", 1, "max_revenue")]
    assert "metrics are: potential, workload" in str(exc.value)


def test_min_above_max_bound(write_file: Writer) -> None:
    reps = "rep_id,min_potential,max_potential\nR1,10,5\nR2,,\n"
    with pytest.raises(InputError) as exc:
        load_problem(write_file("accounts.csv", ACCOUNTS_CSV), write_file("reps.csv", reps))
    assert _problems(exc) == [("reps.csv", 2, "min_potential")]


def test_locked_and_excluded_same_rep_conflict(write_file: Writer) -> None:
    text = (
        "account_id,lat,lon,potential,locked_rep,excluded_reps\n"
        "A1,35,-97,1,R1,R1;R2\n"
        "A2,35,-97,1,,\n"
    )
    with pytest.raises(InputError) as exc:
        _load_accounts(write_file, text)
    assert _problems(exc) == [("accounts.csv", 2, "excluded_reps")]
    assert "locked to rep 'R1' and also excludes it" in str(exc.value)


def test_mixed_coordinate_systems(write_file: Writer) -> None:
    reps = "rep_id,home_x,home_y\nR1,1,2\nR2,3,4\n"
    with pytest.raises(InputError, match="use one coordinate system"):
        load_problem(write_file("accounts.csv", ACCOUNTS_CSV), write_file("reps.csv", reps))


def test_adjacency_unknown_unit_and_self_loop(
    small_files: tuple[Path, Path], write_file: Writer
) -> None:
    edges = write_file("edges.csv", "unit_a,unit_b\nA1,A2\nA2,A2\n")
    with pytest.raises(InputError) as exc:
        load_problem(*small_files, adjacency=edges)
    assert _problems(exc) == [("edges.csv", 3, "unit_b")]
    edges = write_file("edges.csv", "unit_a,unit_b\nA1,A2\nA2,A7\n")
    with pytest.raises(InputError) as exc:
        load_problem(*small_files, adjacency=edges)
    assert _problems(exc) == [("edges.csv", 3, "unit_b")]
    assert "unknown unit 'A7'" in str(exc.value)


def test_inputs_are_never_modified(small_files: tuple[Path, Path], demo_book) -> None:  # type: ignore[no-untyped-def]
    before = [(p.read_bytes(), p.stat().st_mtime_ns) for p in small_files]
    load_problem(*small_files)
    assert [(p.read_bytes(), p.stat().st_mtime_ns) for p in small_files] == before
    accounts, reps = demo_book
    acc_copy, rep_copy = accounts.copy(deep=True), reps.copy(deep=True)
    load_problem(accounts, reps)
    assert accounts.equals(acc_copy)
    assert reps.equals(rep_copy)
    assert list(accounts.columns) == list(acc_copy.columns)


def test_problem_arrays_are_read_only(small_files: tuple[Path, Path]) -> None:
    problem = load_problem(*small_files)
    with pytest.raises(ValueError, match="read-only"):
        problem.metrics[0, 0] = 1.0
