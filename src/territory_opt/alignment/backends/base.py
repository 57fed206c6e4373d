"""The one interface every alignment backend implements.

A backend receives an :class:`~territory_opt.alignment.instance.ArcModel` and
returns a :class:`BackendResult`: one chosen arc per item (or none), the
objective, a lower bound valid for that model, and the solver's log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

from territory_opt.alignment.instance import ArcModel


class Status(StrEnum):
    """Outcome of a solve.

    ``optimal``: the gap is within the tolerance asked for. ``feasible``: a plan
    that meets every hard constraint, with a larger gap. ``time_limit``: the time
    ran out (a plan may still be attached). ``infeasible``: proven impossible.
    ``error``: the solver failed.
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    TIME_LIMIT = "time_limit"
    INFEASIBLE = "infeasible"
    ERROR = "error"

    @property
    def has_plan(self) -> bool:
        """Whether a plan comes with this status (it may not for time_limit)."""
        return self in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT)


@dataclass(frozen=True)
class SolveOptions:
    """Options shared by every backend.

    Attributes
    ----------
    time_limit
        Wall-clock limit [s].
    gap
        Relative gap at which a plan counts as optimal (0.001 = 0.1 %).
    threads
        Solver threads; 0 lets the solver choose.
    seed
        Random seed handed to the solver.
    warm_start
        Optional arc index per item to start from (e.g. last year's owners).
    solver
        Backend-specific sub-solver (PuLP: ``PULP_CBC_CMD``, ``HiGHS``, ...).
    """

    time_limit: float = 60.0
    gap: float = 1e-4
    threads: int = 0
    seed: int = 0
    warm_start: np.ndarray | None = None
    solver: str | None = None


@dataclass(frozen=True)
class BackendResult:
    """What a backend found on one ArcModel."""

    status: Status
    choice: np.ndarray | None
    objective: float
    lower_bound: float
    solver: str
    solver_version: str
    log: str = ""
    stats: dict[str, float] | None = None

    @property
    def gap(self) -> float:
        """Relative gap (objective − bound) / max(|objective|, 1e-9); inf without a plan."""
        return relative_gap(self.objective, self.lower_bound) if self.choice is not None else np.inf


def relative_gap(objective: float, bound: float) -> float:
    """Relative gap between an objective and a lower bound (0 when equal)."""
    if not np.isfinite(objective) or not np.isfinite(bound):
        return float("inf")
    return max(0.0, objective - bound) / max(abs(objective), 1e-9)


class Backend(Protocol):
    """A solver that takes an ArcModel and returns a BackendResult."""

    name: str

    def solve(self, model: ArcModel, options: SolveOptions) -> BackendResult:
        """Solve ``model`` within the options' limits."""
        ...


def choice_from_values(model: ArcModel, values: np.ndarray) -> np.ndarray | None:
    """Pick, for each item, the arc with the largest value; None if an item has none > 0.5."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) != model.n_arcs:
        return None
    order = np.lexsort((-x, model.arc_item))
    first = np.ones(len(order), dtype=bool)
    first[1:] = model.arc_item[order][1:] != model.arc_item[order][:-1]
    best = order[first]
    if len(best) != model.n_items or (x[best] < 0.5).any():
        return None
    return best[np.argsort(model.arc_item[best])]
