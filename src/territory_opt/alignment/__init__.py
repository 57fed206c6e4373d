"""Alignment engine: assign accounts to reps with hard bands, budgets and a proven gap."""

from territory_opt.alignment.backends.base import SolveOptions, Status
from territory_opt.alignment.solve import BACKENDS, align
from territory_opt.alignment.spec import AlignmentSpec, Band, available_presets

__all__ = [
    "BACKENDS",
    "AlignmentSpec",
    "Band",
    "SolveOptions",
    "Status",
    "align",
    "available_presets",
]
