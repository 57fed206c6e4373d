"""The input data contract: validate each table and convert it to arrays.

Each ``validate_*`` function takes a :class:`~territory_opt.data.io.RawTable`,
checks every cell, and either returns a typed table or raises one
:class:`~territory_opt._errors.InputError` that lists all problems found (file,
row, column, problem). Cross-table checks (unknown reps, unknown accounts) live
in :mod:`territory_opt.data.problem`.

Accounts columns
    ``account_id`` (required, unique); location as ``lat``/``lon`` [degrees,
    WGS84] or ``x``/``y`` [file units] or the geometry of a spatial file;
    metric columns (numeric, >= 0); optional ``name``, ``current_rep``,
    ``segment``, ``parent_id``, ``locked_rep``, ``excluded_reps``
    (``;``-separated), ``geo_unit``, ``crm_account_id`` (the account's record
    id in the CRM, used by the exports).
Reps columns
    ``rep_id`` (required, unique); optional ``name``, ``email``,
    ``home_lat``/``home_lon`` or ``home_x``/``home_y``, ``capacity`` [FTE,
    default 1.0], ``segment``, ``start_date``, ``manager_id``, ``crm_user_id``,
    ``hubspot_owner_id``, ``min_<metric>`` / ``max_<metric>``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
import shapely

from territory_opt._errors import IssueCollector
from territory_opt.data.cells import (
    date_cells,
    date_problem,
    looks_numeric,
    number_cells,
    number_problem,
    text_cells,
)
from territory_opt.data.io import RawTable


class CoordSystem(StrEnum):
    """How locations are given: geographic degrees or projected plane units."""

    LATLON = "latlon"
    XY = "xy"


ACCOUNT_TEXT_COLUMNS = (
    "name",
    "current_rep",
    "segment",
    "parent_id",
    "locked_rep",
    "excluded_reps",
    "geo_unit",
    "crm_account_id",
)
ACCOUNT_RESERVED = frozenset({"account_id", "lat", "lon", "x", "y", *ACCOUNT_TEXT_COLUMNS})
REP_TEXT_COLUMNS = (
    "name",
    "email",
    "segment",
    "manager_id",
    "crm_user_id",
    "hubspot_owner_id",
)
REP_RESERVED = frozenset(
    {
        "rep_id",
        "capacity",
        "start_date",
        "home_lat",
        "home_lon",
        "home_x",
        "home_y",
        *REP_TEXT_COLUMNS,
    }
)
PAIR_RESERVED = frozenset({"account_id", "rep_id", "cost"})
EXCLUDED_SEPARATOR = ";"


@dataclass(frozen=True)
class AccountTable:
    """Validated accounts, one entry per record, in file order."""

    file: str
    sha256: str
    rows: np.ndarray
    ids: np.ndarray
    coord_system: CoordSystem | None
    coords: np.ndarray | None
    metric_names: tuple[str, ...]
    metrics: np.ndarray
    text: Mapping[str, np.ndarray]
    geometry: np.ndarray | None


@dataclass(frozen=True)
class RepTable:
    """Validated reps (seats), one entry per record, in file order."""

    file: str
    sha256: str
    rows: np.ndarray
    ids: np.ndarray
    coord_system: CoordSystem | None
    home: np.ndarray | None
    capacity: np.ndarray
    start_date: np.ndarray
    text: Mapping[str, np.ndarray]
    bounds: Mapping[str, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class PairTable:
    """Validated pair rows (account id, rep id, cost and metric overrides)."""

    file: str
    sha256: str
    rows: np.ndarray
    account_ids: np.ndarray
    rep_ids: np.ndarray
    cost: np.ndarray
    metric_names: tuple[str, ...]
    metrics: np.ndarray


@dataclass(frozen=True)
class EdgeTable:
    """Validated adjacency edge list (unit ids)."""

    file: str
    sha256: str
    rows: np.ndarray
    unit_a: np.ndarray
    unit_b: np.ndarray


def _rename(
    raw: RawTable, columns: Mapping[str, str] | None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Apply a canonical-name -> file-column mapping; return frame and display names."""
    frame = raw.frame
    display: dict[str, str] = {}
    if not columns:
        return frame, display
    collector = IssueCollector(raw.file)
    renames: dict[str, str] = {}
    for canonical, actual in columns.items():
        if actual not in frame.columns:
            collector.add(
                f"column '{actual}' (given for '{canonical}') is not in the file"
                + _did_you_mean(actual, frame.columns),
                row=1,
                column=actual,
            )
        elif canonical != actual:
            renames[actual] = canonical
            display[canonical] = actual
            if canonical in frame.columns and canonical not in columns.values():
                collector.add(
                    f"column '{canonical}' exists and '{actual}' is also mapped to it",
                    row=1,
                    column=canonical,
                )
    collector.raise_if_any()
    return frame.rename(columns=renames), display


