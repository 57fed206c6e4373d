"""LP relaxation: HiGHS's interior point against the structured interior point method.

Usage::

    python bench/bench_lp.py [--sizes 1000x20 10000x100] [--column-generation 100000x200]

For each size, the first candidate LP of the alignment pipeline (12 nearest reps
per account plus reverse neighbours, elastic limits) of the ladder instance of
``bench_align.py`` is solved by HiGHS (interior point with crossover) and by
:func:`territory_opt.alignment.ipm.solve_lp`, in this process, one after the
other. ``--column-generation`` runs :class:`~territory_opt.alignment.ipm.IpmSession`
with pricing over every arc until no arc prices out, which gives the LP bound of
the whole problem. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_align import _instance, _spec  # noqa: E402


def _size(text: str) -> tuple[int, int]:
    n, m = text.lower().split("x")
    return int(n), int(m)


def compare(n: int, m: int, time_limit: float) -> None:
    """One row per solver on the first candidate LP."""
    from territory_opt.alignment.backends.base import SolveOptions
    from territory_opt.alignment.backends.highs import LpSession
    from territory_opt.alignment.instance import Instance
    from territory_opt.alignment.ipm import solve_lp
    from territory_opt.alignment.pipeline import _cover_items, _elastic_price, candidate_arcs

    inst = Instance.build(_instance(n, m, 0), _spec())
    model = _cover_items(inst, inst.arc_model(*candidate_arcs(inst)))
    elastic = _elastic_price(inst, model)
    t = time.perf_counter()
    res = solve_lp(model, elastic=elastic, time_limit=time_limit)
    ours = time.perf_counter() - t
    print(
        f"| {n:,}×{m} | {model.n_arcs:,} | structured IPM | {ours:.2f} | {res.iterations} "
        f"| {res.status} | {res.dual_objective:,.0f} | {res.slack:.3g} |",
        flush=True,
    )
    session = LpSession(model, SolveOptions(time_limit=time_limit), elastic=elastic)
    t = time.perf_counter()
    status, objective, _, _, slack = session.solve(time_limit, ipm=True)
    theirs = time.perf_counter() - t
    print(
        f"| {n:,}×{m} | {model.n_arcs:,} | HiGHS IPM + crossover | {theirs:.2f} | "
        f"{session.h.getInfo().ipm_iteration_count} | {status} | {objective:,.0f} | {slack:.3g} |",
        flush=True,
    )


def column_generation(n: int, m: int, time_limit: float) -> None:
    """Price until no arc has a negative reduced cost; one row per round."""
    from territory_opt.alignment.instance import Instance
    from territory_opt.alignment.ipm import IpmSession
    from territory_opt.alignment.pipeline import (
        _cover_items,
        _elastic_price,
        _pricer,
        candidate_arcs,
    )

    inst = Instance.build(_instance(n, m, 0), _spec())
    first = _cover_items(inst, inst.arc_model(*candidate_arcs(inst)))
    pricer = _pricer(inst)
    session = IpmSession(first, elastic=_elastic_price(inst, first), pricer=pricer)
    start = time.perf_counter()
    for round_ in range(1, 20):
        t = time.perf_counter()
        status, objective, _, duals, slack = session.solve(time_limit)
        solved = time.perf_counter() - t
        added = session.add(pricer(duals))
        print(
            f"| {n:,}×{m} | {round_} | {session.model.n_arcs - added:,} | {solved:.1f} | "
            f"{status} | {objective:,.0f} | {slack:.3g} | {added:,} | "
            f"{time.perf_counter() - start:.1f} |",
            flush=True,
        )
        if added == 0 or status != "optimal":
            break


def main() -> None:
    """Run the comparison and, when asked, the column generation."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="*", default=["1000x20", "10000x100"])
    parser.add_argument("--column-generation", nargs="*", default=[])
    parser.add_argument("--time-limit", type=float, default=600.0)
    args = parser.parse_args()
    print("| instance | arcs | solver | wall [s] | iterations | status | objective | slack |")
    print("|---|---:|---|---:|---:|---|---:|---:|")
    for text in args.sizes:
        compare(*_size(text), args.time_limit)
    if args.column_generation:
        print()
        print(
            "| instance | round | arcs | solve [s] | status | LP value | slack "
            "| priced in | total [s] |"
        )
        print("|---|---:|---:|---:|---|---:|---:|---:|---:|")
        for text in args.column_generation:
            column_generation(*_size(text), args.time_limit)


if __name__ == "__main__":
    main()
