"""Geographic territory design: proven optima on public instances, files, CLI, checker."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from territory_opt.alignment.backends.base import Status
from territory_opt.cli import app
from territory_opt.districting import (
    DistrictObjective,
    DistrictPlan,
    DistrictSpec,
    design_districts,
    heuristic,
    load_units,
)
from territory_opt.districting.formats import ctdp_tables, graph_json_tables
from territory_opt.districting.output import write_district_plan
from territory_opt.districting.solve import _context
from territory_opt.testing import check_districts

runner = CliRunner()

COUNTY = json.loads(
    (
        Path(__file__).resolve().parents[2] / "shared/benchmarks/county_districting/optima.json"
    ).read_text()
    if (Path(__file__).resolve().parents[2] / "shared/benchmarks/county_districting").is_dir()
    else '{"instances": {}}'
)["instances"]
#: West Virginia (55 counties, k = 3) takes about 3 minutes to prove: bench/ only.
SLOW_COUNTY = {"WV"}


def _write_tables(units: pd.DataFrame, edges: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    units.to_csv(folder / "units.csv", index=False)
    edges.to_csv(folder / "edges.csv", index=False)
    return folder / "units.csv", folder / "edges.csv"


def _grid(tmp_path: Path, side: int = 6, *, seed: int = 0) -> Path:
    """A side x side grid of square polygons with a population column, as GeoJSON."""
    rng = np.random.default_rng(seed)
    cells = [
        shapely.box(-97 + 0.1 * c, 35 + 0.1 * r, -97 + 0.1 * (c + 1), 35 + 0.1 * (r + 1))
        for r in range(side)
        for c in range(side)
    ]
    frame = gpd.GeoDataFrame(
        {
            "account_id": [f"U{i:02d}" for i in range(side * side)],
            "pop": rng.integers(80, 120, side * side),
        },
        geometry=cells,
        crs="EPSG:4326",
    )
    path = tmp_path / "grid.geojson"
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


# ----------------------------------------------------------- public optima
@pytest.mark.benchmarks
@pytest.mark.parametrize("state", sorted(set(COUNTY) - SLOW_COUNTY))
def test_county_min_cut_edges_optimum(shared_benchmarks: Path, tmp_path: Path, state: str) -> None:
    info = COUNTY[state]
    units, edges = graph_json_tables(shared_benchmarks / "county_districting" / info["file"])
    upath, epath = _write_tables(units, edges, tmp_path)
    layer = load_units(upath, adjacency=epath, metrics=["TOTPOP"])
    spec = DistrictSpec(k=info["k"], bands={"TOTPOP": 0.005}, objective=DistrictObjective.CUT_EDGES)
    plan = design_districts(layer, spec, time_limit=120, gap=1e-6)
    assert plan.status == Status.OPTIMAL
    assert plan.objective == pytest.approx(info["optimum_cut_edges"])
    assert plan.lower_bound == pytest.approx(info["optimum_cut_edges"])
    check_districts(plan)


def _ctdp_cases() -> list[tuple[str, str]]:
    return [(f"2DU60-05-{i}", obj) for i in range(1, 6) for obj in ("sum", "max")]


@pytest.mark.benchmarks
@pytest.mark.parametrize(("name", "which"), _ctdp_cases())
def test_ctdp_optimum(shared_benchmarks: Path, tmp_path: Path, name: str, which: str) -> None:
    folder = shared_benchmarks / "ctdp"
    info = json.loads((folder / "optima.json").read_text())["instances"][name]
    upath, epath = _write_tables(*ctdp_tables(folder / info["file"]), tmp_path)
    layer = load_units(upath, adjacency=epath)
    objective = DistrictObjective.SUM_DISTANCE if which == "sum" else DistrictObjective.MAX_DISTANCE
    spec = DistrictSpec(
        k=info["p"], bands={"w1": 0.05, "w2": 0.05, "w3": 0.05}, objective=objective
    )
    plan = design_districts(layer, spec, time_limit=120, gap=1e-6)
    expected = info[f"optimum_{which}_distance"]
    assert plan.status == Status.OPTIMAL
    # optima.json rounds to 2 decimals
    assert plan.objective == pytest.approx(expected, abs=0.006)
    assert plan.lower_bound == pytest.approx(plan.objective, rel=1e-6)
    check_districts(plan)


@pytest.mark.benchmarks
def test_oklahoma_zips_balanced_with_a_gap(shared_benchmarks: Path) -> None:
    layer = load_units(
        shared_benchmarks / "zip_accounts" / "ok_zcta_accounts.csv",
        columns={"account_id": "zcta"},
        metrics=["pop2010"],
    )
    spec = DistrictSpec(k=10, bands={"pop2010": 0.05}, contiguous=False, weight="pop2010")
    plan = design_districts(layer, spec, time_limit=20, seed=1)
    assert plan.labels is not None
    report = check_districts(plan)
    assert report.max_band_deviation["pop2010"] <= 0.05 + 1e-9
    assert 0 < plan.lower_bound < plan.objective
    assert plan.gap < 0.25


# ----------------------------------------------------------- polygons and files
def test_polygons_rook_and_queen_adjacency(tmp_path: Path) -> None:
    path = _grid(tmp_path, side=3)
    rook = load_units(path)
    queen = load_units(path, adjacency="queen")
    assert len(rook.edges) == 12  # 3x3 grid: 6 horizontal + 6 vertical borders
    assert len(queen.edges) == 20  # plus 8 diagonal corner contacts
    assert rook.edge_length.min() > 0


def test_islands_are_bridged_with_a_warning(tmp_path: Path) -> None:
    boxes = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(5, 5, 6, 6)]
    frame = gpd.GeoDataFrame(
        {"account_id": ["A", "B", "ISLE"], "pop": [1, 1, 1]}, geometry=boxes, crs="EPSG:3857"
    )
    path = tmp_path / "isles.gpkg"
    frame.to_file(path, driver="GPKG", engine="pyogrio")
    layer = load_units(path)
    assert layer.bridges.tolist() == [[1, 2]]
    assert any("ISLE" in w for w in layer.warnings)


def test_cli_writes_plan_folder_with_territory_polygons(tmp_path: Path) -> None:
    path = _grid(tmp_path)
    out = tmp_path / "plan"
    args = ["districts", str(path), "--k", "4", "-b", "pop=5%", "--out", str(out)]
    result = runner.invoke(app, [*args, "--time-limit", "30"])
    assert result.exit_code == 0, result.output
    shapes = gpd.read_file(out / "territories.gpkg")
    assert sorted(shapes["territory_id"]) == ["D01", "D02", "D03", "D04"]
    # one connected piece per district
    assert all(g.geom_type == "Polygon" for g in shapes.geometry)
    meta = json.loads((out / "plan.json").read_text())
    assert meta["kind"] == "districts" and meta["status"] == "optimal"
    territories = pd.read_csv(out / "territories.csv")
    assert territories["pop_deviation"].abs().max() <= 0.05 + 1e-9
    assigned = pd.read_csv(out / "assignments.csv")
    assert len(assigned) == 36 and set(assigned["territory_id"]) == set(shapes["territory_id"])
    # Same inputs and seed: byte-identical files (apart from wall times in plan.json).
    again = tmp_path / "again"
    assert runner.invoke(app, [*args[:-1], str(again), "--time-limit", "30"]).exit_code == 0
    for name in ("assignments.csv", "territories.csv", "territories.gpkg"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_cli_unit_above_the_band_is_named(tmp_path: Path) -> None:
    units = pd.DataFrame(
        {"account_id": ["A", "B", "C", "D"], "x": [0, 1, 2, 3], "y": 0, "pop": [10, 10, 10, 90]}
    )
    units.to_csv(tmp_path / "u.csv", index=False)
    out = tmp_path / "plan"
    result = runner.invoke(
        app,
        ["districts", str(tmp_path / "u.csv"), "--k", "2", "-b", "pop=10%", "--no-contiguous"]
        + ["--out", str(out)],
    )
    assert result.exit_code == 3
    assert "unit 'D' has more pop" in result.output
    assert json.loads((out / "diagnosis.json").read_text())["findings"][0]["unit"] == "D"


def test_cli_points_without_adjacency_need_no_contiguity(tmp_path: Path) -> None:
    pd.DataFrame({"account_id": ["A", "B"], "x": [0, 1], "y": [0, 0], "pop": [1, 1]}).to_csv(
        tmp_path / "u.csv", index=False
    )
    out = tmp_path / "plan"
    result = runner.invoke(
        app, ["districts", str(tmp_path / "u.csv"), "--k", "2", "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "--no-contiguous" in result.output
    assert not out.exists()


def test_cli_unknown_unit_in_edge_list_names_row(tmp_path: Path) -> None:
    pd.DataFrame({"account_id": ["A", "B"], "x": [0, 1], "y": [0, 0], "pop": [1, 1]}).to_csv(
        tmp_path / "u.csv", index=False
    )
    (tmp_path / "e.csv").write_text("unit_a,unit_b\nA,B\nA,Z\n")
    result = runner.invoke(
        app,
        ["districts", str(tmp_path / "u.csv"), "--adjacency", str(tmp_path / "e.csv")]
        + ["--k", "2", "--out", str(tmp_path / "p")],
    )
    assert result.exit_code == 2
    assert "e.csv, row 3, column 'unit_b': unknown unit 'Z'" in result.output


def test_infeasible_contiguity_is_proven_and_explained(tmp_path: Path) -> None:
    # A star: the hub touches every leaf; leaves only touch the hub. Two districts of
    # 21 +- 10 % population exist ({L1, L2} and {H, L3, L4}), but not contiguous ones:
    # a district without the hub is a single leaf of 10.
    units = pd.DataFrame(
        {
            "account_id": ["H", "L1", "L2", "L3", "L4"],
            "x": [0, 1, -1, 0, 0],
            "y": [0, 0, 0, 1, -1],
            "pop": [2, 10, 10, 10, 10],
        }
    )
    edges = pd.DataFrame({"unit_a": ["H"] * 4, "unit_b": ["L1", "L2", "L3", "L4"]})
    upath, epath = _write_tables(units, edges, tmp_path)
    layer = load_units(upath, adjacency=epath)
    plan = design_districts(layer, DistrictSpec(k=2, bands={"pop": 0.1}), time_limit=20)
    assert plan.status == Status.INFEASIBLE
    assert plan.diagnosis is not None
    assert plan.diagnosis["findings"][0]["family"] == "contiguity"
    assert "several pieces" in plan.diagnosis["summary"]
    free = design_districts(
        layer, DistrictSpec(k=2, bands={"pop": 0.1}, contiguous=False), time_limit=20
    )
    assert free.labels is not None
    check_districts(free)
    # Bands that no split meets are named as such.
    tight = design_districts(
        layer, DistrictSpec(k=2, bands={"pop": 0.1, "units": 0.05}), time_limit=20
    )
    assert tight.diagnosis is not None
    assert [f.get("metric") for f in tight.diagnosis["findings"]] == ["units"]


# ----------------------------------------------------------- heuristic and checker
def test_local_search_never_worsens_a_start(tmp_path: Path) -> None:
    layer = load_units(_grid(tmp_path, side=8, seed=3))
    spec = DistrictSpec(k=4, bands={"pop": 0.05})
    ctx = _context(layer, spec, layer.distances())
    rng = np.random.default_rng(0)
    for _ in range(3):
        start = heuristic.Design(
            heuristic.allocate(ctx, heuristic.seed_centers(ctx, rng)),
            heuristic.seed_centers(ctx, rng),
        )
        start = heuristic.make_contiguous(ctx, start)
        before = (ctx.violation(heuristic.totals_of(ctx, start.labels)), ctx.objective_of(start))
        after_design = heuristic.improve(ctx, start, deadline=float("inf"))
        after = (
            ctx.violation(heuristic.totals_of(ctx, after_design.labels)),
            ctx.objective_of(after_design),
        )
        assert after <= before


def test_checker_rejects_broken_designs(tmp_path: Path) -> None:
    layer = load_units(_grid(tmp_path, side=4))
    plan = design_districts(layer, DistrictSpec(k=2, bands={"pop": 0.1}), time_limit=20)
    check_districts(plan)
    assert plan.labels is not None and plan.centers is not None
    # Swap two far-apart units between districts: breaks contiguity and the objective.
    labels = plan.labels.copy()
    a = int(np.flatnonzero(labels == 0)[0])
    b = int(np.flatnonzero(labels == 1)[-1])
    labels[a], labels[b] = 1, 0
    broken = DistrictPlan(
        layer,
        plan.spec,
        plan.status,
        labels,
        plan.centers,
        plan.objective,
        plan.lower_bound,
        plan.options,
        plan.seconds,
        plan.solver,
    )
    report = check_districts(broken, raise_on_error=False)
    assert any("not connected" in v for v in report.violations)
    assert any("objective" in v for v in report.violations)


def test_written_plan_reads_as_files(tmp_path: Path) -> None:
    layer = load_units(_grid(tmp_path, side=4))
    plan = design_districts(
        layer,
        DistrictSpec(k=2, bands={"pop": 0.1}, objective=DistrictObjective.CUT_EDGES),
        time_limit=20,
    )
    out = write_district_plan(plan, tmp_path / "plan")
    territories = pd.read_csv(out / "territories.csv")
    assert territories["cut_edges"].sum() == 2 * plan.objective
    meta = json.loads((out / "plan.json").read_text())
    assert meta["objective_name"] == "cut-edges"
    assert meta["inputs"]["units"]["path"] == "../grid.geojson"


def _quadrant_grid(tmp_path: Path, *, lock: bool = True) -> Path:
    """6 x 6 grid whose current territories are its four quadrants (pop 100 each unit)."""
    side = 6
    cells, ids, current = [], [], []
    for r in range(side):
        for c in range(side):
            cells.append(shapely.box(c, r, c + 1, r + 1))
            ids.append(f"U{r}{c}")
            current.append(f"R{(r >= side // 2) * 2 + (c >= side // 2) + 1}")
    frame = gpd.GeoDataFrame(
        {"account_id": ids, "pop": 100, "current_rep": current, "locked_rep": ""},
        geometry=cells,
        crs="EPSG:3857",
    )
    if lock:  # pin a unit of R2 (bordering R4) to R4
        frame.loc[frame["account_id"] == "U23", "locked_rep"] = "R4"
    path = tmp_path / "quadrants.gpkg"
    frame.to_file(path, driver="GPKG", engine="pyogrio")
    return path


def test_labelled_design_keeps_locks_and_prices_disruption(tmp_path: Path) -> None:
    layer = load_units(_quadrant_grid(tmp_path))
    spec = DistrictSpec(k=4, bands={"pop": 0.2}, disruption_weight=1000.0)
    plan = design_districts(layer, spec, time_limit=60, gap=1e-6)
    assert plan.status == Status.OPTIMAL
    check_districts(plan)
    assert plan.territory_ids == ["R1", "R2", "R3", "R4"]
    names = np.array(plan.territory_ids)[plan.labels]
    assert names[list(layer.ids).index("U23")] == "R4"
    # With a high disruption price only the locked unit moves.
    moved = names != layer.current
    assert moved.sum() == 1
    out = write_district_plan(plan, tmp_path / "plan")
    table = pd.read_csv(out / "assignments.csv", keep_default_na=False)
    assert set(table["rep_id"]) == {"R1", "R2", "R3", "R4"}
    assert table["moved"].sum() == moved.sum()


def test_current_territories_name_the_districts(tmp_path: Path) -> None:
    layer = load_units(_quadrant_grid(tmp_path, lock=False))
    plan = design_districts(
        layer,
        DistrictSpec(k=4, bands={"pop": 0.05}, objective=DistrictObjective.CUT_EDGES),
        time_limit=30,
    )
    # Unlabelled design: the quadrants are optimal (12 cut edges) and keep their names.
    assert plan.objective == 12
    assert sorted(plan.territory_ids) == ["R1", "R2", "R3", "R4"]
    names = np.array(plan.territory_ids)[plan.labels]
    assert (names == layer.current).all()


def test_locks_need_one_district_per_territory(tmp_path: Path) -> None:
    layer = load_units(_quadrant_grid(tmp_path))
    with pytest.raises(Exception, match="one district per named territory"):
        design_districts(layer, DistrictSpec(k=3, bands={"pop": 0.2}), time_limit=5)


def test_account_metrics_are_summed_per_unit(tmp_path: Path) -> None:
    grid = _grid(tmp_path, side=4)
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(32)],
            "geo_unit": [f"U{i % 16:02d}" for i in range(32)],
            "potential": np.arange(32, dtype=float),
        }
    )
    accounts.to_csv(tmp_path / "accounts.csv", index=False)
    layer = load_units(grid, accounts=tmp_path / "accounts.csv")
    assert layer.metric("potential")[3] == 3 + 19
    plan = design_districts(layer, DistrictSpec(k=2, bands={"potential": 0.1}), time_limit=20)
    check_districts(plan)
    (tmp_path / "bad.csv").write_text("account_id,geo_unit,potential\nA1,U01,5\nA2,U99,1\n")
    result = runner.invoke(
        app,
        ["districts", str(grid), "--accounts", str(tmp_path / "bad.csv"), "--k", "2"]
        + ["--out", str(tmp_path / "p")],
    )
    assert result.exit_code == 2
    assert "bad.csv, row 3, column 'geo_unit': unknown unit 'U99'" in result.output


def test_design_is_never_worse_than_todays_map(tmp_path: Path) -> None:
    layer = load_units(_quadrant_grid(tmp_path, lock=False))
    spec = DistrictSpec(k=4, bands={"pop": 0.05}, objective=DistrictObjective.SUM_DISTANCE)
    ctx = _context(layer, spec, layer.distances())
    codes = {"R1": 0, "R2": 1, "R3": 2, "R4": 3}
    today = np.array([codes[c] for c in layer.current])
    current = heuristic.Design(today, heuristic.medoids(ctx, today, np.zeros(4, dtype=np.int64)))
    plan = design_districts(layer, spec, time_limit=30)
    assert plan.objective <= ctx.objective_of(current) + 1e-9
    check_districts(plan)


def test_alignment_tools_refuse_a_district_plan_clearly(tmp_path: Path) -> None:
    layer = load_units(_grid(tmp_path, side=4))
    plan = design_districts(layer, DistrictSpec(k=2, bands={"pop": 0.1}), time_limit=20)
    out = write_district_plan(plan, tmp_path / "plan")
    result = runner.invoke(app, ["compare", str(out), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert "is a district design" in result.output
    assert not (tmp_path / "r.html").exists()
