"""What a planner asks of an alignment: objective weights, bands and budgets.

An :class:`AlignmentSpec` is plain data. Named presets live as YAML files in the
project's ``models/`` folder (shipped inside the package as ``_models``), so a
preset can be read, diffed and changed without touching code.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from territory_opt._errors import InputError


@dataclass(frozen=True)
class Band:
    """A balance band: every rep's total of ``metric`` within ``tolerance`` of target.

    The target of rep r is the metric's total (over the rep's segment pool) ×
    ``capacity_r`` ÷ total capacity of the pool. ``tolerance`` 0.05 means ±5 %.
    """

    metric: str
    tolerance: float

    def __post_init__(self) -> None:
        """Reject tolerances outside [0, 10]."""
        if not 0.0 <= self.tolerance <= 10.0:
            msg = f"band tolerance for '{self.metric}' must be in [0, 10], got {self.tolerance}"
            raise ValueError(msg)


@dataclass(frozen=True)
class AlignmentSpec:
    """The alignment request: objective terms, hard constraints, budgets.

    Attributes
    ----------
    bands
        Balance bands, any number of metrics at once.
    travel_weight
        Weight of travel: Σ w_i · distance(i, rep center) [km or file units].
    travel_metric
        Metric w_i that weights each account's distance (e.g. ``workload``:
        visits are made in proportion to work); None weights every account 1.
    pair_cost_weight
        Weight of the pair table's ``cost`` column.
    disruption_weight
        Weight of moving an account away from ``current_rep``, per unit of
        ``disruption_metric`` (per account when that is None).
    disruption_metric
        Basis of the disruption cost, e.g. ``potential`` or ``revenue_ly``.
    max_distance
        Hard limit on account-to-rep distance; None = no limit.
    max_accounts
        Hard limit on accounts per rep (scaled by nothing: a count).
    max_moved_accounts
        Hard budget on the number of accounts that change rep.
    max_moved_share
        Hard budget on the share of ``moved_share_metric`` that changes rep
        (0.1 = at most 10 % of the total held by current reps).
    moved_share_metric
        Metric of that budget; default ``disruption_metric``, else ``potential``.
    segment_match
        An account with a segment only goes to reps of that segment (or reps
        without a segment).
    keep_families
        Accounts sharing a parent go to one rep.
    """

    bands: tuple[Band, ...] = ()
    travel_weight: float = 1.0
    travel_metric: str | None = None
    pair_cost_weight: float = 0.0
    disruption_weight: float = 0.0
    disruption_metric: str | None = None
    max_distance: float | None = None
    max_accounts: int | None = None
    max_moved_accounts: int | None = None
    max_moved_share: float | None = None
    moved_share_metric: str | None = None
    segment_match: bool = True
    keep_families: bool = True
    preset: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Reject weights and limits that cannot mean anything (negative, NaN, a share > 1)."""
        problems = []
        for name in ("travel_weight", "pair_cost_weight", "disruption_weight"):
            value = getattr(self, name)
            number = float(value) if isinstance(value, numbers.Real) else math.nan
            if not (math.isfinite(number) and number >= 0):
                problems.append(f"{name} must be a number >= 0, got {value!r}")
        lowest = {"max_distance": 0.0, "max_accounts": 1.0, "max_moved_accounts": 0.0}
        for name, low in (*lowest.items(), ("max_moved_share", 0.0)):
            value = getattr(self, name)
            if value is None:
                continue
            number = float(value) if isinstance(value, numbers.Real) else math.nan
            high = 1.0 if name == "max_moved_share" else math.inf
            above = number > low if name == "max_distance" else number >= low
            if not (above and number <= high):
                allowed = {
                    "max_distance": "> 0",
                    "max_accounts": ">= 1",
                    "max_moved_accounts": ">= 0",
                    "max_moved_share": "in [0, 1] (0.1 = 10 %)",
                }[name]
                problems.append(f"{name} must be {allowed}, got {value!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def with_(self, **changes: Any) -> AlignmentSpec:
        """Return a copy with some fields changed (bands as ``{metric: tol}`` accepted)."""
        if "bands" in changes and isinstance(changes["bands"], dict):
            changes["bands"] = tuple(Band(m, float(t)) for m, t in changes["bands"].items())
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "spec") -> AlignmentSpec:
        """Build from a mapping such as a preset file; unknown keys are errors."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names - {"description", "formulation"})
        if unknown:
            import difflib

            key = unknown[0]
            close = difflib.get_close_matches(key, sorted(names), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise InputError.single(source, f"unknown key '{key}'{hint}", column=key)
        values = {k: v for k, v in data.items() if k in names}
        bands = values.pop("bands", {}) or {}
        if isinstance(bands, dict):
            band_list = tuple(Band(str(m), float(t)) for m, t in bands.items())
        else:
            band_list = tuple(Band(str(b["metric"]), float(b["tolerance"])) for b in bands)
        return cls(bands=band_list, **values)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> AlignmentSpec:
        """Load a named preset from ``models/`` and apply overrides.

        Raises
        ------
        KeyError
            Listing the valid preset names when ``name`` is unknown.
        """
        presets = available_presets()
        if name not in presets:
            msg = f"'{name}' is not a model preset; presets are: {', '.join(sorted(presets))}"
            raise KeyError(msg)
        data = yaml.safe_load(presets[name].read_text(encoding="utf-8")) or {}
        spec = cls.from_dict(data, source=presets[name].name)
        return dataclasses.replace(spec.with_(**overrides), preset=name)


def models_folder() -> Path:
    """Return the folder holding preset YAML files (packaged copy first, then source tree)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_models", here.parents[1] / "models"):
        if candidate.is_dir():
            return candidate
    msg = "model presets folder not found; reinstall territory-opt"
    raise FileNotFoundError(msg)


def available_presets() -> dict[str, Path]:
    """Map of preset name to its YAML file."""
    return {p.stem: p for p in sorted(models_folder().glob("*.yaml"))}
