"""A seeded generator of realistic demo books (accounts + reps).

The book looks like a real regional sales book: accounts cluster in cities of
Zipf-distributed size plus a rural scatter; potential is heavy-tailed
(lognormal); workload grows sub-linearly with potential; the biggest accounts
form an enterprise segment with its own reps; some accounts belong to parent
families; a few are locked to their owner or exclude a rep. Accounts and reps
carry CRM ids (``crm_account_id``, ``crm_user_id``, ``hubspot_owner_id``) so that
the demo plan can be exported. Last year's owner
comes from a distorted nearest-rep rule, so the current book is unbalanced, as
real books are. The team has a 0.5 FTE rep and an open seat (a new hire).

All randomness comes from one ``numpy.random.Generator`` seeded by ``seed``;
the same arguments always give identical tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from scipy.spatial import cKDTree

#: Mean Earth radius [km] (IUGG), also used by :mod:`territory_opt.geo`.
KM_PER_DEGREE = 111.195


@dataclass(frozen=True)
class DemoSettings:
    """Parameters of the demo book; defaults describe a US regional book.

    Attributes
    ----------
    lat_range, lon_range
        Bounding box of the region [degrees].
    city_share
        Share of accounts located in cities; the rest is rural scatter.
    city_zipf
        Zipf exponent of city sizes (≈1 for real city-size distributions).
    potential_median
        Median annual potential of an account [USD].
    potential_sigma
        Lognormal sigma of potential (1.1 gives a top-5 % holding ~30 % of it).
    enterprise_share
        Share of accounts (the largest) in the enterprise segment.
    enterprise_rep_share
        Share of reps serving the enterprise segment.
    family_share
        Share of accounts that are children in a parent family.
    locked_share, excluded_share
        Share of accounts locked to their owner / excluding one rep.
    accounts_per_rep
        Used to size the team when the number of reps is not given.
    """

    lat_range: tuple[float, float] = (30.0, 42.0)
    lon_range: tuple[float, float] = (-104.0, -88.0)
    city_share: float = 0.8
    city_zipf: float = 1.1
    potential_median: float = 60_000.0
    potential_sigma: float = 1.1
    enterprise_share: float = 0.05
    enterprise_rep_share: float = 0.2
    family_share: float = 0.04
    locked_share: float = 0.005
    excluded_share: float = 0.003
    accounts_per_rep: int = 50


DEFAULT_SETTINGS = DemoSettings()
#: Upper limit for the default team size (explicit ``n_reps`` may exceed it).
MAX_DEFAULT_REPS = 1000

_FIRST = np.array(
    [
        "Ava",
        "Ben",
        "Chloe",
        "Diego",
        "Emma",
        "Farah",
        "Gus",
        "Hana",
        "Ivan",
        "Jade",
        "Kofi",
        "Lena",
        "Mateo",
        "Nia",
        "Omar",
        "Priya",
        "Quinn",
        "Rosa",
        "Sam",
        "Tara",
        "Uma",
        "Victor",
        "Wen",
        "Yusuf",
        "Zoe",
    ]
)
_LAST = np.array(
    [
        "Adams",
        "Baker",
        "Chen",
        "Diaz",
        "Evans",
        "Fischer",
        "Garcia",
        "Huang",
        "Ito",
        "Johnson",
        "Kim",
        "Lopez",
        "Moreau",
        "Nguyen",
        "Okafor",
        "Patel",
        "Quist",
        "Rossi",
        "Silva",
        "Tanaka",
        "Usman",
        "Vogel",
        "Walsh",
        "Young",
    ]
)
_WORD = np.array(
    [
        "Acme",
        "Bluebird",
        "Cedar",
        "Delta",
        "Evergreen",
        "Frontier",
        "Granite",
        "Harbor",
        "Ironwood",
        "Juniper",
        "Keystone",
        "Lakeside",
        "Meridian",
        "Northwind",
        "Oakridge",
        "Prairie",
        "Quarry",
        "Redrock",
        "Summit",
        "Tristar",
        "Union",
        "Vista",
        "Westfield",
        "Yellowstone",
        "Zenith",
    ]
)
_KIND = np.array(
    [
        "Clinic",
        "Foods",
        "Logistics",
        "Hardware",
        "Dental",
        "Motors",
        "Labs",
        "Supply",
        "Builders",
        "Pharmacy",
        "Systems",
        "Farms",
        "Energy",
        "Bank",
    ]
)


def default_rep_count(n_accounts: int, settings: DemoSettings = DEFAULT_SETTINGS) -> int:
    """Team size used when none is given: one rep per ``accounts_per_rep`` accounts."""
    return int(max(4, min(MAX_DEFAULT_REPS, round(n_accounts / settings.accounts_per_rep))))


def generate_demo(
    n_accounts: int = 2000,
    n_reps: int | None = None,
    *,
    seed: int = 0,
    settings: DemoSettings = DEFAULT_SETTINGS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate a demo book of accounts and reps.

    Parameters
    ----------
    n_accounts
        Number of accounts, 100 to 1,000,000.
    n_reps
        Number of seats including one open seat; default from
        :func:`default_rep_count`.
    seed
        Seed of the random generator.
    settings
        Shape of the book.

    Returns
    -------
    accounts, reps
        Two new DataFrames following the input data contract.

    Examples
    --------
    >>> acc, reps = generate_demo(500, seed=7)
    >>> len(acc), len(reps), acc["account_id"].is_unique
    (500, 10, True)
    """
    if not 100 <= n_accounts <= 1_000_000:
        msg = f"n_accounts must be between 100 and 1,000,000, got {n_accounts}"
        raise ValueError(msg)
    m = default_rep_count(n_accounts, settings) if n_reps is None else n_reps
    if m < 3:
        msg = f"n_reps must be at least 3 (enterprise, commercial and an open seat), got {m}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    s = settings
    n_cities = int(np.clip(m // 2 + 4, 6, 400))
    city_lat = rng.uniform(*s.lat_range, n_cities)
    city_lon = rng.uniform(*s.lon_range, n_cities)
    city_weight = 1.0 / np.arange(1, n_cities + 1) ** s.city_zipf
    city_weight /= city_weight.sum()
    city_radius_km = 6.0 + 60.0 * np.sqrt(city_weight / city_weight[0])

    lat, lon = _locations(rng, n_accounts, city_lat, city_lon, city_weight, city_radius_km, s)
    potential = np.round(rng.lognormal(np.log(s.potential_median), s.potential_sigma, n_accounts))
    workload = np.round(
        8.0 + 0.9 * (potential / 1000.0) ** 0.6 * rng.lognormal(0.0, 0.3, n_accounts), 1
    )
    revenue_ly = np.round(potential * rng.beta(2.0, 5.0, n_accounts))
    revenue_ly[rng.random(n_accounts) < 0.15] = 0.0  # whitespace: no revenue last year
    cutoff = np.quantile(potential, 1.0 - s.enterprise_share)
    segment = np.where(potential >= cutoff, "enterprise", "commercial").astype(object)

    reps = _reps(rng, m, city_lat, city_lon, city_weight)
    parent = _families(rng, lat, lon, s.family_share)
    has_parent = parent >= 0
    segment[has_parent] = segment[parent[has_parent]]
    current = _previous_owner(rng, lat, lon, segment, reps)
    current[has_parent] = current[parent[has_parent]]

    ids = np.char.add("A", np.char.zfill(np.arange(1, n_accounts + 1).astype(str), 7))
    rep_ids = reps["rep_id"].to_numpy(dtype=object)
    solo = ~has_parent
    solo[parent[has_parent]] = False
    locked = np.full(n_accounts, "", dtype=object)
    lock_pick = solo & (rng.random(n_accounts) < s.locked_share)
    locked[lock_pick] = rep_ids[current[lock_pick]]
    excluded = np.full(n_accounts, "", dtype=object)
    excl_pick = np.flatnonzero(~lock_pick & (rng.random(n_accounts) < s.excluded_share))
    if len(excl_pick):
        same_seg = {
            seg: np.flatnonzero(reps["segment"].to_numpy() == seg)
            for seg in ("enterprise", "commercial")
        }
        for pos in excl_pick:
            options = same_seg[segment[pos]]
            options = options[options != current[pos]]
            if len(options):
                excluded[pos] = rep_ids[options[rng.integers(len(options))]]

    names = (
        pd.Series(_WORD[rng.integers(len(_WORD), size=n_accounts)])
        + " "
        + pd.Series(_KIND[rng.integers(len(_KIND), size=n_accounts)])
        + " #"
        + pd.Series(np.arange(1, n_accounts + 1).astype(str))
    )
    parent_id = np.full(n_accounts, "", dtype=object)
    parent_id[has_parent] = ids[parent[has_parent]]
    accounts = pd.DataFrame(
        {
            "account_id": ids.astype(object),
            "name": names.to_numpy(dtype=object),
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            "potential": potential,
            "workload": workload,
            "revenue_ly": revenue_ly,
            "segment": segment,
            "current_rep": rep_ids[current] if len(rep_ids) else current,
            "parent_id": parent_id,
            "locked_rep": locked,
            "excluded_reps": excluded,
            # Salesforce-shaped Account Ids (prefix 001, 15 characters) derived from the
            # account number, not drawn, so that adding them left the book unchanged.
            "crm_account_id": np.char.add(
                "001", np.char.zfill(np.arange(1, n_accounts + 1).astype(str), 12)
            ).astype(object),
        }
    )
    no_owner = current < 0
    accounts.loc[no_owner, "current_rep"] = ""
    return accounts, reps


def _locations(
    rng: np.random.Generator,
    n: int,
    city_lat: np.ndarray,
    city_lon: np.ndarray,
    city_weight: np.ndarray,
    city_radius_km: np.ndarray,
    s: DemoSettings,
) -> tuple[np.ndarray, np.ndarray]:
    in_city = rng.random(n) < s.city_share
    city = rng.choice(len(city_lat), size=n, p=city_weight)
    radius = city_radius_km[city] * np.sqrt(rng.exponential(1.0, n))
    angle = rng.uniform(0.0, 2 * np.pi, n)
    dlat = radius * np.sin(angle) / KM_PER_DEGREE
    dlon = radius * np.cos(angle) / (KM_PER_DEGREE * np.cos(np.radians(city_lat[city])))
    lat = np.where(in_city, city_lat[city] + dlat, rng.uniform(*s.lat_range, n))
    lon = np.where(in_city, city_lon[city] + dlon, rng.uniform(*s.lon_range, n))
    return np.clip(lat, -89.9, 89.9), np.clip(lon, -179.9, 179.9)


def _reps(
    rng: np.random.Generator,
    m: int,
    city_lat: np.ndarray,
    city_lon: np.ndarray,
    city_weight: np.ndarray,
) -> pd.DataFrame:
    n_enterprise = max(1, round(DEFAULT_SETTINGS.enterprise_rep_share * m))
    segment = np.array(
        ["enterprise"] * n_enterprise + ["commercial"] * (m - n_enterprise), dtype=object
    )
    # Spread homes over cities, big cities first, more reps in bigger cities.
    city = rng.choice(len(city_lat), size=m, p=city_weight)
    jitter = rng.normal(0.0, 0.05, (m, 2))
    first = _FIRST[rng.integers(len(_FIRST), size=m)]
    last = _LAST[rng.integers(len(_LAST), size=m)]
    names = np.char.add(np.char.add(first, " "), last).astype(object)
    numbers = np.char.zfill(np.arange(1, m + 1).astype(str), 3)
    rep_ids = np.char.add("R", numbers).astype(object)
    emails = np.char.add(
        np.char.add(np.char.add(np.char.lower(first), "."), np.char.lower(last)),
        np.char.add(numbers, "@example.com"),
    ).astype(object)
    capacity = np.ones(m)
    capacity[min(1, m - 1)] = 0.5  # a part-time rep
    days = rng.integers(0, 11 * 365, m)
    start = (np.datetime64("2015-01-01") + days.astype("timedelta64[D]")).astype(str)
    start = start.astype(object)
    crm = np.array([f"005{seed:012d}" for seed in rng.integers(0, 10**12, m)], dtype=object)
    owner = rng.integers(10**7, 10**8, m).astype(str).astype(object)
    open_seat = m - 1  # the last seat is a new hire who has no book yet
    rep_ids[open_seat] = "OPEN-01"
    names[open_seat] = "Open seat (new hire)"
    emails[open_seat] = ""
    crm[open_seat] = ""
    owner[open_seat] = ""
    start[open_seat] = "2027-02-01"
    managers = np.char.add("M", (np.arange(m) // 8 + 1).astype(str)).astype(object)
    return pd.DataFrame(
        {
            "rep_id": rep_ids,
            "name": names,
            "email": emails,
            "home_lat": np.round(city_lat[city] + jitter[:, 0], 6),
            "home_lon": np.round(city_lon[city] + jitter[:, 1], 6),
            "capacity": capacity,
            "segment": segment,
            "start_date": start,
            "manager_id": managers,
            "crm_user_id": crm,
            "hubspot_owner_id": owner,
        }
    )


def _plane(lat: np.ndarray, lon: np.ndarray, ref_lat: float) -> np.ndarray:
    """Equirectangular km coordinates, accurate enough for choosing neighbours."""
    scale = np.cos(np.radians(ref_lat))
    return np.column_stack([lon * KM_PER_DEGREE * scale, lat * KM_PER_DEGREE])


def _families(
    rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, share: float
) -> np.ndarray:
    """Parent index per account (-1 for none): children are neighbours of a parent."""
    n = len(lat)
    parent = np.full(n, -1, dtype=np.int64)
    n_parents = int(n * share / 2.5)  # families have 1-4 children, 2.5 on average
    if n_parents == 0:
        return parent
    heads = rng.choice(n, size=n_parents, replace=False)
    ref = float(np.mean(lat))
    tree = cKDTree(_plane(lat, lon, ref))
    _, neighbours = tree.query(_plane(lat[heads], lon[heads], ref), k=min(6, n), workers=-1)
    used = np.zeros(n, dtype=bool)
    used[heads] = True
    sizes = rng.integers(1, 5, n_parents)
    for head, near, size in zip(heads, neighbours, sizes, strict=True):
        children = [c for c in near[1:] if not used[c]][:size]
        parent[children] = head
        used[children] = True
    return parent


def _previous_owner(
    rng: np.random.Generator,
    lat: np.ndarray,
    lon: np.ndarray,
    segment: np.ndarray,
    reps: pd.DataFrame,
) -> np.ndarray:
    """Last year's owner: a distorted nearest-rep rule (unbalanced on purpose)."""
    n = len(lat)
    owner = np.full(n, -1, dtype=np.int64)
    ref = float(np.mean(lat))
    pts = _plane(lat, lon, ref)
    home = _plane(reps["home_lat"].to_numpy(), reps["home_lon"].to_numpy(), ref)
    # Each rep has a "reach": some grabbed large books, others small ones.
    reach = rng.lognormal(0.0, 0.5, len(reps))
    rep_seg = reps["segment"].to_numpy()
    active = np.arange(len(reps)) < len(reps) - 1  # the open seat owns nothing yet
    for seg in np.unique(segment):
        candidates = np.flatnonzero((rep_seg == seg) & active)
        if len(candidates) == 0:
            candidates = np.flatnonzero(active)
        members = np.flatnonzero(segment == seg)
        k = min(8, len(candidates))
        dist, near = cKDTree(home[candidates]).query(pts[members], k=k, workers=-1)
        dist, near = dist.reshape(len(members), k), near.reshape(len(members), k)
        # Pick among the nearest reps with odds reach / (distance + 5 km)^2, so that
        # co-located reps split a city unevenly and far accounts go to near reps.
        odds = reach[candidates[near]] / (dist + 5.0) ** 2
        cum = np.cumsum(odds, axis=1)
        draw = rng.random(len(members)) * cum[:, -1]
        pick = np.minimum((cum < draw[:, None]).sum(axis=1), k - 1)
        owner[members] = candidates[near[np.arange(len(members)), pick]]
    return owner


def write_demo(
    accounts: pd.DataFrame, reps: pd.DataFrame, folder: Path, *, fmt: str = "csv"
) -> tuple[Path, Path]:
    """Write demo tables as ``accounts.<fmt>`` and ``reps.<fmt>`` into ``folder``.

    CSV files are UTF-8 without BOM with LF line ends; whole numbers are
    written without a decimal point.

    Returns
    -------
    accounts_path, reps_path
    """
    paths = (folder / f"accounts.{fmt}", folder / f"reps.{fmt}")
    for frame, path in zip((accounts, reps), paths, strict=True):
        if fmt == "csv":
            # Arrow writes shortest round-trip numbers (53314, not 53314.0) and is
            # ~10x faster than DataFrame.to_csv at a million rows.
            pa_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), path)
        elif fmt == "parquet":
            frame.to_parquet(path, index=False)
        elif fmt == "xlsx":
            frame.to_excel(path, index=False, engine="xlsxwriter")
        else:
            msg = f"unknown format '{fmt}'; use csv, parquet or xlsx"
            raise ValueError(msg)
    return paths
