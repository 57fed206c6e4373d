"""Readers: every supported format gives the same Problem; odd files get clear errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon

from territory_opt import InputError, load_problem, read_table
from tests.conftest import ACCOUNTS_CSV, REPS_CSV

Writer = Callable[[str, str | bytes], Path]


def _accounts_frame() -> pd.DataFrame:
    from io import StringIO

    return pd.read_csv(StringIO(ACCOUNTS_CSV), dtype={"account_id": str})


@pytest.mark.parametrize("suffix", ["xlsx", "parquet"])
def test_typed_formats_match_csv(
    tmp_path: Path, small_files: tuple[Path, Path], suffix: str
) -> None:
    reference = load_problem(*small_files)
    frame = _accounts_frame()
    path = tmp_path / f"accounts.{suffix}"
    if suffix == "xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    problem = load_problem(path, small_files[1])
    np.testing.assert_array_equal(problem.metrics, reference.metrics)
    np.testing.assert_array_equal(problem.account_coords, reference.account_coords)
    assert problem.account_ids.tolist() == reference.account_ids.tolist()
    assert problem.sources["accounts"] != reference.sources["accounts"]


def test_numeric_ids_keep_their_text(write_file: Writer, tmp_path: Path) -> None:
    # ZIP-like ids with leading zeros survive CSV; Excel integer ids read as "1017".
    csv_path = write_file("accounts.csv", "account_id,potential\n01017,5\n02118,6\n")
    problem = load_problem(csv_path, write_file("reps.csv", "rep_id\n1\n"))
    assert problem.account_ids.tolist() == ["01017", "02118"]
    xlsx = tmp_path / "acc.xlsx"
    pd.DataFrame({"account_id": [1017, 2118], "potential": [5, 6]}).to_excel(xlsx, index=False)
    assert load_problem(xlsx, csv_path.with_name("reps.csv")).account_ids.tolist() == [
        "1017",
        "2118",
    ]


def test_semicolon_and_tab_delimiters(write_file: Writer, small_files: tuple[Path, Path]) -> None:
    reference = load_problem(*small_files)
    for name, sep in (("accounts_semi.csv", ";"), ("accounts.tsv", "\t")):
        path = write_file(name, ACCOUNTS_CSV.replace(",", sep))
        problem = load_problem(path, small_files[1])
        np.testing.assert_array_equal(problem.metrics, reference.metrics)


def test_blank_lines_are_ignored_but_rows_keep_their_numbers(write_file: Writer) -> None:
    text = ACCOUNTS_CSV.replace("A3,Gamma,36.0,-96.0,300,", "\nA3,Gamma,36.0,-96.0,-300,")
    with pytest.raises(InputError) as exc:
        load_problem(write_file("accounts.csv", text), write_file("reps.csv", REPS_CSV))
    assert [(i.row, i.column) for i in exc.value.issues] == [(5, "potential")]


def test_polygons_give_representative_points(
    tmp_path: Path, small_files: tuple[Path, Path]
) -> None:
    squares = [
        Polygon([(x, y), (x + 1, y), (x + 1, y + 1), (x, y + 1)])
        for x, y in [(-98, 35), (-97, 35), (-96, 36), (-95, 36)]
    ]
    gdf = gpd.GeoDataFrame(
        {"account_id": ["A1", "A2", "A3", "A4"], "potential": [1.0, 2.0, 3.0, 4.0]},
        geometry=squares,
        crs="EPSG:4326",
    )
    for suffix in ("geojson", "gpkg"):
        path = tmp_path / f"units.{suffix}"
        gdf.to_file(path)
        problem = load_problem(path, small_files[1])
        assert str(problem.coord_system) == "latlon"
        assert problem.account_coords is not None
        lat, lon = problem.account_coords[0]
        assert squares[0].contains(Point(lon, lat))
        assert problem.geometry is not None and len(problem.geometry) == 4


def test_projected_polygons_give_xy(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"account_id": ["U1", "U2"], "pop": [10.0, 20.0]},
        geometry=[Point(500_000, 4_000_000).buffer(100), Point(501_000, 4_000_000).buffer(100)],
        crs="EPSG:32614",
    )
    path = tmp_path / "units.gpkg"
    gdf.to_file(path)
    reps = tmp_path / "reps.csv"
    reps.write_text("rep_id\nR1\n", encoding="utf-8")
    problem = load_problem(path, reps)
    assert str(problem.coord_system) == "xy"
    assert problem.account_coords is not None
    np.testing.assert_allclose(problem.account_coords[:, 0], [500_000, 501_000], atol=100)


def test_empty_geometry_is_reported(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"account_id": ["U1", "U2"], "pop": [10.0, 20.0]},
        geometry=[Point(1, 1).buffer(0.1), Polygon()],
        crs="EPSG:4326",
    )
    path = tmp_path / "units.geojson"
    gdf.to_file(path)
    reps = tmp_path / "reps.csv"
    reps.write_text("rep_id\nR1\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_problem(path, reps)
    assert [(i.file, i.row, i.column) for i in exc.value.issues] == [
        ("units.geojson", 2, "geometry")
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("accounts.doc", "x", "unsupported file type '.doc'"),
        ("accounts.xlsx", "not a zip", "not a readable Excel workbook"),
        ("accounts.parquet", "not parquet", "not a readable Parquet file"),
        ("accounts.gpkg", "not a geopackage", "not a readable spatial file"),
        ("accounts.csv", "a,b,a\n1,2,3\n", "column 'a' appears twice"),
    ],
)
def test_unreadable_files(write_file: Writer, name: str, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_table(write_file(name, content))


def test_missing_path_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file does not exist"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="is a folder"):
        read_table(tmp_path)


def test_ragged_csv_falls_back_to_exact_parser_message(write_file: Writer) -> None:
    with pytest.raises(InputError, match="this row has 4 cells but the header has 2") as exc:
        read_table(write_file("accounts.csv", "a,b\n1,2\n3,4,5,6\n"))
    assert exc.value.issues[0].row == 3


def test_column_mapping_for_foreign_exports(write_file: Writer) -> None:
    text = "zcta,lat,lon,pop2010\n73002,34.9,-97.7,1062\n73003,35.6,-97.4,20617\n"
    problem = load_problem(
        write_file("zips.csv", text),
        write_file("reps.csv", "rep_id\nR1\n"),
        account_columns={"account_id": "zcta", "potential": "pop2010"},
    )
    assert problem.account_ids.tolist() == ["73002", "73003"]
    assert problem.metric_names == ("potential",)
    with pytest.raises(
        InputError, match="column 'zip' \\(given for 'account_id'\\) is not in the file"
    ):
        load_problem(
            write_file("zips.csv", text),
            write_file("reps.csv", "rep_id\nR1\n"),
            account_columns={"account_id": "zip"},
        )