def _did_you_mean(name: str, options: Sequence[str] | pd.Index) -> str:
    close = difflib.get_close_matches(name, [str(o) for o in options], n=1, cutoff=0.6)
    if not close:
        lower = {str(o).lower().replace(" ", "_"): str(o) for o in options}
        key = name.lower().replace(" ", "_")
        if key in lower:
            close = [lower[key]]
    return f" (did you mean '{close[0]}'?)" if close else ""


def _require(frame: pd.DataFrame, name: str, collector: IssueCollector, why: str = "") -> bool:
    if name in frame.columns:
        return True
    found = ", ".join(f"'{c}'" for c in frame.columns[:12])
    collector.add(
        f"required column '{name}' is missing{why}{_did_you_mean(name, frame.columns)}; "
        f"columns found: {found}",
        row=1,
        column=name,
    )
    return False


def _ids(values: pd.Series, rows: np.ndarray, column: str, collector: IssueCollector) -> np.ndarray:
    ids = text_cells(values)
    for pos in np.flatnonzero(ids == ""):
        collector.add(f"empty {column}; every record needs one", row=int(rows[pos]), column=column)
    series = pd.Series(ids)
    dup = series.duplicated(keep=False).to_numpy() & (ids != "")
    if dup.any():
        first_row: dict[str, int] = {}
        for pos in np.flatnonzero(dup):
            key = str(ids[pos])
            if key in first_row:
                collector.add(
                    f"duplicate {column} '{key}' (first seen in row {first_row[key]})",
                    row=int(rows[pos]),
                    column=column,
                )
            else:
                first_row[key] = int(rows[pos])
    return ids


def _numbers(
    frame: pd.DataFrame,
    col: str,
    rows: np.ndarray,
    collector: IssueCollector,
    *,
    shown: str,
    allow_empty: bool = False,
    non_negative: bool = True,
    what: str = "value",
) -> tuple[np.ndarray, np.ndarray]:
    """Parse a numeric column, reporting empty, invalid, infinite and negative cells."""
    values, empty, invalid = number_cells(frame[col])
    raw = frame[col].to_numpy(dtype=object)
    for pos in np.flatnonzero(invalid):
        collector.add(number_problem(raw[pos]), row=int(rows[pos]), column=shown)
    if not allow_empty:
        for pos in np.flatnonzero(empty):
            collector.add(f"missing {what} (empty cell or NaN)", row=int(rows[pos]), column=shown)
    for pos in np.flatnonzero(np.isinf(values)):
        collector.add(f"{what} is infinite", row=int(rows[pos]), column=shown)
    if non_negative:
        for pos in np.flatnonzero(values < 0):
            collector.add(
                f"negative {what} {values[pos]:g}; must be >= 0", row=int(rows[pos]), column=shown
            )
    return values, empty


def _latlon(
    frame: pd.DataFrame,
    lat_col: str,
    lon_col: str,
    rows: np.ndarray,
    collector: IssueCollector,
    *,
    display: Mapping[str, str],
    allow_empty: bool,
) -> np.ndarray:
    lat, lat_empty = _numbers(
        frame,
        lat_col,
        rows,
        collector,
        shown=display.get(lat_col, lat_col),
        allow_empty=allow_empty,
        non_negative=False,
        what="latitude",
    )
    lon, lon_empty = _numbers(
        frame,
        lon_col,
        rows,
        collector,
        shown=display.get(lon_col, lon_col),
        allow_empty=allow_empty,
        non_negative=False,
        what="longitude",
    )
    # Without allow_empty the empty cell is already reported as missing.
    for pos in np.flatnonzero((lat_empty != lon_empty) & allow_empty):
        col = lat_col if lat_empty[pos] else lon_col
        collector.add(
            "only one of latitude/longitude is given",
            row=int(rows[pos]),
            column=display.get(col, col),
        )
    bad_lat = np.abs(lat) > 90
    bad_lon = np.abs(lon) > 180
    for pos in np.flatnonzero(bad_lat | bad_lon):
        swapped = bad_lat[pos] and abs(lon[pos]) <= 90 and abs(lat[pos]) <= 180
        hint = "; latitude and longitude look swapped" if swapped else ""
        if bad_lat[pos]:
            collector.add(
                f"latitude {lat[pos]:g} is outside [-90, 90]{hint}",
                row=int(rows[pos]),
                column=display.get(lat_col, lat_col),
            )
        if bad_lon[pos]:
            collector.add(
                f"longitude {lon[pos]:g} is outside [-180, 180]",
                row=int(rows[pos]),
                column=display.get(lon_col, lon_col),
            )
    return np.column_stack([lat, lon])


