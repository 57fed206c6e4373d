"""The ``territory-opt`` command line: a thin layer over the Python API.

Exit codes: 0 success, 1 internal error, 2 bad input (a message naming file,
row and column; no traceback), 3 proven infeasible, 130 interrupted.

Commands live in one module per group and register themselves on :data:`app`
when imported; the import order below is the order ``--help`` lists them.
"""

# ruff: noqa: I001 - the import order is the order of the commands in --help
from territory_opt.cli import plans, reports, scenarios, exports, districts  # noqa: F401
from territory_opt.cli._app import app

__all__ = ["app"]
