"""Input data: readers, the data contract, the frozen Problem and demo data."""

from territory_opt.data.demo import generate_demo
from territory_opt.data.io import RawTable, read_table
from territory_opt.data.problem import PairData, Problem, build_problem, load_problem
from territory_opt.data.schema import CoordSystem

__all__ = [
    "CoordSystem",
    "PairData",
    "Problem",
    "RawTable",
    "build_problem",
    "generate_demo",
    "load_problem",
    "read_table",
]