def _location(
    raw: RawTable,
    frame: pd.DataFrame,
    collector: IssueCollector,
    display: Mapping[str, str],
    *,
    prefix: str = "",
    allow_empty: bool = False,
) -> tuple[CoordSystem | None, np.ndarray | None]:
    """Read ``lat``/``lon`` or ``x``/``y`` (with an optional prefix such as ``home_``)."""
    lat, lon, x, y = (prefix + c for c in ("lat", "lon", "x", "y"))
    has = set(frame.columns)
    if lat in has or lon in has:
        if lat not in has or lon not in has:
            missing = lon if lat in has else lat
            _require(frame, missing, collector, " (latitude and longitude come together)")
            return None, None
        return CoordSystem.LATLON, _latlon(
            frame, lat, lon, raw.rows, collector, display=display, allow_empty=allow_empty
        )
    if x in has or y in has:
        if x not in has or y not in has:
            _require(frame, y if x in has else x, collector, " (x and y come together)")
            return None, None
        xs, x_empty = _numbers(
            frame,
            x,
            raw.rows,
            collector,
            shown=display.get(x, x),
            allow_empty=allow_empty,
            non_negative=False,
            what="x coordinate",
        )
        ys, y_empty = _numbers(
            frame,
            y,
            raw.rows,
            collector,
            shown=display.get(y, y),
            allow_empty=allow_empty,
            non_negative=False,
            what="y coordinate",
        )
        for pos in np.flatnonzero(x_empty != y_empty):
            collector.add(
                "only one of x/y is given", row=int(raw.rows[pos]), column=x if x_empty[pos] else y
            )
        return CoordSystem.XY, np.column_stack([xs, ys])
    if raw.geometry is not None and not prefix:
        return _geometry_location(raw, collector)
    return None, None


def _geometry_location(
    raw: RawTable, collector: IssueCollector
) -> tuple[CoordSystem | None, np.ndarray | None]:
    geoms = raw.geometry
    assert geoms is not None
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for pos in np.flatnonzero(missing):
        collector.add("empty or missing geometry", row=int(raw.rows[pos]), column="geometry")
    invalid = np.zeros(len(geoms), dtype=bool)
    invalid[~missing] = ~shapely.is_valid(geoms[~missing])
    for pos in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[pos])
        collector.add(
            f"invalid geometry ({reason}); repair it, e.g. with QGIS 'Fix geometries' "
            "or shapely.make_valid",
            row=int(raw.rows[pos]),
            column="geometry",
        )
    valid = ~missing & ~invalid
    points = np.full((len(geoms), 2), np.nan)
    if valid.any():
        # A representative point always lies inside its polygon, unlike a centroid.
        reps = shapely.point_on_surface(geoms[valid])
        points[valid, 0] = shapely.get_x(reps)
        points[valid, 1] = shapely.get_y(reps)
    if raw.geographic is False:
        return CoordSystem.XY, points
    _check_degrees(raw, points, collector)
    return CoordSystem.LATLON, points[:, ::-1].copy()


