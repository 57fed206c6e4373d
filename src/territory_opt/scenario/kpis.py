"""KPIs of a plan folder, read back from its files, and the balance-versus-disruption frontier.

The definitions are those of ``territory-opt compare`` (see
:mod:`territory_opt.report.kpis`), computed from ``plan.json``,
``territories.csv``, ``assignments.csv`` and ``quotas.csv`` so that a sweep can
summarise finished folders without reading the inputs again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Statuses whose plan folder holds an assignment (the others have no KPIs).
WITH_PLAN = ("optimal", "feasible", "time_limit")


def folder_hash(folder: Path) -> str | None:
    """Return the scenario hash in a plan folder's ``plan.json`` (None if unreadable)."""
    try:
        meta = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = meta.get("scenario_hash") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


def folder_kpis(folder: Path) -> dict[str, Any]:
    """KPIs of a plan folder, read from its files (as ``compare`` defines them).

    ``max_deviation`` is the worst ``|total / target - 1|`` over reps (with a
    positive target) and band metrics (every metric when there is no band);
    ``moved_share`` is the share of the disruption basis (``moved_share_metric``,
    else ``disruption_metric``, else ``potential``) held by accounts with a
    current rep that changes rep.
    """
    meta = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    spec = meta.get("spec") or {}
    kpis: dict[str, Any] = {
        "status": meta.get("status"),
        "objective": meta.get("objective"),
        "lower_bound": meta.get("lower_bound"),
        "gap": meta.get("gap"),
        "moved_accounts": meta.get("moved_accounts") if meta.get("status") in WITH_PLAN else None,
        "solve_seconds": (meta.get("wall_times") or {}).get("solve_seconds"),
    }
    territories = folder / "territories.csv"
    if territories.is_file():
        frame = pd.read_csv(territories)
        metrics = [b["metric"] for b in spec.get("bands") or []] or [
            str(c)[: -len("_target")] for c in frame.columns if str(c).endswith("_target")
        ]
        worst: dict[str, float] = {}
        for metric in metrics:
            if metric in frame.columns and f"{metric}_target" in frame.columns:
                total = frame[metric].to_numpy(dtype=np.float64)
                target = frame[f"{metric}_target"].to_numpy(dtype=np.float64)
                keep = target > 0
                if keep.any():
                    worst[metric] = float(np.abs(total[keep] / target[keep] - 1.0).max())
        kpis["max_deviation"] = max(worst.values()) if worst else None
        kpis["deviations"] = worst
    assignments = folder / "assignments.csv"
    if assignments.is_file():
        frame = pd.read_csv(assignments, dtype={"previous_rep_id": str}, keep_default_na=False)
        basis = next(
            (
                m
                for m in (
                    spec.get("moved_share_metric"),
                    spec.get("disruption_metric"),
                    "potential",
                )
                if m and m in frame.columns
            ),
            None,
        )
        if basis is not None:
            values = pd.to_numeric(frame[basis], errors="coerce").fillna(0.0).to_numpy()
            owned = frame["previous_rep_id"].to_numpy(dtype=object) != ""
            moved = frame["moved"].astype(str).str.lower().eq("true").to_numpy()
            total = float(values[owned].sum())
            kpis["moved_share"] = float(values[moved].sum()) / total if total > 0 else None
    quotas = folder / "quotas.csv"
    if quotas.is_file():
        kpis["quota_total"] = float(pd.read_csv(quotas)["quota"].sum())
    return kpis


#: KPI columns of sweep.csv, in order.
KPI_COLUMNS = (
    "objective",
    "lower_bound",
    "gap",
    "max_deviation",
    "moved_accounts",
    "moved_share",
    "quota_total",
)


def frontier(deviation: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """Flag the points that no other point beats on both balance and accounts moved.

    NaN (no plan) is never efficient.

    Examples
    --------
    >>> frontier(np.array([0.03, 0.05, 0.05, np.nan]), np.array([300, 200, 250, 1]))
    array([ True,  True, False, False])
    """
    ok = np.isfinite(deviation) & np.isfinite(moved)
    out = np.zeros(len(deviation), dtype=bool)
    for i in np.flatnonzero(ok):
        better = (
            ok
            & (deviation <= deviation[i])
            & (moved <= moved[i])
            & ((deviation < deviation[i]) | (moved < moved[i]))
        )
        out[i] = not better.any()
    return out
