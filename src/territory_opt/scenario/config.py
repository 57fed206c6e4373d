"""What a scenario file may say: pydantic models of ``scenarios/*.yaml``.

Every section forbids unknown keys, so a typo is an error that names the key
and the nearest valid one (see :mod:`territory_opt.scenario.errors`). The JSON
schema of :class:`Scenario` is published as ``scenarios/schema.json`` for
editors; :func:`schema_text` regenerates it.

Fractions (balance tolerances, the moved-share budget) are written either as
numbers in [0, 1] (``0.05``) or as percentages (``"5%"``, ``5%`` in YAML).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from territory_opt.alignment.spec import AlignmentSpec, available_presets

#: ``5%``, ``2.5 %`` or ``-1%``: a percentage written as text.
_PERCENT = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*%\s*$")
#: Largest balance tolerance written as a percentage (the alignment accepts up to 10 = ±1000 %).
MAX_TOLERANCE = 10.0
#: Backends of :func:`territory_opt.alignment.align`.
Backend = Literal["highs", "highs-mip", "cpsat", "pulp"]


def _fraction(value: Any, *, upper_plain: float, upper_percent: float, what: str) -> Any:
    """Turn ``"5%"`` into 0.05 and check the range; other values go to pydantic."""
    if isinstance(value, bool):
        return value  # pydantic rejects it with its own message
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match is None:
            try:
                value = float(value)
            except ValueError:
                msg = f"'{value}' is not a {what} such as 5% or 0.05"
                raise ValueError(msg) from None
        else:
            share = float(match.group(1)) / 100.0
            if not 0.0 <= share <= upper_percent:
                msg = f"{value.strip()} is outside 0% to {upper_percent * 100:g}%"
                raise ValueError(msg)
            return share
    if isinstance(value, int | float) and not 0.0 <= float(value) <= upper_plain:
        msg = (
            f"{value} is outside [0, {upper_plain:g}]; numbers are fractions "
            f"(0.05 = 5 %), write a percentage such as '{value:g}%' if that was meant"
        )
        raise ValueError(msg)
    return value


def _tolerance(value: Any) -> Any:
    return _fraction(value, upper_plain=1.0, upper_percent=MAX_TOLERANCE, what="tolerance")


def _share(value: Any) -> Any:
    return _fraction(value, upper_plain=1.0, upper_percent=1.0, what="share")


_FRACTION_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": 1},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%\s*$"},
    ]
}
#: A balance tolerance: ``0.05`` or ``"5%"`` means ±5 % of the rep's target.
Tolerance = Annotated[
    float,
    BeforeValidator(_tolerance),
    WithJsonSchema({**_FRACTION_SCHEMA, "description": "±tolerance: 0.05 or '5%'"}),
]
#: A share in [0, 1]: ``0.1`` or ``"10%"``.
Share = Annotated[
    float,
    BeforeValidator(_share),
    WithJsonSchema({**_FRACTION_SCHEMA, "description": "share: 0.1 or '10%'"}),
]
PositiveFloat = Annotated[float, Field(gt=0)]


class Section(BaseModel):
    """Base of every scenario section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class DemoInputs(Section):
    """The built-in demo book, generated in memory (``territory-opt demo`` writes the same)."""

    accounts: int = Field(default=1000, ge=100, le=1_000_000, description="Number of accounts.")
    reps: int | None = Field(
        default=None,
        ge=3,
        description="Seats including one open seat; default one per 50 accounts.",
    )
    seed: int = Field(default=0, description="Seed of the demo generator.")


