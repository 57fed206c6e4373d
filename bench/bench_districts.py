"""Geographic design: ``design_districts`` against spopt and GerryChain on public instances.

Usage::

    python bench/bench_districts.py [--quick] [--only county ctdp zip] [--steps 2000]
                                    [--recom-seconds 60] [--azp-seconds 20]
                                    [--zip-time-limit 60] [--seed 0]

Instances (read from ``../shared/benchmarks``; the script exits with a message when
the folder is absent):

- ``county``: US county graphs ME, NM, ID, WV (Validi & Buchanan 2022); k from
  ``optima.json``, TOTPOP within ±0.5 % of the mean (integer totals in
  ``[ceil(0.995 P/k), floor(1.005 P/k)]``), contiguous, minimise cut edges.
  ``--quick`` skips WV (territory-opt needs about 3 minutes to prove it).
- ``ctdp``: five commercial territory design instances (60 units, p = 4), three
  activities within ±5 % of their mean, contiguous, objectives sum-distance and
  max-distance (Euclidean, to the district's center unit).
- ``zip``: 647 Oklahoma ZIP areas, k = 10, pop2010 within ±5 %, no contiguity,
  Σ pop2010 × great-circle km to the district's center unit.

Methods, all on the same instance in the same run:

- ``territory-opt``: the product path — the instance is converted with
  ``graph_json_tables`` / ``ctdp_tables`` (or read as the CSV), written to a temp
  folder, read by ``load_units`` and solved by ``design_districts``; the plan is
  checked by ``territory_opt.testing.check_districts``.
- ``spopt SKATER``: spanning-tree pruning on the units' planar coordinates (its
  native use: compact, contiguous regions; it has no balance constraint, only a
  floor on region size in units, left unset).
- ``spopt AZP``: the automatic zoning procedure with a custom spopt
  ``ObjectiveFunction``: this benchmark's objective plus a penalty of 10^6 × the
  objective's scale per unit of relative band violation, so balance comes first;
  seeded random restarts for ``--azp-seconds``, the best design by (violation,
  objective) is kept.
- ``GerryChain ReCom``: a seed plan from ``recursive_tree_part`` (balanced on the
  first metric; re-drawn until every band holds, for at most 120 s), then a
  ``MarkovChain`` of ``--steps`` ReCom proposals (or ``--recom-seconds``, whichever
  comes first) with the population constraint of every banded metric and
  contiguity; the best plan visited by this benchmark's objective is kept. A
  proposal that finds no balanced cut in 2,000 spanning trees leaves the plan as it
  is (GerryChain would raise and end the chain).

spopt and GerryChain need a graph for every instance. For the ZIP instance (points,
no contiguity asked of territory-opt) both use the Delaunay triangulation of the
ZIP points, so their districts are connected in that graph: a restriction that
territory-opt does not have there.

Every design is re-checked here by code independent of territory-opt: the graph
and metrics are parsed from the raw files, balance is recomputed per district,
contiguity by ``scipy.sparse.csgraph.connected_components`` on each district's
subgraph, and the objective by one function for every method, which picks each
district's best center unit (its medoid for sum-distance, its 1-center for
max-distance). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay

BENCHMARKS = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
#: Mean Earth radius [km] (IUGG), the value territory_opt.geo.distance uses.
EARTH_RADIUS_KM = 6371.0088
#: km per degree of latitude / of longitude at the equator, for the planar coordinates
#: that spopt clusters on (equirectangular projection around the mean latitude).
KM_PER_DEG_LAT = 110.57
KM_PER_DEG_LON = 111.32
#: Penalty per unit of relative band violation in the AZP objective, times the
#: objective's scale: any violation outweighs any objective difference.
AZP_PENALTY = 1e6
#: AZP on max-distance minimises the largest radius plus this share of the sum of
#: radii, so that moves on the plateau of an unchanged maximum still count.
MAX_TIE_BREAK = 1e-3
#: Tolerance on band limits in the independent check (floating-point sums).
RTOL = 1e-9
#: recursive_tree_part draws for a seed plan that meets every band, and their time [s].
SEED_DRAWS = 200
RECOM_SEED_SECONDS = 120.0
#: Spanning trees drawn per bipartition before giving up (GerryChain's default is
#: 100,000, about a minute on a 16-county state at ±0.5 %): per seed cut and per step.
SEED_CUT_ATTEMPTS = 20_000
STEP_CUT_ATTEMPTS = 2_000


# --------------------------------------------------------------------------- instances


@dataclass
class Instance:
    """One benchmark instance, as parsed here independently of territory-opt."""

    name: str
    family: str
    ids: np.ndarray
    coords: np.ndarray  # (n, 2): lat/lon [deg] or x/y
    latlon: bool
    metrics: dict[str, np.ndarray]
    bands: dict[str, tuple[float, float]]  # metric -> (lo, hi) district total
    tolerances: dict[str, float]
    k: int
    contiguous: bool
    objectives: list[str]
    weight: np.ndarray
    edges: np.ndarray  # (e, 2) graph for contiguity, cut edges, spopt and GerryChain
    graph_note: str
    optimum: dict[str, float]
    ours_tables: Callable[[Path], tuple[Path, Path | None, dict[str, Any]]]
    time_limit: float
    dist: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.dist = distance_matrix(self.coords, self.latlon)

    @property
    def n(self) -> int:
        return len(self.ids)

    def planar(self) -> np.ndarray:
        """Planar coordinates [km, or file units] for spopt's attribute space."""
        if not self.latlon:
            return self.coords.astype(float)
        lat0 = math.radians(float(self.coords[:, 0].mean()))
        return np.column_stack(
            [
                self.coords[:, 1] * KM_PER_DEG_LON * math.cos(lat0),
                self.coords[:, 0] * KM_PER_DEG_LAT,
            ]
        )


