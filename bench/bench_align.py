"""Benchmark ladder: the alignment engine against baselines on the same seeded instances.

Usage::

    python bench/bench_align.py [--sizes 1000x20 10000x100 ...] [--huge] [--time-scale 1.0]

Every instance is ``generate_demo(n, m, seed)`` with locks and exclusions removed,
solved with potential and workload bands of ±5 % and the objective
Σ workload × km from the rep's home (no segments, no families), so the baselines
and the engine solve the same problem. Each (instance, method) runs in a fresh
subprocess; wall time covers the method only (not generating or loading the
instance) and peak RSS is the child's ``ru_maxrss``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np

#: The ladder: (n, m) -> list of (method, time limit [s] or None).
LADDER: dict[tuple[int, int], list[tuple[str, float | None]]] = {
    (1000, 20): [
        ("ours", 2.0),
        ("ours", 30.0),
        ("nearest-rep", None),
        ("k-means-constrained", None),
        ("pulp-highs", 30.0),
        ("pulp-cbc", 30.0),
    ],
    (10_000, 100): [
        ("ours", 15.0),
        ("ours", 60.0),
        ("nearest-rep", None),
        ("k-means-constrained", None),
        ("pulp-highs", 60.0),
        ("pulp-cbc", 60.0),
    ],
    (100_000, 200): [
        ("ours", 300.0),
        ("ours", 180.0),
        ("nearest-rep", None),
        ("pulp-highs", 300.0),
    ],
    (1_000_000, 1000): [("ours", 600.0), ("nearest-rep", None)],
}
#: PuLP models above this many account×rep variables are not attempted.
PULP_VAR_LIMIT = 2_000_000
BANDS = {"potential": 0.05, "workload": 0.05}


# --------------------------------------------------------------------------- child side


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _instance(n: int, m: int, seed: int) -> Any:
    from territory_opt import generate_demo, load_problem

    accounts, reps = generate_demo(n, m, seed=seed)
    accounts = accounts.copy()
    for col in ("locked_rep", "excluded_reps"):
        if col in accounts:
            accounts[col] = ""
    return load_problem(accounts, reps)


def _spec() -> Any:
    from territory_opt.alignment.spec import AlignmentSpec

    return AlignmentSpec.from_preset("balanced-travel").with_(
        segment_match=False, keep_families=False, bands=BANDS, travel_metric="workload"
    )


def _cost_matrix_rows(problem: Any, acc: np.ndarray) -> np.ndarray:
    """Workload × km from each account in ``acc`` to every rep home."""
    from territory_opt.alignment.instance import rep_centers
    from territory_opt.geo.distance import haversine_km

    homes = rep_centers(problem)
    a = problem.account_coords[acc]
    km = haversine_km(a[:, 0:1], a[:, 1:2], homes[None, :, 0], homes[None, :, 1])
    return problem.metric("workload")[acc, None] * km


def evaluate(problem: Any, assignment: np.ndarray) -> dict[str, Any]:
    """Objective and worst band deviation of any assignment, as the benchmark defines them."""
    from territory_opt.alignment.instance import rep_centers
    from territory_opt.geo.distance import haversine_km

    x = np.asarray(assignment, dtype=np.int64)
    homes = rep_centers(problem)[x]
    a = problem.account_coords
    km = haversine_km(a[:, 0], a[:, 1], homes[:, 0], homes[:, 1])
    objective = float((problem.metric("workload") * km).sum())
    cap = problem.rep_capacity
    dev = {}
    for metric in BANDS:
        values = problem.metric(metric)
        totals = np.bincount(x, weights=values, minlength=problem.n_reps)
        target = values.sum() * cap / cap.sum()
        dev[metric] = float(np.max(np.abs(totals / target - 1.0)))
    return {"objective": objective, "dev": dev}


def _run_ours(problem: Any, t: float) -> dict[str, Any]:
    from territory_opt.alignment.solve import align
    from territory_opt.testing import check_plan

    plan = align(problem, _spec(), backend="highs", time_limit=t, gap=0.005)
    out: dict[str, Any] = {"status": str(plan.status), "lower_bound": float(plan.lower_bound)}
    out["first_plan"] = (plan.stats or {}).get("first_plan_seconds")
    if plan.assignment is None:
        return out
    out["own_gap"] = float(plan.gap)
    out["assignment"] = plan.assignment
    out["plan_objective"] = float(plan.objective)
    out["_plan"] = plan
    out["_check"] = check_plan
    return out


def _run_nearest(problem: Any) -> dict[str, Any]:
    from scipy.spatial import cKDTree

    from territory_opt.alignment.instance import rep_centers
    from territory_opt.geo.distance import unit_vectors

    tree = cKDTree(unit_vectors(rep_centers(problem), problem.coord_system))
    _, idx = tree.query(unit_vectors(problem.account_coords, problem.coord_system))
    return {"status": "heuristic", "assignment": np.asarray(idx, dtype=np.int64)}


def _run_kmc(problem: Any, seed: int) -> dict[str, Any]:
    try:
        from k_means_constrained import KMeansConstrained
    except ImportError:
        return {"status": "not installed"}
    from scipy.optimize import linear_sum_assignment

    from territory_opt.alignment.instance import rep_centers

    n, m = problem.n_accounts, problem.n_reps
    lat0 = float(np.radians(problem.account_coords[:, 0].mean()))

    def planar(ll: np.ndarray) -> np.ndarray:
        return np.column_stack([ll[:, 1] * 111.32 * math.cos(lat0), ll[:, 0] * 110.57])

    pts = planar(problem.account_coords)
    size = n / m
    model = KMeansConstrained(
        n_clusters=m,
        size_min=int(math.floor(0.95 * size)),
        size_max=int(math.ceil(1.05 * size)),
        random_state=seed,
        n_init=1,
    )
    labels = model.fit_predict(pts)
    homes = planar(rep_centers(problem))
    d = np.sqrt(((model.cluster_centers_[:, None, :] - homes[None, :, :]) ** 2).sum(axis=2))
    rows, cols = linear_sum_assignment(d)
    mapping = np.empty(m, dtype=np.int64)
    mapping[rows] = cols
    return {"status": "heuristic", "assignment": mapping[labels]}


def _run_pulp(problem: Any, solver_name: str, t: float) -> dict[str, Any]:
    import pulp

    n, m = problem.n_accounts, problem.n_reps
    if n * m > PULP_VAR_LIMIT:
        return {"status": "not attempted: n×m variables"}
    cost = _cost_matrix_rows(problem, np.arange(n))
    prob = pulp.LpProblem("align", pulp.LpMinimize)
    x = [[pulp.LpVariable(f"x_{i}_{r}", cat=pulp.LpBinary) for r in range(m)] for i in range(n)]
    prob += pulp.LpAffineExpression(
        [(x[i][r], float(cost[i, r])) for i in range(n) for r in range(m)]
    )
    for i in range(n):
        prob += pulp.LpAffineExpression([(v, 1.0) for v in x[i]]) == 1, f"one_{i}"
    cap = problem.rep_capacity
    for metric, tol in BANDS.items():
        values = problem.metric(metric)
        target = values.sum() * cap / cap.sum()
        for r in range(m):
            expr = pulp.LpAffineExpression([(x[i][r], float(values[i])) for i in range(n)])
            prob += expr <= float(target[r] * (1 + tol)), f"{metric}_hi_{r}"
            prob += expr >= float(target[r] * (1 - tol)), f"{metric}_lo_{r}"
    if solver_name == "highs":
        available = pulp.listSolvers(onlyAvailable=True)
        if "HiGHS" in available:
            solver = pulp.HiGHS(msg=False, timeLimit=t)
        else:
            solver = pulp.HiGHS_CMD(msg=False, timeLimit=t)
    else:
        solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=t)
    prob.solve(solver)
    status = pulp.LpStatus[prob.status]
    sol_status = pulp.LpSolution.get(prob.sol_status, str(prob.sol_status))
    values_x = np.array([[v.varValue or 0.0 for v in row] for row in x])
    assigned = np.isclose(values_x.sum(axis=1), 1.0, atol=1e-6) & (values_x.max(axis=1) > 0.5)
    if not assigned.all():
        return {"status": f"{status}/{sol_status}: no feasible solution"}
    return {"status": f"{status}/{sol_status}", "assignment": values_x.argmax(axis=1)}


def child(n: int, m: int, method: str, t: float | None, seed: int) -> dict[str, Any]:
    """Build the instance, run one method, evaluate; returns a JSON-able row."""
    problem = _instance(n, m, seed)
    start = time.perf_counter()
    if method == "ours":
        assert t is not None
        res = _run_ours(problem, t)
    elif method == "nearest-rep":
        res = _run_nearest(problem)
    elif method == "k-means-constrained":
        res = _run_kmc(problem, seed)
    elif method in ("pulp-highs", "pulp-cbc"):
        assert t is not None
        res = _run_pulp(problem, method.split("-")[1], t)
    else:
        raise ValueError(method)
    wall = time.perf_counter() - start
    row: dict[str, Any] = {
        "status": res["status"],
        "wall": wall,
        "rss": _peak_rss_mb(),
        "lower_bound": res.get("lower_bound"),
        "own_gap": res.get("own_gap"),
        "first_plan": res.get("first_plan"),
    }
    if "assignment" in res:
        ev = evaluate(problem, res["assignment"])
        row["objective"] = ev["objective"]
        row["dev"] = ev["dev"]
        if "_plan" in res:
            report = res["_check"](res["_plan"], raise_on_error=False)
            row["checker_ok"] = bool(report.ok)
            row["checker_dev"] = {k: float(v) for k, v in report.max_band_deviation.items()}
            row["plan_objective"] = res["plan_objective"]
        else:
            row["checker_ok"] = all(row["dev"][k] <= tol + 1e-9 for k, tol in BANDS.items())
    return row


# --------------------------------------------------------------------------- parent side


def _run_child(n: int, m: int, method: str, t: float | None, seed: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", f"{n}x{m}", method, str(t or 0), str(seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"status": f"error (rc {proc.returncode}): {tail[0][:80]}"}
    return json.loads(lines[-1])


def _fmt(v: float | None, spec: str) -> str:
    if v is None or not math.isfinite(v):
        return ""
    return format(v, spec)


def _pct(v: float | None) -> str:
    return "" if v is None or not math.isfinite(v) else f"{100 * v:.2f} %"


def main() -> None:
    """Run the ladder and print a Markdown table."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        n, m = (int(s) for s in sys.argv[2].split("x"))
        t = float(sys.argv[4]) or None
        row = child(n, m, sys.argv[3], t, int(sys.argv[5]))
        print(json.dumps(row))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["1000x20", "10000x100", "100000x200"])
    parser.add_argument("--huge", action="store_true", help="also run 1000000x1000")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", default=None, help="subset of methods")
    args = parser.parse_args()
    sizes = [tuple(int(s) for s in size.split("x")) for size in args.sizes]
    if args.huge and (1_000_000, 1000) not in sizes:
        sizes.append((1_000_000, 1000))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        file=sys.stderr,
    )
    header = (
        "| instance | method | time limit [s] | wall [s] | peak RSS [MB] | status | objective "
        "| lower bound | gap to our bound | max dev potential | max dev workload | checker ok |"
    )
    lines = [header, "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|"]
    for n, m in sizes:
        runs = LADDER.get((n, m), [("ours", 60.0), ("nearest-rep", None)])
        results = []
        for method, t in runs:
            if args.methods and method not in args.methods:
                continue
            tl = t * args.time_scale if t is not None else None
            if method.startswith("pulp") and n * m > PULP_VAR_LIMIT:
                row: dict[str, Any] = {"status": "not attempted: n×m variables"}
            else:
                print(f"running {n}x{m} {method} T={tl}", file=sys.stderr, flush=True)
                row = _run_child(n, m, method, tl, args.seed)
            results.append((method, tl, row))
        bounds = [
            r["lower_bound"]
            for meth, _, r in results
            if meth == "ours"
            and r.get("lower_bound") is not None
            and math.isfinite(r["lower_bound"])
        ]
        best_lb = max(bounds) if bounds else None
        for method, tl, row in results:
            obj = row.get("objective")
            gap = (obj - best_lb) / obj if obj and best_lb is not None else None
            status = row["status"]
            if row.get("own_gap") is not None:
                status += f" (own gap {100 * row['own_gap']:.2f} %)"
            dev = row.get("dev", {})
            ok = row.get("checker_ok")
            lines.append(
                f"| {n:,}×{m:,} | {method} | {_fmt(tl, 'g')} | {_fmt(row.get('wall'), '.1f')} "
                f"| {_fmt(row.get('rss'), '.0f')} | {status} | {_fmt(obj, ',.0f')} "
                f"| {_fmt(row.get('lower_bound'), ',.0f')} | {_pct(gap)} "
                f"| {_pct(dev.get('potential'))} | {_pct(dev.get('workload'))} "
                f"| {'' if ok is None else ('yes' if ok else 'no')} |"
            )
        print("\n".join(lines[-len(results) :]), file=sys.stderr, flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
