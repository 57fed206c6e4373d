"""Geographic units (ZIPs, counties, bricks) and their adjacency graph.

A unit layer is an accounts table (see ``docs/data-contract.md``) whose rows
are units: ``account_id`` (or a mapped column) is the unit id, metric columns
are the unit's totals, the location is ``lat``/``lon``, ``x``/``y`` or a
polygon. Adjacency comes from an edge list (``unit_a, unit_b``) or from the
polygons (rook or queen). Disconnected parts (islands) are joined to the
nearest unit by a bridge, and every bridge is reported as a warning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from territory_opt._errors import MAX_REPORTED_ISSUES, InputError, IssueCollector
from territory_opt.data.io import RawTable, frame_from_records, read_table
from territory_opt.data.problem import edge_indices
from territory_opt.data.schema import CoordSystem, validate_accounts, validate_adjacency
from territory_opt.geo.adjacency import connect_parts, polygon_adjacency
from territory_opt.geo.distance import haversine_km

ADJACENCY_RULES = ("rook", "queen")


@dataclass(frozen=True, eq=False)
class UnitLayer:
    """Validated units with their graph; arrays are read-only.

    Attributes
    ----------
    ids
        Unit ids as strings.
    coord_system, coords
        ``latlon`` (great-circle km) or ``xy`` (Euclidean, file units); ``(n, 2)``.
    metric_names, metrics
        ``(n, q)`` non-negative metric totals per unit.
    edges, edge_length
        ``(e, 2)`` adjacent unit index pairs ``a < b``; shared boundary length
        (1.0 for edge lists, 0.0 for bridges).
    bridges
        ``(b, 2)`` edges added to join disconnected parts.
    current, locked
        Current and locked territory label per unit (``""`` when none), from the
        ``current_rep`` and ``locked_rep`` columns.
    names
        Display names (``name`` column, else the id).
    geometry
        Shapely polygons when read from a spatial file, else None.
    crs
        The polygons' coordinate reference system (WKT), if known.
    warnings
        Messages for the user (bridged islands).
    sources, source_paths
        sha256 and absolute path of each input, by role.
    """

    ids: np.ndarray
    coord_system: CoordSystem
    coords: np.ndarray
    metric_names: tuple[str, ...]
    metrics: np.ndarray
    edges: np.ndarray
    edge_length: np.ndarray
    bridges: np.ndarray
    current: np.ndarray
    locked: np.ndarray
    names: np.ndarray
    geometry: np.ndarray | None = None
    crs: str | None = None
    warnings: tuple[str, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)
    source_paths: Mapping[str, str] = field(default_factory=dict)
    file: str = "units"

    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.ids)

    def metric(self, name: str) -> np.ndarray:
        """Values of one metric column (``units`` counts every unit as 1)."""
        if name == "units":
            return np.ones(self.n)
        if name not in self.metric_names:
            known = ", ".join(self.metric_names) or "none"
            msg = f"unknown metric '{name}'; the unit layer has: {known} (and 'units')"
            raise InputError.single(self.file, msg)
        return self.metrics[:, self.metric_names.index(name)]

    def neighbours(self) -> list[np.ndarray]:
        """Adjacent unit indices of each unit."""
        nbr: list[list[int]] = [[] for _ in range(self.n)]
        for a, b in self.edges:
            nbr[int(a)].append(int(b))
            nbr[int(b)].append(int(a))
        return [np.array(sorted(x), dtype=np.int64) for x in nbr]

    def distances(
        self, rows: np.ndarray | None = None, cols: np.ndarray | None = None
    ) -> np.ndarray:
        """Distance matrix [km, or file units for x/y] between units ``rows`` and ``cols``."""
        r = np.arange(self.n) if rows is None else np.asarray(rows)
        c = np.arange(self.n) if cols is None else np.asarray(cols)
        a, b = self.coords[r], self.coords[c]
        if self.coord_system == CoordSystem.LATLON:
            return np.asarray(
                haversine_km(a[:, None, 0], a[:, None, 1], b[None, :, 0], b[None, :, 1])
            )
        return np.asarray(np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1]))


def _frozen(arr: np.ndarray) -> np.ndarray:
    out = np.array(arr, copy=True)
    out.setflags(write=False)
    return out


def _raw(source: str | Path | pd.DataFrame, name: str) -> tuple[RawTable, str | None]:
    if isinstance(source, pd.DataFrame):
        return frame_from_records(name, source), None
    return read_table(source), str(Path(source).resolve())


def load_units(
    units: str | Path | pd.DataFrame,
    *,
    adjacency: str | Path | pd.DataFrame | None = None,
    metrics: Sequence[str] | None = None,
    columns: Mapping[str, str] | None = None,
    bridge: bool = True,
    accounts: str | Path | pd.DataFrame | None = None,
) -> UnitLayer:
    """Read and validate a unit layer and build its adjacency graph.

    Parameters
    ----------
    units
        A CSV/XLSX/Parquet table or a GeoPackage/GeoJSON/shapefile of polygons
        (or a DataFrame). Rows follow the accounts contract: ``account_id`` is
        the unit id (map another column with ``columns={"account_id": "GEOID"}``).
    adjacency
        ``rook`` or ``queen`` (from polygons), an edge list file or DataFrame
        with ``unit_a, unit_b``, or None: rook for polygons, no edges for points.
    metrics
        Metric columns to read (default: every numeric column).
    columns
        Map of contract name to the file's column name.
    bridge
        Join disconnected parts to their nearest unit (with a warning); when
        False the graph is left as it is.
    accounts
        An accounts table whose ``geo_unit`` column names each account's unit;
        its metric columns are summed per unit and added to the unit metrics
        (units without accounts get 0).

    Returns
    -------
    UnitLayer

    Raises
    ------
    InputError
        For any bad cell (file, row, column), unknown units in the edge list,
        or missing locations.
    """
    raw, path = _raw(units, "units")
    table = validate_accounts(raw, metrics=metrics, columns=columns)
    if table.coords is None or table.coord_system is None:
        raise InputError.single(
            raw.file, "units need a location: lat/lon, x/y, or polygons in a spatial file"
        )
    sources = {"units": raw.sha256}
    paths = {"units": path} if path else {}
    n = len(table.ids)
    index = pd.Index(table.ids)
    rule = adjacency if isinstance(adjacency, str) and adjacency in ADJACENCY_RULES else None
    if rule is None and adjacency is None and table.geometry is not None:
        rule = "rook"
    if rule is not None:
        if table.geometry is None:
            raise InputError.single(
                raw.file,
                f"'{rule}' adjacency needs polygons; give a spatial file or an edge list",
            )
        edges, length = polygon_adjacency(table.geometry, rule)
    elif adjacency is not None:
        edge_raw, edge_path = _raw(adjacency, "adjacency")
        sources["adjacency"] = edge_raw.sha256
        if edge_path:
            paths["adjacency"] = edge_path
        edges = edge_indices(validate_adjacency(edge_raw), index, raw.file)
        length = np.ones(len(edges))
    else:
        edges, length = np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    warnings: list[str] = []
    bridges = np.zeros((0, 2), dtype=np.int64)
    if bridge and len(edges) and n > 1:
        graph = connect_parts(edges, length, table.coords, table.coord_system)
        edges, length, bridges = graph.edges, graph.length, graph.bridges
        for a, b in bridges:
            warnings.append(
                f"unit '{table.ids[a]}' and unit '{table.ids[b]}' were joined: they are the "
                "closest pair between two parts of the map that share no border"
            )
    metric_names, metric_values = table.metric_names, table.metrics
    if accounts is not None:
        acc_raw, acc_path = _raw(accounts, "accounts")
        sources["accounts"] = acc_raw.sha256
        if acc_path:
            paths["accounts"] = acc_path
        extra_names, extra = _aggregate(acc_raw, index, raw.file)
        clash = sorted(set(extra_names) & set(metric_names))
        if clash:
            raise InputError.single(
                acc_raw.file,
                f"metric '{clash[0]}' is both a unit column and an account column; "
                "rename one of them",
                column=clash[0],
            )
        metric_names = metric_names + extra_names
        metric_values = np.column_stack([metric_values, extra])
    names = table.text.get("name", np.full(n, "", dtype=object))
    names = np.where(names == "", table.ids, names)
    return UnitLayer(
        ids=_frozen(table.ids.astype(object)),
        coord_system=table.coord_system,
        coords=_frozen(table.coords),
        metric_names=metric_names,
        metrics=_frozen(metric_values),
        edges=_frozen(np.asarray(edges, dtype=np.int64).reshape(-1, 2)),
        edge_length=_frozen(np.asarray(length, dtype=np.float64)),
        bridges=_frozen(bridges),
        current=_frozen(table.text["current_rep"]),
        locked=_frozen(table.text["locked_rep"]),
        names=_frozen(names.astype(object)),
        geometry=table.geometry,
        crs=raw.crs,
        warnings=tuple(warnings),
        sources=sources,
        source_paths=paths,
        file=raw.file,
    )


def _aggregate(
    raw: RawTable, index: pd.Index, units_file: str
) -> tuple[tuple[str, ...], np.ndarray]:
    """Sum an accounts table's metrics per unit through its ``geo_unit`` column."""
    table = validate_accounts(raw)
    unit = table.text["geo_unit"]
    collector = IssueCollector(raw.file)
    if (unit == "").all():
        collector.add("needs a geo_unit column naming each account's unit", column="geo_unit")
    pos = index.get_indexer(pd.Index(unit))
    for k in np.flatnonzero(pos < 0)[:MAX_REPORTED_ISSUES]:
        what = "empty geo_unit" if unit[k] == "" else f"unknown unit '{unit[k]}'"
        collector.add(f"{what}: not in {units_file}", row=int(raw.rows[k]), column="geo_unit")
    collector.raise_if_any()
    sums = np.zeros((len(index), len(table.metric_names)))
    np.add.at(sums, pos, table.metrics)
    return table.metric_names, sums
