r"""Distances: great-circle km for lat/lon, Euclidean for projected x/y.

Notes
-----
The haversine formula on a sphere of mean radius :data:`EARTH_RADIUS_KM`:

.. math:: d = 2R \arcsin\sqrt{\sin^2\frac{\Delta\varphi}{2}
          + \cos\varphi_1\cos\varphi_2\sin^2\frac{\Delta\lambda}{2}}

Its error against the WGS84 ellipsoid is below 0.5 %, far below the error of
straight-line distance as a proxy for drive time.
"""

from __future__ import annotations

import numpy as np

from territory_opt.data.schema import CoordSystem

#: Mean Earth radius [km] (IUGG).
EARTH_RADIUS_KM = 6371.0088


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance [km] between points given in degrees (broadcasts).

    Examples
    --------
    >>> round(float(haversine_km(np.array(0.0), np.array(0.0), np.array(0.0), np.array(1.0))), 2)
    111.2
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def pair_distance(
    coords: np.ndarray,
    centers: np.ndarray,
    acc: np.ndarray,
    rep: np.ndarray,
    system: CoordSystem,
) -> np.ndarray:
    """Distance between account ``acc[i]`` and rep center ``rep[i]`` for each i.

    Parameters
    ----------
    coords
        ``(n, 2)`` account locations (lat/lon [degrees] or x/y).
    centers
        ``(m, 2)`` rep centers in the same system.
    acc, rep
        Index arrays of equal length.
    system
        Coordinate system: great-circle km for lat/lon, Euclidean otherwise.

    Returns
    -------
    numpy.ndarray
        Distances [km, or file units for x/y].
    """
    a, c = coords[acc], centers[rep]
    if system == CoordSystem.LATLON:
        return haversine_km(a[:, 0], a[:, 1], c[:, 0], c[:, 1])
    return np.hypot(a[:, 0] - c[:, 0], a[:, 1] - c[:, 1])


def unit_vectors(coords: np.ndarray, system: CoordSystem) -> np.ndarray:
    """Points for nearest-neighbour search: 3-D unit vectors for lat/lon, else x/y.

    Chord length on the unit sphere is monotone in great-circle distance, so a
    KD-tree on these vectors finds true nearest neighbours anywhere on Earth.
    """
    if system != CoordSystem.LATLON:
        return np.asarray(coords, dtype=np.float64)
    lat, lon = np.radians(coords[:, 0]), np.radians(coords[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