def distance_matrix(coords: np.ndarray, latlon: bool) -> np.ndarray:
    """Great-circle [km] or Euclidean distances between all units."""
    if latlon:
        lat = np.radians(coords[:, 0])
        lon = np.radians(coords[:, 1])
        dlat = lat[:, None] - lat[None, :]
        dlon = lon[:, None] - lon[None, :]
        h = (
            np.sin(dlat / 2) ** 2
            + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
        )
        return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    diff = coords[:, None, :] - coords[None, :, :]
    return np.sqrt((diff**2).sum(axis=2))


def _mean_band(values: np.ndarray, k: int, tol: float) -> tuple[float, float]:
    mean = float(values.sum()) / k
    return (1 - tol) * mean, (1 + tol) * mean


def county_instances(folder: Path, states: list[str]) -> list[Instance]:
    """County graphs: parse the networkx JSON directly (nodes, adjacency lists)."""
    from territory_opt.districting.formats import graph_json_tables

    optima = json.loads((folder / "optima.json").read_text())["instances"]
    out = []
    for state in states:
        info = optima[state]
        graph = json.loads((folder / info["file"]).read_text())
        nodes = graph["nodes"]
        pos = {node["id"]: i for i, node in enumerate(nodes)}
        pairs = {
            tuple(sorted((i, pos[nbr["id"]])))
            for i, nbrs in enumerate(graph["adjacency"])
            for nbr in nbrs
        }
        pop = np.array([float(node["TOTPOP"]) for node in nodes])
        k = int(info["k"])
        total = pop.sum()
        # optima.json: TOTPOP within [ceil(0.995 P/k), floor(1.005 P/k)].
        band = (math.ceil(0.995 * total / k), math.floor(1.005 * total / k))

        def tables(tmp: Path, path: Path = folder / info["file"]) -> Any:
            units, edges = graph_json_tables(path)
            units.to_csv(tmp / "units.csv", index=False)
            edges.to_csv(tmp / "edges.csv", index=False)
            return tmp / "units.csv", tmp / "edges.csv", {"metrics": ["TOTPOP"]}

        out.append(
            Instance(
                name=f"{state} ({len(nodes)} counties, k={k})",
                family="county",
                ids=np.array([str(node["GEOID10"]) for node in nodes], dtype=object),
                coords=np.array([[float(node["C_Y"]), float(node["C_X"])] for node in nodes]),
                latlon=True,
                metrics={"TOTPOP": pop},
                bands={"TOTPOP": band},
                tolerances={"TOTPOP": 0.005},
                k=k,
                contiguous=True,
                objectives=["cut-edges"],
                weight=np.ones(len(nodes)),
                edges=np.array(sorted(pairs), dtype=np.int64),
                graph_note="county rook adjacency",
                optimum={"cut-edges": float(info["optimum_cut_edges"])},
                ours_tables=tables,
                time_limit=300.0,
            )
        )
    return out


