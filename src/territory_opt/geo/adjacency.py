"""Adjacency of geographic units: from polygons (rook or queen), and bridging islands.

Two polygons are *rook* neighbours when they share a boundary of positive
length and *queen* neighbours when they share at least one point. Shared
boundary length is reported in the layer's own units (degrees for lon/lat
layers: it is used only as a relative weight).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from territory_opt.data.schema import CoordSystem
from territory_opt.geo.distance import unit_vectors

#: Snapping tolerance for "touching", relative to the layer's extent; digitised
#: boundaries of neighbouring units rarely coincide to the last bit.
TOUCH_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Adjacency:
    """Undirected unit graph.

    Attributes
    ----------
    edges
        ``(e, 2)`` unit index pairs with ``a < b``, sorted, unique.
    length
        ``(e,)`` shared boundary length (1.0 where unknown).
    bridges
        ``(b, 2)`` the subset of ``edges`` added to join disconnected parts.
    """

    edges: np.ndarray
    length: np.ndarray
    bridges: np.ndarray


def polygon_adjacency(geoms: np.ndarray, rule: str = "rook") -> tuple[np.ndarray, np.ndarray]:
    """Edges between polygons that touch, with their shared boundary length.

    Parameters
    ----------
    geoms
        Shapely polygons or multipolygons.
    rule
        ``rook`` (a shared edge of positive length) or ``queen`` (any shared point).

    Returns
    -------
    (edges, length)
        ``(e, 2)`` index pairs ``a < b`` and the shared boundary length of each.
    """
    if rule not in ("rook", "queen"):
        msg = f"adjacency rule must be 'rook' or 'queen', not {rule!r}"
        raise ValueError(msg)
    geoms = np.asarray(geoms, dtype=object)
    bounds = shapely.total_bounds(geoms)
    tol = TOUCH_TOLERANCE * max(float(bounds[2] - bounds[0]), float(bounds[3] - bounds[1]), 1.0)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=tol)
    keep = left < right
    left, right = left[keep], right[keep]
    boundaries = shapely.boundary(geoms)
    shared = shapely.intersection(
        boundaries[left], shapely.buffer(boundaries[right], tol, quad_segs=1)
    )
    length = shapely.length(shared)
    # A shared corner has a length of about the tolerance; a shared edge far more.
    touching = length > 4 * tol if rule == "rook" else np.ones(len(left), dtype=bool)
    edges = np.column_stack([left[touching], right[touching]]).astype(np.int64)
    order = np.lexsort((edges[:, 1], edges[:, 0])) if len(edges) else np.arange(0)
    lengths = np.where(length[touching] > 4 * tol, length[touching], 0.0)
    return edges[order], lengths[order]


def connect_parts(
    edges: np.ndarray, length: np.ndarray, coords: np.ndarray, system: CoordSystem
) -> Adjacency:
    """Join disconnected parts of the unit graph by bridges to the nearest unit.

    Each part other than the largest is joined to the nearest unit outside it,
    by the closest pair of units, repeatedly until one part remains.

    Parameters
    ----------
    edges, length
        The unit graph as from :func:`polygon_adjacency` or an edge list.
    coords
        ``(n, 2)`` unit locations.
    system
        Coordinate system of ``coords``.

    Returns
    -------
    Adjacency
        The connected graph; ``bridges`` lists the edges that were added.
    """
    n = len(coords)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    length = np.asarray(length, dtype=np.float64)
    points = unit_vectors(np.asarray(coords, dtype=np.float64), system)
    bridges: list[tuple[int, int]] = []
    while True:
        all_edges = np.vstack([edges, np.array(bridges, dtype=np.int64).reshape(-1, 2)])
        graph = coo_matrix(
            (np.ones(len(all_edges)), (all_edges[:, 0], all_edges[:, 1])), shape=(n, n)
        )
        parts, label = connected_components(graph, directed=False)
        if parts <= 1:
            break
        sizes = np.bincount(label)
        # Join the smallest part (ties: lowest label) to its nearest unit elsewhere.
        part = int(np.lexsort((np.arange(parts), sizes))[0])
        inside = np.flatnonzero(label == part)
        outside = np.flatnonzero(label != part)
        tree = cKDTree(points[outside])
        dist, nearest = tree.query(points[inside], k=1)
        pick = int(np.argmin(dist))
        a, b = int(inside[pick]), int(outside[int(nearest[pick])])
        bridges.append((min(a, b), max(a, b)))
    bridge_arr = np.array(sorted(bridges), dtype=np.int64).reshape(-1, 2)
    merged = np.vstack([edges, bridge_arr])
    merged_len = np.concatenate([length, np.zeros(len(bridge_arr))])
    merged, first = np.unique(merged, axis=0, return_index=True)
    return Adjacency(merged.astype(np.int64), merged_len[first], bridge_arr)
