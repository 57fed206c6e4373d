"""Benchmark of headcount sizing: the demo book's curve and exact placement vs brute force.

Usage::

    python bench/bench_sizing.py [--accounts 2000] [--runs demo hires exact] [--out DIR]

``demo``: ``territory-opt size`` on the demo book (``generate_demo(n, seed=0)``, the
book ``territory-opt demo`` writes) with ``--capacity workload=1600``, candidate
sites thinned from the accounts and the default curve, once with ``--screen 3``
(default) and once with ``--screen 1``; wall time is the whole CLI process.
``hires``: the same book with 1,000 h per FTE, so the team must grow, and
``--max-new 20``. ``exact``: tiny books (10 accounts, 2 reps, 4 sites) sized
exactly and by enumerating every site set with the exact alignment backend.
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _cli(args: list[str]) -> tuple[float, float, int]:
    """Run the CLI; return wall time [s], the child's peak RSS [MB] and its exit code."""
    start = time.perf_counter()
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "territory-opt"), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    if proc.returncode not in (0, 3):
        print(proc.stderr[-3000:], file=sys.stderr)
    return wall, rss, proc.returncode


def _curve_table(folder: Path) -> str:
    frame = pd.read_csv(folder / "sizing.csv", keep_default_na=False)
    lines = [
        "| reps | feasible | proof | hires | removed | objective | gap | dev potential "
        "| dev workload | max utilisation | mean km | moved | mark |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in frame.to_dict("records"):

        def num(key: str, fmt: str, row: dict[str, Any] = row) -> str:
            value = row[key]
            return "" if value in ("", None) else format(float(value), fmt)

        marks = " ".join(m for m in ("minimum", "knee") if row[m] in (True, "True"))
        lines.append(
            f"| {row['n_reps']} | {row['feasible']} | {row['proof']} | {row['new_hires']} "
            f"| {row['removed']} | {num('objective', ',.0f')} "
            f"| {num('gap', '.2%')} | {num('deviation_potential', '.2%')} "
            f"| {num('deviation_workload', '.2%')} | {num('utilisation_workload', '.1%')} "
            f"| {num('mean_distance', '.1f')} | {row['accounts_moved']} | {marks} |"
        )
    return "\n".join(lines)


def run_demo(n: int, out: Path, capacity: float, extra: list[str], label: str) -> None:
    from territory_opt import generate_demo
    from territory_opt.data.demo import write_demo

    book = out / f"book-{n}"
    if not (book / "accounts.csv").is_file():
        book.mkdir(parents=True, exist_ok=True)
        write_demo(*generate_demo(n, seed=0), book)
    folder = out / label
    args = [
        "size",
        str(book / "accounts.csv"),
        str(book / "reps.csv"),
        "--capacity",
        f"workload={capacity:g}",
        "--out",
        str(folder),
        "--force",
        *extra,
    ]
    wall, rss, code = _cli(args)
    meta = pd.read_json(folder / "sizing.json", typ="series")
    minimum = meta["minimum"]
    options = " ".join([f"--capacity workload={capacity:g}", *extra])
    print(f"\n### {label}: `territory-opt size ... {options}`\n")
    print(
        f"wall {wall:.1f} s (CLI process), peak RSS {rss:.0f} MB, exit {code}, "
        f"solves {int(meta['stats'].get('solves', 0))}, counting bound "
        f"{meta['counting_bound']['n_reps']}, minimum {minimum['n_reps']} "
        f"({'proven' if minimum['proven'] else 'not proven'}: {minimum['reason']}), "
        f"knee {meta['knee']['n_reps']}\n"
    )
    print(_curve_table(folder))


def _tiny(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n, m, k = 10, 2, 4
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i:02d}" for i in range(n)],
            "x": rng.uniform(0, 100, n).round(2),
            "y": rng.uniform(0, 100, n).round(2),
            "workload": rng.integers(100, 400, n),
            "potential": rng.integers(1000, 5000, n),
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": [f"R{r}" for r in range(m)],
            "home_x": rng.uniform(0, 100, m).round(2),
            "home_y": rng.uniform(0, 100, m).round(2),
        }
    )
    accounts["current_rep"] = [f"R{r}" for r in rng.integers(0, m, n)]
    sites = pd.DataFrame(
        {
            "site_id": [f"S{s}" for s in range(k)],
            "x": rng.uniform(0, 100, k).round(2),
            "y": rng.uniform(0, 100, k).round(2),
        }
    )
    return accounts, reps, sites


def run_exact(seeds: list[int], capacity: float) -> None:
    from territory_opt import load_problem
    from territory_opt.alignment import AlignmentSpec, align
    from territory_opt.sizing import SizingRequest, size_team

    spec = AlignmentSpec(travel_weight=1.0, travel_metric="workload", segment_match=False)
    spec = spec.with_(bands={"potential": 0.6})
    print(f"\n### exact placement vs brute force (10 accounts, 2 reps, 4 sites, {capacity:g} h)\n")
    print("| seed | bound | minimum (sizing / brute) | sizes agreeing | sizing [s] | brute [s] |")
    print("|---:|---:|---|---:|---:|---:|")
    for seed in seeds:
        accounts, reps, sites = _tiny(seed)
        start = time.perf_counter()
        request = SizingRequest({"workload": capacity}, n_range=(3, 6), gap=1e-9, time_limit=30)
        result = size_team(accounts, reps, request, candidates=sites, spec=spec)
        t_sizing = time.perf_counter() - start
        start = time.perf_counter()
        brute: dict[int, tuple[float, tuple[int, ...]] | None] = {}
        for n in range(3, 7):
            best = None
            for choice in itertools.combinations(range(4), n - 2):
                new = pd.DataFrame(
                    {
                        "rep_id": [f"H{s}" for s in choice],
                        "home_x": sites["x"].to_numpy()[list(choice)],
                        "home_y": sites["y"].to_numpy()[list(choice)],
                    }
                )
                team = pd.concat([reps, new], ignore_index=True).assign(max_workload=capacity)
                plan = align(load_problem(accounts, team), spec, backend="highs-mip", gap=1e-9)
                if plan.assignment is not None and (best is None or plan.objective < best[0]):
                    best = (plan.objective, choice)
            brute[n] = best
        t_brute = time.perf_counter() - start
        agree = 0
        for n, best in brute.items():
            point = result.point(n)
            if best is None:
                agree += int(point is not None and point.plan is None)
                continue
            if point is None or point.plan is None or point.team is None:
                continue
            sites_used = sorted(int(result.context.slots.site[s]) for s in point.team.hires)
            same = abs(point.plan.objective - best[0]) <= 1e-6 * best[0]
            agree += int(same and sites_used == sorted(best[1]))
        brute_min = min(n for n, b in brute.items() if b is not None)
        print(
            f"| {seed} | {result.bound.n} | {result.minimum} / {brute_min} | {agree}/4 "
            f"| {t_sizing:.2f} | {t_brute:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--runs", nargs="+", default=["demo", "hires", "exact"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "sizing")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, Python "
        f"{platform.python_version()}, {args.accounts:,} accounts"
    )
    if "demo" in args.runs:
        run_demo(args.accounts, args.out, 1600, [], "demo-screen3")
        run_demo(args.accounts, args.out, 1600, ["--screen", "1"], "demo-screen1")
    if "hires" in args.runs:
        run_demo(args.accounts, args.out, 1000, ["--max-new", "20"], "hires")
    if "exact" in args.runs:
        run_exact([1, 4, 7, 9], 620.0)


if __name__ == "__main__":
    main()
