"""Shared fixtures: small seeded books and helpers that write real files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from territory_opt.data.demo import generate_demo

SHARED_BENCHMARKS = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"

ACCOUNTS_CSV = """account_id,name,lat,lon,potential,workload,current_rep,segment
A1,Alpha,35.1,-97.5,100,10,R1,smb
A2,Beta,35.2,-97.4,200,20,R1,smb
A3,Gamma,36.0,-96.0,300,15,R2,smb
A4,Delta,36.1,-96.1,150,12,R2,smb
"""
REPS_CSV = """rep_id,name,home_lat,home_lon,capacity,segment
R1,Rita,35.0,-97.0,1.0,smb
R2,Raj,36.0,-96.5,0.5,smb
"""


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """Write text (UTF-8, as given) or raw bytes to ``tmp_path/name``."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        data = content.encode("utf-8") if isinstance(content, str) else content
        path.write_bytes(data)
        return path

    return _write


@pytest.fixture
def small_files(write_file: Callable[[str, str | bytes], Path]) -> tuple[Path, Path]:
    """A valid four-account, two-rep book as CSV files."""
    return write_file("accounts.csv", ACCOUNTS_CSV), write_file("reps.csv", REPS_CSV)


@pytest.fixture(scope="session")
def demo_book() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A 1,000-account demo book (seed 3)."""
    return generate_demo(1000, seed=3)


@pytest.fixture
def shared_benchmarks() -> Path:
    """The public benchmark folder beside the project; skip when absent."""
    if not SHARED_BENCHMARKS.is_dir():
        pytest.skip(f"benchmark folder {SHARED_BENCHMARKS} is not present")
    return SHARED_BENCHMARKS


def gap_instance_files(path: Path, folder: Path) -> tuple[Path, Path, Path]:
    """Write an OR-Library GAP instance as accounts, reps (max_resource) and pair CSVs.

    Format: ``m n``, cost matrix m x n, resource matrix m x n, capacities m.
    Agents become reps with ``max_resource``; items become accounts; every
    (item, agent) pair gets its cost and resource in the pair table.
    """
    numbers = np.array(path.read_text().split(), dtype=np.int64)
    m, n = int(numbers[0]), int(numbers[1])
    cost = numbers[2 : 2 + m * n].reshape(m, n)
    resource = numbers[2 + m * n : 2 + 2 * m * n].reshape(m, n)
    capacity = numbers[2 + 2 * m * n : 2 + 2 * m * n + m]
    agent, item = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    tables = {
        "accounts": pd.DataFrame({"account_id": [f"J{j}" for j in range(n)]}),
        "reps": pd.DataFrame({"rep_id": [f"I{i}" for i in range(m)], "max_resource": capacity}),
        "pairs": pd.DataFrame(
            {
                "account_id": [f"J{j}" for j in item.ravel()],
                "rep_id": [f"I{i}" for i in agent.ravel()],
                "cost": cost.ravel(),
                "resource": resource.ravel(),
            }
        ),
    }
    paths = []
    for name, frame in tables.items():
        paths.append(folder / f"{name}.csv")
        frame.to_csv(paths[-1], index=False)
    return paths[0], paths[1], paths[2]
