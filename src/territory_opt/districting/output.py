"""Write a district design as a plan folder (``docs/plan-folder.md``).

``assignments.csv`` has one row per unit, ``territories.csv`` one row per
district with its totals, deviation from the mean, center unit and cut edges,
and ``territories.gpkg`` the dissolved district polygons when the units were
polygons. ``plan.json`` says ``"kind": "districts"``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory_opt._atomic import atomic_folder
from territory_opt.data.schema import CoordSystem
from territory_opt.districting.solve import DistrictPlan
from territory_opt.plan import PLAN_FORMAT_VERSION, _csv_bytes, _num, input_entries

#: GeoPackages record a modification time; a fixed one keeps plan files byte-identical.
GPKG_DATE = "2000-01-01T00:00:00.000Z"


def assignments_frame(plan: DistrictPlan) -> pd.DataFrame:
    """One row per unit: unit id, territory, previous territory, moved, metric values."""
    u = plan.units
    assert plan.labels is not None
    names = np.array(plan.territory_ids, dtype=object)
    tid = names[plan.labels]
    reps = np.array(_rep_ids(plan), dtype=object)[plan.labels]
    frame = pd.DataFrame(
        {
            "account_id": u.ids,
            "rep_id": reps,
            "territory_id": tid,
            "previous_rep_id": u.current,
            "moved": (u.current != "") & (u.current != tid),
            "name": u.names,
        }
    )
    for q, name in enumerate(u.metric_names):
        frame[name] = u.metrics[:, q]
    return frame


def _rep_ids(plan: DistrictPlan) -> list[str]:
    """Return each district's rep: its territory label when that came from ``current_rep``."""
    labels = set(plan.units.current.tolist()) | set(plan.units.locked.tolist())
    return [t if t in labels and t else "" for t in plan.territory_ids]


def territories_frame(plan: DistrictPlan) -> pd.DataFrame:
    """One row per district: totals, mean target, deviation, center unit, cut edges."""
    u, spec = plan.units, plan.spec
    assert plan.labels is not None and plan.centers is not None
    k = spec.k
    labels = plan.labels
    frame = pd.DataFrame(
        {
            "territory_id": plan.territory_ids,
            "rep_id": _rep_ids(plan),
            "units": np.bincount(labels, minlength=k),
        }
    )
    for q, name in enumerate(u.metric_names):
        totals = np.bincount(labels, weights=u.metrics[:, q], minlength=k)
        target = totals.sum() / k
        frame[name] = totals
        frame[f"{name}_target"] = target
        frame[f"{name}_deviation"] = totals / target - 1 if target > 0 else 0.0
    frame["center_unit"] = u.ids[plan.centers]
    axes = ("lat", "lon") if u.coord_system == CoordSystem.LATLON else ("x", "y")
    for d, axis in enumerate(axes):
        frame[f"center_{axis}"] = u.coords[plan.centers, d]
    dist = u.distances(np.arange(u.n), plan.centers)[np.arange(u.n), labels]
    frame["max_distance"] = [
        dist[labels == j].max() if (labels == j).any() else 0.0 for j in range(k)
    ]
    cut = labels[u.edges[:, 0]] != labels[u.edges[:, 1]] if len(u.edges) else np.zeros(0, bool)
    ends = np.concatenate([labels[u.edges[cut, 0]], labels[u.edges[cut, 1]]])
    frame["cut_edges"] = np.bincount(ends, minlength=k)
    return frame


def plan_meta(plan: DistrictPlan, folder: Path) -> dict[str, Any]:
    """Everything ``plan.json`` holds for a district design."""
    from territory_opt import __version__

    spec = plan.spec
    return {
        "format_version": PLAN_FORMAT_VERSION,
        "kind": "districts",
        "tool": "territory-opt",
        "tool_version": __version__,
        "status": str(plan.status),
        "objective": _num(plan.objective),
        "lower_bound": _num(plan.lower_bound),
        "gap": _num(plan.gap),
        "objective_name": str(spec.objective),
        "districts": spec.k,
        "units": plan.units.n,
        "spec": {
            "k": spec.k,
            "bands": dict(sorted(spec.bands.items())),
            "contiguous": spec.contiguous,
            "objective": str(spec.objective),
            "weight": spec.weight,
            "cut_length": spec.cut_length,
            "centers": list(spec.centers),
        },
        "solver": plan.solver,
        "seed": plan.options.seed,
        "time_limit": plan.options.time_limit,
        "gap_tolerance": plan.options.gap,
        "inputs_sha256": dict(plan.units.sources),
        "inputs": input_entries(plan.units.sources, plan.units.source_paths, folder),
        "warnings": list(plan.units.warnings),
        "wall_times": {"solve_seconds": round(plan.seconds, 3)},
        "stats": {k: _num(v) for k, v in sorted(plan.stats.items())},
    }


def _gpkg_bytes(plan: DistrictPlan, tmp: Path) -> bytes | None:
    u = plan.units
    if u.geometry is None or plan.labels is None:
        return None
    import geopandas as gpd
    import pyogrio

    crs = u.crs or ("EPSG:4326" if u.coord_system == CoordSystem.LATLON else None)
    frame = gpd.GeoDataFrame(
        {"territory_id": np.array(plan.territory_ids, dtype=object)[plan.labels]},
        geometry=list(u.geometry),
        crs=crs,
    )
    shapes = frame.dissolve(by="territory_id", as_index=False, sort=True)
    path = tmp / ".territories.gpkg"
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})
    try:
        with warnings.catch_warnings():
            # Units in x/y without a CRS stay without one; the warning says nothing new.
            warnings.filterwarnings("ignore", message="'crs' was not provided")
            shapes.to_file(path, driver="GPKG", engine="pyogrio", layer="territories")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    data = path.read_bytes()
    path.unlink()
    return data


def write_district_plan(plan: DistrictPlan, out: str | Path, *, force: bool = False) -> Path:
    """Write the plan folder atomically (temp folder, then rename).

    Parameters
    ----------
    plan
        A design with districts (``labels`` set).
    out
        Folder to create.
    force
        Replace an existing non-empty folder.

    Returns
    -------
    Path
        The written folder.
    """
    out = Path(out)
    with atomic_folder(out, force=force) as tmp:
        files: dict[str, bytes] = {}
        if plan.labels is not None:
            files["assignments.csv"] = _csv_bytes(assignments_frame(plan))
            files["territories.csv"] = _csv_bytes(territories_frame(plan))
            gpkg = _gpkg_bytes(plan, tmp)
            if gpkg is not None:
                files["territories.gpkg"] = gpkg
        if plan.diagnosis is not None:
            files["diagnosis.json"] = (
                json.dumps(plan.diagnosis, indent=2, sort_keys=True, default=str) + "\n"
            ).encode("utf-8")
        meta = plan_meta(plan, out)
        meta["files_sha256"] = {n: hashlib.sha256(d).hexdigest() for n, d in sorted(files.items())}
        files["plan.json"] = (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8")
        for name, data in files.items():
            (tmp / name).write_bytes(data)
    return out
