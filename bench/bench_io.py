"""Benchmark: write demo books and read + validate them, 1k to 1M accounts.

Usage::

    python bench/bench_io.py [--sizes 1000 10000 100000 1000000] [--formats csv parquet]

Prints a Markdown table; copy it into bench/RESULTS.md with the machine details.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from territory_opt import generate_demo, load_problem
from territory_opt.data.demo import default_rep_count, write_demo


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--formats", nargs="+", default=["csv", "parquet"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(
        "| accounts | reps | format | generate [s] | write [s] | read+validate [s] "
        "| write+validate [s] | file [MB] | peak RSS [MB] |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        m = default_rep_count(n)
        t0 = time.perf_counter()
        accounts, reps = generate_demo(n, m, seed=args.seed)
        t_gen = time.perf_counter() - t0
        for fmt in args.formats:
            with tempfile.TemporaryDirectory() as tmp:
                t1 = time.perf_counter()
                paths = write_demo(accounts, reps, Path(tmp), fmt=fmt)
                t_write = time.perf_counter() - t1
                t2 = time.perf_counter()
                problem = load_problem(*paths)
                t_read = time.perf_counter() - t2
                assert problem.n_accounts == n
                size_mb = paths[0].stat().st_size / 1e6
            print(
                f"| {n:,} | {m:,} | {fmt} | {t_gen:.2f} | {t_write:.2f} | {t_read:.2f} "
                f"| {t_write + t_read:.2f} | {size_mb:.1f} | {_peak_rss_mb():.0f} |"
            )


if __name__ == "__main__":
    main()
