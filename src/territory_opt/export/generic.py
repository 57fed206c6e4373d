"""The generic export: plain tables any tool can load.

``assignments.csv`` and ``assignments.parquet`` (one row per account to write:
its new owner and territory, and where it comes from), ``quotas.csv`` when the
plan has quotas, and the territory shapes (``territories.gpkg`` in the accounts'
own CRS and ``territories.geojson`` in WGS84 lon/lat) when the accounts are
polygons. Rows are upserts keyed by ``account_id``, ``rep_id`` and
``territory_id``; the rollback files hold the baseline's values for the same keys.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from territory_opt.export.book import Book, territory_of
from territory_opt.export.files import (
    Format,
    LoadFile,
    Operation,
    parquet_bytes,
    text_frame,
)
from territory_opt.export.package import Context, Package

#: Fixed creation date written into GeoPackages (GDAL's OGR_CURRENT_DATE), so that
#: exporting the same plan twice gives the same bytes.
GPKG_DATE = "2000-01-01T00:00:00Z"
HOW = "Any tool that upserts rows by {key}"


def _contact(book: Book, others: list[Book], reps: np.ndarray, field: str) -> list[str]:
    out = []
    for rep in reps:
        value = ""
        for b in (book, *others):
            if rep in b.reps.index:
                value = str(b.reps.loc[rep, field])
                break
        out.append(value)
    return out


def _assignments(ctx: Context, positions: np.ndarray, to: Book, came: Book) -> pd.DataFrame:
    new = to.owners.to_numpy(dtype=object)[positions]
    old = came.owners.to_numpy(dtype=object)[positions]
    others = [ctx.plan, ctx.baseline]
    frame = text_frame(
        {
            "account_id": ctx.accounts.ids[positions],
            "crm_account_id": ctx.accounts.crm_ids[positions],
            "account_name": ctx.accounts.names[positions],
            "rep_id": new,
            "territory_id": [territory_of(str(r)) if r else "" for r in new],
            "rep_crm_user_id": _contact(to, others, new, "crm_user_id"),
            "rep_email": _contact(to, others, new, "email"),
            "from_rep_id": old,
            "from_territory_id": [territory_of(str(r)) if r else "" for r in old],
        }
    )
    return frame.sort_values("account_id", kind="stable").reset_index(drop=True)


def _quotas(to: Book, came: Book, reps: list[str]) -> pd.DataFrame:
    """Quota rows of ``to`` for ``reps``; a rep without quota in ``to`` has empty cells."""
    quotas = to.quotas if to.quotas is not None else pd.DataFrame(columns=["quota"])
    base = came.quotas if came.quotas is not None else pd.DataFrame(columns=["quota"])
    columns = list(quotas.columns if len(quotas.columns) >= len(base.columns) else base.columns)
    rows = quotas.reindex(index=reps, columns=columns)
    has = np.isin(np.asarray(reps, dtype=object), np.asarray(quotas.index, dtype=object))
    users = _contact(to, [came], np.asarray(reps, dtype=object), "crm_user_id")
    data: dict[str, Iterable[object]] = {
        "rep_id": reps,
        "territory_id": [territory_of(r) if h else "" for r, h in zip(reps, has, strict=True)],
        "rep_crm_user_id": [u if h else "" for u, h in zip(users, has, strict=True)],
    }
    for col in columns:
        data[str(col)] = rows[col].to_numpy(dtype=np.float64)
    return text_frame(data)


def _quota_reps(ctx: Context) -> list[str]:
    plan, base = ctx.plan.quotas, ctx.baseline.quotas
    if plan is None:
        return []
    if ctx.full or base is None:
        return sorted(str(r) for r in plan.index)
    reps = sorted(set(map(str, plan.index)) | set(map(str, base.index)))
    a = plan.reindex(index=reps, columns=plan.columns)
    b = base.reindex(index=reps, columns=plan.columns)
    same = ((a == b) | (a.isna() & b.isna())).all(axis=1)
    return [r for r in reps if not same[r]]


def build(ctx: Context) -> Package:
    """Build the assignments, quotas and territory shapes that changed, and their rollback."""
    positions = ctx.moved()
    load: list[LoadFile] = []
    rollback: list[LoadFile] = []
    if len(positions):
        key = ("account_id",)
        how = HOW.format(key="account_id")
        fwd = _assignments(ctx, positions, ctx.plan, ctx.baseline)
        back = _assignments(ctx, positions, ctx.baseline, ctx.plan)
        for files, table in ((load, fwd), (rollback, back)):
            files.append(
                LoadFile("assignments.csv", "assignments", Operation.UPSERT, key, table, how)
            )
            files.append(
                LoadFile(
                    "assignments.parquet",
                    "assignments",
                    Operation.UPSERT,
                    key,
                    table,
                    "The same rows as assignments.csv, in Parquet: load one of the two",
                    fmt=Format.PARQUET,
                    payload=parquet_bytes(table),
                )
            )
    reps = _quota_reps(ctx)
    if reps:
        how = HOW.format(key="rep_id")
        load.append(
            LoadFile(
                "quotas.csv",
                "quotas",
                Operation.UPSERT,
                ("rep_id",),
                _quotas(ctx.plan, ctx.baseline, reps),
                how,
            )
        )
        rollback.append(
            LoadFile(
                "quotas.csv",
                "quotas",
                Operation.UPSERT,
                ("rep_id",),
                _quotas(ctx.baseline, ctx.plan, reps),
                how,
            )
        )
    if ctx.problem.geometry is not None:
        moved = set(ctx.plan.territory_ids().to_numpy(dtype=object)[positions])
        moved |= set(ctx.baseline.territory_ids().to_numpy(dtype=object)[positions])
        if ctx.full:
            moved |= {territory_of(r) for r in ctx.plan.territory_reps}
        territories = sorted(t for t in moved if t)
        if territories:
            load += _shapes(ctx, ctx.plan, territories)
            rollback += _shapes(ctx, ctx.baseline, territories)
    warnings: tuple[str, ...] = ()
    if ctx.plan.quotas is None:
        warnings = ("the plan has no quotas.csv: no quotas are exported",)
    return Package(tuple(load), tuple(rollback), warnings=warnings)


def _crs(ctx: Context) -> object | None:
    import pyogrio

    path = ctx.accounts.path
    if not path:
        return None
    try:
        crs = pyogrio.read_info(path).get("crs")
    except Exception:  # not a spatial file: no CRS to report
        return None
    if crs is None and Path(path).suffix.lower() in {".geojson", ".json"}:
        return "EPSG:4326"  # RFC 7946: GeoJSON without a CRS is WGS84
    return crs


def _shapes(ctx: Context, book: Book, territories: list[str]) -> list[LoadFile]:
    """Dissolved territory shapes of a book, for the given territories."""
    import geopandas as gpd
    import shapely

    geometry = ctx.problem.geometry
    assert geometry is not None
    tids = book.territory_ids().to_numpy(dtype=object)
    shapes, counts, reps = [], [], []
    for tid in territories:
        members = geometry[tids == tid]
        counts.append(len(members))
        reps.append(tid[len(territory_of("")) :] if len(members) else "")
        shapes.append(shapely.union_all(members) if len(members) else None)
    table = text_frame({"territory_id": territories, "rep_id": reps, "accounts": counts})
    crs = _crs(ctx)
    frame = gpd.GeoDataFrame(table.copy(), geometry=shapes, crs=crs)
    how = HOW.format(key="territory_id")
    files = [
        LoadFile(
            "territories.gpkg",
            "territories",
            Operation.UPSERT,
            ("territory_id",),
            table,
            how + " (empty geometry: the territory has no accounts)",
            fmt=Format.GPKG,
            payload=_gpkg_bytes(frame),
        )
    ]
    if crs is not None:
        wgs84 = frame.to_crs(4326)
        files.append(
            LoadFile(
                "territories.geojson",
                "territories",
                Operation.UPSERT,
                ("territory_id",),
                table,
                "The same rows as territories.gpkg, in WGS84 lon/lat: load one of the two",
                fmt=Format.GEOJSON,
                payload=_geojson_bytes(wgs84),
            )
        )
    return files


def _gpkg_bytes(frame: object) -> bytes:
    import pyogrio

    old = os.environ.get("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "territories.gpkg"
            frame.to_file(path, driver="GPKG", layer="territories", engine="pyogrio")  # type: ignore[attr-defined]
            return path.read_bytes()
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def _geojson_bytes(frame: object) -> bytes:
    import shapely

    features = []
    for row in frame.itertuples(index=False):  # type: ignore[attr-defined]
        geom = row.geometry
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "territory_id": row.territory_id,
                    "rep_id": row.rep_id,
                    "accounts": int(row.accounts),
                },
                "geometry": None if geom is None else json.loads(shapely.to_geojson(geom)),
            }
        )
    doc = {"type": "FeatureCollection", "features": features}
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
