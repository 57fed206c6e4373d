"""Small scenarios for the scenario and sweep tests, and a plan-folder comparison.

The book is the demo generator's, 200 accounts and 4 seats: the default
pipeline proves it within the 1 % gap tolerance in well under a second, so
every plan is "optimal" long before the time limit and plans are repeatable.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

#: A scenario that solves to optimal in a fraction of a second.
SMALL_SCENARIO = """\
description: small test book
inputs:
  demo: {accounts: 200, seed: 1}
model: balanced-travel
balance: {potential: 10%, workload: 15%}
quota:
  target_growth: 0.1
  method: blend
  history_weight: 0.4
solver: {gap: 0.01, time_limit: 60, threads: 1, seed: 0}
"""


def write_scenario(folder: Path, name: str, text: str) -> Path:
    """Write a scenario file (dedented) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _without_wall_times(meta: dict[str, Any]) -> dict[str, Any]:
    """plan.json minus its wall times: ``wall_times`` and the ``*seconds`` solver stats."""
    meta = dict(meta)
    meta.pop("wall_times", None)
    meta["stats"] = {k: v for k, v in (meta.get("stats") or {}).items() if "seconds" not in k}
    return meta


def folder_content(folder: Path) -> dict[str, object]:
    """Every file of a plan folder; plan.json parsed and without its wall times."""
    out: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            name = path.relative_to(folder).as_posix()
            if name == "plan.json":
                out[name] = _without_wall_times(json.loads(path.read_text(encoding="utf-8")))
            else:
                out[name] = path.read_bytes()
    return out


def plan_json_text_without_wall_times(folder: Path) -> list[str]:
    """plan.json's lines except those holding wall times (for a byte-level check)."""
    lines = (folder / "plan.json").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if "seconds" not in line]
