"""Bad-input catalogue: malformed inputs through the real CLI never crash or write.

Every *rejected* case must exit with code 2, print a message naming the file
(and row and column where there is one) and, where the usual fix is known,
suggest it; print no traceback; leave every input file byte-identical; and
write nothing: the ``--out`` folder does not exist afterwards, or an existing
one is unchanged, and no temp folder is left behind. *Accepted* cases are
inputs a planner would expect to work (a UTF-8 BOM, semicolons, CRLF, ...):
they must give a plan.

The table is the documentation of what the tool accepts: see
``docs/data-contract.md``.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from territory_opt.cli import app

runner = CliRunner()

ACCOUNTS = """account_id,name,lat,lon,potential,workload,current_rep
A1,Alpha,35.10,-97.50,100,10,R1
A2,Beta,35.20,-97.40,120,12,R1
A3,Gamma,36.00,-96.00,300,15,R2
A4,Delta,36.10,-96.10,150,12,R2
A5,Echo,35.50,-96.80,90,9,R3
A6,Foxtrot,35.60,-96.70,110,11,R3
A7,Golf,35.30,-97.20,130,10,R1
A8,Hotel,35.90,-96.20,140,14,R2
A9,India,35.40,-96.90,80,8,R3
A10,Juliet,35.70,-96.60,160,13,R3
A11,Kilo,35.20,-97.30,70,7,R1
A12,Lima,36.05,-96.30,150,12,R2
"""
REPS = """rep_id,name,home_lat,home_lon,capacity,start_date
R1,Rita,35.20,-97.30,1.0,2024-01-15
R2,Raj,35.95,-96.20,1.0,2023-06-01
R3,Rosa,35.55,-96.75,1.0,
"""
PAIRS = "account_id,rep_id,cost\n" + "".join(
    f"A{i},R{r},{i + r}\n" for i in range(1, 13) for r in (1, 2, 3)
)
SOLVE = ("-b", "potential=40%", "--time-limit", "5")
ALIGN = ("align", "{tmp}/accounts.csv", "{tmp}/reps.csv", "--out", "{out}", *SOLVE)
RUN = ("run", "{tmp}/scenario.yaml", "--out", "{out}")
SCENARIO = """inputs:
  accounts: accounts.csv
  reps: reps.csv
balance:
  potential: 40%
  workload: null
solver:
  time_limit: 5
