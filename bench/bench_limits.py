"""Resource limits: peak memory per backend and size, and where exact backends give up.

Runs ``territory-opt align`` on demo books of growing size with each backend, in
its own process, and records wall time, peak RSS (``/usr/bin/time``), the exit
code and the plan status. The figures set the constants of
``territory_opt.alignment.resources`` (memory estimate and per-backend limits).

    python bench/bench_limits.py                 # the default ladder
    python bench/bench_limits.py --runs highs:10000x100:20 cpsat:2000x40:60
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent / "territory-opt"
DEFAULT_RUNS = [
    "highs:1000x20:10",
    "highs:10000x100:20",
    "highs:30000x150:30",
    "highs:100000x200:60",
    "highs-mip:1000x20:20",
    "highs-mip:5000x50:30",
    "highs-mip:10000x100:30",
    "cpsat:500x10:60",
    "cpsat:1000x20:60",
    "cpsat:2000x40:60",
    "cpsat:5000x50:60",
    "pulp:300x10:60",
    "pulp:1000x20:60",
    "pulp:2000x40:60",
]


def _book(folder: Path, n: int, m: int) -> tuple[Path, Path]:
    out = folder / f"book-{n}x{m}"
    if not out.is_dir():
        cmd = [str(BIN), "demo", "--accounts", str(n), "--reps", str(m), "--no-plan"]
        subprocess.run([*cmd, "--out", str(out)], check=True, capture_output=True)
    return out / "accounts.csv", out / "reps.csv"


def run_one(spec: str, folder: Path) -> dict[str, object]:
    backend, size, limit = spec.split(":")
    n, m = (int(v) for v in size.split("x"))
    accounts, reps = _book(folder, n, m)
    plan = folder / f"plan-{backend}-{n}x{m}"
    shutil.rmtree(plan, ignore_errors=True)
    cmd = ["/usr/bin/time", "-f", "%M %e", str(BIN), "align", str(accounts), str(reps)]
    cmd += ["--out", str(plan), "--backend", backend, "--time-limit", limit, "--force"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    rss_kb, wall = proc.stderr.strip().splitlines()[-1].split()
    status = "-"
    if (plan / "plan.json").is_file():
        status = json.loads((plan / "plan.json").read_text())["status"]
    lines = [ln for ln in proc.stderr.splitlines()[:-1] if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("Command exited")]
    message = lines[-1][:120] if proc.returncode not in (0, 3) and lines else ""
    if proc.returncode == 1 and status != "-":
        message = "no plan in time"
    return {
        "backend": backend,
        "accounts": n,
        "reps": m,
        "pairs": n * m,
        "time_limit": float(limit),
        "wall": float(wall),
        "peak_rss_mb": int(rss_kb) / 1024,
        "exit": proc.returncode,
        "status": status,
        "message": message,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", nargs="*", default=DEFAULT_RUNS, help="BACKEND:NxM:SECONDS")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-limits-") as tmp:
        print(
            "| backend | accounts × reps | pairs | time limit [s] | wall [s] | peak RSS [MB] "
            "| exit | status |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---|")
        for spec in args.runs:
            r = run_one(spec, Path(tmp))
            print(
                f"| {r['backend']} | {r['accounts']:,}×{r['reps']} | {r['pairs']:,} "
                f"| {r['time_limit']:g} | {r['wall']:.1f} | {r['peak_rss_mb']:.0f} "
                f"| {r['exit']} | {r['status']} {r['message']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