def ctdp_instances(folder: Path) -> list[Instance]:
    """Territory design .dat files: n, 'id x y w1 w2 w3 0' rows, m, 'u v' rows."""
    from territory_opt.districting.formats import ctdp_tables

    optima = json.loads((folder / "optima.json").read_text())["instances"]
    out = []
    for name, info in sorted(optima.items()):
        lines = (folder / info["file"]).read_text().split("\n")
        n = int(lines[0])
        rows = np.array([[float(v) for v in line.split()[:6]] for line in lines[1 : 1 + n]])
        m = int(lines[1 + n])
        ids = [str(int(r)) for r in rows[:, 0]]
        pos = {u: i for i, u in enumerate(ids)}
        pairs = {
            tuple(sorted((pos[a], pos[b])))
            for a, b in (line.split()[:2] for line in lines[2 + n : 2 + n + m])
        }
        k = int(info["p"])
        metrics = {f"w{q}": rows[:, 2 + q] for q in (1, 2, 3)}

        def tables(tmp: Path, path: Path = folder / info["file"]) -> Any:
            units, edges = ctdp_tables(path)
            units.to_csv(tmp / "units.csv", index=False)
            edges.to_csv(tmp / "edges.csv", index=False)
            return tmp / "units.csv", tmp / "edges.csv", {}

        out.append(
            Instance(
                name=f"{name} (60 units, p=4)",
                family="ctdp",
                ids=np.array(ids, dtype=object),
                coords=rows[:, 1:3],
                latlon=False,
                metrics=metrics,
                bands={q: _mean_band(v, k, 0.05) for q, v in metrics.items()},
                tolerances=dict.fromkeys(metrics, 0.05),
                k=k,
                contiguous=True,
                objectives=["sum-distance", "max-distance"],
                weight=np.ones(n),
                edges=np.array(sorted(pairs), dtype=np.int64),
                graph_note="planar contiguity graph of the file",
                optimum={
                    "sum-distance": float(info["optimum_sum_distance"]),
                    "max-distance": float(info["optimum_max_distance"]),
                },
                ours_tables=tables,
                time_limit=120.0,
            )
        )
    return out


def zip_instance(path: Path, time_limit: float) -> Instance:
    """Oklahoma ZIP points; the graph for spopt/GerryChain is their Delaunay triangulation."""
    frame = pd.read_csv(path, dtype={"zcta": str})
    coords = frame[["lat", "lon"]].to_numpy(float)
    pop = frame["pop2010"].to_numpy(float)
    k = 10
    lat0 = math.radians(float(coords[:, 0].mean()))
    planar = np.column_stack(
        [coords[:, 1] * KM_PER_DEG_LON * math.cos(lat0), coords[:, 0] * KM_PER_DEG_LAT]
    )
    tri = Delaunay(planar)
    pairs = {
        tuple(sorted((int(s[a]), int(s[b]))))
        for s in tri.simplices
        for a, b in ((0, 1), (1, 2), (0, 2))
    }

    def tables(tmp: Path) -> Any:
        del tmp
        return path, None, {"columns": {"account_id": "zcta"}, "metrics": ["pop2010"]}

    return Instance(
        name="Oklahoma ZIPs (647, k=10)",
        family="zip",
        ids=frame["zcta"].to_numpy(dtype=object),
        coords=coords,
        latlon=True,
        metrics={"pop2010": pop},
        bands={"pop2010": _mean_band(pop, k, 0.05)},
        tolerances={"pop2010": 0.05},
        k=k,
        contiguous=False,
        objectives=["sum-distance"],
        weight=pop,
        edges=np.array(sorted(pairs), dtype=np.int64),
        graph_note="Delaunay triangulation of the ZIP points (spopt and GerryChain only)",
        optimum={},
        ours_tables=tables,
        time_limit=time_limit,
    )


# --------------------------------------------------------------------------- evaluation


def district_cost(inst: Instance, objective: str, members: np.ndarray) -> float:
    """Sum-distance (medoid) or max-distance (1-center) cost of one district."""
    sub = inst.dist[np.ix_(members, members)]
    if objective == "sum-distance":
        return float((inst.weight[members, None] * sub).sum(axis=0).min())
    return float(sub.max(axis=0).min())


