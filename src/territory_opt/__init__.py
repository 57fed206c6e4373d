"""territory-opt: sales territory and quota planning with proven bounds.

The public API is re-exported here; everything else is internal.
"""

from importlib.metadata import PackageNotFoundError, version

from territory_opt._errors import (
    InfeasibleError,
    InputError,
    Issue,
    SolverError,
    TerritoryOptError,
)
from territory_opt.data import (
    CoordSystem,
    PairData,
    Problem,
    generate_demo,
    load_problem,
    read_table,
)

try:
    __version__ = version("territory-opt")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = [
    "CoordSystem",
    "InfeasibleError",
    "InputError",
    "Issue",
    "PairData",
    "Problem",
    "SolverError",
    "TerritoryOptError",
    "__version__",
    "generate_demo",
    "load_problem",
    "read_table",
]
