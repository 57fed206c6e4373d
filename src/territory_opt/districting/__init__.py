"""Geographic territory design: contiguous, compact, balanced districts from units.

>>> from territory_opt.districting import DistrictSpec, design_districts, load_units
"""

from territory_opt.districting.solve import DistrictPlan, design_districts
from territory_opt.districting.spec import DistrictObjective, DistrictSpec
from territory_opt.districting.units import UnitLayer, load_units

__all__ = [
    "DistrictObjective",
    "DistrictPlan",
    "DistrictSpec",
    "UnitLayer",
    "design_districts",
    "load_units",
]
