"""Scenarios: small YAML files that run the whole chain, alone or as a sweep.

A scenario names its inputs (files relative to the scenario, or the built-in
demo book), a model preset from ``models/``, balance bands, objective weights,
disruption budgets, locks, team changes and the quota step. ``run_scenario``
writes one plan folder; ``run_sweep`` runs a grid of variations in parallel
local processes or on a Dask cluster and writes ``sweep.csv`` with the
balance-versus-disruption frontier. See ``docs/scenarios.md``.
"""

from __future__ import annotations

from pathlib import Path

from territory_opt.scenario.apply import Changes
from territory_opt.scenario.config import Scenario, build_spec, schema_text, write_schema
from territory_opt.scenario.load import LoadedScenario, deep_merge, load_scenario, with_overrides
from territory_opt.scenario.run import BuiltPlan, ScenarioRun, build_plan, run_scenario
from territory_opt.scenario.sweep import SweepResult, expand_grid, parse_grid, run_sweep


def examples_folder() -> Path:
    """Return the folder of example scenarios (packaged copy first, then the source tree)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_scenarios", here.parents[1] / "scenarios"):
        if (candidate / "base.yaml").is_file():
            return candidate
    msg = "example scenarios folder not found; reinstall territory-opt"
    raise FileNotFoundError(msg)


__all__ = [
    "BuiltPlan",
    "Changes",
    "LoadedScenario",
    "Scenario",
    "ScenarioRun",
    "SweepResult",
    "build_plan",
    "build_spec",
    "deep_merge",
    "examples_folder",
    "expand_grid",
    "load_scenario",
    "parse_grid",
    "run_scenario",
    "run_sweep",
    "schema_text",
    "with_overrides",
    "write_schema",
]