def objective_of(inst: Instance, objective: str, labels: np.ndarray) -> float:
    """The benchmark's objective for any labelling (each district's best center unit)."""
    if objective == "cut-edges":
        return float((labels[inst.edges[:, 0]] != labels[inst.edges[:, 1]]).sum())
    costs = [district_cost(inst, objective, np.flatnonzero(labels == j)) for j in range(inst.k)]
    return float(sum(costs)) if objective == "sum-distance" else float(max(costs))


def connected(inst: Instance, members: np.ndarray) -> bool:
    """Whether the units ``members`` form one connected piece of the instance graph."""
    if len(members) <= 1:
        return len(members) == 1
    inside = np.zeros(inst.n, dtype=bool)
    inside[members] = True
    keep = inside[inst.edges[:, 0]] & inside[inst.edges[:, 1]]
    e = inst.edges[keep]
    adj = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(inst.n, inst.n)).tocsr()
    _, comp = connected_components(adj[members][:, members], directed=False)
    return int(comp.max()) == 0


def evaluate(inst: Instance, objective: str, labels: np.ndarray) -> dict[str, Any]:
    """Feasibility (k districts, bands, contiguity) and objective, recomputed here."""
    labels = np.asarray(labels, dtype=np.int64)
    _, labels = np.unique(labels, return_inverse=True)
    districts = int(labels.max()) + 1
    dev: dict[str, float] = {}
    balanced = districts == inst.k
    for name, values in inst.metrics.items():
        totals = np.bincount(labels, weights=values, minlength=inst.k)
        mean = values.sum() / inst.k
        dev[name] = float(np.abs(totals / mean - 1).max())
        lo, hi = inst.bands[name]
        balanced &= bool((totals >= lo * (1 - RTOL)).all() and (totals <= hi * (1 + RTOL)).all())
    contiguous = all(connected(inst, np.flatnonzero(labels == j)) for j in range(districts))
    why = []
    if districts != inst.k:
        why.append(f"{districts} districts")
    elif not balanced:
        why.append("band")
    if inst.contiguous and not contiguous:
        why.append("contiguity")
    value = objective_of(inst, objective, labels) if districts == inst.k else math.inf
    return {
        "feasible": not why,
        "why": ", ".join(why),
        "dev": dev,
        "objective": value,
        "contiguous": contiguous,
    }


def _violation(inst: Instance, labels: np.ndarray) -> float:
    total = 0.0
    for name, values in inst.metrics.items():
        lo, hi = inst.bands[name]
        t = np.bincount(labels, weights=values, minlength=inst.k)
        total += float((np.maximum(0, lo - t) + np.maximum(0, t - hi)).sum() / ((lo + hi) / 2))
    return total


# --------------------------------------------------------------------------- methods


def run_ours(inst: Instance, objective: str, seed: int) -> dict[str, Any]:
    """territory-opt through the files a user would give it."""
    from territory_opt.districting import (
        DistrictObjective,
        DistrictSpec,
        design_districts,
        load_units,
    )
    from territory_opt.testing import check_districts

    with tempfile.TemporaryDirectory() as tmp:
        units_path, edges_path, options = inst.ours_tables(Path(tmp))
        layer = load_units(units_path, adjacency=edges_path, **options)
        spec = DistrictSpec(
            k=inst.k,
            bands=dict(inst.tolerances),
            contiguous=inst.contiguous,
            objective=DistrictObjective(objective),
            weight="pop2010" if inst.family == "zip" else None,
        )
        start = time.perf_counter()
        plan = design_districts(layer, spec, time_limit=inst.time_limit, gap=1e-6, seed=seed)
        wall = time.perf_counter() - start
    heuristic = plan.stats.get("heuristic_objective", math.inf)
    first = "heuristic: no design within the bands"
    if math.isfinite(heuristic):
        first = f"heuristic {heuristic:,.6g} in {plan.stats['heuristic_seconds']:.1f} s"
    out: dict[str, Any] = {
        "time": wall,
        "note": first,
        "status": str(plan.status),
        "lower_bound": float(plan.lower_bound),
        "gap": float(plan.gap),
        "plan_objective": float(plan.objective),
    }
    if plan.labels is None:
        return out
    report = check_districts(plan, raise_on_error=False)
    out["checker"] = "ok" if report.ok else "; ".join(report.violations[:2])
    index = {u: i for i, u in enumerate(layer.ids.tolist())}
    out["labels"] = np.array([plan.labels[index[u]] for u in inst.ids], dtype=np.int64)
    return out


