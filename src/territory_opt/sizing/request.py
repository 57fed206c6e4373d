"""What a headcount question asks: capacity per FTE, hiring limits, reps to keep, the range.

A :class:`SizingRequest` is plain data. The ``parse_*`` helpers turn the
command line's text options (``workload=1600``, ``enterprise=3``, ``40:60``)
into it and report a bad option as an :class:`~territory_opt._errors.InputError`
naming the option.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from territory_opt._errors import InputError

#: Placement methods: ``auto`` picks ``exact`` for small teams, else ``greedy``.
PLACEMENTS = ("auto", "exact", "greedy")
#: Key of :attr:`SizingRequest.max_new` that limits the total number of hires.
TOTAL = "total"
#: FTE of every new hire [FTE]: a full-time seat.
NEW_HIRE_FTE = 1.0


@dataclass(frozen=True)
class SizingRequest:
    """The headcount question.

    Attributes
    ----------
    capacity
        Workload a full-time rep can carry, per metric, e.g. ``{"workload":
        1600}`` [metric units per FTE per year]. Every rep r gets the hard
        limit Σ workload ≤ capacity × FTE_r.
    max_new
        Hiring limits: ``"total"`` for all new hires, or a segment or a
        candidate-site region, e.g. ``{"total": 10, "enterprise": 3}``.
    keep
        Rep ids that may not be removed (reps with locked accounts are kept too).
    n_range
        ``(low, high)`` team sizes of the curve, inclusive; None: from the
        minimum to the larger of the current team and the minimum + 5.
    placement
        ``exact`` (location-allocation MIP; small teams), ``greedy`` (add /
        remove by a travel proxy, then the alignment engine) or ``auto``.
    time_limit
        Time per team size [s] (per solve).
    gap
        Relative gap counted as optimal.
    seed
        Seed of the solvers and of the site thinning.
    screen
        Greedy placement: moves (hires or removals) planned by the engine per
        team size, best by the proxy first; the lowest objective wins.
    swaps
        Interchange attempts per team size in greedy placement; each costs one
        alignment.
    threads
        Solver threads (0: solver default).
    """

    capacity: Mapping[str, float]
    max_new: Mapping[str, int] = field(default_factory=dict)
    keep: tuple[str, ...] = ()
    n_range: tuple[int, int] | None = None
    placement: str = "auto"
    time_limit: float = 10.0
    gap: float = 0.01
    seed: int = 0
    screen: int = 3
    swaps: int = 0
    threads: int = 0

    def __post_init__(self) -> None:
        """Check values that need no data; freeze the mappings."""
        if not self.capacity:
            raise InputError.single("--capacity", "give a capacity, e.g. workload=1600")
        for metric, value in self.capacity.items():
            if not math.isfinite(value) or value <= 0:
                raise InputError.single(
                    "--capacity", f"capacity of '{metric}' must be a positive number, got {value}"
                )
        for key, value in self.max_new.items():
            if int(value) != value or value < 0:
                raise InputError.single(
                    "--max-new", f"limit '{key}' must be a whole number >= 0, got {value}"
                )
        if self.placement not in PLACEMENTS:
            raise InputError.single(
                "--placement",
                f"unknown placement '{self.placement}'; choose one of {', '.join(PLACEMENTS)}",
            )
        if self.n_range is not None:
            low, high = self.n_range
            if low < 1 or high < low:
                raise InputError.single("--range", f"range {low}:{high} must have 1 <= low <= high")
        if self.time_limit <= 0 or self.gap < 0 or self.swaps < 0:
            raise InputError.single("sizing settings", "time_limit must be > 0, gap and swaps >= 0")
        object.__setattr__(self, "capacity", MappingProxyType(dict(self.capacity)))
        object.__setattr__(self, "max_new", MappingProxyType(dict(self.max_new)))
        object.__setattr__(self, "keep", tuple(self.keep))

    @property
    def total_new(self) -> int | None:
        """Limit on the total number of new hires, or None."""
        value = self.max_new.get(TOTAL)
        return None if value is None else int(value)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (recorded in ``sizing.json``)."""
        return {
            "capacity": dict(self.capacity),
            "max_new": dict(self.max_new),
            "keep": list(self.keep),
            "range": None if self.n_range is None else list(self.n_range),
            "placement": self.placement,
            "time_limit": self.time_limit,
            "gap": self.gap,
            "seed": self.seed,
            "screen": self.screen,
            "swaps": self.swaps,
        }


def parse_capacity(values: Sequence[str]) -> dict[str, float]:
    """Parse ``METRIC=VALUE`` options, e.g. ``workload=1600``.

    Examples
    --------
    >>> parse_capacity(["workload=1,600"])
    {'workload': 1600.0}
    """
    out: dict[str, float] = {}
    for text in values:
        metric, sep, value = text.partition("=")
        try:
            number = float(value.replace(",", "").replace("_", ""))
        except ValueError:
            number = math.nan
        if not sep or not metric.strip() or not math.isfinite(number):
            raise InputError.single(
                "--capacity", f"'{text}' is not METRIC=VALUE, e.g. workload=1600"
            )
        out[metric.strip()] = number
    return out


def parse_max_new(values: Sequence[str]) -> dict[str, int]:
    """Parse hiring limits: ``10`` (total) or ``KEY=N`` (a segment or region).

    Examples
    --------
    >>> parse_max_new(["10", "enterprise=3"])
    {'total': 10, 'enterprise': 3}
    """
    out: dict[str, int] = {}
    for text in values:
        key, sep, value = text.rpartition("=")
        key = key.strip() if sep else TOTAL
        try:
            number = int(value.strip())
        except ValueError:
            number = -1
        if number < 0 or not key:
            raise InputError.single(
                "--max-new", f"'{text}' is not N or KEY=N (a segment or region), e.g. 10 or west=3"
            )
        if key in out:
            raise InputError.single("--max-new", f"limit '{key}' is given twice")
        out[key] = number
    return out


def parse_range(text: str) -> tuple[int, int]:
    """Parse ``LOW:HIGH`` team sizes, e.g. ``40:60``.

    Examples
    --------
    >>> parse_range("40:60")
    (40, 60)
    """
    low, sep, high = text.partition(":")
    try:
        values = (int(low), int(high))
    except ValueError:
        values = (0, -1)
    if not sep or values[0] < 1 or values[1] < values[0]:
        raise InputError.single("--range", f"'{text}' is not LOW:HIGH team sizes, e.g. 40:60")
    return values