class Inputs(Section):
    """Where accounts and reps come from: files (relative to the scenario file) or the demo."""

    demo: DemoInputs | None = Field(default=None, description="Generate the demo book in memory.")
    accounts: str | None = Field(default=None, description="Accounts file, relative to this file.")
    reps: str | None = Field(default=None, description="Reps file, relative to this file.")
    pairs: str | None = Field(default=None, description="Pair table (account_id, rep_id, cost).")
    adjacency: str | None = Field(default=None, description="Edge list (unit_a, unit_b).")
    metrics: list[str] | None = Field(
        default=None, description="Metric columns of the accounts; default: every numeric column."
    )
    account_columns: dict[str, str] = Field(
        default_factory=dict, description="Contract name -> column name in the accounts file."
    )
    rep_columns: dict[str, str] = Field(
        default_factory=dict, description="Contract name -> column name in the reps file."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Inputs:
        if self.demo is not None and (self.accounts or self.reps):
            msg = (
                "give either demo or accounts and reps, not both "
                "(write 'demo: null' to switch a base scenario to files)"
            )
            raise ValueError(msg)
        if self.demo is None and not (self.accounts and self.reps):
            msg = "give accounts and reps (paths relative to the scenario file), or demo"
            raise ValueError(msg)
        return self


class Objective(Section):
    """Objective weights; a key left out keeps the model preset's value."""

    travel_weight: float | None = Field(default=None, ge=0, description="Weight of travel.")
    travel_metric: str | None = Field(
        default=None,
        description="Metric that weights each account's distance; null: every account 1.",
    )
    pair_cost_weight: float | None = Field(
        default=None, ge=0, description="Weight of the pair cost."
    )
    disruption_weight: float | None = Field(
        default=None,
        ge=0,
        description="Cost per unit of disruption_metric moved away from its rep.",
    )
    disruption_metric: str | None = Field(
        default=None, description="Basis of the disruption cost; null: per account."
    )


class Disruption(Section):
    """Hard disruption budgets; null removes a budget the preset sets."""

    max_moved_share: Share | None = Field(
        default=None, description="Most of moved_share_metric that may change rep (0.1 or '10%')."
    )
    max_moved_accounts: int | None = Field(
        default=None, ge=0, description="Most accounts that may change rep."
    )
    moved_share_metric: str | None = Field(
        default=None,
        description="Metric of max_moved_share; default disruption_metric, else potential.",
    )


class Constraints(Section):
    """Other hard constraints; a key left out keeps the preset's value."""

    max_distance: float | None = Field(
        default=None, gt=0, description="Longest account-to-rep distance [km or file units]."
    )
    max_accounts: int | None = Field(default=None, ge=1, description="Most accounts per rep.")
    segment_match: bool | None = Field(
        default=None, description="Accounts go to reps of their segment (or reps without one)."
    )
    keep_families: bool | None = Field(
        default=None, description="Accounts of one parent stay together."
    )


class Lock(Section):
    """Freeze accounts with their current rep, or pin them to ``rep``.

    Select the accounts by ``accounts`` (ids) or by ``where`` (column -> value
    or list of values; all columns must match).
    """

    accounts: list[str] | None = Field(default=None, min_length=1, description="Account ids.")
    where: dict[str, str | list[str]] | None = Field(
        default=None, min_length=1, description="Column filter, e.g. {segment: strategic}."
    )
    rep: str | None = Field(
        default=None, description="Pin to this rep (may be a new hire); default: the current rep."
    )

    @model_validator(mode="after")
    def _one_selector(self) -> Lock:
        if (self.accounts is None) == (self.where is None):
            msg = "give exactly one of 'accounts' (ids) or 'where' (column filter)"
            raise ValueError(msg)
        return self


class NewRep(Section):
    """A seat to add (a hire or an open headcount)."""

    rep_id: str = Field(min_length=1, description="Unique id of the new seat.")
    name: str | None = None
    email: str | None = None
    home_lat: float | None = Field(
        default=None, ge=-90, le=90, description="Home latitude [degrees]."
    )
    home_lon: float | None = Field(
        default=None, ge=-180, le=180, description="Home longitude [degrees]."
    )
    home_x: float | None = Field(default=None, description="Home x [file units].")
    home_y: float | None = Field(default=None, description="Home y [file units].")
    capacity: float = Field(default=1.0, gt=0, description="FTE; bands and quota scale with it.")
    segment: str | None = Field(default=None, description="Segment the rep serves.")
    start_date: dt.date | None = Field(default=None, description="First day (ramps the quota).")
    manager_id: str | None = None

    @model_validator(mode="after")
    def _home(self) -> NewRep:
        for a, b in (("home_lat", "home_lon"), ("home_x", "home_y")):
            if (getattr(self, a) is None) != (getattr(self, b) is None):
                msg = f"{a} and {b} come together"
                raise ValueError(msg)
        if self.home_lat is not None and self.home_x is not None:
            msg = "give home_lat/home_lon or home_x/home_y, not both"
            raise ValueError(msg)
        return self


class Team(Section):
    """Team changes applied to a copy of the reps (the input files are never changed)."""

    add: list[NewRep] = Field(default_factory=list, description="Seats to add.")
    remove: list[str] = Field(
        default_factory=list,
        description="Rep ids to remove; their accounts lose their current rep.",
    )
    capacity: dict[str, PositiveFloat] = Field(
        default_factory=dict, description="New FTE per rep id."
    )


class Quota(Section):
    """The quota step; a key left out (or null) keeps the quota engine's default.

    Give ``target`` [currency], or ``target_growth`` (target = last year's
    revenue x (1 + growth)). The other keys are the fields of
    :class:`territory_opt.quota.QuotaSettings`.
    """

    target: float | None = Field(default=None, ge=0, description="Company target [currency].")
    target_growth: float | None = Field(
        default=None, gt=-1, description="Target = total of history_metric x (1 + target_growth)."
    )
    method: str | dict[str, float] | None = Field(
        default=None, description="top_down | history | blend | capacity, or {term: weight}."
    )
    history_weight: float | None = Field(default=None, ge=0, le=1)
    growth: float | None = None
    segment_growth: dict[str, float] | None = None
    growth_min: float | None = None
    growth_max: float | None = None
    segment_growth_bounds: dict[str, tuple[float | None, float | None]] | None = None
    rep_growth_bounds: dict[str, tuple[float | None, float | None]] | None = None
    floor: float | None = Field(default=None, ge=0)
    ceiling: float | None = Field(default=None, ge=0)
    buffer: float | None = None
    rounding: float | None = Field(default=None, gt=0)
    ramp: list[tuple[int, float]] | None = Field(
        default=None, description="[[first_month, factor], ...] since start_date."
    )
    plan_start: dt.date | None = None
    productivity: float | None = Field(default=None, gt=0)
    workload_per_fte: float | None = Field(default=None, gt=0)
    scale_by_fte: bool | None = None
    potential_metric: str | None = None
    history_metric: str | None = None
    workload_metric: str | None = None
    fairness_tolerance: float | None = Field(default=None, ge=0)
    seasonality: list[float] | None = Field(default=None, description="4 or 12 weights.")
    sigma: float | None = Field(default=None, ge=0)
    rep_sigma: float | None = Field(default=None, ge=0)
    simulations: int | None = Field(default=None, ge=1)
    seed: int | None = Field(default=None, description="Default: solver.seed.")

    @model_validator(mode="after")
    def _one_target(self) -> Quota:
        if self.target is not None and self.target_growth is not None:
            msg = "give target or target_growth, not both"
            raise ValueError(msg)
        return self


class Solver(Section):
    """How the alignment is solved."""

    backend: Backend = "highs"
    solver: str | None = Field(default=None, description="PuLP solver name (pulp backend).")
    time_limit: float = Field(default=60.0, gt=0, description="Wall-clock limit [s].")
    gap: float = Field(default=1e-3, ge=0, description="Relative gap counted as optimal.")
    threads: int = Field(
        default=1, ge=0, description="Solver threads (0: solver default); 1 suits parallel sweeps."
    )
    seed: int = Field(default=0, description="Random seed (solver and quota simulation).")


def _schema_extra(schema: dict[str, Any]) -> None:
    """Mark the schema's dialect; ``inputs`` may come from an ``extends`` base file."""
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema.pop("required", None)


class Scenario(Section):
    """One planning scenario: inputs, model, bands, budgets, locks, team changes, quotas."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,
        title="territory-opt scenario",
        json_schema_extra=_schema_extra,
    )

    extends: str | None = Field(
        default=None,
        description="Base scenario file (relative to this file) whose keys this file overrides.",
    )
    description: str = Field(default="", description="What the scenario is for (not hashed).")
    inputs: Inputs
    model: str = Field(default="balanced-travel", description="Model preset from models/.")
    balance: dict[str, Tolerance | None] = Field(
        default_factory=dict,
        description="Band per metric, merged onto the preset's bands; null drops a band.",
    )
    objective: Objective = Objective()
    disruption: Disruption = Disruption()
    constraints: Constraints = Constraints()
    locks: list[Lock] = Field(default_factory=list)
    team: Team = Team()
    quota: Quota | None = Field(default=None, description="The quota step; absent: no quotas.")
    solver: Solver = Solver()

    @field_validator("model")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        presets = sorted(available_presets())
        if value not in presets:
            close = difflib.get_close_matches(value, presets, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            msg = f"'{value}' is not a model preset{hint}; presets are: {', '.join(presets)}"
            raise ValueError(msg)
        return value


#: Keys whose null value keeps the preset's value (a weight or a switch cannot be "none").
_NULL_KEEPS_PRESET = frozenset(
    {"travel_weight", "pair_cost_weight", "disruption_weight", "segment_match", "keep_families"}
)


def build_spec(config: Scenario) -> AlignmentSpec:
    """Return the alignment request: the model preset with the scenario's overrides.

    Bands are merged per metric onto the preset's bands (``null`` drops one);
    in ``objective``, ``disruption`` and ``constraints`` every key that the
    scenario sets replaces the preset's value.
    """
    spec = AlignmentSpec.from_preset(config.model)
    bands = {b.metric: b.tolerance for b in spec.bands}
    for metric, tolerance in config.balance.items():
        if tolerance is None:
            bands.pop(metric, None)
        else:
            bands[metric] = tolerance
    changes: dict[str, Any] = {"bands": bands}
    for section in (config.objective, config.disruption, config.constraints):
        for name in sorted(section.model_fields_set):
            value = getattr(section, name)
            if value is None and name in _NULL_KEEPS_PRESET:
                continue
            changes[name] = value
    return spec.with_(**changes)


def schema_text() -> str:
    """Return the JSON schema of scenario files, as published in ``scenarios/schema.json``."""
    schema = Scenario.model_json_schema()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(path: str | Path) -> Path:
    """Write :func:`schema_text` to ``path`` (e.g. ``scenarios/schema.json``)."""
    path = Path(path)
    path.write_text(schema_text(), encoding="utf-8")
    return path
