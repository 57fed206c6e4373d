"""Headcount sizing: how many reps the book needs, where hires sit, what one more does.

Built on the alignment engine: every team size is planned with the same
objective, bands and budgets as ``territory-opt align``, plus a hard capacity
per rep (workload ≤ capacity × FTE). See ``docs/sizing.md`` for the questions
answered and ``models/README.md`` (Headcount sizing) for the formulation.

Examples
--------
>>> from territory_opt import generate_demo
>>> from territory_opt.sizing import SizingRequest, size_team
>>> accounts, reps = generate_demo(120, 4, seed=1)
>>> result = size_team(accounts, reps, SizingRequest({"workload": 1200}, n_range=(3, 3)))
>>> result.minimum, result.minimum_proven
(3, True)
"""

from territory_opt.sizing.bounds import CountBound, count_bound
from territory_opt.sizing.engine import (
    PROOFS,
    SizingPoint,
    SizingResult,
    knee_point,
    size_team,
)
from territory_opt.sizing.output import sizing_frame, write_sizing
from territory_opt.sizing.request import (
    SizingRequest,
    parse_capacity,
    parse_max_new,
    parse_range,
)
from territory_opt.sizing.sites import CandidateSites, read_candidates
from territory_opt.sizing.team import Team

__all__ = [
    "PROOFS",
    "CandidateSites",
    "CountBound",
    "SizingPoint",
    "SizingRequest",
    "SizingResult",
    "Team",
    "count_bound",
    "knee_point",
    "parse_capacity",
    "parse_max_new",
    "parse_range",
    "read_candidates",
    "size_team",
    "sizing_frame",
    "write_sizing",
]
