"""Candidate home locations for new hires, and the hiring *slots* they offer.

Sites come from a file (one row per city, office or unit) or from the
accounts themselves (``"accounts"``): the book is thinned to a manageable
number of sites per segment by a workload-weighted k-means, each centre then
moved to the nearest account of that segment, so that every site is a real
account location where the work is. Thinning is seeded and deterministic.

A *slot* is one possible hire: a site, the segment the hire would serve and,
for sites that take several hires (``max_hires``), which of them.

Sites file columns
    ``lat``/``lon`` (or ``x``/``y`` when the accounts use x/y); optional
    ``site_id`` (default ``S<row>``), ``name``, ``segment`` (hires there serve
    that segment only; empty: any segment the team has), ``region`` (for
    ``--max-new REGION=N``) and ``max_hires`` (default 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from territory_opt._errors import InputError, IssueCollector
from territory_opt.data.cells import number_cells, text_cells
from territory_opt.data.io import RawTable, frame_from_records, read_table
from territory_opt.data.problem import Problem
from territory_opt.data.schema import CoordSystem

#: Sites kept when thinning the accounts (all segments together). Sixty sites
#: are enough to place a few dozen hires and keep the greedy search fast.
DEFAULT_ACCOUNT_SITES = 60
#: Every staffed segment gets at least this many sites (or all its accounts).
MIN_SITES_PER_SEGMENT = 5
#: Lloyd iterations of the weighted k-means (it converges well before this).
KMEANS_ITERATIONS = 30
#: km per degree of latitude on the mean Earth sphere.
KM_PER_DEGREE = 111.195
#: Value of ``candidates`` that means "any account location".
ACCOUNT_SITES = "accounts"


@dataclass(frozen=True)
class CandidateSites:
    """Candidate home locations for new hires.

    Attributes
    ----------
    ids, names
        Site ids and display names.
    coords
        ``(k, 2)`` lat/lon [degrees] or x/y, as the accounts.
    segment
        Segment a hire at the site serves; ``""``: any segment of the team.
    region
        Region label for hiring limits; ``""``: none.
    max_hires
        Hires the site can take.
    source
        The file name, or ``accounts`` for sites thinned from the accounts.
    """

    ids: np.ndarray
    names: np.ndarray
    coords: np.ndarray
    segment: np.ndarray
    region: np.ndarray
    max_hires: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.ids)

    def frame(self, system: CoordSystem | None = CoordSystem.LATLON) -> pd.DataFrame:
        """Return the sites as a table (``sites.csv``; it reads back as a sites file)."""
        first, second = ("lat", "lon") if system != CoordSystem.XY else ("x", "y")
        return pd.DataFrame(
            {
                "site_id": self.ids.astype(object),
                "name": self.names.astype(object),
                first: self.coords[:, 0],
                second: self.coords[:, 1],
                "segment": self.segment.astype(object),
                "region": self.region.astype(object),
                "max_hires": self.max_hires.astype(np.int64),
            }
        )


@dataclass(frozen=True)
class Slots:
    """Possible hires: (site, segment served, copy) triples, in site order.

    Attributes
    ----------
    site
        Site index of each slot.
    segment
        Segment text the hire serves (``""``: none).
    pool
        Band pool key of the hire (the segment when segment pools apply, else ``""``).
    copy
        0 for the first hire at a site, 1 for the second, ...
    """

    site: np.ndarray
    segment: np.ndarray
    pool: np.ndarray
    copy: np.ndarray

    def __len__(self) -> int:
        return len(self.site)


def segment_pools_on(problem: Problem, segment_match: bool) -> bool:
    """Whether reps form band pools by segment (segment matching on and segments exist)."""
    return segment_match and len(problem.segment_names) > 0


def rep_pool_keys(problem: Problem, segment_match: bool) -> np.ndarray:
    """Pool key of every existing rep: its segment text, or ``""``."""
    if not segment_pools_on(problem, segment_match):
        return np.full(problem.n_reps, "", dtype=object)
    names = np.array([*problem.segment_names, ""], dtype=object)
    return names[problem.rep_segment]


def account_pool_keys(problem: Problem, segment_match: bool) -> np.ndarray:
    """Pool key of every account, as the alignment's band pools see it.

    With segment pools, an account of a segment that has reps belongs to that
    segment's pool; every other account to the general pool ``""``.
    """
    if not segment_pools_on(problem, segment_match):
        return np.full(problem.n_accounts, "", dtype=object)
    names = np.array([*problem.segment_names, ""], dtype=object)
    segment = names[problem.account_segment]
    staffed = [str(p) for p in set(rep_pool_keys(problem, segment_match)) if p]
    return np.where(np.isin(segment, staffed), segment, "").astype(object)


def read_candidates(source: str | Path | pd.DataFrame, problem: Problem) -> CandidateSites:
    """Read and validate a sites table (see the module notes for its columns).

    Raises
    ------
    InputError
        Naming file, row and column of every bad cell: missing or invalid
        coordinates, duplicate ids, unknown segments, ``max_hires`` < 1.
    """
    raw: RawTable = (
        frame_from_records("candidates", source)
        if isinstance(source, pd.DataFrame)
        else read_table(source)
    )
    frame, rows = raw.frame, raw.rows
    collector = IssueCollector(raw.file)
    latlon = problem.coord_system != CoordSystem.XY
    cols = ("lat", "lon") if latlon else ("x", "y")
    for col in cols:
        if col not in frame.columns:
            found = ", ".join(f"'{c}'" for c in frame.columns[:12])
            collector.add(
                f"required column '{col}' is missing (the accounts use "
                f"{'/'.join(cols)} locations); columns found: {found}",
                row=1,
                column=col,
            )
    collector.raise_if_any()
    coords = np.column_stack([_coordinate(frame, c, rows, collector) for c in cols])
    if latlon:
        for pos in np.flatnonzero((np.abs(coords[:, 0]) > 90) | (np.abs(coords[:, 1]) > 180)):
            collector.add(
                f"({coords[pos, 0]:g}, {coords[pos, 1]:g}) is not a latitude/longitude",
                row=int(rows[pos]),
                column="lat",
            )
    n = len(frame)
    ids = _text(frame, "site_id", n)
    default = np.array([f"S{r}" for r in rows], dtype=object)
    ids = np.where(ids == "", default, ids)
    seen: dict[str, int] = {}
    for i, site in enumerate(ids):
        if site in seen:
            collector.add(
                f"duplicate site_id '{site}' (first seen in row {seen[site]})",
                row=int(rows[i]),
                column="site_id",
            )
        seen.setdefault(str(site), int(rows[i]))
    segment = _text(frame, "segment", n)
    valid = set(problem.segment_names)
    for pos in np.flatnonzero((segment != "") & ~np.isin(segment, list(valid))):
        listing = ", ".join(problem.segment_names) or "(the book has no segments)"
        collector.add(
            f"unknown segment '{segment[pos]}'; segments are: {listing}",
            row=int(rows[pos]),
            column="segment",
        )
    max_hires = np.ones(n, dtype=np.int64)
    if "max_hires" in frame.columns:
        values, empty, invalid = number_cells(frame["max_hires"])
        bad = invalid | (~empty & ((values < 1) | (values != np.round(values))))
        for pos in np.flatnonzero(bad):
            collector.add(
                "max_hires must be a whole number >= 1", row=int(rows[pos]), column="max_hires"
            )
        max_hires = np.where(empty | bad, 1, np.nan_to_num(values, nan=1.0)).astype(np.int64)
    collector.raise_if_any()
    names = _text(frame, "name", n)
    return CandidateSites(
        ids=ids,
        names=np.where(names == "", ids, names),
        coords=coords,
        segment=segment,
        region=_text(frame, "region", n),
        max_hires=max_hires,
        source=raw.file,
    )


def _text(frame: pd.DataFrame, column: str, n: int) -> np.ndarray:
    if column not in frame.columns:
        return np.full(n, "", dtype=object)
    return text_cells(frame[column])


def _coordinate(
    frame: pd.DataFrame, column: str, rows: np.ndarray, collector: IssueCollector
) -> np.ndarray:
    values, empty, invalid = number_cells(frame[column])
    for pos in np.flatnonzero(empty | invalid | ~np.isfinite(values)):
        collector.add("missing or invalid coordinate", row=int(rows[pos]), column=column)
    return values


def plane(coords: np.ndarray, system: CoordSystem | None) -> np.ndarray:
    """Planar coordinates for clustering: equirectangular km for lat/lon, else as given."""
    if system != CoordSystem.LATLON:
        return np.asarray(coords, dtype=np.float64)
    ref = float(np.cos(np.radians(np.mean(coords[:, 0]))))
    return np.column_stack([coords[:, 1] * KM_PER_DEGREE * ref, coords[:, 0] * KM_PER_DEGREE])


def weighted_kmeans(
    points: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """Centres of a weighted k-means (k-means++ start, Lloyd iterations).

    Parameters
    ----------
    points
        ``(n, 2)`` planar points.
    weights
        Non-negative weight per point (all-zero weights count every point once).
    k
        Number of centres, at most the number of points.
    rng
        Seeded generator for the k-means++ start.

    Returns
    -------
    numpy.ndarray
        ``(k, 2)`` centres.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.sum() <= 0:
        w = np.ones(len(points))
    centres = [points[rng.choice(len(points), p=w / w.sum())]]
    d2 = ((points - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        p = w * d2
        if p.sum() <= 0:
            break
        centres.append(points[rng.choice(len(points), p=p / p.sum())])
        d2 = np.minimum(d2, ((points - centres[-1]) ** 2).sum(axis=1))
    c = np.array(centres)
    label = np.full(len(points), -1)
    for _ in range(KMEANS_ITERATIONS):
        _, new = cKDTree(c).query(points)
        if (new == label).all():
            break
        label = new
        mass = np.bincount(label, weights=w, minlength=len(c))
        for d in range(2):
            total = np.bincount(label, weights=w * points[:, d], minlength=len(c))
            c[:, d] = np.where(mass > 0, total / np.maximum(mass, 1e-300), c[:, d])
    return c


def sites_from_accounts(
    problem: Problem,
    weights: np.ndarray,
    account_pool: np.ndarray,
    pools: list[str],
    *,
    n_sites: int = DEFAULT_ACCOUNT_SITES,
    seed: int = 0,
) -> CandidateSites:
    """Thin the accounts to candidate sites, per staffed segment.

    Each pool (segment) gets sites in proportion to its share of ``weights``
    (at least :data:`MIN_SITES_PER_SEGMENT`); its accounts are clustered by a
    weighted k-means on their locations and each centre snaps to the nearest
    account of the pool. A pool with no more accounts than sites uses every
    distinct account location.

    Parameters
    ----------
    problem
        The book (needs account locations).
    weights
        Weight per account, e.g. its workload.
    account_pool
        Pool key per account (see :func:`account_pool_keys`).
    pools
        Pool keys to place sites for (segments, or ``[""]`` for one pool).
    n_sites
        Sites in total, before the per-segment minimum.
    seed
        Seed of the k-means++ start.
    """
    coords = problem.account_coords
    if coords is None:
        raise InputError.single(
            "accounts", "placing new hires needs account locations (lat/lon or x/y)"
        )
    rng = np.random.default_rng(seed)
    names = problem.account_attrs.get("name")
    total = float(np.sum(weights)) or 1.0
    rows: list[tuple[int, str]] = []
    for pool in pools:
        members = np.flatnonzero(account_pool == pool)
        if len(members) == 0:
            continue
        share = float(np.sum(weights[members])) / total
        k = min(len(members), max(MIN_SITES_PER_SEGMENT, round(n_sites * share)))
        _, first = np.unique(coords[members], axis=0, return_index=True)
        distinct = members[np.sort(first)]
        if len(distinct) <= k:
            chosen = distinct
        else:
            pts = plane(coords[members], problem.coord_system)
            centres = weighted_kmeans(pts, weights[members], k, rng)
            _, nearest = cKDTree(pts).query(centres)
            chosen = members[np.unique(nearest)]
        rows.extend((int(a), pool) for a in chosen)
    acc = np.array([a for a, _ in rows], dtype=np.int64)
    ids = problem.account_ids[acc].astype(object)
    label = ids if names is None else np.where(names[acc] == "", ids, names[acc])
    return CandidateSites(
        ids=np.array([f"{i}" for i in ids], dtype=object),
        names=np.asarray(label, dtype=object),
        coords=np.asarray(coords[acc], dtype=np.float64),
        segment=np.array([p for _, p in rows], dtype=object),
        region=np.full(len(acc), "", dtype=object),
        max_hires=np.ones(len(acc), dtype=np.int64),
        source=ACCOUNT_SITES,
    )


def expand_slots(sites: CandidateSites, staffed: list[str], *, pools_on: bool) -> Slots:
    """One slot per (site, segment served, copy).

    A site with a segment offers hires of that segment; a site without one
    offers a hire of every staffed segment (``staffed``), or one hire without a
    segment when reps do not form segment pools.
    """
    site, segment, pool, copy = [], [], [], []
    for s in range(len(sites)):
        own = str(sites.segment[s])
        options = [own] if own or not pools_on else list(staffed)
        for seg in options:
            for c in range(int(sites.max_hires[s])):
                site.append(s)
                segment.append(seg)
                pool.append(seg if pools_on else "")
                copy.append(c)
    return Slots(
        site=np.array(site, dtype=np.int64),
        segment=np.array(segment, dtype=object),
        pool=np.array(pool, dtype=object),
        copy=np.array(copy, dtype=np.int64),
    )