def _check_degrees(raw: RawTable, lonlat: np.ndarray, collector: IssueCollector) -> None:
    """Geometries read as degrees must lie in [-180, 180] × [-90, 90].

    A file without a CRS, or a GeoJSON file (RFC 7946: WGS84 degrees), whose
    coordinates are metres would otherwise be planned as if on another planet.
    """
    with np.errstate(invalid="ignore"):
        bad = (np.abs(lonlat[:, 0]) > 180) | (np.abs(lonlat[:, 1]) > 90)
    if not bad.any():
        return
    if raw.geographic is None:
        why = (
            "the file has no coordinate reference system (CRS), so coordinates are read as "
            "longitude/latitude degrees, but these are not degrees; set the file's CRS "
            "(e.g. in QGIS or with geopandas set_crs) and try again"
        )
    elif raw.file.lower().endswith((".geojson", ".json")):
        why = (
            "GeoJSON coordinates must be WGS84 longitude/latitude degrees (RFC 7946); "
            "reproject the file to EPSG:4326"
        )
    else:
        why = "coordinates are outside the range of degrees of the file's geographic CRS"
    first = int(np.flatnonzero(bad)[0])
    x, y = lonlat[first]
    collector.add(
        f"location ({x:g}, {y:g}) is outside [-180, 180] × [-90, 90]: {why}"
        + (f" ({int(bad.sum())} rows like this)" if bad.sum() > 1 else ""),
        row=int(raw.rows[first]),
        column="geometry",
    )


def _text_columns(frame: pd.DataFrame, names: Sequence[str]) -> dict[str, np.ndarray]:
    n = len(frame)
    return {
        name: text_cells(frame[name]) if name in frame.columns else np.full(n, "", dtype=object)
        for name in names
    }


def _metric_columns(
    frame: pd.DataFrame,
    reserved: frozenset[str],
    metrics: Sequence[str] | None,
    collector: IssueCollector,
) -> list[str]:
    if metrics is not None:
        return [m for m in metrics if _require(frame, m, collector, " (named as a metric)")]
    return [
        str(c)
        for c in frame.columns
        if c not in reserved and not str(c).startswith(("min_", "max_")) and looks_numeric(frame[c])
    ]


def validate_accounts(
    raw: RawTable,
    *,
    metrics: Sequence[str] | None = None,
    columns: Mapping[str, str] | None = None,
) -> AccountTable:
    """Validate an accounts table.

    Parameters
    ----------
    raw
        The table as read.
    metrics
        Metric columns to use. By default every column that is not a known
        attribute and whose cells are mostly numbers.
    columns
        Map of contract name to the file's column name, e.g.
        ``{"account_id": "zcta", "potential": "pop2010"}``.

    Returns
    -------
    AccountTable
    """
    frame, display = _rename(raw, columns)
    collector = IssueCollector(raw.file)
    if not _require(frame, "account_id", collector):
        collector.raise_if_any()
    ids = _ids(frame["account_id"], raw.rows, display.get("account_id", "account_id"), collector)
    coord_system, coords = _location(raw, frame, collector, display)
    names = _metric_columns(frame, ACCOUNT_RESERVED, metrics, collector)
    values = np.zeros((len(frame), len(names)))
    for j, name in enumerate(names):
        values[:, j], _ = _numbers(frame, name, raw.rows, collector, shown=display.get(name, name))
    collector.raise_if_any()
    return AccountTable(
        file=raw.file,
        sha256=raw.sha256,
        rows=raw.rows,
        ids=ids,
        coord_system=coord_system,
        coords=coords,
        metric_names=tuple(names),
        metrics=values,
        text=_text_columns(frame, ACCOUNT_TEXT_COLUMNS),
        geometry=raw.geometry,
    )