def _weights(inst: Instance) -> Any:
    import libpysal

    neighbours: dict[int, list[int]] = {i: [] for i in range(inst.n)}
    for a, b in inst.edges.tolist():
        neighbours[a].append(b)
        neighbours[b].append(a)
    return libpysal.weights.W(neighbours, silence_warnings=True)


def run_skater(inst: Instance, objective: str, seed: int) -> dict[str, Any]:
    """spopt SKATER on planar coordinates (no balance control)."""
    del objective, seed  # SKATER is deterministic and has one objective
    import geopandas as gpd
    from spopt.region import Skater

    xy = inst.planar()
    frame = gpd.GeoDataFrame({"x": xy[:, 0], "y": xy[:, 1]})
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Skater(frame, _weights(inst), ["x", "y"], n_clusters=inst.k)
        model.solve()
    return {"time": time.perf_counter() - start, "labels": np.asarray(model.labels_, int)}


def _azp_objective(inst: Instance, objective: str) -> Any:
    from spopt.region.objective_function import ObjectiveFunction

    if objective == "cut-edges":
        scale = float(len(inst.edges))
    elif objective == "sum-distance":
        scale = float(inst.weight.sum() * inst.dist.max())
    else:
        scale = float(inst.dist.max())
    nbrs: list[list[int]] = [[] for _ in range(inst.n)]
    for a, b in inst.edges.tolist():
        nbrs[a].append(b)
        nbrs[b].append(a)
    names = list(inst.metrics)
    values = np.column_stack([inst.metrics[q] for q in names])
    lo = np.array([inst.bands[q][0] for q in names])
    hi = np.array([inst.bands[q][1] for q in names])

    class BenchmarkObjective(ObjectiveFunction):
        """This benchmark's objective plus a band penalty (spopt's objective API)."""

        def region(self, labels: np.ndarray, region: Any) -> tuple[float, float]:
            """Cost and penalty of one region."""
            members = np.flatnonzero(labels == region)
            if len(members) == 0:
                return 0.0, AZP_PENALTY * scale * len(names)
            t = values[members].sum(axis=0)
            excess = (np.maximum(0, lo - t) + np.maximum(0, t - hi)) / ((lo + hi) / 2)
            penalty = AZP_PENALTY * scale * float(excess.sum())
            if objective == "cut-edges":
                inside = set(members.tolist())
                cost = sum(1 for i in members.tolist() for j in nbrs[i] if j not in inside) / 2
                return float(cost), penalty
            return district_cost(inst, objective, members), penalty

        def __call__(self, labels: np.ndarray, attr: np.ndarray) -> float:
            del attr
            parts = [self.region(labels, r) for r in np.unique(labels)]
            costs = [c for c, _ in parts]
            total = sum(costs)
            if objective == "max-distance":
                total = max(costs) + MAX_TIE_BREAK * total
            return float(total + sum(p for _, p in parts))

        def update(
            self, moving_area: int, recipient_region: Any, labels: np.ndarray, attr: np.ndarray
        ) -> float:
            moved = labels.copy()
            moved[moving_area] = recipient_region
            if objective == "max-distance":  # not a sum over regions: recompute
                return self(moved, attr) - self(labels, attr)
            donor = labels[moving_area]
            before = sum(self.region(labels, donor)) + sum(self.region(labels, recipient_region))
            after = sum(self.region(moved, donor)) + sum(self.region(moved, recipient_region))
            return after - before

    return BenchmarkObjective()


def run_azp(inst: Instance, objective: str, seed: int, budget: float) -> dict[str, Any]:
    """spopt AZP with this benchmark's objective + band penalty; seeded restarts."""
    import geopandas as gpd
    from spopt.region import AZP

    xy = inst.planar()
    frame = gpd.GeoDataFrame({"x": xy[:, 0], "y": xy[:, 1]})
    w = _weights(inst)
    func = _azp_objective(inst, objective)
    start = time.perf_counter()
    best: tuple[float, float] | None = None
    best_labels = None
    restarts = 0
    while restarts == 0 or time.perf_counter() - start < budget:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AZP(
                frame,
                w,
                ["x", "y"],
                n_clusters=inst.k,
                random_state=seed + restarts,
                objective_func=func,
            )
            model.solve()
        restarts += 1
        labels = np.asarray(model.labels_, dtype=np.int64)
        key = (_violation(inst, labels), objective_of(inst, objective, labels))
        if best is None or key < best:
            best, best_labels = key, labels
    return {
        "time": time.perf_counter() - start,
        "labels": best_labels,
        "note": f"{restarts} restarts",
    }


