"""Geography: distances between accounts and reps, and nearest-rep candidates."""

from territory_opt.geo.distance import EARTH_RADIUS_KM, haversine_km, pair_distance

__all__ = ["EARTH_RADIUS_KM", "haversine_km", "pair_distance"]
