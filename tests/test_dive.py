"""The LP dive and the interior-point start of HiGHS LP sessions, on real solves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from territory_opt.alignment.backends import highs as highs_module
from territory_opt.alignment.backends.base import SolveOptions
from territory_opt.alignment.backends.highs import LpSession
from territory_opt.alignment.dive import item_sizes, lp_dive
from territory_opt.alignment.instance import ArcModel
from tests.test_backends_arcmodel import random_model

OPTIONS = SolveOptions(time_limit=60.0)


def _model(seed: int, n_items: int = 60) -> ArcModel:
    """Random two-load model with a ±20 % band and heavy-tailed loads."""
    rng = np.random.default_rng(seed)
    model = random_model(rng, n_items, 2, integral=False)
    heavy = rng.pareto(2.0, size=model.n_items) + 0.2
    load = model.load * heavy[model.arc_item, None]
    # Bands around a random plan of the new loads, so that a plan exists.
    plan = rng.integers(0, model.n_reps, size=model.n_items) + model.n_reps * np.arange(
        model.n_items
    )
    ref = np.zeros(model.lo.shape)
    np.add.at(ref, model.arc_rep[plan], load[plan])
    return dataclasses.replace(model, load=load, lo=0.8 * ref, hi=1.2 * ref)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("elastic", [None, 1e4])
def test_interior_point_start_gives_the_same_lp_as_highs(
    seed: int, elastic: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The structured interior point's basis guess ends at HiGHS's own optimum."""
    model = _model(seed)
    reference = LpSession(model, OPTIONS, elastic=elastic).solve(60.0, ipm=False)
    monkeypatch.setattr(highs_module, "STRUCTURED_START_ARCS", 0)
    session = LpSession(model, OPTIONS, elastic=elastic)
    status, objective, values, _, slack = session.solve(60.0, ipm=True)
    assert status == reference[0] == "optimal"
    assert objective == pytest.approx(reference[1], rel=1e-7, abs=1e-7)
    assert slack == pytest.approx(reference[4], abs=1e-7)
    np.testing.assert_allclose(np.bincount(model.arc_item, values), 1.0, atol=1e-7)
    # The guess is close to an optimal basis: simplex needs few iterations.
    assert session.h.getInfo().simplex_iteration_count <= model.n_items


@pytest.mark.parametrize("seed", range(4))
def test_dive_keeps_a_feasible_lp_and_fixes_the_largest_items(seed: int) -> None:
    model = _model(seed)
    session = LpSession(model, OPTIONS, elastic=None)
    status, lp_value, *_ = session.solve(60.0, ipm=False)
    assert status == "optimal"
    size = item_sizes(model)
    dive = lp_dive(session, size, deadline=float("inf"))
    assert dive is not None
    # The last LP of the dive is an LP point of the model: each item sums to 1,
    # every limit holds, and its value is the cost of its values.
    order = np.lexsort((dive.reps, dive.items))
    assert np.array_equal(dive.items[order], model.arc_item)
    assert np.array_equal(dive.reps[order], model.arc_rep)
    values = dive.values[order]
    assert values.min() >= -1e-9
    np.testing.assert_allclose(np.bincount(model.arc_item, values), 1.0, atol=1e-7)
    loads = np.zeros(model.lo.shape)
    np.add.at(loads, model.arc_rep, model.load * values[:, None])
    scale = model.row_scale()
    assert (loads <= model.hi + 1e-7 * scale).all() and (loads >= model.lo - 1e-7 * scale).all()
    assert dive.objective == pytest.approx(float(model.cost @ values), rel=1e-9)
    # Fixing only removes freedom: the dive's LP costs at least the LP's.
    assert dive.objective >= lp_value - 1e-7 * abs(lp_value)
    assert dive.rounds >= 1 and dive.fixed >= 1
    # The items it fixed are integral, and they are the largest items that were split.
    top = np.zeros(model.n_items)
    np.maximum.at(top, model.arc_item, values)
    integral = top >= 1.0 - 1e-6
    assert integral.sum() >= dive.fixed
    # When the dive ran to the end, no item is split.
    if not (top < 1.0 - 1e-6).any():
        assert integral.all()


def test_item_sizes_are_loads_over_band_widths() -> None:
    model = _model(0, n_items=10)
    size = item_sizes(model)
    width = model.hi - model.lo
    expected = np.zeros(model.n_items)
    for a in range(model.n_arcs):
        share = np.abs(model.load[a]) / width[model.arc_rep[a]]
        expected[model.arc_item[a]] = max(expected[model.arc_item[a]], share.max())
    np.testing.assert_allclose(size, expected)
