"""What a planner asks of a district design: k, bands, contiguity, objective."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from territory_opt._errors import InputError
from territory_opt.districting.units import UnitLayer


class DistrictObjective(StrEnum):
    """What the design minimises.

    ``sum-distance``: sum over units of (weight x distance to its district's
    center unit). ``max-distance``: the largest unit-to-center distance.
    ``cut-edges``: the number of adjacent unit pairs split between districts
    (or their shared boundary length with ``cut_length``).
    """

    SUM_DISTANCE = "sum-distance"
    MAX_DISTANCE = "max-distance"
    CUT_EDGES = "cut-edges"


@dataclass(frozen=True)
class DistrictSpec:
    """A district design request.

    Attributes
    ----------
    k
        Number of districts.
    bands
        Metric -> relative tolerance around the mean ``total / k``; e.g.
        ``{"pop": 0.005}`` keeps every district within +-0.5 % of the mean.
    contiguous
        Each district must be one connected piece of the unit graph.
    objective
        See :class:`DistrictObjective`.
    weight
        Metric weighting the distance in ``sum-distance`` (None: every unit 1).
    cut_length
        ``cut-edges`` counts shared boundary length instead of edges.
    centers
        Fixed center unit ids (exactly k), or empty to choose centers.
    disruption_weight
        Cost of each unit (times ``disruption_metric``, else 1) that leaves its
        current territory (the units' ``current_rep`` column).
    disruption_metric
        Metric that weights disruption (e.g. ``pop``), or None for unit counts.

    When units carry ``locked_rep`` or a disruption weight is set, the design is
    *labelled*: district j is the territory named by the j-th sorted label of
    ``current_rep``/``locked_rep``, k must equal the number of labels, and a
    district's center is a unit of its own territory.
    """

    k: int
    bands: Mapping[str, float] = field(default_factory=dict)
    contiguous: bool = True
    objective: DistrictObjective = DistrictObjective.SUM_DISTANCE
    weight: str | None = None
    cut_length: bool = False
    centers: tuple[str, ...] = ()
    disruption_weight: float = 0.0
    disruption_metric: str | None = None

    def limits(
        self, units: UnitLayer
    ) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]:
        """Banded metrics, their ``(n, b)`` values and the per-district limits ``lo, hi``."""
        names = tuple(sorted(self.bands))
        values = (
            np.column_stack([units.metric(m) for m in names]) if names else np.zeros((units.n, 0))
        )
        mean = values.sum(axis=0) / self.k
        tol = np.array([self.bands[m] for m in names])
        return names, values, (1 - tol) * mean, (1 + tol) * mean

    def territory_labels(self, units: UnitLayer) -> tuple[str, ...] | None:
        """Sorted territory labels when the design is labelled (see class doc), else None."""
        if not self.disruption_weight and not (units.locked != "").any():
            return None
        names = set(units.current.tolist()) | set(units.locked.tolist())
        return tuple(sorted(names - {""}))

    def validate(self, units: UnitLayer) -> None:
        """Raise InputError when the request does not fit the units."""
        where = "district request"
        if self.k < 1 or self.k > units.n:
            raise InputError.single(
                where, f"k must be between 1 and {units.n} (units), not {self.k}"
            )
        for name, tol in self.bands.items():
            units.metric(name)
            if not 0 <= tol < 1:
                raise InputError.single(
                    where, f"band for '{name}' must be in [0, 100 %)", column=name
                )
        if self.weight is not None:
            units.metric(self.weight)
        needs_graph = self.contiguous or self.objective == DistrictObjective.CUT_EDGES
        if needs_graph and units.n > 1 and len(units.edges) == 0:
            raise InputError.single(
                units.file,
                "contiguity and cut edges need adjacency: give polygons, an edge list "
                "(--adjacency EDGES), or --no-contiguous",
            )
        if self.centers:
            if len(self.centers) != self.k:
                raise InputError.single(
                    where, f"{len(self.centers)} fixed centers given for k = {self.k}"
                )
            known = set(units.ids.tolist())
            for c in self.centers:
                if c not in known:
                    raise InputError.single(where, f"center '{c}' is not a unit id")
            if len(set(self.centers)) != len(self.centers):
                raise InputError.single(where, "a center unit is listed twice")
        if self.disruption_weight < 0:
            raise InputError.single(where, "disruption weight must be >= 0")
        if self.disruption_metric is not None:
            units.metric(self.disruption_metric)
        labels = self.territory_labels(units)
        if labels is not None:
            if self.disruption_weight and not (units.current != "").any():
                raise InputError.single(
                    units.file, "disruption needs current territories (column current_rep)"
                )
            if len(labels) != self.k:
                raise InputError.single(
                    where,
                    f"k = {self.k}, but the units name {len(labels)} territories in "
                    "current_rep/locked_rep; with locks or disruption there is one district "
                    "per named territory",
                )
            if self.centers:
                raise InputError.single(
                    where, "fixed centers and locks/disruption cannot be combined yet"
                )
            if self.disruption_weight and self.objective == DistrictObjective.MAX_DISTANCE:
                raise InputError.single(
                    where, "disruption is a sum: combine it with sum-distance or cut-edges"
                )
