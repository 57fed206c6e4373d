"""Everything one sizing run shares: the book, the request, the sites and the hiring rules.

:func:`prepare` reads and checks the inputs once; the search, the placement
methods and the writer all work from the :class:`SizingContext` it returns.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from territory_opt._errors import InputError
from territory_opt._progress import step
from territory_opt.alignment.instance import Instance, rep_centers
from territory_opt.alignment.spec import AlignmentSpec
from territory_opt.data.problem import Problem
from territory_opt.sizing.request import TOTAL, SizingRequest
from territory_opt.sizing.sites import (
    ACCOUNT_SITES,
    CandidateSites,
    Slots,
    account_pool_keys,
    expand_slots,
    read_candidates,
    rep_pool_keys,
    segment_pools_on,
    sites_from_accounts,
)
from territory_opt.sizing.team import TableSource, Team, TeamBuilder

Candidates = str | Path | pd.DataFrame | CandidateSites


@dataclass(frozen=True, eq=False)
class SizingContext:
    """The shared state of a sizing run.

    Attributes
    ----------
    request, spec
        The question and the alignment request every team is planned with.
    builder
        Builds each team's Problem and reps table.
    base
        The current team's Problem.
    sites, slots
        Candidate sites and the hires they offer.
    pools_on
        Whether reps form band pools by segment.
    rep_pool, slot_pool
        Pool key of every current rep and every slot.
    keep
        Current rep indices that may not leave (keep list, ``keep`` column,
        reps with locked accounts).
    centers
        ``(m, 2)`` travel origin of every current rep.
    """

    request: SizingRequest
    spec: AlignmentSpec
    builder: TeamBuilder
    base: Problem
    sites: CandidateSites
    slots: Slots
    pools_on: bool
    rep_pool: np.ndarray
    slot_pool: np.ndarray
    keep: frozenset[int]
    centers: np.ndarray | None

    @property
    def m0(self) -> int:
        """Size of the current team."""
        return self.base.n_reps

    @property
    def current(self) -> Team:
        """The current team, unchanged."""
        return Team(tuple(range(self.m0)))

    def slot_keys(self, slot: int) -> tuple[str, str]:
        """(segment, region) of a slot, the keys its hiring limits are looked up by."""
        return str(self.slots.segment[slot]), str(self.sites.region[self.slots.site[slot]])

    def limit(self, key: str) -> int | None:
        """Hiring limit of a segment or region (None: unlimited)."""
        value = self.request.max_new.get(key) if key else None
        return None if value is None else int(value)

    def can_add(self, hires: tuple[int, ...] | list[int], slot: int) -> bool:
        """Whether ``slot`` can be filled next to ``hires`` within every hiring limit."""
        if slot in hires:
            return False
        total = self.request.total_new
        if total is not None and len(hires) + 1 > total:
            return False
        segment, region = self.slot_keys(slot)
        for key in {segment, region} - {""}:
            cap = self.limit(key)
            if cap is not None:
                used = sum(1 for h in hires if key in self.slot_keys(h))
                if used + 1 > cap:
                    return False
        site = self.slots.site[slot]
        # Copies of a site fill in order, so equal teams are not counted twice.
        earlier = np.flatnonzero(
            (self.slots.site == site)
            & (self.slots.segment == self.slots.segment[slot])
            & (self.slots.copy < self.slots.copy[slot])
        )
        return all(int(s) in hires for s in earlier)

    def pool_hire_cap(self, pool: str) -> int:
        """Most hires a pool can get (slots, segment limit and total limit)."""
        slots = int((self.slot_pool == pool).sum())
        caps = [slots]
        if pool and self.limit(pool) is not None:
            caps.append(int(self.request.max_new[pool]))
        if self.request.total_new is not None:
            caps.append(self.request.total_new)
        return min(caps)

    def max_hires(self) -> int:
        """Return an upper bound on the number of new hires the limits and sites allow."""
        caps = [len(self.slots)]
        if self.request.total_new is not None:
            caps.append(self.request.total_new)
        segments: dict[str, int] = {}
        regions: dict[str, int] = {}
        for slot in range(len(self.slots)):
            segment, region = self.slot_keys(slot)
            segments[segment] = segments.get(segment, 0) + 1
            regions[region] = regions.get(region, 0) + 1
        for counts in (segments, regions):
            caps.append(
                sum(
                    n if self.limit(key) is None else min(n, int(self.request.max_new[key]))
                    for key, n in counts.items()
                )
            )
        return min(caps)


def _forced_keep(builder: TeamBuilder, keep: tuple[str, ...]) -> frozenset[int]:
    base = builder.base
    known = [str(r) for r in base.rep_ids]
    for rep in keep:
        if rep not in base.rep_index:
            close = difflib.get_close_matches(rep, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise InputError.single("--keep", f"unknown rep '{rep}'{hint}")
    ids = set(keep) | builder.keep_column()
    out = {base.rep_index[r] for r in ids}
    out |= {int(r) for r in np.unique(base.locked_rep[base.locked_rep >= 0])}
    return frozenset(out)


def _check_limits(request: SizingRequest, sites: CandidateSites, slots: Slots) -> None:
    segments = {str(s) for s in slots.segment if s}
    regions = {str(r) for r in sites.region if r}
    for key in request.max_new:
        if key == TOTAL:
            continue
        if key in segments and key in regions:
            raise InputError.single(
                "--max-new", f"'{key}' is both a segment and a region; rename the region"
            )
        if key not in segments and key not in regions:
            valid = sorted(segments | regions)
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            listing = ", ".join(valid) or "(no segments or regions)"
            raise InputError.single(
                "--max-new",
                f"'{key}' is not a segment of a hire or a region of a candidate site{hint}; "
                f"use N for the total or one of: {listing}",
            )


def prepare(
    accounts: TableSource,
    reps: TableSource,
    request: SizingRequest,
    *,
    candidates: Candidates = ACCOUNT_SITES,
    spec: AlignmentSpec,
    metrics: list[str] | None = None,
) -> SizingContext:
    """Read and check everything a sizing run needs.

    Raises
    ------
    InputError
        For bad inputs, an unknown capacity metric, keep id, hiring-limit key
        or candidate-sites cell, and a book without locations.
    """
    builder = TeamBuilder(accounts, reps, request.capacity, metrics=metrics)
    base = builder.base
    Instance.build(base, spec)  # checks the spec's metrics against the book
    if base.account_coords is None:
        raise InputError.single(
            "accounts", "sizing places reps by location: the accounts need lat/lon or x/y"
        )
    if base.pairs is not None:  # pragma: no cover - the sizing API takes no pair table
        raise InputError.single("pairs", "sizing does not take a pair table")
    pools_on = segment_pools_on(base, spec.segment_match)
    rep_pool = rep_pool_keys(base, spec.segment_match)
    staffed = sorted({str(p) for p in rep_pool})
    with step("Choosing candidate sites"):
        if isinstance(candidates, CandidateSites):
            sites = candidates
        elif isinstance(candidates, str) and candidates == ACCOUNT_SITES:
            weights = base.metric(next(iter(request.capacity)))
            sites = sites_from_accounts(
                base,
                weights,
                account_pool_keys(base, spec.segment_match),
                staffed,
                seed=request.seed,
            )
        else:
            sites = read_candidates(candidates, base)
        slots = expand_slots(sites, staffed, pools_on=pools_on)
    _check_limits(request, sites, slots)
    builder.use_sites(sites, slots)
    return SizingContext(
        request=request,
        spec=spec,
        builder=builder,
        base=base,
        sites=sites,
        slots=slots,
        pools_on=pools_on,
        rep_pool=rep_pool,
        slot_pool=slots.pool,
        keep=_forced_keep(builder, request.keep),
        centers=rep_centers(base),
    )