def run_recom(
    inst: Instance, objective: str, seed: int, steps: int, budget: float
) -> dict[str, Any]:
    """GerryChain ReCom chain from a recursive_tree_part seed; best plan visited."""
    import networkx as nx
    from gerrychain import Graph, MarkovChain, Partition
    from gerrychain.accept import always_accept
    from gerrychain.constraints import contiguous, within_percent_of_ideal_population
    from gerrychain.partition.initial_partition_generators import recursive_tree_part
    from gerrychain.proposals import recom
    from gerrychain.tree import bipartition_tree
    from gerrychain.updaters import Tally

    names = list(inst.metrics)
    nxg: Any = nx.Graph()
    for i in range(inst.n):
        nxg.add_node(i, **{q: float(inst.metrics[q][i]) for q in names})
    nxg.add_edges_from(inst.edges.tolist())
    graph = Graph.from_networkx(nxg)
    first = names[0]
    target = float(inst.metrics[first].sum()) / inst.k
    tol = inst.tolerances[first]
    updaters = {q: Tally(q, alias=q, dtype_fn=float) for q in names}
    start = time.perf_counter()
    rng = random.Random(seed)
    partition = None
    draws = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while draws < SEED_DRAWS and time.perf_counter() - start < RECOM_SEED_SECONDS:
            draws += 1
            try:
                assignment = recursive_tree_part(
                    graph,
                    list(range(inst.k)),
                    target,
                    first,
                    tol,
                    bipartition_tree_fn=partial(bipartition_tree, max_attempts=SEED_CUT_ATTEMPTS),
                    rng=rng,
                )
            except Exception:  # no balanced cut in this draw: draw again
                continue
            labels = np.array([assignment[i] for i in range(inst.n)], dtype=np.int64)
            if _violation(inst, labels) == 0:
                partition = Partition(graph, assignment, updaters=updaters)
                break
        seed_seconds = time.perf_counter() - start
        if partition is None:
            return {
                "time": seed_seconds,
                "note": f"no seed plan within the bands: {draws} recursive_tree_part draws "
                f"in {seed_seconds:.0f} s",
            }
        failed = [0]

        def proposal(state: Any, rng: random.Random) -> Any:
            """ReCom; a step whose spanning trees give no balanced cut stays put."""
            try:
                return recom(
                    state,
                    pop_col=first,
                    pop_target=target,
                    epsilon=tol,
                    bipartition_tree_fn=partial(bipartition_tree, max_attempts=STEP_CUT_ATTEMPTS),
                    rng=rng,
                )
            except Exception:
                failed[0] += 1
                return state

        constraints = [
            within_percent_of_ideal_population(partition, inst.tolerances[q], pop_key=q)
            for q in names
        ]
        if inst.contiguous:
            constraints.append(contiguous)
        chain = MarkovChain(
            proposal, constraints, always_accept, partition, total_steps=steps, rng=seed
        )
        best_value = math.inf
        best_labels = None
        done = 0
        for state in chain:
            done += 1
            assign = state.assignment
            labels = np.array([assign[i] for i in range(inst.n)], dtype=np.int64)
            value = objective_of(inst, objective, labels)
            if value < best_value:
                best_value, best_labels = value, labels
            if time.perf_counter() - start > seed_seconds + budget:
                break
    note = f"{done} steps"
    if failed[0]:
        note += f" ({failed[0]} found no balanced cut)"
    note += f"; seed plan: {draws} draw(s), {seed_seconds:.1f} s"
    return {"time": time.perf_counter() - start, "labels": best_labels, "note": note}


# --------------------------------------------------------------------------- table


def _num(v: float | None, spec: str) -> str:
    if v is None or not math.isfinite(v):
        return ""
    return format(v, spec)