def validate_reps(raw: RawTable, *, columns: Mapping[str, str] | None = None) -> RepTable:
    """Validate a reps table (one row per seat, open headcount included).

    Parameters
    ----------
    raw
        The table as read.
    columns
        Map of contract name to the file's column name.

    Returns
    -------
    RepTable
    """
    frame, display = _rename(raw, columns)
    collector = IssueCollector(raw.file)
    if not _require(frame, "rep_id", collector):
        collector.raise_if_any()
    ids = _ids(frame["rep_id"], raw.rows, display.get("rep_id", "rep_id"), collector)
    coord_system, home = _location(raw, frame, collector, display, prefix="home_", allow_empty=True)
    n = len(frame)
    capacity = np.ones(n)
    if "capacity" in frame.columns:
        cap, empty = _numbers(
            frame,
            "capacity",
            raw.rows,
            collector,
            allow_empty=True,
            shown=display.get("capacity", "capacity"),
            what="capacity",
        )
        for pos in np.flatnonzero(cap == 0):
            collector.add(
                "capacity 0 FTE; remove the seat or give it a positive capacity",
                row=int(raw.rows[pos]),
                column="capacity",
            )
        capacity = np.where(empty, 1.0, cap)
    start = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    if "start_date" in frame.columns:
        start, invalid = date_cells(frame["start_date"])
        raw_dates = frame["start_date"].to_numpy(dtype=object)
        for pos in np.flatnonzero(invalid):
            collector.add(
                date_problem(raw_dates[pos]),
                row=int(raw.rows[pos]),
                column="start_date",
            )
    bounds: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    bound_cols = [str(c) for c in frame.columns if str(c).startswith(("min_", "max_"))]
    for col in bound_cols:
        metric = col[4:]
        lo, hi = bounds.get(metric, (np.full(n, np.nan), np.full(n, np.nan)))
        vals, _ = _numbers(
            frame, col, raw.rows, collector, allow_empty=True, shown=col, what="bound"
        )
        bounds[metric] = (vals, hi) if col.startswith("min_") else (lo, vals)
    for metric, (lo, hi) in bounds.items():
        for pos in np.flatnonzero(lo > hi):
            collector.add(
                f"min_{metric} {lo[pos]:g} is above max_{metric} {hi[pos]:g}",
                row=int(raw.rows[pos]),
                column=f"min_{metric}",
            )
    collector.raise_if_any()
    return RepTable(
        file=raw.file,
        sha256=raw.sha256,
        rows=raw.rows,
        ids=ids,
        coord_system=coord_system,
        home=home,
        capacity=capacity,
        start_date=start,
        text=_text_columns(frame, REP_TEXT_COLUMNS),
        bounds=bounds,
    )


def validate_pairs(raw: RawTable, *, columns: Mapping[str, str] | None = None) -> PairTable:
    """Validate a pair table: ``account_id, rep_id, cost[, <metric>...]``.

    Metric cells may be empty, meaning "use the account's value". ``cost`` may
    be negative (an affinity) but must be finite; an empty cost is 0.
    """
    frame, display = _rename(raw, columns)
    collector = IssueCollector(raw.file)
    present = [_require(frame, c, collector) for c in ("account_id", "rep_id")]
    if not all(present):
        collector.raise_if_any()
    accounts = text_cells(frame["account_id"])
    reps = text_cells(frame["rep_id"])
    for col, ids in (("account_id", accounts), ("rep_id", reps)):
        for pos in np.flatnonzero(ids == ""):
            collector.add(f"empty {col}", row=int(raw.rows[pos]), column=display.get(col, col))
    keys = pd.Series(accounts + "\x1f" + reps)
    dup = keys.duplicated(keep="first").to_numpy()
    for pos in np.flatnonzero(dup):
        collector.add(
            f"pair ({accounts[pos]}, {reps[pos]}) is listed twice",
            row=int(raw.rows[pos]),
            column="rep_id",
        )
    cost = np.zeros(len(frame))
    if "cost" in frame.columns:
        cost, empty = _numbers(
            frame,
            "cost",
            raw.rows,
            collector,
            allow_empty=True,
            non_negative=False,
            shown=display.get("cost", "cost"),
            what="cost",
        )
        cost = np.where(empty, 0.0, cost)
    names = [str(c) for c in frame.columns if c not in PAIR_RESERVED and looks_numeric(frame[c])]
    values = np.full((len(frame), len(names)), np.nan)
    for j, name in enumerate(names):
        values[:, j], _ = _numbers(frame, name, raw.rows, collector, allow_empty=True, shown=name)
    collector.raise_if_any()
    return PairTable(raw.file, raw.sha256, raw.rows, accounts, reps, cost, tuple(names), values)


def validate_adjacency(raw: RawTable) -> EdgeTable:
    """Validate an adjacency edge list ``unit_a, unit_b`` (undirected)."""
    collector = IssueCollector(raw.file)
    present = [_require(raw.frame, c, collector) for c in ("unit_a", "unit_b")]
    if not all(present):
        collector.raise_if_any()
    a = text_cells(raw.frame["unit_a"])
    b = text_cells(raw.frame["unit_b"])
    for col, ids in (("unit_a", a), ("unit_b", b)):
        for pos in np.flatnonzero(ids == ""):
            collector.add("empty unit id", row=int(raw.rows[pos]), column=col)
    for pos in np.flatnonzero((a == b) & (a != "")):
        collector.add(
            f"unit '{a[pos]}' is listed as adjacent to itself",
            row=int(raw.rows[pos]),
            column="unit_b",
        )
    collector.raise_if_any()
    return EdgeTable(raw.file, raw.sha256, raw.rows, a, b)
