"""Benchmark: the plan comparison report of a large book (default 100k accounts).

Usage::

    python bench/bench_report.py [--accounts 100000] [--plans 1 2] [--browser]

Writes a demo book and plan folders under ``bench/out/report`` (made once, then
reused), then times ``territory-opt compare`` end to end (a fresh process:
import, read the plans, KPIs, moved accounts, HTML and Excel) and reports the
file sizes. With ``--browser`` it also opens the page in headless Chromium
(every network request blocked) and times until the charts are drawn.

The plans are not solved (a 100k-account alignment takes far longer than the
report): plan 1 keeps the current owners except that 10 % of the accounts,
picked with a seeded generator, go to the nearest other rep of their segment;
plan k moves 10 k %. That gives the report real moves, deviations and reasons.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from territory_opt import generate_demo, load_problem
from territory_opt.alignment import AlignmentSpec, SolveOptions, Status
from territory_opt.alignment.instance import Instance, rep_centers
from territory_opt.data.demo import write_demo
from territory_opt.geo.distance import pair_distance
from territory_opt.plan import Plan, write_plan

OUT = Path(__file__).resolve().parent / "out" / "report"


def _plan(problem, spec, share: float, seed: int) -> Plan:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    n = problem.n_accounts
    x = np.where(problem.current_rep >= 0, problem.current_rep, 0).astype(np.int32)
    centers = rep_centers(problem)
    move = np.flatnonzero(rng.random(n) < share)
    for seg in range(len(problem.segment_names)):
        reps = np.flatnonzero(problem.rep_segment == seg)
        acc = move[problem.account_segment[move] == seg]
        if len(reps) < 2 or not len(acc):
            continue
        tree = cKDTree(centers[reps])
        _, near = tree.query(problem.account_coords[acc], k=2)
        first = reps[near[:, 0]]
        x[acc] = np.where(first == x[acc], reps[near[:, 1]], first)
    inst = Instance.build(problem, spec)
    dist = pair_distance(problem.account_coords, centers, np.arange(n), x, problem.coord_system)
    travel = float((problem.metric("workload") * dist).sum())
    return Plan(
        problem=problem,
        spec=spec,
        status=Status.FEASIBLE,
        assignment=x,
        objective=travel,
        lower_bound=math.nan,
        objective_terms={"travel": travel, "pair_cost": 0.0, "disruption": 0.0},
        load_names=inst.load_names,
        target=inst.target,
        lo=inst.lo,
        hi=inst.hi,
        solver="bench",
        solver_version="none",
        backend="synthetic (not solved)",
        options=SolveOptions(time_limit=0.0),
        seconds=0.0,
    )


def make_plans(n: int, count: int) -> list[Path]:
    book = OUT / f"{n}"
    folders = [book / f"plan-{k}" for k in range(1, count + 1)]
    if all((f / "plan.json").is_file() for f in folders):
        return folders
    book.mkdir(parents=True, exist_ok=True)
    accounts, reps = generate_demo(n, seed=0)
    paths = write_demo(accounts, reps, book)
    problem = load_problem(*paths)
    spec = AlignmentSpec.from_preset("balanced-travel")
    for k, folder in enumerate(folders, start=1):
        write_plan(_plan(problem, spec, 0.1 * k, seed=k), folder, force=True)
    return folders


def browser_seconds(page: Path) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox", "--headless"]
        )
        tab = browser.new_page()
        tab.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
        )
        t0 = time.perf_counter()
        tab.goto(page.as_uri())
        tab.wait_for_selector("body[data-report-ready=true]", timeout=120_000)
        seconds = time.perf_counter() - t0
        browser.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--plans", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--browser", action="store_true")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    folders = make_plans(args.accounts, max(args.plans))
    exe = Path(sys.executable).with_name("territory-opt")
    header = "| accounts | plans | compare wall [s] | HTML [MB] | XLSX [MB] |"
    rule = "|---:|---:|---:|---:|---:|"
    if args.browser:
        header += " browser until drawn [s] |"
        rule += "---:|"
    print(header)
    print(rule)
    for count in args.plans:
        html = OUT / f"report-{args.accounts}-{count}.html"
        xlsx = html.with_suffix(".xlsx")
        cmd = [str(exe), "compare", *map(str, folders[:count])]
        cmd += ["--out", str(html), "--xlsx", str(xlsx), "--force"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - t0
        line = (
            f"| {args.accounts:,} | {count} | {wall:.1f} | {html.stat().st_size / 1e6:.1f} "
            f"| {xlsx.stat().st_size / 1e6:.1f} |"
        )
        if args.browser:
            line += f" {browser_seconds(html):.1f} |"
        print(line, flush=True)


if __name__ == "__main__":
    main()