def _row(inst: Instance, objective: str, method: str, res: dict[str, Any]) -> str:
    ev = evaluate(inst, objective, res["labels"]) if res.get("labels") is not None else None
    optimum = inst.optimum.get(objective)
    fmt = ",.0f" if objective == "cut-edges" else ",.2f"
    if inst.family == "zip":
        fmt = ",.0f"
    notes = []
    if "status" in res:
        notes.append(str(res["status"]))
    if "checker" in res:
        notes.append(f"check_districts {res['checker']}")
    if res.get("note"):
        notes.append(str(res["note"]))
    if ev is None:
        feasible, dev, value, above = "no design", "", "", ""
    else:
        feasible = "yes" if ev["feasible"] else f"**no** ({ev['why']})"
        dev = ", ".join(f"{q} {100 * d:.2f} %" for q, d in ev["dev"].items())
        value = _num(ev["objective"], fmt)
        ref = optimum if optimum is not None else res.get("ref_bound")
        above = ""
        if ev["feasible"] and ref is not None and ref > 0:
            rel = ev["objective"] / ref - 1
            above = "0.00 %" if abs(rel) < 5e-5 else f"{100 * rel:+.2f} %"
        if "plan_objective" in res and abs(res["plan_objective"] - ev["objective"]) > 1e-6 * max(
            1.0, abs(ev["objective"])
        ):
            notes.append(f"plan says {res['plan_objective']:.6g}")
    lb = res.get("lower_bound")
    gap = res.get("gap")
    gap_text = "" if gap is None else _num(100 * gap, ".2f") + " %"
    return (
        f"| {inst.name} | {objective} | {method} | {_num(res.get('time'), '.1f')} | {feasible} "
        f"| {dev} | {value} | {_num(lb, fmt)} | {gap_text} "
        f"| {_num(optimum, fmt)} | {above} | {'; '.join(notes)} |"
    )


HEADER = (
    "| instance | objective | method | time [s] | feasible | max deviation | objective value "
    "| our lower bound | our gap | known optimum | above optimum (or our bound) | notes |\n"
    "|---|---|---|---:|---|---|---:|---:|---:|---:|---:|---|"
)


def main() -> None:
    """Run every method on every instance and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip West Virginia (~3 min)")
    parser.add_argument("--only", nargs="+", choices=["county", "ctdp", "zip"], default=None)
    parser.add_argument("--steps", type=int, default=2000, help="ReCom steps per run")
    parser.add_argument(
        "--recom-seconds", type=float, default=60.0, help="ReCom chain time cap per run"
    )
    parser.add_argument("--azp-seconds", type=float, default=20.0, help="AZP restart budget")
    parser.add_argument("--zip-time-limit", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not BENCHMARKS.is_dir():
        print(f"benchmark folder {BENCHMARKS} is not present: nothing to run", file=sys.stderr)
        return
    families = args.only or ["county", "ctdp", "zip"]
    instances: list[Instance] = []
    if "county" in families:
        states = ["ME", "NM", "ID"] + ([] if args.quick else ["WV"])
        instances += county_instances(BENCHMARKS / "county_districting", states)
    if "ctdp" in families:
        instances += ctdp_instances(BENCHMARKS / "ctdp")
    if "zip" in families:
        instances.append(
            zip_instance(BENCHMARKS / "zip_accounts" / "ok_zcta_accounts.csv", args.zip_time_limit)
        )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}",
        file=sys.stderr,
    )
    methods: list[tuple[str, Callable[[Instance, str], dict[str, Any]]]] = [
        ("territory-opt", lambda i, o: run_ours(i, o, args.seed)),
        ("spopt SKATER", lambda i, o: run_skater(i, o, args.seed)),
        ("spopt AZP", lambda i, o: run_azp(i, o, args.seed, args.azp_seconds)),
        (
            "GerryChain ReCom",
            lambda i, o: run_recom(i, o, args.seed, args.steps, args.recom_seconds),
        ),
    ]
    lines = [HEADER]
    for inst in instances:
        for objective in inst.objectives:
            ref_bound = None
            for method, run in methods:
                print(f"running {inst.name} {objective} {method}", file=sys.stderr, flush=True)
                try:
                    res = run(inst, objective)
                except ImportError as exc:
                    res = {"note": f"not installed ({exc.name})"}
                if method == "territory-opt" and not inst.optimum:
                    ref_bound = res.get("lower_bound")
                res.setdefault("ref_bound", ref_bound)
                lines.append(_row(inst, objective, method, res))
                print(lines[-1], file=sys.stderr, flush=True)
    print(
        f"load average after the run: {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
        file=sys.stderr,
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
