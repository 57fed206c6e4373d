"""Chart data of a report: per-rep charts, the map and the frontier.

The functions here return plain JSON-ready dicts; the page's own script turns
them into plotly figures. Strings that plotly renders as text (rep ids, account
names in hover labels) are HTML-escaped here, because plotly reads a small set
of tags (``<a href>``, ``<b>``, ...) in labels; plotly decodes the entities back
for display, so the user sees the original text.

The map shows every account as a point coloured by territory, with territory
outlines when the accounts are polygons (geographic units). Above
:data:`MAP_MAX_POINTS` accounts it shows a seeded random sample of that many
(:data:`MAP_SAMPLE_SEED`), and the page says so; every table and KPI still uses
all accounts.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely

from territory_opt.data.schema import CoordSystem
from territory_opt.report.kpis import balance_metrics, disruption_metric, frontier_table
from territory_opt.report.plans import ReportPlan

#: Most account points drawn on the map. Plotly draws each point as an SVG
#: element; 20,000 points render in about a second in a headless browser and
#: keep a 100k-account report near 10 MB (bench/RESULTS.md, report section).
MAP_MAX_POINTS = 20_000

#: Seed of the map's random sample: the same plans give the same page.
MAP_SAMPLE_SEED = 0

#: Outlines are simplified to this share of the map's larger extent (about one
#: screen pixel on a 1,000-pixel wide map) so that fine coastlines stay small.
OUTLINE_TOLERANCE = 1e-3

#: Territory colours (plotly's Dark24 then Light24: 48 distinguishable colours,
#: reused in turn when a team has more reps).
PALETTE: tuple[str, ...] = (
    "#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#222A2A", "#B68100", "#750D86",
    "#EB663B", "#511CFB", "#00A08B", "#FB00D1", "#FC0080", "#B2828D", "#6C7C32", "#778AAE",
    "#862A16", "#A777F1", "#620042", "#1616A7", "#DA60CA", "#6C4516", "#0D2A63", "#AF0038",
    "#FD3216", "#00FE35", "#6A76FC", "#FED4C4", "#FE00CE", "#0DF9FF", "#F6F926", "#FF9616",
    "#479B55", "#EEA6FB", "#DC587D", "#D626FF", "#6E899C", "#00B5F7", "#B68E00", "#C9FBE5",
    "#FF0092", "#22FFA7", "#E3EE9E", "#86CE00", "#BC7196", "#7E7DCD", "#FC6955", "#E48F72",
)  # fmt: skip


def label(text: object) -> str:
    """Escape a user string for a plotly label (plotly shows the original text).

    Examples
    --------
    >>> label("<script>alert(1)</script>")
    '&lt;script&gt;alert(1)&lt;/script&gt;'
    """
    return html.escape(str(text), quote=True)


def numbers(values: np.ndarray, digits: int = 6) -> list[float | None]:
    """JSON-ready floats rounded to ``digits`` significant digits; None for NaN/inf.

    Examples
    --------
    >>> numbers(np.array([1234567.891, np.nan, 0.000123456789]), 4)
    [1235000.0, None, 0.0001235]
    """
    out: list[float | None] = []
    for v in np.asarray(values, dtype=np.float64).tolist():
        out.append(float(f"{v:.{digits}g}") if math.isfinite(v) else None)
    return out


def rep_order(plans: Sequence[ReportPlan]) -> list[str]:
    """Every rep id of the report in order of first appearance (fixes its colour)."""
    seen: dict[str, None] = {}
    for rp in plans:
        for rep in rp.plan.problem.rep_ids:
            seen.setdefault(str(rep), None)
    return list(seen)


def per_rep_data(rp: ReportPlan, colour: dict[str, int]) -> dict[str, Any] | None:
    """Per-rep totals against targets and bands, and quota against potential.

    Returns None for a plan without assignment.
    """
    plan = rp.plan
    if plan.assignment is None:
        return None
    territories = rp.territories()
    reps = [str(r) for r in plan.problem.rep_ids]
    charts = []
    for metric in balance_metrics([rp]) or list(plan.problem.metric_names):
        if metric not in territories.columns:
            continue
        target = territories[f"{metric}_target"].to_numpy(dtype=np.float64)
        lo = hi = np.full(len(reps), np.nan)
        if metric in plan.load_names:
            k = plan.load_names.index(metric)
            lo, hi = plan.lo[:, k], plan.hi[:, k]
        band = next((b.tolerance for b in plan.spec.bands if b.metric == metric), None)
        charts.append(
            {
                "metric": label(metric),
                "band": band,
                "total": numbers(territories[metric].to_numpy(dtype=np.float64)),
                "target": numbers(target),
                "lo": numbers(lo),
                "hi": numbers(hi),
            }
        )
    quota = None
    if rp.quotas is not None:
        q = rp.quotas
        eff = q["effective_potential"].to_numpy(dtype=np.float64)
        amount = q["quota"].to_numpy(dtype=np.float64)
        mean = float(amount.sum() / eff.sum()) if eff.sum() > 0 else None
        quota = {
            "reps": [label(r) for r in q["rep_id"]],
            "potential": numbers(eff),
            "quota": numbers(amount),
            "mean_ratio": mean,
            "colour": [colour.get(str(r), -1) for r in q["rep_id"]],
        }
    return {
        "reps": [label(r) for r in reps],
        "colour": [colour[r] for r in reps],
        "metrics": charts,
        "quota": quota,
    }


def _xy(system: CoordSystem | None, coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map axes: longitude/latitude for lat/lon books, x/y otherwise."""
    if system == CoordSystem.LATLON:
        return coords[:, 1], coords[:, 0]
    return coords[:, 0], coords[:, 1]


