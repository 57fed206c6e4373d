"""Growth of time and memory with book size, 1k to 1M accounts (default backend).

Usage::

    python bench/bench_growth.py [--sizes 1000x20:2 10000x100:15 ...] [--svg bench/growth.svg]

Each size ``NxM:T`` is the ladder instance of ``bench_align.py`` (``generate_demo(N, M,
seed=0)``, ±5 % potential and workload, Σ workload × km) solved by the default
backend with a time limit of T seconds in a fresh process. Prints a Markdown
table (pairs, wall, time to the first plan, peak RSS, gap, checker) and writes a
log-log plot of wall time and peak memory against pairs as a standalone SVG.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_align import _run_child  # noqa: E402

DEFAULT_SIZES = ["1000x20:2", "10000x100:15", "100000x200:180", "1000000x1000:1800"]


def _log_panel(
    x0: float,
    title: str,
    unit: str,
    points: list[tuple[float, float]],
    extra: list[tuple[float, float]] | None = None,
) -> list[str]:
    """One log-log panel (320 × 240 px at x0): decades, points, a dashed guide ∝ pairs."""
    w, h, pad = 320.0, 240.0, 48.0
    xs = [p[0] for p in points]
    ys = [p[1] for p in points] + [p[1] for p in extra or []]
    lx = (math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs))))
    ly = (math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys))))

    def sx(v: float) -> float:
        return x0 + pad + (math.log10(v) - lx[0]) / max(lx[1] - lx[0], 1) * (w - pad - 10)

    def sy(v: float) -> float:
        return h - pad + 10 - (math.log10(v) - ly[0]) / max(ly[1] - ly[0], 1) * (h - pad - 10)

    out = [f'<text x="{x0 + w / 2}" y="16" text-anchor="middle">{title}</text>']
    for d in range(lx[0], lx[1] + 1):
        out.append(
            f'<line x1="{sx(10**d)}" y1="20" x2="{sx(10**d)}" y2="{h - pad + 10}" class="g"/>'
        )
        out.append(f'<text x="{sx(10**d)}" y="{h - pad + 26}" text-anchor="middle">1e{d}</text>')
    for d in range(ly[0], ly[1] + 1):
        left, right = x0 + pad, x0 + w - 10
        out.append(f'<line x1="{left}" y1="{sy(10**d)}" x2="{right}" y2="{sy(10**d)}" class="g"/>')
        out.append(f'<text x="{x0 + pad - 4}" y="{sy(10**d) + 4}" text-anchor="end">1e{d}</text>')
    out.append(
        f'<text x="{x0 + w / 2}" y="{h - 6}" text-anchor="middle">pairs (accounts × reps)</text>'
    )
    out.append(
        f'<text x="{x0 + 12}" y="{(h - pad) / 2 + 10}" transform="rotate(-90 {x0 + 12} '
        f'{(h - pad) / 2 + 10})" text-anchor="middle">{unit}</text>'
    )
    a = points[0]  # guide: growth proportional to pairs, from the first point
    end = min(max(xs), a[0] * 10 ** ly[1] / a[1])
    out.append(
        f'<line x1="{sx(a[0])}" y1="{sy(a[1])}" x2="{sx(end)}" y2="{sy(a[1] * end / a[0])}" '
        'class="ref"/>'
    )
    for series, cls in ((points, "p"), (extra or [], "q")):
        path = " ".join(f"{sx(x)},{sy(y)}" for x, y in series)
        if series:
            out.append(f'<polyline points="{path}" class="{cls}l"/>')
        out.extend(f'<circle cx="{sx(x)}" cy="{sy(y)}" r="3" class="{cls}"/>' for x, y in series)
    return out


def svg(rows: list[dict[str, Any]]) -> str:
    """Two log-log panels: wall and first-plan time, and peak RSS, against pairs."""
    done = [r for r in rows if r.get("wall") and r.get("rss")]
    pairs = [float(r["n"] * r["m"]) for r in done]
    time_pts = list(zip(pairs, [float(r["wall"]) for r in done], strict=True))
    first = [(float(r["n"] * r["m"]), float(r["first_plan"])) for r in done if r.get("first_plan")]
    rss_pts = list(zip(pairs, [float(r["rss"]) for r in done], strict=True))
    body = _log_panel(0, "wall time (blue), first plan (orange)", "seconds", time_pts, first)
    body += _log_panel(340, "peak memory (RSS)", "MB", rss_pts)
    style = (
        "text{font:11px sans-serif}.g{stroke:#ddd}.ref{stroke:#999;stroke-dasharray:4 3}"
        ".p{fill:#1f77b4}.q{fill:#ff7f0e}.pl{fill:none;stroke:#1f77b4}"
        ".ql{fill:none;stroke:#ff7f0e}"
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="670" height="250" viewBox="0 0 670 250">'
        f"<style>{style}</style>" + "".join(body) + "</svg>\n"
    )


def _num(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:,.0f}"


def main() -> None:
    """Run the sizes, print the table, write the plot."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=DEFAULT_SIZES)
    parser.add_argument("--svg", default=str(Path(__file__).resolve().parent / "growth.svg"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    print(
        "| accounts | reps | pairs | time limit [s] | wall [s] | first plan [s] | peak RSS [MB] "
        "| objective | lower bound | gap | status | checker ok |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for size in args.sizes:
        shape, limit = size.split(":")
        n, m = (int(v) for v in shape.split("x"))
        print(f"running {n}x{m} T={limit}", file=sys.stderr, flush=True)
        row = _run_child(n, m, "ours", float(limit), args.seed)
        row.update(n=n, m=m, limit=float(limit))
        rows.append(row)
        gap = row.get("own_gap")
        first = row.get("first_plan")
        print(
            f"| {n:,} | {m:,} | {n * m:.0e} | {float(limit):g} | {row.get('wall', 0):.1f} "
            f"| {'' if first is None else f'{first:.1f}'} | {row.get('rss', 0):,.0f} "
            f"| {_num(row.get('plan_objective'))} | {_num(row.get('lower_bound'))} "
            f"| {'' if gap is None else f'{100 * gap:.2f} %'} | {row['status']} "
            f"| {'yes' if row.get('checker_ok') else 'no'} |",
            flush=True,
        )
    Path(args.svg).write_text(svg(rows), encoding="utf-8")
    print(f"plot: {args.svg}", file=sys.stderr)


if __name__ == "__main__":
    main()