"""

Content = str | bytes | Callable[[Path], None]


def acc(old: str, new: str) -> str:
    """The valid accounts with one replacement (which must apply)."""
    assert old in ACCOUNTS, old
    return ACCOUNTS.replace(old, new, 1)


def rep(old: str, new: str) -> str:
    """The valid reps with one replacement (which must apply)."""
    assert old in REPS, old
    return REPS.replace(old, new, 1)


def with_column(text: str, column: str, values: dict[str, str]) -> str:
    """Add a column; ``values`` maps the first cell (id) of a row to its value."""
    header, *rows = text.strip().splitlines()
    out = [f"{header},{column}"]
    out += [f"{row},{values.get(row.split(',')[0], '')}" for row in rows]
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Case:
    """One malformed (or accepted) input and what the CLI must say about it."""

    id: str
    files: dict[str, Content] = field(default_factory=dict)
    args: tuple[str, ...] = ALIGN
    expect: tuple[str, ...] = ()
    accepted: bool = False


# ----------------------------------------------------------------- polygons
def _polygons(path: Path, change: Callable[[list[object]], None] | None, crs: object) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    rows = [line.split(",") for line in ACCOUNTS.strip().splitlines()[1:]]
    geoms: list[object] = [
        box(float(r[3]) - 0.05, float(r[2]) - 0.05, float(r[3]) + 0.05, float(r[2]) + 0.05)
        for r in rows
    ]
    if change is not None:
        change(geoms)
    frame = gpd.GeoDataFrame(
        {
            "account_id": [r[0] for r in rows],
            "potential": [float(r[4]) for r in rows],
            "workload": [float(r[5]) for r in rows],
        },
        geometry=geoms,
        crs="EPSG:4326",
    )
    if crs == "none":
        frame = frame.to_crs(3857).set_crs(None, allow_override=True)
    elif crs is not None:
        frame = frame.to_crs(crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyogrio: "'crs' was not provided"
        frame.to_file(path, engine="pyogrio")


def polygons(name: str, change: Callable[[list[object]], None] | None = None, crs: object = None):  # type: ignore[no-untyped-def]
    """A writer of the accounts as polygons (``crs``: None keeps WGS84, 'none' drops it)."""

    def write(tmp: Path) -> None:
        _polygons(tmp / name, change, crs)

    return write


def _bowtie(geoms: list[object]) -> None:
    from shapely.geometry import Polygon

    geoms[2] = Polygon([(-96.1, 35.9), (-95.9, 36.1), (-95.9, 35.9), (-96.1, 36.1)])


def _empty(geoms: list[object]) -> None:
    from shapely.geometry import Polygon

    geoms[0] = Polygon()


def _multipart(geoms: list[object]) -> None:
    from shapely.geometry import MultiPolygon, box

    geoms[1] = MultiPolygon([box(-97.45, 35.15, -97.42, 35.18), box(-97.38, 35.22, -97.35, 35.25)])


POLY = ("align", "{tmp}/accounts.geojson", "{tmp}/reps.csv", "--out", "{out}", *SOLVE)
GPKG = ("align", "{tmp}/accounts.gpkg", "{tmp}/reps.csv", "--out", "{out}", *SOLVE)
REPS_XY = "rep_id,name,home_x,home_y\nR1,Rita,0,0\nR2,Raj,100,100\nR3,Rosa,50,50\n"


# --------------------------------------------------------------- plan folders
def plan_folder(**changes: object):  # type: ignore[no-untyped-def]
    """A writer of a real plan folder ``plan/`` whose plan.json gets ``changes``."""

    def write(tmp: Path) -> None:
        result = runner.invoke(
            app,
            ["align", str(tmp / "accounts.csv"), str(tmp / "reps.csv"), "--out", str(tmp / "plan")]
            + list(SOLVE),
        )
        assert result.exit_code == 0, result.output
        meta_path = tmp / "plan" / "plan.json"
        meta = json.loads(meta_path.read_text())
        meta.update(changes)
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")

    return write


def bomb(tmp: Path) -> None:
    """A 'billion laughs' scenario: nine levels of nine aliases."""
    lines = [SCENARIO.rstrip(), 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 10)]
    (tmp / "scenario.yaml").write_text("\n".join(lines) + "\n")


LATIN1 = acc("A3,Gamma", "A3,Gämma").encode("latin-1")
NEWER = "newer than this tool reads"

CASES: list[Case] = [
    # ---- encodings
    Case("latin-1", {"accounts.csv": LATIN1}, expect=("accounts.csv, row 4", "not UTF-8", "UTF-8")),
    Case(
        "cp1252-euro",
        {
            "accounts.csv": acc("A2,Beta", "A2,Beta €")
            .encode("utf-8")
            .replace(b"\xe2\x82\xac", b"\x80")
        },
        expect=("accounts.csv, row 3", "Windows-1252"),
    ),
    Case(
        "utf-16-bom", {"accounts.csv": ACCOUNTS.encode("utf-16")}, expect=("accounts.csv", "UTF-16")
    ),
    Case(
        "utf-16-no-bom",
        {"accounts.csv": ACCOUNTS.encode("utf-16-le")},
        expect=("accounts.csv, row 1", "NUL bytes", "UTF-16"),
    ),
    Case(
        "reps-utf-16",
        {"reps.csv": REPS.encode("utf-16")},
        expect=("reps.csv", "UTF-16", "CSV UTF-8"),
    ),
    # ---- separators and number formats
    Case(
        "decimal-comma",
        {"accounts.csv": acc("A3,Gamma,36.00", 'A3,Gamma,"36,00"')},
        expect=("accounts.csv, row 4, column 'lat'", "decimal comma", "write 36.00"),
    ),
    Case(
        "european-number",
        {"accounts.csv": acc("A3,Gamma,36.00,-96.00,300", 'A3,Gamma,36.00,-96.00,"1.200,50"')},
        expect=("row 4, column 'potential'", "decimal comma", "write 1200.50"),
    ),
    Case(
        "semicolon-decimal-comma",
        {"accounts.csv": ACCOUNTS.replace(",", ";").replace("A5;Echo;35.50", "A5;Echo;35,50")},
        expect=("accounts.csv, row 6, column 'lat'", "decimal comma", "write 35.50"),
    ),
    Case(
        "thousands-separator",
        {"accounts.csv": acc("A3,Gamma,36.00,-96.00,300", 'A3,Gamma,36.00,-96.00,"1,200"')},
        expect=("row 4, column 'potential'", "remove thousands separators", "write 1200"),
    ),
    Case(
        "currency",
        {"accounts.csv": acc("A4,Delta,36.10,-96.10,150", "A4,Delta,36.10,-96.10,$300")},
        expect=("row 5, column 'potential'", "currency", "write 300"),
    ),
    Case(
        "euro-suffix",
        {"accounts.csv": acc("A4,Delta,36.10,-96.10,150", "A4,Delta,36.10,-96.10,150 €")},
        expect=("row 5, column 'potential'", "write 150"),
    ),
    Case(
        "dot-thousands",
        {"accounts.csv": acc("A4,Delta,36.10,-96.10,150", "A4,Delta,36.10,-96.10,1.500.000")},
        expect=("row 5, column 'potential'", "write 1500000"),
    ),
    Case(
        "capacity-decimal-comma",
        {"reps.csv": rep("R1,Rita,35.20,-97.30,1.0", 'R1,Rita,35.20,-97.30,"0,5"')},
        expect=("reps.csv, row 2, column 'capacity'", "decimal comma", "write 0.5"),
    ),
    Case(
        "ragged-row",
        {
            "accounts.csv": acc(
                "A6,Foxtrot,35.60,-96.70,110,11,R3", "A6,Foxtrot, Inc,35.60,-96.70,110,11,R3"
            )
        },
        expect=("accounts.csv, row 7", "8 cells but the header has 7", "double quotes"),
    ),
    Case(
        "unclosed-quote",
        {"accounts.csv": acc("A3,Gamma", 'A3,"Gamma')},
        expect=("accounts.csv, row 4", "never closed"),
    ),
    # ---- dates
    Case(
        "excel-serial-date",
        {"reps.csv": rep("2024-01-15", "45292")},
        expect=("reps.csv, row 2, column 'start_date'", "Excel serial date (2024-01-01)"),
    ),
    Case(
        "us-date",
        {"reps.csv": rep("2023-06-01", "06/01/2023")},
        expect=("reps.csv, row 3, column 'start_date'", "use YYYY-MM-DD"),
    ),
    # ---- ids and headers
    Case(
        "duplicate-account-id",
        {"accounts.csv": acc("A9,India", "A1,India")},
        expect=(
            "accounts.csv, row 10, column 'account_id'",
            "duplicate account_id 'A1' (first seen in row 2)",
        ),
    ),
    Case(
        "duplicate-rep-id",
        {"reps.csv": rep("R3,Rosa", "R1,Rosa")},
        expect=("reps.csv, row 4, column 'rep_id'", "duplicate rep_id 'R1'"),
    ),
    Case(
        "empty-account-id",
        {"accounts.csv": acc("A2,Beta", ",Beta")},
        expect=("accounts.csv, row 3, column 'account_id'", "empty account_id"),
    ),
    Case(
        "duplicate-column",
        {"accounts.csv": ACCOUNTS.replace("workload,current_rep", "potential,current_rep", 1)},
        expect=("accounts.csv, row 1, column 'potential'", "appears twice"),
    ),
    Case(
        "missing-id-column",
        {"accounts.csv": ACCOUNTS.replace("account_id", "acct_id", 1)},
        expect=("accounts.csv, row 1, column 'account_id'", "did you mean 'acct_id'"),
    ),
    # ---- empty files
    Case("empty-file", {"accounts.csv": ""}, expect=("accounts.csv", "the file is empty")),
    Case("blank-file", {"reps.csv": "\n\n  \n"}, expect=("reps.csv", "the file is empty")),
    Case(
        "header-only-accounts",
        {"accounts.csv": ACCOUNTS.splitlines()[0] + "\n"},
        expect=("accounts.csv", "header but no records"),
    ),
    Case(
        "header-only-reps",
        {"reps.csv": REPS.splitlines()[0] + "\n"},
        expect=("reps.csv", "header but no records"),
    ),
    # ---- mixed types, NaN, inf, negative
    Case(
        "text-in-metric",
        {"accounts.csv": acc("A7,Golf,35.30,-97.20,130", "A7,Golf,35.30,-97.20,high")},
        expect=("accounts.csv, row 8, column 'potential'", "'high' is not a number"),
    ),
    Case(
        "text-capacity",
        {"reps.csv": rep("R2,Raj,35.95,-96.20,1.0", "R2,Raj,35.95,-96.20,full")},
        expect=("reps.csv, row 3, column 'capacity'", "'full' is not a number"),
    ),
    Case(
        "nan-metric",
        {"accounts.csv": acc("A8,Hotel,35.90,-96.20,140,14", "A8,Hotel,35.90,-96.20,140,NaN")},
        expect=("accounts.csv, row 9, column 'workload'", "missing value"),
    ),
    Case(
        "inf-metric",
        {"accounts.csv": acc("A8,Hotel,35.90,-96.20,140", "A8,Hotel,35.90,-96.20,inf")},
        expect=("accounts.csv, row 9, column 'potential'", "infinite"),
    ),
    Case(
        "overflow-metric",
        {"accounts.csv": acc("A8,Hotel,35.90,-96.20,140", "A8,Hotel,35.90,-96.20,1e400")},
        expect=("accounts.csv, row 9, column 'potential'", "infinite"),
    ),
    Case(
        "negative-metric",
        {"accounts.csv": acc("A10,Juliet,35.70,-96.60,160", "A10,Juliet,35.70,-96.60,-160")},
        expect=("accounts.csv, row 11, column 'potential'", "negative value -160"),
    ),
    Case(
        "negative-capacity",
        {"reps.csv": rep("R3,Rosa,35.55,-96.75,1.0", "R3,Rosa,35.55,-96.75,-1")},
        expect=("reps.csv, row 4, column 'capacity'", "negative capacity"),
    ),
    Case(
        "zero-capacity",
        {"reps.csv": rep("R3,Rosa,35.55,-96.75,1.0", "R3,Rosa,35.55,-96.75,0")},
        expect=("reps.csv, row 4, column 'capacity'", "capacity 0 FTE"),
    ),
    Case(
        "min-above-max",
        {
            "reps.csv": with_column(
                with_column(REPS, "min_potential", {"R1": "500"}), "max_potential", {"R1": "100"}
            )
        },
        expect=("reps.csv, row 2, column 'min_potential'", "is above max_potential"),
    ),
    # ---- locations
    Case(
        "latlon-swapped",
        {"accounts.csv": acc("A11,Kilo,35.20,-97.30", "A11,Kilo,-97.30,35.20")},
        expect=("accounts.csv, row 12, column 'lat'", "latitude and longitude look swapped"),
    ),
    Case(
        "home-swapped",
        {"reps.csv": rep("R2,Raj,35.95,-96.20", "R2,Raj,-96.20,35.95")},
        expect=("reps.csv, row 3, column 'home_lat'", "look swapped"),
    ),
    Case(
        "lat-out-of-range",
        {"accounts.csv": acc("A12,Lima,36.05", "A12,Lima,96.05")},
        expect=("accounts.csv, row 13, column 'lat'", "outside [-90, 90]"),
    ),
    Case(
        "lon-out-of-range",
        {"accounts.csv": acc("A12,Lima,36.05,-96.30", "A12,Lima,36.05,-196.30")},
        expect=("accounts.csv, row 13, column 'lon'", "outside [-180, 180]"),
    ),
    Case(
        "lat-without-lon",
        {"accounts.csv": acc("A1,Alpha,35.10,-97.50", "A1,Alpha,35.10,")},
        expect=("accounts.csv, row 2, column 'lon'", "missing longitude"),
    ),
    Case(
        "mixed-coordinate-systems",
        {"reps.csv": REPS_XY},
        expect=("accounts.csv", "use one coordinate system in both files"),
    ),
    # ---- references
    Case(
        "unknown-current-rep",
        {"accounts.csv": acc("A5,Echo,35.50,-96.80,90,9,R3", "A5,Echo,35.50,-96.80,90,9,R33")},
        expect=(
            "accounts.csv, row 6, column 'current_rep'",
            "unknown rep 'R33'",
            "did you mean 'R3'",
        ),
    ),
    Case(
        "unknown-locked-rep",
        {"accounts.csv": with_column(ACCOUNTS, "locked_rep", {"A4": "R9"})},
        expect=("accounts.csv, row 5, column 'locked_rep'", "unknown rep 'R9'"),
    ),
    Case(
        "unknown-excluded-rep",
        {"accounts.csv": with_column(ACCOUNTS, "excluded_reps", {"A4": "R1;R8"})},
        expect=("accounts.csv, row 5, column 'excluded_reps'", "unknown rep 'R8'"),
    ),
    Case(
        "locked-and-excluded",
        {
            "accounts.csv": with_column(
                with_column(ACCOUNTS, "locked_rep", {"A4": "R2"}), "excluded_reps", {"A4": "R2"}
            )
        },
        expect=(
            "accounts.csv, row 5, column 'excluded_reps'",
            "locked to rep 'R2' and also excludes it",
        ),
    ),
    Case(
        "pairs-unknown-account",
        {"pairs.csv": PAIRS.replace("A7,R2", "A77,R2")},
        args=(*ALIGN, "--pairs", "{tmp}/pairs.csv"),
        expect=("pairs.csv, row 21, column 'account_id'", "unknown account 'A77'"),
    ),
    Case(
        "pairs-unknown-rep",
        {"pairs.csv": PAIRS.replace("A2,R3", "A2,R4")},
        args=(*ALIGN, "--pairs", "{tmp}/pairs.csv"),
        expect=("pairs.csv, row 7, column 'rep_id'", "unknown rep 'R4'"),
    ),
    Case(
        "pairs-duplicate",
        {"pairs.csv": PAIRS.replace("A3,R1,4\n", "A3,R1,4\nA3,R1,5\n")},
        args=(*ALIGN, "--pairs", "{tmp}/pairs.csv"),
        expect=("pairs.csv, row 9, column 'rep_id'", "listed twice"),
    ),
    Case(
        "pairs-nan-cost",
        {"pairs.csv": PAIRS.replace("A3,R1,4\n", "A3,R1,inf\n")},
        args=(*ALIGN, "--pairs", "{tmp}/pairs.csv"),
        expect=("pairs.csv, row 8, column 'cost'", "infinite"),
    ),
    # ---- polygons
    Case(
        "invalid-polygon",
        {"accounts.geojson": polygons("accounts.geojson", _bowtie)},
        args=POLY,
        expect=("accounts.geojson, row 3, column 'geometry'", "Self-intersection", "make_valid"),
    ),
    Case(
        "empty-polygon",
        {"accounts.geojson": polygons("accounts.geojson", _empty)},
        args=POLY,
        expect=("accounts.geojson, row 1, column 'geometry'", "empty or missing geometry"),
    ),
    Case(
        "polygons-without-crs",
        {"accounts.gpkg": polygons("accounts.gpkg", crs="none")},
        args=GPKG,
        expect=("accounts.gpkg, row 1, column 'geometry'", "no coordinate reference system"),
    ),
    Case(
        "projected-polygons-vs-latlon-reps",
        {"accounts.gpkg": polygons("accounts.gpkg", crs="EPSG:3857")},
        args=GPKG,
        expect=("accounts.gpkg", "accounts use xy locations", "home_lat/home_lon"),
    ),
    # ---- scenarios
    Case(
        "cyclic-extends",
        {"scenario.yaml": "extends: b.yaml\n", "b.yaml": "extends: scenario.yaml\n" + SCENARIO},
        args=RUN,
        expect=("'extends' forms a cycle", "scenario.yaml -> b.yaml -> scenario.yaml"),
    ),
    Case("yaml-bomb", {"scenario.yaml": bomb}, args=RUN, expect=("scenario.yaml", "expand to")),
    Case(
        "yaml-recursive-alias",
        {"scenario.yaml": SCENARIO + "description: &d [*d]\n"},
        args=RUN,
        expect=("scenario.yaml", "line 9", "recursive"),
    ),
    Case(
        "scenario-out-key",
        {"scenario.yaml": SCENARIO + "out: ../../escaped\n"},
        args=RUN,
        expect=("scenario.yaml", "key 'out'", "unknown key"),
    ),
    Case(
        "scenario-missing-input",
        {"scenario.yaml": SCENARIO.replace("accounts.csv", "nowhere/accounts.csv")},
        args=RUN,
        expect=("scenario.yaml", "inputs.accounts", "does not exist"),
    ),
    Case(
        "scenario-duplicate-key",
        {"scenario.yaml": SCENARIO + "solver:\n  seed: 3\n"},
        args=RUN,
        expect=("scenario.yaml", "appears twice"),
    ),
    # ---- paths
    Case(
        "accounts-missing",
        args=("align", "{tmp}/nope.csv", "{tmp}/reps.csv", "--out", "{out}"),
        expect=("nope.csv", "file does not exist"),
    ),
    Case(
        "accounts-is-folder",
        {"folder.csv/x": "x"},
        args=("align", "{tmp}/folder.csv", "{tmp}/reps.csv", "--out", "{out}"),
        expect=("folder.csv", "is a folder"),
    ),
    Case(
        "unsupported-type",
        {"accounts.docx": ACCOUNTS},
        args=("align", "{tmp}/accounts.docx", "{tmp}/reps.csv", "--out", "{out}"),
        expect=("accounts.docx", "unsupported file type '.docx'"),
    ),
    Case(
        "not-a-workbook",
        {"accounts.xlsx": ACCOUNTS},
        args=("align", "{tmp}/accounts.xlsx", "{tmp}/reps.csv", "--out", "{out}"),
        expect=("accounts.xlsx", "not a readable Excel workbook"),
    ),
    Case(
        "not-parquet",
        {"accounts.parquet": ACCOUNTS},
        args=("align", "{tmp}/accounts.parquet", "{tmp}/reps.csv", "--out", "{out}"),
        expect=("accounts.parquet", "not a readable Parquet file"),
    ),
    Case(
        "pairs-missing",
        args=(*ALIGN, "--pairs", "{tmp}/gone.csv"),
        expect=("gone.csv", "file does not exist"),
    ),
    Case(
        "out-is-a-file",
        {"taken": "not a folder\n"},
        args=("align", "{tmp}/accounts.csv", "{tmp}/reps.csv", "--out", "{tmp}/taken", *SOLVE),
        expect=("taken", "exists and is a file"),
    ),
    # ---- settings
    Case("zero-time-limit", args=(*ALIGN, "--time-limit", "0"), expect=("time limit must be > 0",)),
    Case(
        "nan-time-limit", args=(*ALIGN, "--time-limit", "nan"), expect=("time limit must be > 0",)
    ),
    Case("negative-gap", args=(*ALIGN, "--gap", "-1"), expect=("column 'gap'", "gap must be")),
    Case("negative-threads", args=(*ALIGN, "--threads", "-2"), expect=("threads must be >= 0",)),
    Case(
        "negative-band",
        args=(*ALIGN, "-b", "potential=-5%"),
        expect=("band tolerance for 'potential' must be in [0, 10]",),
    ),
    Case(
        "share-above-one",
        args=(*ALIGN, "--max-moved-share", "2"),
        expect=("max_moved_share must be in [0, 1]",),
    ),
    Case(
        "zero-max-accounts",
        args=(*ALIGN, "--max-accounts", "0"),
        expect=("max_accounts must be >= 1",),
    ),
    Case(
        "negative-distance",
        args=(*ALIGN, "--max-distance", "-5"),
        expect=("max_distance must be > 0",),
    ),
    Case("unknown-band-metric", args=(*ALIGN, "-b", "revnue=5%"), expect=("metric 'revnue'",)),
    Case(
        "unknown-backend",
        args=(*ALIGN, "--backend", "gurobi"),
        expect=("unknown backend 'gurobi'",),
    ),
    # ---- plan folders from a newer tool, or damaged
    Case(
        "quota-newer-plan",
        {"plan": plan_folder(format_version=99, tool_version="9.0.0")},
        args=("quota", "{tmp}/plan", "--target", "1000000"),
        expect=("plan.json, column 'format_version'", NEWER, "territory-opt 9.0.0", "upgrade"),
    ),
    Case(
        "export-newer-plan",
        {"plan": plan_folder(format_version=2)},
        args=("export", "{tmp}/plan", "--to", "generic", "--out", "{out}"),
        expect=("plan.json", NEWER),
    ),
    Case(
        "compare-newer-plan",
        {"plan": plan_folder(format_version=2)},
        args=("compare", "{tmp}/plan", "--out", "{out}/report.html"),
        expect=("plan.json", NEWER),
    ),
    Case(
        "quota-damaged-plan",
        {"plan": plan_folder(status="exploded")},
        args=("quota", "{tmp}/plan", "--target", "1000000"),
        expect=("plan.json", "is damaged", "write the plan again"),
    ),
    Case(
        "compare-not-a-plan",
        {"plan/readme.txt": "hello\n"},
        args=("compare", "{tmp}/plan", "--out", "{out}/report.html"),
        expect=("plan", "is not a plan folder (no plan.json)"),
    ),
]

# ----------------------------------------------------------- district design
UNITS = "account_id,x,y,pop\nU1,0,0,10\nU2,1,0,10\nU3,0,1,10\nU4,1,1,10\n"
EDGES = "unit_a,unit_b\nU1,U2\nU1,U3\nU2,U4\nU3,U4\n"
DISTRICTS = ("districts", "{tmp}/units.csv", "--k", "2", "-b", "pop=10%", "--out", "{out}")
WITH_EDGES = (*DISTRICTS, "--adjacency", "{tmp}/edges.csv")
CASES += [
    Case(
        "districts-unknown-edge-unit",
        {"units.csv": UNITS, "edges.csv": EDGES + "U4,U9\n"},
        WITH_EDGES,
        ("edges.csv, row 6, column 'unit_b': unknown unit 'U9'",),
    ),
    Case(
        "districts-self-edge",
        {"units.csv": UNITS, "edges.csv": EDGES + "U2,U2\n"},
        WITH_EDGES,
        ("edges.csv, row 6", "adjacent to itself"),
    ),
    Case(
        "districts-points-without-adjacency",
        {"units.csv": UNITS},
        DISTRICTS,
        ("--no-contiguous",),
    ),
    Case(
        "districts-k-too-large",
        {"units.csv": UNITS, "edges.csv": EDGES},
        (*WITH_EDGES[:3], "9", *WITH_EDGES[4:]),
        ("k must be between 1 and 4",),
    ),
    Case(
        "districts-unknown-band-metric",
        {"units.csv": UNITS, "edges.csv": EDGES},
        (*WITH_EDGES, "-b", "revenue=5%"),
        ("unknown metric 'revenue'",),
    ),
    Case(
        "districts-unknown-center",
        {"units.csv": UNITS, "edges.csv": EDGES},
        (*WITH_EDGES, "--centers", "U1,U7"),
        ("center 'U7' is not a unit id",),
    ),
    Case(
        "districts-rook-for-points",
        {"units.csv": UNITS},
        (*DISTRICTS, "--adjacency", "rook"),
        ("needs polygons",),
    ),
    Case(
        "districts-negative-unit-metric",
        {"units.csv": UNITS.replace("U4,1,1,10", "U4,1,1,-10"), "edges.csv": EDGES},
        WITH_EDGES,
        ("units.csv, row 5, column 'pop'",),
    ),
    Case(
        "districts-account-in-unknown-unit",
        {
            "units.csv": UNITS,
            "edges.csv": EDGES,
            "accts.csv": "account_id,geo_unit,potential\nA1,U1,5\nA2,U8,3\n",
        },
        (*WITH_EDGES, "--accounts", "{tmp}/accts.csv"),
        ("accts.csv, row 3, column 'geo_unit': unknown unit 'U8'",),
    ),
]

ACCEPTED: list[Case] = [
    Case("utf-8-bom", {"accounts.csv": b"\xef\xbb\xbf" + ACCOUNTS.encode()}, accepted=True),
    Case("semicolons", {"accounts.csv": ACCOUNTS.replace(",", ";")}, accepted=True),
    Case("tabs-in-csv", {"reps.csv": REPS.replace(",", "\t")}, accepted=True),
    Case("crlf", {"accounts.csv": ACCOUNTS.replace("\n", "\r\n")}, accepted=True),
    Case("blank-lines", {"accounts.csv": ACCOUNTS.replace("A5,", "\nA5,")}, accepted=True),
    Case(
        "padded-header",
        {"accounts.csv": ACCOUNTS.replace("potential,", " potential ,", 1)},
        accepted=True,
    ),
    Case(
        "quoted-comma-in-name",
        {"accounts.csv": acc("A6,Foxtrot", 'A6,"Foxtrot, Inc"')},
        accepted=True,
    ),
    Case(
        "formula-like-name", {"accounts.csv": acc("A6,Foxtrot", "A6,=HYPERLINK(1)")}, accepted=True
    ),
    Case(
        "multipart-polygon",
        {"accounts.geojson": polygons("accounts.geojson", _multipart)},
        args=POLY,
        accepted=True,
    ),
]


def _write(tmp: Path, files: dict[str, Content]) -> None:
    base: dict[str, Content] = {"accounts.csv": ACCOUNTS, "reps.csv": REPS, **files}
    for name, content in base.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(tmp)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _tree(root: Path, skip: Path | None = None) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative path -> digest)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and (skip is None or skip not in path.parents):
            out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _invoke(case: Case, tmp: Path, out: Path) -> tuple[int, str, str]:
    args = [a.replace("{tmp}", str(tmp)).replace("{out}", str(out)) for a in case.args]
    result = runner.invoke(app, args)
    return result.exit_code, result.stdout, result.stderr


def _stray_temp_folders(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if re.match(r"^\..*\.(tmp|old)-", p.name)]


#: Filled in by the tests, reported by test_summary (pytest runs files in order).
TALLY = {"cases": 0, "accepted": 0, "crashes": 0, "partial_writes": 0}


@pytest.mark.parametrize("existing", [False, True], ids=["no-out", "existing-out"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_rejected_cleanly(case: Case, existing: bool, tmp_path: Path) -> None:
    tmp = tmp_path / "in"
    tmp.mkdir()
    _write(tmp, case.files)
    out = tmp_path / "out"
    has_out = "{out}" in " ".join(case.args)
    if existing:
        if not has_out:
            pytest.skip("the command writes into its input folder (checked unchanged)")
        out.mkdir()
        (out / "plan.json").write_text('{"previous": true}\n')
        (out / "assignments.csv").write_text("account_id,rep_id\nA1,R1\n")
        case = Case(case.id, case.files, (*case.args, "--force"), case.expect)
    before_in, before_out = _tree(tmp), _tree(out)
    code, stdout, stderr = _invoke(case, tmp, out)
    TALLY["cases"] += 1
    crashed = code not in (0, 2, 3) or "Traceback" in stdout + stderr
    partial = _tree(tmp) != before_in or _tree(out) != before_out or (not existing and out.exists())
    TALLY["crashes"] += crashed
    TALLY["partial_writes"] += partial
    assert code == 2, f"exit {code}\n{stdout}\n{stderr}"
    assert "Traceback" not in stdout + stderr
    flat = " ".join(stderr.split())
    for text in case.expect:
        assert text in flat, f"{text!r} not in: {stderr}"
    assert _tree(tmp) == before_in, "an input file changed"
    if existing:
        assert _tree(out) == before_out, "the existing output folder changed"
    else:
        assert not out.exists(), "output was written"
    assert _stray_temp_folders(tmp_path) == []


@pytest.mark.parametrize("case", ACCEPTED, ids=[c.id for c in ACCEPTED])
def test_accepted_input_gives_a_plan(case: Case, tmp_path: Path) -> None:
    tmp = tmp_path / "in"
    tmp.mkdir()
    _write(tmp, case.files)
    before = _tree(tmp)
    out = tmp_path / "out"
    code, stdout, stderr = _invoke(case, tmp, out)
    TALLY["accepted"] += 1
    assert code == 0, f"exit {code}\n{stdout}\n{stderr}"
    assert (out / "plan.json").is_file() and (out / "assignments.csv").is_file()
    assert _tree(tmp) == before


def test_catalogue_size_and_summary() -> None:
    """At least 40 rejected cases; print the tally (shown with ``pytest -s``/``-rP``)."""
    assert len(CASES) >= 40
    assert len({c.id for c in CASES + ACCEPTED}) == len(CASES) + len(ACCEPTED)
    if TALLY["cases"]:
        print(
            f"\nbad-input catalogue: {len(CASES)} rejected cases ({TALLY['cases']} runs), "
            f"{len(ACCEPTED)} accepted; crashes: {TALLY['crashes']}, "
            f"partial writes: {TALLY['partial_writes']}"
        )
        assert TALLY["crashes"] == 0 and TALLY["partial_writes"] == 0


def test_inputs_are_opened_read_only(tmp_path: Path) -> None:
    """Read-only input files (as on a share) are read without trouble."""
    _write(tmp_path, {})
    for name in ("accounts.csv", "reps.csv"):
        (tmp_path / name).chmod(0o444)
    case = Case("read-only")
    code, stdout, stderr = _invoke(case, tmp_path, tmp_path / "out")
    assert code == 0, stdout + stderr
