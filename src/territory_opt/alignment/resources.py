"""Resource guards: estimate an alignment's memory before any model is built.

A solve that runs out of memory is killed by the system without a word, and one
that cannot finish wastes the whole time limit. Both are refused up front, with
a message that names the estimate and the way out:

- :func:`estimate_memory` predicts the peak memory of an alignment from the
  instance size (accounts, reps, allowed pairs, limited quantities) and the
  backend, with coefficients measured by ``bench/bench_limits.py`` (peak RSS of
  ``territory-opt align`` on demo books; see ``bench/RESULTS.md``, "Robustness");
- :func:`check_resources` refuses an instance above the caller's memory limit,
  or above the size at which an exact backend stops finding plans
  (:data:`PAIR_LIMITS`), pointing at ``--backend highs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from territory_opt._errors import InputError
from territory_opt.alignment.spec import AlignmentSpec
from territory_opt.data.problem import Problem

#: Bytes in a gigabyte as the option ``--memory-limit`` counts them (10^9).
GB = 1e9
#: Interpreter, numpy, pandas, HiGHS and OR-Tools loaded, with a small book read:
#: peak RSS of the smallest runs in bench/bench_limits.py (305 MB at 20k pairs with
#: highs, 263 MB at 5k with cpsat, 176 MB at 3k with pulp), rounded up [bytes].
BASE_BYTES = {"highs": 400e6, "highs-mip": 350e6, "cpsat": 300e6, "pulp": 250e6}
#: Peak memory per allowed (account, rep) pair, with two limited quantities
#: [bytes]. highs: 1M pairs 431 MB, 20M pairs 1,127 MB (the priced LP keeps few
#: arcs; pricing and the Lagrangian work in chunks or one cost matrix). highs-mip:
#: every arc in one MIP, 250k pairs 869 MB, 1M pairs 1,223 MB (the figure sits
#: between the two). cpsat: 250k pairs 1,527 MB (1M pairs 4.8 GB in the
#: alignment ladder). pulp: one Python object per variable and per term, 80k
#: pairs 475 MB (1M pairs 2.3 GB in the ladder). Estimates are good to about ±50 %.
PAIR_BYTES = {"highs": 40.0, "highs-mip": 1500.0, "cpsat": 5300.0, "pulp": 3500.0}
#: Limited quantities (bands, budgets, account counts) the per-pair figures were
#: measured with; each further one adds its share of the per-pair memory.
MEASURED_LOADS = 2
#: Largest number of pairs each exact backend is allowed: beyond it the
#: measurements found no plan in a 60 s limit (pulp/CBC found none already at
#: 20k pairs with ±5 % bands; CP-SAT none at 1M pairs, after using 4.8 GB), or
#: building the model alone takes minutes. The default ``highs`` pipeline has no
#: such limit (it planned 100k × 200 = 20M pairs in 1.2 GB).
PAIR_LIMITS = {"highs-mip": 2_000_000, "cpsat": 500_000, "pulp": 100_000}


@dataclass(frozen=True)
class MemoryEstimate:
    """Predicted peak memory of one alignment.

    Attributes
    ----------
    backend
        The backend it is for.
    pairs
        Allowed (account, rep) pairs: accounts × reps, or the pair table's rows.
    loads
        Limited quantities per rep (bands, min/max columns, counts) and budgets.
    bytes
        Predicted peak resident memory [bytes].
    """

    backend: str
    pairs: int
    loads: int
    bytes: float

    @property
    def gb(self) -> float:
        """The estimate in gigabytes (10^9 bytes)."""
        return self.bytes / GB


def _loads(problem: Problem, spec: AlignmentSpec) -> int:
    """Limited quantities and budgets the model will hold (an upper estimate)."""
    bounded = int(np.isfinite(problem.rep_min).any(axis=0).sum())
    bounded += int(np.isfinite(problem.rep_max).any(axis=0).sum())
    budgets = sum(x is not None for x in (spec.max_moved_accounts, spec.max_moved_share))
    return len(spec.bands) + bounded + int(spec.max_accounts is not None) + budgets


def estimate_memory(problem: Problem, spec: AlignmentSpec, backend: str) -> MemoryEstimate:
    """Predict the peak memory of aligning ``problem`` with ``backend``.

    Parameters
    ----------
    problem
        The validated book.
    spec
        The request (its bands and budgets add rows).
    backend
        ``highs``, ``highs-mip``, ``cpsat`` or ``pulp``.

    Returns
    -------
    MemoryEstimate
        ``BASE_BYTES + pairs × PAIR_BYTES × max(1, (1 + loads) / (1 + MEASURED_LOADS))``.

    Examples
    --------
    >>> from territory_opt import generate_demo, load_problem
    >>> problem = load_problem(*generate_demo(200, 4, seed=0))
    >>> spec = AlignmentSpec.from_preset("balanced-travel")
    >>> estimate_memory(problem, spec, "highs").pairs
    800
    """
    pairs = (
        len(problem.pairs.account)
        if problem.pairs is not None
        else problem.n_accounts * problem.n_reps
    )
    loads = _loads(problem, spec)
    scale = max(1.0, (1 + loads) / (1 + MEASURED_LOADS))
    base = BASE_BYTES.get(backend, BASE_BYTES["highs"])
    per_pair = PAIR_BYTES.get(backend, PAIR_BYTES["highs"])
    return MemoryEstimate(backend, pairs, loads, base + pairs * per_pair * scale)


def check_resources(
    problem: Problem, spec: AlignmentSpec, backend: str, *, memory_limit: float | None
) -> MemoryEstimate:
    """Refuse an alignment that would not fit in memory or that its backend cannot solve.

    Parameters
    ----------
    problem, spec, backend
        The alignment about to run.
    memory_limit
        Largest peak memory allowed [GB], or None for no limit.

    Returns
    -------
    MemoryEstimate

    Raises
    ------
    InputError
        When the estimate is above ``memory_limit``, or the backend is an exact
        one and the instance has more pairs than :data:`PAIR_LIMITS` allows.
    """
    if memory_limit is not None and not (math.isfinite(memory_limit) and memory_limit > 0):
        raise InputError.single(
            "alignment settings",
            f"memory limit must be a number of gigabytes > 0, got {memory_limit}",
            column="memory_limit",
        )
    estimate = estimate_memory(problem, spec, backend)
    size = f"{problem.n_accounts:,} accounts × {problem.n_reps:,} reps = {estimate.pairs:,} pairs"
    limit = PAIR_LIMITS.get(backend)
    if limit is not None and estimate.pairs > limit:
        raise InputError.single(
            "alignment settings",
            f"{size} is too large for the {backend} backend (at most {limit:,} pairs; "
            f"larger books found no plan within minutes in our measurements, and this "
            f"one would need about {estimate.gb:.1f} GB); use --backend highs, the "
            "default, which scales to millions of pairs",
            column="backend",
        )
    if memory_limit is not None and estimate.bytes > memory_limit * GB:
        lighter = estimate_memory(problem, spec, "highs").bytes <= memory_limit * GB
        advice = (
            "use --backend highs, which needs far less memory, or raise the limit"
            if backend != "highs" and lighter
            else "split the book (e.g. by region or segment) or raise the limit"
        )
        raise InputError.single(
            "alignment settings",
            f"{size} needs an estimated {estimate.gb:.2f} GB with the {backend} backend, "
            f"above --memory-limit {memory_limit:g} GB; {advice}",
            column="memory_limit",
        )
    return estimate
