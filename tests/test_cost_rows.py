"""Block evaluation of costs: the same values as arc-by-arc evaluation, faster."""

from __future__ import annotations

import numpy as np
import pytest

from territory_opt import generate_demo, load_problem
from territory_opt.alignment import AlignmentSpec
from territory_opt.alignment.instance import Instance
from territory_opt.data.schema import CoordSystem
from territory_opt.geo.distance import distance_rows, haversine_km


def _arc_by_arc(inst: Instance, items: np.ndarray) -> np.ndarray:
    m = inst.n_reps
    ev = inst.evaluate(np.repeat(items, m), np.tile(np.arange(m, dtype=np.int32), len(items)))
    return np.where(ev["allowed"], ev["cost"], np.inf).reshape(len(items), m)


def test_distance_rows_match_the_haversine() -> None:
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(-89, 89, 300), rng.uniform(-180, 180, 300)])
    centers = np.vstack([points[:5] + 1e-5, [[0.0, 0.0], [89.9, 179.9], [-45.0, -170.0]]])
    got = distance_rows(points, centers, CoordSystem.LATLON)
    want = haversine_km(
        points[:, None, 0], points[:, None, 1], centers[None, :, 0], centers[None, :, 1]
    )
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9)
    xy = distance_rows(points, centers, CoordSystem.XY)
    assert xy == pytest.approx(np.hypot(*(points[:, None, :] - centers[None]).transpose(2, 0, 1)))


@pytest.mark.parametrize("xy", [False, True])
@pytest.mark.parametrize(
    "options",
    [
        {},  # demo book: segments, locks, exclusions, families, current reps
        {"disruption_weight": 3.0, "max_distance": 400.0},
        {"keep_families": False, "segment_match": False, "travel_weight": 0.5},
    ],
)
def test_cost_rows_equal_arc_by_arc_costs(xy: bool, options: dict[str, object]) -> None:
    accounts, reps = generate_demo(400, 9, seed=3)
    if xy:  # a projected book: planar coordinates in km
        accounts = accounts.assign(x=accounts["lon"] * 80.0, y=accounts["lat"] * 111.0)
        accounts = accounts.drop(columns=["lat", "lon"])
        reps = reps.assign(home_x=reps["home_lon"] * 80.0, home_y=reps["home_lat"] * 111.0)
        reps = reps.drop(columns=["home_lat", "home_lon"])
    problem = load_problem(accounts, reps)
    assert len(problem.excluded) and (problem.locked_rep >= 0).any()
    spec = AlignmentSpec.from_preset("balanced-travel").with_(**options)
    inst = Instance.build(problem, spec)
    items = np.arange(inst.n_items, dtype=np.int32)[::-1].copy()  # any order
    got, want = inst.cost_rows(items), _arc_by_arc(inst, items)
    assert (np.isinf(got) == np.isinf(want)).all()
    assert np.isinf(want).any() and np.isfinite(want).any()
    ok = np.isfinite(want)
    assert got[ok] == pytest.approx(want[ok], rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("per_item", [None, 1, 4])
def test_block_pricing_finds_the_same_arcs(
    per_item: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from territory_opt.alignment import pipeline

    accounts, reps = generate_demo(300, 8, seed=5)
    inst = Instance.build(
        load_problem(accounts, reps), AlignmentSpec.from_preset("balanced-travel")
    )
    rng = np.random.default_rng(1)
    u = rng.uniform(0, 2000, inst.n_items)
    pi = rng.normal(0, 20, inst.lo.shape)
    beta = np.zeros(0)
    block = pipeline._price_all(inst, u, pi, beta, 0.0, per_item)
    monkeypatch.setattr(Instance, "dense_costs", property(lambda self: False))
    arcwise = pipeline._price_all(inst, u, pi, beta, 0.0, per_item)
    assert len(block[0]) > 0

    def key(found: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[tuple[int, int], float]:
        return {(int(i), int(r)): float(c) for i, r, c in zip(*found, strict=True)}

    got, want = key(block), key(arcwise)
    assert got.keys() == want.keys()
    assert [got[k] for k in want] == pytest.approx(list(want.values()), rel=1e-9, abs=1e-6)