def map_sample(n: int, limit: int = MAP_MAX_POINTS, seed: int = MAP_SAMPLE_SEED) -> np.ndarray:
    """Pick the accounts to draw: all, or a seeded random sample in account order.

    Examples
    --------
    >>> map_sample(5).tolist()
    [0, 1, 2, 3, 4]
    >>> bool((map_sample(100, 10) == map_sample(100, 10)).all()), len(map_sample(100, 10))
    (True, 10)
    """
    if n <= limit:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=limit, replace=False))


def map_data(plans: Sequence[ReportPlan], colour: dict[str, int]) -> dict[str, Any] | None:
    """Account points coloured by territory for every plan, with outlines.

    The points are those of the first plan with locations; other plans are
    matched to them by account id (accounts a plan does not have are grey).
    Returns None when no plan has locations.
    """
    from territory_opt.alignment.instance import rep_centers

    base = next(
        (
            rp
            for rp in plans
            if rp.plan.assignment is not None and rp.plan.problem.account_coords is not None
        ),
        None,
    )
    if base is None:
        return None
    p = base.plan.problem
    assert p.account_coords is not None
    pick = map_sample(p.n_accounts, MAP_MAX_POINTS, MAP_SAMPLE_SEED)
    xs, ys = _xy(p.coord_system, p.account_coords[pick])
    ids = p.account_ids.astype(object)[pick]
    names = p.account_attrs.get("name")
    shown_names = np.asarray(names, dtype=object)[pick] if names is not None else None
    text = [
        label(a) if shown_names is None or not shown_names[k] else label(f"{a} · {shown_names[k]}")
        for k, a in enumerate(ids)
    ]
    per_plan: list[dict[str, Any] | None] = []
    for rp in plans:
        plan = rp.plan
        if plan.assignment is None:
            per_plan.append(None)
            continue
        q = plan.problem
        pos = pd.Index(q.account_ids.astype(object)).get_indexer(pd.Index(ids))
        rep_of = np.full(len(ids), "", dtype=object)
        found = pos >= 0
        rep_of[found] = q.rep_ids.astype(object)[plan.assignment[pos[found]]]
        entry: dict[str, Any] = {
            "colour": [colour.get(r, -1) for r in rep_of],
            "rep": [label(r) for r in rep_of],
            "outlines": _outlines(rp),
            "centers": None,
        }
        if q.account_coords is not None:
            cx, cy = _xy(q.coord_system, rep_centers(q))
            entry["centers"] = {
                "x": numbers(cx, 8),
                "y": numbers(cy, 8),
                "rep": [label(r) for r in q.rep_ids],
                "colour": [colour[str(r)] for r in q.rep_ids],
            }
        per_plan.append(entry)
    latlon = p.coord_system == CoordSystem.LATLON
    mid_lat = float(np.nanmean(p.account_coords[:, 0])) if latlon else 0.0
    return {
        "x": numbers(xs, 8),
        "y": numbers(ys, 8),
        "text": text,
        "plans": per_plan,
        "latlon": latlon,
        # One degree of longitude is cos(latitude) as long as one of latitude.
        "aspect": math.cos(math.radians(mid_lat)) if latlon else 1.0,
        "shown": len(pick),
        "total": p.n_accounts,
        "seed": MAP_SAMPLE_SEED,
        "limit": MAP_MAX_POINTS,
    }


def _outlines(rp: ReportPlan) -> dict[str, list[float | None]] | None:
    """Territory outlines as one polyline with gaps, when accounts are polygons."""
    plan = rp.plan
    geoms = plan.problem.geometry
    if geoms is None or plan.assignment is None:
        return None
    kinds = shapely.get_type_id(geoms)
    polygonal = np.isin(kinds, (3, 6))  # Polygon, MultiPolygon
    if not polygonal.any():
        return None
    bounds = shapely.total_bounds(geoms[polygonal])
    tol = OUTLINE_TOLERANCE * max(bounds[2] - bounds[0], bounds[3] - bounds[1])
    xs: list[float | None] = []
    ys: list[float | None] = []
    for r in range(plan.problem.n_reps):
        mine = geoms[polygonal & (plan.assignment == r)]
        if not len(mine):
            continue
        shape = shapely.simplify(shapely.union_all(shapely.make_valid(mine)), tol)
        for line in shapely.get_parts(shapely.boundary(shape)):
            for part in shapely.get_parts(line):
                coords = shapely.get_coordinates(part)
                xs += numbers(coords[:, 0], 8) + [None]
                ys += numbers(coords[:, 1], 8) + [None]
    return {"x": xs, "y": ys}


def frontier_data(plans: Sequence[ReportPlan]) -> dict[str, Any] | None:
    """Balance against disruption, one point per plan; None with fewer than two."""
    table = frontier_table(plans)
    if len(table) < 2:
        return None
    return {
        "plans": [label(p) for p in table["plan"]],
        "deviation": numbers(table["max_deviation"].to_numpy(dtype=np.float64)),
        "moved": [int(v) for v in table["moved_accounts"]],
        "share": numbers(table["moved_share"].to_numpy(dtype=np.float64)),
        "efficient": [bool(v) for v in table["efficient"]],
        "metric": label(disruption_metric(plans) or ""),
        "balance": [label(m) for m in balance_metrics(plans)],
    }
